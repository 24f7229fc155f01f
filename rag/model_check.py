"""Which embedding model an index holds vectors of, and the check that the configured embedder
is that model: vectors of two models (384-d MiniLM, 768-d mpnet, or two models of the same
size) must never be mixed in one collection or compared with each other."""

from __future__ import annotations

from typing import Any

from rag.errors import ModelMismatch


def describe(embedder: Any) -> dict[str, Any]:
    """{"model": its name (None when the embedder does not say), "dimension": of its vectors}."""
    name = getattr(embedder, "identity", None)
    dimension = getattr(embedder, "dimension", None)
    if not isinstance(dimension, int):  # any LangChain Embeddings
        dimension = len(embedder.embed_query("dimension"))
    return {"model": name if isinstance(name, str) else None, "dimension": dimension}


def stored_dimension(store: Any) -> int | None:
    """The dimension of the collection's vectors; None when it is empty."""
    got = store.get(limit=1, include=["embeddings"])
    return len(got["embeddings"][0]) if got["ids"] else None


def check_model(recorded: dict[str, Any] | None, store: Any, embedder: Any, where: str) -> dict[str, Any]:
    """Raise ModelMismatch when the index at `where` was built with another model than
    `embedder`'s; return the embedder's description (what the index records). An index that
    records no model (built before the record existed) is checked by its vectors' dimension."""
    mine = describe(embedder)
    theirs = dict(recorded) if recorded else {"model": None, "dimension": stored_dimension(store)}
    if theirs.get("dimension") is None:
        return mine  # nothing stored yet
    same_model = theirs.get("model") is None or mine["model"] is None or theirs["model"] == mine["model"]
    if same_model and theirs["dimension"] == mine["dimension"]:
        return mine
    raise ModelMismatch(
        f"the index at {where} holds vectors of {_label(theirs)}, but the configured embedding model "
        f"is {_label(mine)}: rebuild the index with `rag index --rebuild` (it embeds every chunk again), "
        "or set RAG_EMBED_MODEL and RAG_EMBED_BACKEND back to the model the index was built with"
    )


def _label(d: dict[str, Any]) -> str:
    return f"{d['model'] or 'another model'} ({d['dimension']}-d)"

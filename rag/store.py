"""The vector store: the only module that imports chromadb. An embedded PersistentClient in the
index folder by default, an HttpClient when a Chroma server URL is set."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from rag.errors import StoreError
from rag.settings import Settings
from rag.types import Chunk

if TYPE_CHECKING:
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

log = logging.getLogger(__name__)


def open_client(settings: Settings, create: bool = True) -> Any:
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError:
        raise StoreError("chromadb is not installed; run: pip install chromadb") from None
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreError(f"RAG_CHROMA_URL must look like http://host:port, not {settings.chroma_url!r}")
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:
            raise StoreError(f"cannot reach the Chroma server at {settings.chroma_url}: {exc}") from None
    path = settings.index_dir / "chroma"
    if not create and not path.exists():
        raise StoreError(
            f"no index at {settings.index_dir}; build it first with: rag index"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise StoreError(f"cannot open the index at {path}: {exc}") from None


def vector_store(settings: Settings, embedding: Embeddings, client: Any | None = None) -> Chroma:
    """A LangChain Chroma store on our collection, cosine space, our embedder (never Chroma's)."""
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=settings.collection,
        embedding_function=embedding,
        client=client if client is not None else open_client(settings),
        collection_configuration={"hnsw": {"space": "cosine"}},
    )


def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    return {"source": chunk.source, "section": chunk.section, "start": chunk.start, "end": chunk.end}


def chunk_from(text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        source=str(meta["source"]),
        section=str(meta.get("section") or ""),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
    )


def all_chunks(store: Chroma, where: dict[str, Any] | None = None) -> list[Chunk]:
    """Every chunk in the collection (or those matching `where`), in a stable order."""
    chunks: list[Chunk] = []
    offset, page = 0, 5000
    while True:
        got = store.get(where=where, limit=page, offset=offset, include=["documents", "metadatas"])
        docs, metas = got["documents"], got["metadatas"]
        chunks.extend(chunk_from(d, m) for d, m in zip(docs, metas, strict=True))
        if len(docs) < page:
            break
        offset += page
    chunks.sort(key=lambda c: (c.source, c.start, c.end))
    return chunks


def dense_search(store: Chroma, vector: list[float], k: int) -> list[tuple[Chunk, float]]:
    """(chunk, cosine similarity) for the k nearest chunks."""
    collection = store._collection
    if collection.count() == 0:
        return []
    res: Any = collection.query(
        query_embeddings=[vector],  # type: ignore[arg-type]
        n_results=k,
        include=["documents", "metadatas", "distances"],
    )
    out = []
    for text, meta, dist in zip(res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True):
        out.append((chunk_from(text, meta), 1.0 - float(dist)))
    return out


def count(store: Chroma) -> int:
    return int(store._collection.count())

"""The vector store: LangChain's Chroma on the knowledge base's collection, what is read from and
written to it, and the repair of chunks no search finds. The client under it is opened by
rag.store_client (with this module, the only ones that import chromadb); its names are importable
from here too."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rag.errors import StoreError
from rag.settings import Settings

# (the client's functions are importable from here, where they were before rag.store_client)
from rag.store_client import chroma_path as chroma_path
from rag.store_client import detach as detach
from rag.store_client import fresh_client as fresh_client
from rag.store_client import is_store_failure, open_client
from rag.store_client import store_error as store_error
from rag.types import Chunk

if TYPE_CHECKING:
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

log = logging.getLogger(__name__)


# the chromadb collection under each store that `vector_store` built: LangChain's Chroma has no
# public count, no way to write stored vectors back (it embeds what it adds itself), and keeps
# its collection in a private attribute
_collections: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()  # and its chromadb client


def vector_store(settings: Settings, embedding: Embeddings | None, client: Any | None = None) -> Chroma:
    """A LangChain Chroma store on our collection, cosine space, our embedder (never Chroma's;
    None: only vectors given with the chunks are written, see `collection`)."""
    from langchain_chroma import Chroma

    client = client if client is not None else open_client(settings)
    store = Chroma(
        collection_name=settings.collection,
        embedding_function=embedding,
        client=client,
        collection_configuration={"hnsw": {"space": "cosine"}},
    )
    _collections[store] = client.get_collection(settings.collection)
    _clients[store] = client
    return store


def collection(store: Chroma) -> Any:
    """The chromadb collection that `store` (built by `vector_store`) works on."""
    try:
        return _collections[store]
    except KeyError:
        raise TypeError("not a store built by rag.store.vector_store") from None


def all_chunks(store: Chroma, where: dict[str, Any] | None = None) -> list[Chunk]:
    """Every chunk in the collection (or those matching `where`), in a stable order."""
    chunks: list[Chunk] = []
    for got in _pages(store, where, ["documents", "metadatas"]):
        chunks.extend(Chunk.from_metadata(d, m) for d, m in zip(got["documents"], got["metadatas"], strict=True))
    chunks.sort(key=lambda c: (c.source, c.start, c.end))
    return chunks


def all_ids(store: Chroma) -> list[str]:
    """Every chunk id in the collection, sorted."""
    return sorted(i for got in _pages(store, None, []) for i in got["ids"])


def _pages(store: Chroma, where: dict[str, Any] | None, include: list[str]) -> Iterator[dict[str, Any]]:
    offset, page = 0, 5000
    while True:
        got = store.get(where=where, limit=page, offset=offset, include=include)
        yield got
        if len(got["ids"]) < page:
            return
        offset += page


def embeddings_of(store: Chroma, ids: list[str]) -> dict[str, list[float]]:
    """The stored vector of each of `ids` that the collection holds."""
    got = store.get(ids=ids, include=["embeddings"])
    return {i: [float(x) for x in v] for i, v in zip(got["ids"], got["embeddings"], strict=True)}


def dense_search(store: Chroma, vector: list[float], k: int) -> list[tuple[Chunk, float]]:
    """(chunk, cosine similarity) for the k nearest chunks."""
    found = store.similarity_search_by_vector_with_relevance_scores(vector, k=k)
    # the collection is in cosine space: Chroma's distance is 1 - cosine similarity
    return [(Chunk.from_metadata(doc.page_content, doc.metadata), 1.0 - float(dist)) for doc, dist in found]


# -- the collection's version: front ends on one Chroma server follow each other's syncs ------
VERSION_KEY = "rag:version"  # in the collection's metadata, set by a sync that changed the collection


def _fetched(store: Chroma) -> Any:
    """`store`'s collection fetched from the server now (a Collection object keeps the metadata
    it was fetched with)."""
    return _clients[store].get_collection(collection(store).name, embedding_function=None)


def collection_version(store: Chroma) -> str:
    """The version the last sync that changed the collection stored with it ("" when none),
    read from the server now."""
    return str((_fetched(store).metadata or {}).get(VERSION_KEY, ""))


def set_collection_version(store: Chroma, version: str) -> None:
    fresh = _fetched(store)
    # the distance function (hnsw:*) cannot be given again, even unchanged
    kept = {k: v for k, v in (fresh.metadata or {}).items() if not k.startswith("hnsw:")}
    fresh.modify(metadata={**kept, VERSION_KEY: version})


def count(store: Chroma) -> int:
    # langchain_chroma has no count; getting every id would cost far more
    return int(collection(store).count())


# -- every stored chunk findable (chroma-core/chroma#7758) ------------------------------------
# chromadb 1.5.9 (every release since 1.0.0): the first read of a collection resets its HNSW
# segment's applied log position, so the next write re-applies the unsaved log, and parallel
# updates of existing points can erase the links of a point inserted at the same time. That
# record stays in get()/count() but no query() returns it. A query restricted to some ids with
# n_results = their number returns exactly the reachable ones (HNSW keeps walking the graph until
# it has found that many), and writing an unreachable record again links it back in (both checked
# on a real segment whose links to one record were cut: tests/test_store.py).
# Not tuned: bounds. A checking query of REACH_BATCH ids walks the graph for that many results
# (a few ms each); a written-again record was found by the first round in every case seen
# (tests/test_store.py), so REPAIR_ROUNDS only bounds a store that never heals.
REACH_BATCH = 256  # ids per checking query
REPAIR_ROUNDS = 3  # write-again rounds before giving up


class UnreachableChunks(StoreError):
    """Chunks the collection holds but no query finds, even after writing them again."""

    def __init__(self, ids: list[str], where: str) -> None:
        super().__init__(
            f"{len(ids)} chunks are stored at {where} but no search finds them, even after writing them "
            f"again {REPAIR_ROUNDS} times (Chroma bug chroma-core/chroma#7758); run `rag index` again, "
            "or rebuild with `rag index --rebuild`"
        )
        self.ids = ids


def unreachable(store: Chroma, ids: list[str]) -> list[str]:
    """Those of `ids` that no query returns (or that the collection does not hold at all)."""
    hidden: list[str] = []
    for i in range(0, len(ids), REACH_BATCH):
        batch = ids[i : i + REACH_BATCH]
        held = set(store.get(ids=batch, include=[])["ids"])
        present = [x for x in batch if x in held]
        hidden.extend(x for x in batch if x not in held)
        if present:
            # (a query restricted to an id the collection lacks fails, hence `present`)
            vector = embeddings_of(store, present[:1])[present[0]]
            found = store.similarity_search_by_vector_with_relevance_scores(vector, k=len(present), ids=present)
            seen = {doc.id for doc, _ in found}
            hidden.extend(x for x in present if x not in seen)
    return hidden


def rewrite(store: Chroma, ids: list[str]) -> None:
    """Write each chunk again, one at a time, with its stored vector, text and metadata."""
    # langchain_chroma can only add texts it embeds itself; writing stored vectors back needs
    # the chromadb collection
    chroma = collection(store)
    for chunk_id in ids:
        got = store.get(ids=[chunk_id], include=["embeddings", "documents", "metadatas"])
        if got["ids"]:
            chroma.upsert(
                ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"],
                metadatas=got["metadatas"],
            )


def ensure_reachable(store: Chroma, ids: list[str], where: str) -> int:
    """Check that a query finds every one of `ids`, write again those it does not, and check all
    of them again, for a bounded number of rounds; returns how many chunks were written again.
    Raises UnreachableChunks when some stay unfound."""
    hidden = unreachable(store, ids)
    repaired: set[str] = set()
    for _ in range(REPAIR_ROUNDS):
        if not hidden:
            break
        log.warning(
            "%d of %d chunks are stored but no search finds them (chroma-core/chroma#7758); "
            "writing them again: %s", len(hidden), len(ids), ", ".join(hidden[:5]),
        )
        rewrite(store, hidden)
        repaired.update(hidden)
        hidden = unreachable(store, ids)
    if hidden:
        raise UnreachableChunks(hidden, where)
    if repaired:
        log.warning("repaired %d chunks: every search finds them now", len(repaired))
    return len(repaired)


def check_searchable(store: Chroma, where: str) -> None:
    """Raise a StoreError when the collection holds chunks but cannot answer a query (for
    example when its vector segment folder was deleted)."""
    try:
        if count(store) == 0:
            return
        got = store.get(limit=1, include=["embeddings"])
        found = store.similarity_search_by_vector_with_relevance_scores(
            [float(x) for x in got["embeddings"][0]], k=1
        )
        reason = "" if found else "a search found nothing"
    except Exception as exc:
        if not is_store_failure(exc):
            raise
        reason = f"{type(exc).__name__}: {exc}"
    if reason:
        raise StoreError(
            f"the index at {where} holds chunks but cannot be searched ({reason}); "
            "rebuild it with: rag index --rebuild"
        )

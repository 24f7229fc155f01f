"""The vector store: the only module that imports chromadb. An embedded PersistentClient in the
index folder by default, an HttpClient when a Chroma server URL is set."""

from __future__ import annotations

import errno
import logging
from pathlib import Path
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
    path = chroma_path(settings)
    if not create and not path.exists():
        raise StoreError(
            f"no index at {settings.index_dir}; build it first with: rag index"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise store_error(exc, settings, "opening the index") from None


def chroma_path(settings: Settings) -> Path:
    return (settings.index_dir / "chroma").absolute()


def fresh_client(settings: Settings, create: bool = True) -> Any:
    """A client that reads the embedded index as it is on disk now.

    chromadb shares one in-memory System (with its HNSW index) per folder and process, and that
    System never sees what another process wrote (chroma-core/chroma#3792). This detaches the
    cached System, so the next client loads a new one; clients already handed out keep working
    on the old one until they are dropped. A Chroma server needs none of this."""
    if not settings.chroma_url:
        from chromadb.api.shared_system_client import SharedSystemClient

        key = str(chroma_path(settings))
        with SharedSystemClient._refcount_lock:
            SharedSystemClient._identifier_to_system.pop(key, None)
            SharedSystemClient._identifier_to_refcount.pop(key, None)
    return open_client(settings, create)


def is_store_failure(exc: BaseException) -> bool:
    """An error of the storage layer (files, SQLite, Chroma) rather than a bug of ours."""
    module = type(exc).__module__ or ""
    return isinstance(exc, OSError) or module.startswith(("chromadb", "sqlite3", "sqlalchemy"))


def store_error(exc: BaseException, settings: Settings, doing: str) -> StoreError:
    """A StoreError that says what failed and what to do about it."""
    text = str(exc).lower()
    code = exc.errno if isinstance(exc, OSError) else None
    where = settings.chroma_url or str(settings.index_dir)
    if code in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT) or "full" in text or "disk i/o" in text:
        hint = "the disk may be full: free some space (or choose another folder with --index DIR), then run: rag index"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS) or "readonly" in text or "read-only" in text:
        hint = (
            "the index folder is not writable (Chroma needs write access even to search); "
            "fix its permissions or choose another folder with --index DIR"
        )
    elif settings.chroma_url:
        hint = "check that the Chroma server is running and reachable"
    else:
        hint = "run `rag index` again; if it keeps failing, rebuild with `rag index --rebuild`"
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
    return StoreError(f"{doing} failed at {where} ({reason}); {hint}")


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


def all_ids(store: Chroma) -> set[str]:
    ids: set[str] = set()
    offset, page = 0, 5000
    while True:
        got = store.get(limit=page, offset=offset, include=[])
        ids.update(got["ids"])
        if len(got["ids"]) < page:
            return ids
        offset += page


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

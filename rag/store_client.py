"""Opening the Chroma client of an index: an embedded PersistentClient in the index folder by
default, an HttpClient when a Chroma server URL is set; and what a storage failure tells the user.
With rag.store, the only modules that import chromadb."""

from __future__ import annotations

import errno
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from rag.errors import StoreError
from rag.settings import Settings

# chromadb keeps one System per folder in a registry of its clients and registers a System there
# before it has started; a client built, or the registry cleared, in one thread while another
# thread does the same fails ("'RustBindingsAPI' object has no attribute 'bindings'", KeyError).
# Every client (re)open and detach in this process goes through this lock.
_CLIENT_LOCK = threading.RLock()


def open_client(settings: Settings, create: bool = True) -> Any:
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError:
        raise StoreError("chromadb is not installed; run: pip install chromadb") from None
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)  # (its form checked by Settings)
        try:
            with _CLIENT_LOCK:
                return chromadb.HttpClient(
                    host=str(url.hostname),  # (Settings refuses a URL without one)
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
        with _CLIENT_LOCK:
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise store_error(exc, settings, "opening the index") from None


def chroma_path(settings: Settings) -> Path:
    return (settings.index_dir / "chroma").absolute()


def detach(settings: Settings) -> None:
    """Make the next embedded client of this index load a new System from disk.

    chromadb shares one in-memory System (with its HNSW index) per folder and process, and that
    System never sees what another process wrote (chroma-core/chroma#3792). chromadb's public
    `clear_system_cache` (of every client, `ClientAPI.clear_system_cache`) empties its registry
    of Systems, for every folder: that is no loss here, since every embedded client is opened
    through `fresh_client` and so loads its own System anyway. Clients already handed out keep
    working on theirs until they are dropped (they hold their System's API, and this package
    never closes a client, which would stop another client's System). tests/test_store.py checks
    all of this on the installed chromadb. A Chroma server needs none of it."""
    if settings.chroma_url:
        return
    from chromadb.api.shared_system_client import SharedSystemClient

    with _CLIENT_LOCK:
        SharedSystemClient.clear_system_cache()


def fresh_client(settings: Settings, create: bool = True) -> Any:
    """A client that reads the index as it is on disk now (see `detach`)."""
    with _CLIENT_LOCK:
        detach(settings)
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

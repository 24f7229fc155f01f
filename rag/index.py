"""sync(): bring the index up to date with the corpus, touching only what changed.

Chunk-level work is LangChain's indexing API with a SQL record manager: a chunk whose id
(a hash of its source, offsets, section and text) is already recorded costs no embedding,
`cleanup="full"` deletes the chunks of changed and vanished documents, and because ids are
deterministic, a sync killed half-way is completed by the next one without duplicates.
Document-level counts come from a manifest of content hashes written at the end."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag import lexical
from rag.errors import ConfigError, LoadError
from rag.load import discover, load_corpus
from rag.settings import Settings
from rag.split import split_all
from rag.types import Chunk, Document, Skipped, SyncReport

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
BATCH_SIZE = 64  # chunks embedded and written per step; a killed sync loses at most one step
LOCK = "sync.lock"
# Everything an index folder holds; `rebuild` removes these (but the held lock) and nothing else.
OWNED = ("chroma", "records.sqlite", "lexical", MANIFEST, f"{MANIFEST}.tmp", LOCK, ".write-test")


@dataclass(frozen=True)
class Manifest:
    documents: dict[str, dict[str, Any]]  # source -> {"sha256", "chunks"}
    synced_at: str = ""
    embedding: dict[str, Any] | None = None  # {"model", "dimension"} of the vectors (rag.model_check)

    @classmethod
    def read(cls, index_dir: Path) -> Manifest:
        """The last sync's manifest; a missing, unreadable or malformed one reads as empty (the
        next sync then counts every document as added, and embeds nothing it already has)."""
        path = index_dir / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls({})
        except (OSError, ValueError) as exc:
            log.warning("%s is not readable (%s); treating it as missing", path, exc)
            return cls({})
        docs = data.get("documents") if isinstance(data, dict) else None
        if not isinstance(docs, dict) or not all(
            isinstance(m, dict) and isinstance(m.get("sha256"), str) and isinstance(m.get("chunks"), int)
            for m in docs.values()
        ):
            log.warning("%s does not hold a manifest; treating it as missing", path)
            return cls({})
        embedding = data.get("embedding")
        return cls(docs, str(data.get("synced_at", "")), embedding if isinstance(embedding, dict) else None)

    def write(self, index_dir: Path) -> None:
        tmp = index_dir / f"{MANIFEST}.tmp"
        data = {"documents": self.documents, "synced_at": self.synced_at, "embedding": self.embedding}
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, index_dir / MANIFEST)


def chunk_key(doc: Any) -> str:
    """The record-manager key of a LangChain Document made from a Chunk: the chunk's id."""
    return Chunk.from_metadata(doc.page_content, doc.metadata).id


def _to_document(chunk: Chunk) -> Any:
    from langchain_core.documents import Document as LCDocument

    return LCDocument(page_content=chunk.text, metadata=chunk.to_metadata(), id=chunk.id)


@contextlib.contextmanager
def sync_lock(index_dir: Path) -> Iterator[None]:
    """One sync at a time per index folder, across processes and threads."""
    from filelock import FileLock, Timeout

    lock = FileLock(index_dir / LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("another sync is running on %s; waiting for it", index_dir)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def record_manager(settings: Settings) -> Any:
    from langchain_classic.indexes import SQLRecordManager

    db = settings.index_dir / "records.sqlite"
    # The records stay in the local index folder, one namespace per store: pointing the same
    # folder at a Chroma server writes every chunk there instead of trusting the local records.
    where = f"{settings.chroma_url.rstrip('/')}/" if settings.chroma_url else "chroma/"
    manager = SQLRecordManager(where + settings.collection, db_url=f"sqlite:///{db}")
    manager.create_schema()
    return manager


def prepare_index_dir(settings: Settings) -> None:
    if not settings.corpus_dir.is_dir():
        raise ConfigError(
            f"corpus folder {settings.corpus_dir} does not exist; create it or pass --corpus DIR"
        )
    try:
        # a new index folder is the user's own: what it holds (the documents' text) is not
        # readable by other users of the machine, whatever the umask
        settings.index_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = settings.index_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        from rag.store import store_error

        raise store_error(exc, settings, "writing to the index folder") from None


def rebuild(settings: Settings) -> None:
    """Forget the whole index (the collection, the records, BM25 and the manifest), whatever
    state its files are in: they are removed before anything opens them. Only the entries an
    index folder holds (OWNED) are removed, and a folder that holds anything else is refused,
    so a mistyped --index never deletes someone's files. With a Chroma server, the server's
    collection is deleted and a local embedded index (chroma/) is left alone."""
    from rag.store import detach, fresh_client

    index_dir = settings.index_dir
    # (and SQLite's companions of the records: -journal, -wal, -shm)
    foreign = sorted(p.name for p in index_dir.iterdir()
                     if p.name not in OWNED and not p.name.startswith("records.sqlite-"))
    if foreign:
        raise ConfigError(
            f"{index_dir} does not look like an index folder (it also holds {', '.join(foreign[:3])}); "
            "move those away, or choose another folder with --index DIR"
        )
    detach(settings)  # a System cached in this process must not keep using the removed files
    for p in index_dir.iterdir():
        if p.name == LOCK or (p.name == "chroma" and settings.chroma_url):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    if settings.chroma_url:
        client = fresh_client(settings)
        if settings.collection in {c.name for c in client.list_collections()}:
            client.delete_collection(settings.collection)


def sync(
    settings: Settings,
    embedder: Any,
    *,
    dry_run: bool = False,
    full_rebuild: bool = False,
    progress: bool | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Bring the index up to date with the corpus. `progress` shows a tqdm bar (default: when
    standard error is a terminal); `on_progress(done, total)` is called as chunks go through
    indexing (the web chat's progress bar)."""
    began = time.perf_counter()
    prepare_index_dir(settings)
    # Every write is either idempotent (chunk ids) or atomic (BM25, manifest), so what was
    # written when a store error stops the sync stays consistent and the next sync completes it.
    with _store_errors(settings, "updating the index"), sync_lock(settings.index_dir):
        if full_rebuild and not dry_run:
            rebuild(settings)
        return _sync_locked(settings, embedder, dry_run, full_rebuild, progress, on_progress, began)


@contextlib.contextmanager
def _store_errors(settings: Settings, doing: str) -> Iterator[None]:
    """Failures of the storage layer as a StoreError that says what to do."""
    from rag.store import is_store_failure, store_error

    try:
        yield
    except Exception as exc:
        if not is_store_failure(exc):
            raise
        raise store_error(exc, settings, doing) from exc


def _sync_locked(
    settings: Settings,
    embedder: Any,
    dry_run: bool,
    full_rebuild: bool,
    progress: bool | None,
    on_progress: Callable[[int, int], None] | None,
    began: float,
) -> SyncReport:
    from langchain_core.indexing import index

    from rag.model_check import check_model
    from rag.store import all_chunks, check_searchable, count, fresh_client, vector_store

    old = Manifest({}) if full_rebuild else Manifest.read(settings.index_dir)
    # Under the lock, read the collection as the last sync (maybe another process) left it.
    store = vector_store(settings, embedder, fresh_client(settings))
    check_searchable(store, _where(settings))
    embedding = check_model(old.embedding, store, embedder, _where(settings))
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for item in load_corpus(settings.corpus_dir):
        if isinstance(item, LoadError):
            skipped.append(Skipped(item.path, item.reason))
        else:
            docs.append(item)
    chunks = split_all(docs, settings.chunk_size, settings.chunk_overlap)
    manifest: dict[str, dict[str, Any]] = {d.source: {"sha256": d.sha256, "chunks": 0} for d in docs}

    # A file that is still there but no longer loads keeps what was indexed of it.
    present = {p.relative_to(settings.corpus_dir).as_posix() for p in discover(settings.corpus_dir)}
    for bad in skipped:
        if bad.path in old.documents and bad.path in present:
            kept = all_chunks(store, where={"source": bad.path})
            chunks.extend(kept)
            manifest[bad.path] = dict(old.documents[bad.path], chunks=0)
            log.warning("%s: keeping its %d indexed chunks from the last good version", bad.path, len(kept))
    for c in chunks:
        manifest[c.source]["chunks"] += 1

    added = sum(1 for s in manifest if s not in old.documents)
    updated = sum(
        1 for s, m in manifest.items() if s in old.documents and old.documents[s]["sha256"] != m["sha256"]
    )
    unchanged = len(manifest) - added - updated
    deleted = sum(1 for s in old.documents if s not in manifest)

    records = record_manager(settings)
    ids = [c.id for c in chunks]
    unrecorded = _unrecorded(records, ids)
    if dry_run:
        to_delete = len(set(records.list_keys()) - set(ids))
        return SyncReport(added, updated, deleted, unchanged, count(store), time.perf_counter() - began,
                          tuple(skipped), dry_run=True, chunks_embedded=len(unrecorded), chunks_deleted=to_delete)

    show = sys.stderr.isatty() if progress is None else progress
    result = index(
        _progress([_to_document(c) for c in chunks], show, on_progress),
        records,
        store,
        cleanup="full",
        key_encoder=chunk_key,
        batch_size=BATCH_SIZE,
    )
    lost = _reconcile(store, records, set(ids))
    if lost:
        again = index([_to_document(c) for c in chunks], records, store, cleanup="full",
                      key_encoder=chunk_key, batch_size=BATCH_SIZE)
        result["num_added"] += again["num_added"]
    written = sorted(set(unrecorded) | set(lost))
    repaired = _ensure_reachable(settings, store, records, written)
    lexical.build(all_chunks(store), settings.index_dir / "lexical")
    synced_at = datetime.now(UTC).isoformat(timespec="seconds")
    Manifest(manifest, synced_at, embedding).write(settings.index_dir)
    total = count(store)
    report = SyncReport(added, updated, deleted, unchanged, total, time.perf_counter() - began,
                        tuple(skipped), chunks_embedded=result["num_added"],
                        chunks_deleted=result["num_deleted"], chunks_verified=len(written),
                        chunks_repaired=repaired)
    log.info(
        "synced %s: %d added, %d updated, %d deleted, %d unchanged, %d skipped; %d chunks (%d embedded)",
        settings.corpus_dir, added, updated, deleted, unchanged, len(skipped), total, result["num_added"],
    )
    return report


def _unrecorded(records: Any, ids: list[str]) -> list[str]:
    """Those of `ids` the record manager does not know: what indexing them will write."""
    out: list[str] = []
    for i in range(0, len(ids), 500):  # within SQLite's limit on query parameters
        batch = ids[i : i + 500]
        out.extend(x for x, known in zip(batch, records.exists(batch), strict=True) if not known)
    return out


def _where(settings: Settings) -> str:
    return settings.chroma_url or str(settings.index_dir)


def _ensure_reachable(settings: Settings, store: Any, records: Any, ids: list[str]) -> int:
    """Every one of `ids` found by a search (see rag.store.ensure_reachable); chunks that stay
    unfound are forgotten by the records, so the next sync writes them again."""
    from rag.store import UnreachableChunks, ensure_reachable

    try:
        return ensure_reachable(store, ids, _where(settings))
    except UnreachableChunks as exc:
        records.delete_keys(exc.ids)
        raise


def verify(settings: Settings, embedder: Any) -> tuple[int, int]:
    """Check that a search finds every chunk of the collection, writing again those it does not
    (`rag index --verify`); returns (chunks checked, chunks written again)."""
    from rag.store import all_ids, fresh_client, vector_store

    with _store_errors(settings, "verifying the index"), sync_lock(settings.index_dir):
        store = vector_store(settings, embedder, fresh_client(settings, create=False))
        ids = all_ids(store)
        return len(ids), _ensure_reachable(settings, store, record_manager(settings), ids)


def _reconcile(store: Any, records: Any, expected: set[str]) -> list[str]:
    """Make the collection hold exactly the `expected` chunk ids.

    A sync killed between a Chroma write and the record manager's update leaves chunks the
    records do not know; they are deleted here. A chunk the records know but the collection
    lacks is forgotten and returned: the caller indexes them again."""
    from rag.store import all_ids

    present = set(all_ids(store))
    orphans = sorted(present - expected)
    if orphans:
        log.warning("removing %d chunks left behind by an interrupted sync", len(orphans))
        store.delete(ids=orphans)
        records.delete_keys(orphans)
    lost = sorted(expected - present)
    if lost:
        log.warning("%d recorded chunks are missing from the collection; indexing them again", len(lost))
        records.delete_keys(lost)
    return lost


def _progress(items: list[Any], show: bool, on_progress: Callable[[int, int], None] | None) -> Iterable[Any]:
    total = len(items)
    shown: Iterable[Any] = items
    if show:
        from tqdm import tqdm

        shown = tqdm(items, desc="indexing chunks", unit="chunk", file=sys.stderr)
    if on_progress is None:
        return shown

    def counted() -> Iterator[Any]:
        on_progress(0, total)
        for done, item in enumerate(shown, start=1):
            yield item
            on_progress(done, total)

    return counted()

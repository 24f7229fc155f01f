"""sync(): bring the index up to date with the corpus, touching only what changed.

Chunk-level work is LangChain's indexing API with a SQL record manager: a chunk whose id
(a hash of its source, offsets, section and text) is already recorded costs no embedding,
`cleanup="full"` deletes the chunks of changed and vanished documents, and because ids are
deterministic, a sync killed half-way is completed by the next one without duplicates.
Document-level counts come from a manifest of content hashes written at the end (the manifest,
the lock and the records live in rag.index_folder)."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from rag import lexical
from rag.errors import LoadError
from rag.index_folder import Manifest, prepare_index_dir, rebuild, record_manager, sync_lock
from rag.load import discover, load_corpus
from rag.settings import Settings
from rag.split import split_all
from rag.types import Chunk, Document, Skipped, SyncReport

log = logging.getLogger(__name__)

BATCH_SIZE = 64  # chunks embedded and written per step; a killed sync loses at most one step


def chunk_key(doc: Any) -> str:
    """The record-manager key of a LangChain Document made from a Chunk: the chunk's id."""
    return Chunk.from_metadata(doc.page_content, doc.metadata).id


def _to_document(chunk: Chunk) -> Any:
    from langchain_core.documents import Document as LCDocument

    return LCDocument(page_content=chunk.text, metadata=chunk.to_metadata(), id=chunk.id)


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

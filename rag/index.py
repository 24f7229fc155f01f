"""sync(): bring the index up to date with the corpus, touching only what changed.

rag.scan finds what changed without parsing what did not (file stamps, then content hashes;
refused files are remembered by their hash). When nothing changed and the index is as the last
sync left it, that is all a sync does: no model, no store, no BM25 build. Otherwise the chunks of
new and changed documents join those of the last sync (its BM25 build) in LangChain's indexing
API with a SQL record manager: a chunk whose id (a hash of its source, offsets, section and text)
is already recorded costs no embedding, `cleanup="full"` deletes the chunks of changed and
vanished documents, and because ids are deterministic, a sync killed half-way is completed by
the next one without duplicates. Document-level counts come from a manifest written at the end
(the manifest, the lock and the records live in rag.index_folder)."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from rag import lexical
from rag.index_folder import (
    WRITING,
    Manifest,
    index_files,
    prepare_index_dir,
    previous_chunks,
    rebuild,
    record_manager,
    sync_lock,
    unchanged_since,
)
from rag.index_repair import ensure_reachable, reconcile, unrecorded, where
from rag.scan import Scan, pipeline_key, scan
from rag.settings import Settings
from rag.split import chunk_document
from rag.types import Chunk, Skipped, SyncReport

log = logging.getLogger(__name__)

# chunks embedded and written per step; a killed sync loses at most one step. Two model batches
# (Settings.embed_batch_size): not tuned, the sync's overhead over the model's own time at it is
# 6-8 % (docs/benchmarks.md; `python bench/sync_speed.py`)
BATCH_SIZE = 64


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
    old = Manifest({}) if full_rebuild else Manifest.read(settings.index_dir)
    key = pipeline_key(settings.chunk_size, settings.chunk_overlap)
    # chunks kept from the last sync come from its BM25 build (what the collection held then)
    previous = previous_chunks(settings.index_dir, old) if old.pipeline == key else None
    reuse = previous is not None
    found = scan(settings.corpus_dir, old.documents if reuse else {}, old.refused if reuse else {})
    # A file that is still there but no longer loads keeps what was indexed of it.
    kept = {s.path: old.documents[s.path] for s in found.skipped if s.path in old.documents and s.path in found.present}
    for source in kept:
        log.warning("%s: keeping its %d indexed chunks from the last good version", source, old.documents[source]["chunks"])
    if (not found.changed and set(found.unchanged) | set(kept) == set(old.documents) and not settings.chroma_url
            and unchanged_since(settings.index_dir, old, getattr(embedder, "identity", None))):
        # nothing to embed, delete or rebuild: the collection and BM25 stay as they are
        manifest = Manifest({**found.unchanged, **kept}, old.synced_at, old.embedding, found.refused, key, old.files)
        if manifest != old and not dry_run:
            manifest.write(settings.index_dir)
        return SyncReport(0, 0, 0, len(manifest.documents), sum(m["chunks"] for m in manifest.documents.values()),
                          time.perf_counter() - began, tuple(found.skipped), dry_run=dry_run,
                          partial=_partial(manifest.documents))
    return _write(settings, embedder, old, key, found, kept, previous or {}, dry_run, progress, on_progress, began)


def _partial(documents: dict[str, dict[str, Any]]) -> tuple[Skipped, ...]:
    return tuple(Skipped(s, m["partial"]) for s, m in sorted(documents.items()) if m.get("partial"))


def _write(
    settings: Settings,
    embedder: Any,
    old: Manifest,
    key: str,
    found: Scan,
    kept: dict[str, dict[str, Any]],
    previous: dict[str, list[Chunk]],
    dry_run: bool,
    progress: bool | None,
    on_progress: Callable[[int, int], None] | None,
    began: float,
) -> SyncReport:
    """The sync when something changed: index the chunks of every document, embedding new ones."""
    from langchain_core.indexing import index

    from rag.store import all_chunks, check_searchable, count, fresh_client, vector_store

    # Under the lock, read the collection as the last sync (maybe another process) left it.
    store = vector_store(settings, embedder, fresh_client(settings))
    check_searchable(store, where(settings))
    manifest: dict[str, dict[str, Any]] = {}
    chunks: list[Chunk] = []
    for doc in found.loaded:
        doc_chunks, note = chunk_document(doc, settings.chunk_size, settings.chunk_overlap)
        chunks.extend(doc_chunks)
        manifest[doc.source] = {"sha256": doc.sha256, "chunks": len(doc_chunks), "stamp": found.stamps[doc.source]}
        if note:
            manifest[doc.source]["partial"] = note
    for source, entry in {**found.unchanged, **kept}.items():
        reused = previous.get(source)
        if reused is None:  # (kept chunks of a file parsed again from nothing)
            reused = all_chunks(store, where={"source": source})
        chunks.extend(reused)
        manifest[source] = dict(entry, chunks=len(reused))

    added, updated, deleted, unchanged = _counts(manifest, old)
    records = record_manager(settings)
    ids = [c.id for c in chunks]
    new_ids = unrecorded(records, ids)
    embedding = _check_model(old, store, embedder, where(settings), bool(new_ids))
    if dry_run:
        to_delete = len(set(records.list_keys()) - set(ids))
        return SyncReport(added, updated, deleted, unchanged, count(store), time.perf_counter() - began,
                          tuple(found.skipped), dry_run=True, chunks_embedded=len(new_ids),
                          chunks_deleted=to_delete, partial=_partial(manifest))

    (settings.index_dir / WRITING).touch()  # until the end, the collection may differ from the manifest
    show = sys.stderr.isatty() if progress is None else progress
    result = index(
        _progress([_to_document(c) for c in chunks], show, on_progress),
        records,
        store,
        cleanup="full",
        key_encoder=chunk_key,
        batch_size=BATCH_SIZE,
    )
    lost = reconcile(store, records, set(ids))
    if lost:
        again = index([_to_document(c) for c in chunks], records, store, cleanup="full",
                      key_encoder=chunk_key, batch_size=BATCH_SIZE)
        result["num_added"] += again["num_added"]
    written = sorted(set(new_ids) | set(lost))
    source_of = {c.id: c.source for c in chunks}
    repaired, failed = ensure_reachable(settings, store, records, written, source_of)
    skipped = list(found.skipped)
    refused = dict(found.refused)
    for source, reason in failed.items():
        entry = manifest.pop(source)
        refused[source] = {"sha256": entry["sha256"], "reason": reason, "stamp": entry["stamp"]}
        skipped.append(Skipped(source, reason))
    added, updated, deleted, unchanged = _counts(manifest, old)
    lexical.build(all_chunks(store), settings.index_dir / "lexical")
    synced_at = datetime.now(UTC).isoformat(timespec="seconds")
    Manifest(manifest, synced_at, embedding, refused, key, index_files(settings.index_dir)).write(settings.index_dir)
    (settings.index_dir / WRITING).unlink()
    total = count(store)
    report = SyncReport(added, updated, deleted, unchanged, total, time.perf_counter() - began, tuple(sorted(skipped, key=lambda s: s.path)),
                        chunks_embedded=result["num_added"], chunks_deleted=result["num_deleted"],
                        chunks_verified=len(written), chunks_repaired=repaired, partial=_partial(manifest))
    log.info(
        "synced %s: %d added, %d updated, %d deleted, %d unchanged, %d skipped; %d chunks (%d embedded)",
        settings.corpus_dir, added, updated, deleted, unchanged, len(skipped), total, result["num_added"],
    )
    return report


def _counts(manifest: dict[str, dict[str, Any]], old: Manifest) -> tuple[int, int, int, int]:
    """(added, updated, deleted, unchanged) documents of `manifest` against the last sync's."""
    added = sum(1 for s in manifest if s not in old.documents)
    updated = sum(1 for s, m in manifest.items() if s in old.documents and old.documents[s]["sha256"] != m["sha256"])
    deleted = sum(1 for s in old.documents if s not in manifest)
    return added, updated, deleted, len(manifest) - added - updated


def _check_model(old: Manifest, store: Any, embedder: Any, where: str, embedding: bool) -> dict[str, Any]:
    """The model the index records after this sync (rag.model_check). When nothing is embedded
    and the index records the configured model by name, the model is not loaded for the check."""
    from rag.model_check import check_model

    recorded = old.embedding
    if not embedding and recorded and recorded.get("model") == getattr(embedder, "identity", None):
        return recorded
    return check_model(recorded, store, embedder, where)


def verify(settings: Settings, embedder: Any) -> tuple[int, int]:
    """Check that a search finds every chunk of the collection, writing again those it does not
    (`rag index --verify`); returns (chunks checked, chunks written again)."""
    from rag.store import all_ids, fresh_client, vector_store

    with _store_errors(settings, "verifying the index"), sync_lock(settings.index_dir):
        store = vector_store(settings, embedder, fresh_client(settings, create=False))
        ids = all_ids(store)
        return len(ids), ensure_reachable(settings, store, record_manager(settings), ids)[0]


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

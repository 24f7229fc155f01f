"""The index folder: what it holds (OWNED), the manifest of the last sync, the sync lock and
the record manager of chunk ids; preparing the folder and rebuilding it from nothing. rag.index
is the sync that uses them."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.settings import Settings
from rag.types import Chunk

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LOCK = "sync.lock"
WRITING = "sync.writing"  # there while a sync writes: the collection may hold more or less than the manifest
# the web page's key for the settings and conversation it keeps in the browser (ui.settings_panel):
# a rebuild keeps it, so that they outlive the index as they outlive a restart
BROWSER_SECRET = "browser-state.secret"
# Everything an index folder holds (and BROWSER_SECRET's temporary copies, BROWSER_SECRET.*);
# `rebuild` removes these (but the held lock and the browser key) and nothing else.
OWNED = ("chroma", "records.sqlite", "lexical", MANIFEST, f"{MANIFEST}.tmp", LOCK, WRITING, ".write-test",
         BROWSER_SECRET)


@dataclass(frozen=True)
class Manifest:
    # source -> {"sha256", "chunks", "stamp": [size, mtime_ns, inode] or None (rag.scan),
    # "partial": why only part of it is indexed (absent when all of it is)}
    documents: dict[str, dict[str, Any]]
    synced_at: str = ""
    embedding: dict[str, Any] | None = None  # {"model", "dimension"} of the vectors (rag.model_check)
    # files refused, remembered by their bytes: source -> {"sha256", "reason", "stamp"} (rag.scan)
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)
    pipeline: str = ""  # rag.scan.pipeline_key of the sync that wrote it
    files: dict[str, int] = field(default_factory=dict)  # the index's own files then (`index_files`)

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
        refused = data.get("refused")
        if not isinstance(refused, dict) or not all(
            isinstance(r, dict) and isinstance(r.get("sha256"), str) and isinstance(r.get("reason"), str)
            for r in refused.values()
        ):
            refused = {}
        files = data.get("files")
        return cls(docs, str(data.get("synced_at", "")), embedding if isinstance(embedding, dict) else None,
                   refused, str(data.get("pipeline", "")), files if isinstance(files, dict) else {})

    def write(self, index_dir: Path) -> None:
        tmp = index_dir / f"{MANIFEST}.tmp"
        data = {"documents": self.documents, "synced_at": self.synced_at, "embedding": self.embedding,
                "refused": self.refused, "pipeline": self.pipeline, "files": self.files}
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, index_dir / MANIFEST)


def index_files(index_dir: Path) -> dict[str, int]:
    """{path: size} of the files of the collection (embedded Chroma) and of BM25. Searches
    rewrite Chroma's files in place, so their times change; their names and sizes change when
    the collection is written to or damaged."""
    files: dict[str, int] = {}
    for part in ("chroma", "lexical"):
        for root, _dirs, names in os.walk(index_dir / part):
            for name in names:
                path = Path(root) / name
                with contextlib.suppress(OSError):
                    files[path.relative_to(index_dir).as_posix()] = path.stat().st_size
    return files


def previous_chunks(index_dir: Path, old: Manifest) -> dict[str, list[Chunk]] | None:
    """The chunks of the last sync by source, from its BM25 build; None when they cannot be read
    or do not match the manifest (then every file is parsed again)."""
    from rag import lexical

    folder = lexical.current_folder(index_dir / "lexical")
    try:
        chunks = lexical.read_chunks(folder) if folder else []
    except (OSError, ValueError, KeyError, TypeError):
        return None
    by_source: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_source.setdefault(c.source, []).append(c)
    if any(len(by_source.get(s, ())) != m["chunks"] for s, m in old.documents.items()):
        return None
    return by_source


def unchanged_since(index_dir: Path, old: Manifest, model: object) -> bool:
    """Whether the index is as the last sync left it, with the configured `model` (by name):
    then a sync where no file changed has nothing to do. (A Chroma server's collection is
    shared with other processes: the caller always opens it.)"""
    return (
        bool(old.files)
        and old.embedding is not None
        and old.embedding.get("model") == model
        and not (index_dir / WRITING).exists()
        and (index_dir / "records.sqlite").is_file()
        and index_files(index_dir) == old.files
    )


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
                     if p.name not in OWNED and not p.name.startswith(("records.sqlite-", f"{BROWSER_SECRET}.")))
    if foreign:
        raise ConfigError(
            f"{index_dir} does not look like an index folder (it also holds {', '.join(foreign[:3])}); "
            "move those away, or choose another folder with --index DIR"
        )
    detach(settings)  # a System cached in this process must not keep using the removed files
    for p in index_dir.iterdir():
        if p.name in (LOCK, BROWSER_SECRET) or (p.name == "chroma" and settings.chroma_url):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    if settings.chroma_url:
        client = fresh_client(settings)
        if settings.collection in {c.name for c in client.list_collections()}:
            client.delete_collection(settings.collection)

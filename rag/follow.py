"""Several front ends (`rag serve` or KnowledgeBase objects, each with its own index folder) on
one corpus and one Chroma server: the dense side is the server's and always current, but each
keeps its BM25 index in its own folder. A sync that changes the collection stores a new version
in the collection's metadata; every front end reads that version before a search (at most
every FOLLOW_SECONDS) and, when it is not the one its BM25 index was built from, rebuilds BM25
from the collection, without a sync of its own."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from rag.settings import Settings

log = logging.getLogger(__name__)

# One small request to the Chroma server per check, so another front end's sync reaches this
# one's BM25 side within this many seconds; issue 21 asks for "a few", and
# tests/test_chroma_server.py::test_two_front_ends_on_one_server_see_each_others_changes checks 5
FOLLOW_SECONDS = 2.0


class Follower:
    """The collection version one front end's BM25 index was built from, and its refresh."""

    def __init__(self, settings: Settings, store: Callable[[], Any]) -> None:
        self.settings = settings
        self._store = store  # the vector store, opened on first use
        self._lock = threading.Lock()
        self._checked_at = -FOLLOW_SECONDS
        self.adopted: str | None = None  # the collection version BM25 was built from

    def stamp(self, changed: bool) -> None:
        """After a sync: a new version in the collection's metadata when the sync changed the
        collection (or it has none yet), which tells the other front ends to rebuild their BM25."""
        from rag.store import collection_version, is_store_failure, set_collection_version

        try:
            version = collection_version(self._store())
            if changed or not version:
                version = uuid.uuid4().hex
                set_collection_version(self._store(), version)
        except Exception as exc:
            if not is_store_failure(exc):
                raise
            log.warning("could not store the collection's version (%s); other front ends see this "
                        "sync's changes in their keyword search after the next one", exc)
            return
        self.adopted = version  # the sync built BM25 from the collection as it is now

    def follow(self) -> bool:
        """Rebuild BM25 from the collection when its version changed; checked at most every
        FOLLOW_SECONDS, by one thread at a time (the others search as things are). Returns
        whether it rebuilt."""
        if not self.settings.chroma_url or time.monotonic() - self._checked_at < FOLLOW_SECONDS:
            return False
        if not self._lock.acquire(blocking=False):
            return False
        try:
            from rag.store import collection_version

            self._checked_at = time.monotonic()
            version = collection_version(self._store())
            return version != self.adopted and self._rebuild(version)
        finally:
            self._lock.release()

    def _rebuild(self, version: str) -> bool:
        from filelock import FileLock, Timeout

        from rag import lexical
        from rag.index_folder import LOCK
        from rag.store import all_chunks

        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.settings.index_dir / LOCK)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False  # a sync of this index folder is running; it builds BM25 from the collection
        try:
            chunks = all_chunks(self._store())
            lexical.build(chunks, self.settings.index_dir / "lexical")
        finally:
            lock.release()
        self.adopted = version
        log.info("the collection changed (version %s): BM25 rebuilt from its %d chunks", version, len(chunks))
        return True

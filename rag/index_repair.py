"""The collection made to hold what the records say, and every chunk of it findable: what a
sync does after writing (rag.index), and `rag index --verify`."""

from __future__ import annotations

import logging
from typing import Any

from rag.settings import Settings

log = logging.getLogger(__name__)


def unrecorded(records: Any, ids: list[str]) -> list[str]:
    """Those of `ids` the record manager does not know: what indexing them will write."""
    out: list[str] = []
    for i in range(0, len(ids), 500):  # within SQLite's limit on query parameters
        batch = ids[i : i + 500]
        out.extend(x for x, known in zip(batch, records.exists(batch), strict=True) if not known)
    return out


def where(settings: Settings) -> str:
    return settings.chroma_url or str(settings.index_dir)


def ensure_reachable(
    settings: Settings, store: Any, records: Any, ids: list[str], source_of: dict[str, str] | None = None
) -> tuple[int, dict[str, str]]:
    """Every one of `ids` found by a search (see rag.store.ensure_reachable): (chunks written
    again, {source: reason} of the documents left out). A document some of whose chunks stay
    unfound is taken out of the index whole (with `source_of`, the source of each chunk id), so
    that one document never fails the sync of the others; when no chunk at all is found, the
    store is at fault: the unfound chunks are forgotten by the records (the next sync writes
    them again) and the error is raised."""
    from rag.store import REPAIR_ROUNDS, UnreachableChunks
    from rag.store import ensure_reachable as check

    try:
        return check(store, ids, where(settings)), {}
    except UnreachableChunks as exc:
        unfound = exc.ids
        if not source_of or len(unfound) == len(ids):
            records.delete_keys(unfound)
            raise
    counts: dict[str, int] = {}
    for i in unfound:
        counts[source_of[i]] = counts.get(source_of[i], 0) + 1
    doomed = [i for i, s in source_of.items() if s in counts]
    store.delete(ids=doomed)
    records.delete_keys(doomed)
    for source, n in counts.items():
        log.warning("%s: %d of its chunks are stored but no search finds them; left out of the index", source, n)
    return 0, {
        s: f"no search finds {n} of its chunks, even after writing them again {REPAIR_ROUNDS} times (Chroma bug "
           "chroma-core/chroma#7758); left out until it changes (or `rag index --rebuild`)"
        for s, n in counts.items()
    }


def reconcile(store: Any, records: Any, expected: set[str]) -> list[str]:
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

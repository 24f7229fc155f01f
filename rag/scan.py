"""What changed in the corpus since the last sync, found without parsing what did not.

A file whose size, modification time and inode are those the manifest recorded is unchanged and
is not read at all. Any other file is read and hashed: bytes the manifest knows are unchanged
(a `touch`, a copy back), bytes refused before are refused again at once with the same reason
(whatever their name: a hostile file costs its parsing once, not on every sync), and only new
bytes are parsed. Refusals are remembered in the manifest until the bytes change or the index
is rebuilt, so they survive the process (a `rag index` from cron parses nothing twice)."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from rag.errors import LoadError
from rag.load import LIMITS, discover, parse_file, read_file, relative_source
from rag.types import Document, Skipped

log = logging.getLogger(__name__)

# A file modified this close to the scan may change again within the same timestamp tick after
# it was read; its stamp is not recorded, so the next sync hashes it (git's "racily clean" rule).
# Two seconds covers the coarsest timestamps of the file systems a corpus lives on (FAT: 2 s).
RACY_NS = 2_000_000_000

# The modules whose code decides what a file's chunks are: when any of them changes (a parser,
# a budget, the splitter), chunks kept from the last sync may be stale, so every file is parsed
# again once (and refusals are forgotten).
CHUNKING_CODE = ("load.py", "formats.py", "binary_formats.py", "split.py", "text.py", "types.py")


def pipeline_key(chunk_size: int, chunk_overlap: int) -> str:
    """What made the chunks of the last sync: the chunk settings and the code of CHUNKING_CODE."""
    digest = hashlib.sha256(f"{chunk_size}/{chunk_overlap}".encode())
    here = Path(__file__).resolve().parent
    for name in CHUNKING_CODE:
        try:
            digest.update((here / name).read_bytes())
        except OSError:  # an installation without sources: the version stands for the code
            from rag import __version__

            digest.update(f"{name}@{__version__}".encode())
    return digest.hexdigest()[:32]


def stamp_of(path: Path) -> list[int] | None:
    """[size, mtime_ns, inode] of a regular file that is not a link, else None (a link or a
    special file is always checked again: that costs no parsing)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino] if stat.S_ISREG(st.st_mode) else None


@dataclass
class Scan:
    """The corpus against the last sync's manifest."""

    present: set[str] = field(default_factory=set)  # every indexable path found
    unchanged: dict[str, dict[str, Any]] = field(default_factory=dict)  # manifest entries, stamps renewed
    loaded: list[Document] = field(default_factory=list)  # new or changed documents, parsed
    stamps: dict[str, list[int] | None] = field(default_factory=dict)  # of the loaded documents
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)  # source -> {sha256, reason, stamp}
    skipped: list[Skipped] = field(default_factory=list)  # every file not loaded, with its reason

    @property
    def changed(self) -> bool:
        """Whether some file was parsed (new bytes that loaded)."""
        return bool(self.loaded)


def scan(corpus: Path, documents: dict[str, dict[str, Any]], refused: dict[str, dict[str, Any]]) -> Scan:
    """Compare the corpus with the last sync's `documents` and `refused` entries (empty to parse
    everything), parsing only new bytes."""
    out = Scan()
    racy_after = time.time_ns() - RACY_NS
    known_refusals = {(r["sha256"], PurePath(s).suffix.lower()): r["reason"] for s, r in refused.items()}
    for path in discover(corpus):
        source = relative_source(path, corpus)
        out.present.add(source)
        stamp = stamp_of(path)
        kept = stamp if stamp is not None and stamp[1] < racy_after else None
        doc, ref = documents.get(source), refused.get(source)
        if stamp is not None and doc is not None and doc.get("stamp") == stamp:
            out.unchanged[source] = doc
            continue
        if stamp is not None and ref is not None and ref.get("stamp") == stamp:
            _refuse(out, source, ref["sha256"], ref["reason"], kept)
            continue
        try:
            data = read_file(path, corpus)
        except LoadError as err:
            log.warning("skipped %s", err)
            out.skipped.append(Skipped(err.path, err.reason))
            continue
        sha = hashlib.sha256(data).hexdigest()
        if doc is not None and doc["sha256"] == sha:
            out.unchanged[source] = dict(doc, stamp=kept)
            continue
        reason = known_refusals.get((sha, path.suffix.lower()))
        if reason is None:
            try:
                out.loaded.append(parse_file(source, data, LIMITS))
                out.stamps[source] = kept
                continue
            except LoadError as err:
                reason = err.reason
        _refuse(out, source, sha, reason, kept)
    return out


def _refuse(out: Scan, source: str, sha: str, reason: str, stamp: list[int] | None) -> None:
    log.warning("skipped %s: %s", source, reason)
    out.refused[source] = {"sha256": sha, "reason": reason, "stamp": stamp}
    out.skipped.append(Skipped(source, reason))

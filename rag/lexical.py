"""The BM25 side of the index (bm25s), rebuilt from the vector store's chunks after each sync.

Each build goes into a fresh folder and a `current` file is switched to it atomically, so a
reader in another process never sees a half-written index."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from rag.errors import StoreError
from rag.types import Chunk

log = logging.getLogger(__name__)

CHUNKS = "chunks.jsonl"  # one {"text", "metadata"} object per line, in BM25 document order
_TOKEN = re.compile(r"\w\w+", re.UNICODE)
_STOPWORDS: frozenset[str] | None = None


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its own logger to DEBUG on import, which floods any configured root handler
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _stopwords() -> frozenset[str]:
    global _STOPWORDS
    if _STOPWORDS is None:
        _bm25s()
        from bm25s.stopwords import STOPWORDS_EN

        _STOPWORDS = frozenset(STOPWORDS_EN)
    return _STOPWORDS


_STEMMER: Any = None


def _stemmer() -> Any:
    global _STEMMER
    if _STEMMER is None:
        import Stemmer  # PyStemmer: Snowball's English stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


def stem(word: str) -> str:
    """A light English suffix stripper: enough to match plurals and simple verb forms, and its
    stems stay readable words (the follow-up rule shows them to the embedding model)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-cased words of two or more characters, English stop words left out, lightly stemmed
    (the answerer's key terms and overlaps)."""
    stop = _stopwords()
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in stop]


def bm25_tokens(text: str) -> list[str]:
    """What BM25 indexes and searches: the words, stop words left out, Snowball-stemmed
    (PyStemmer). Against the light stemmer, BM25 nDCG@10 on the suite's dev halves: debian-faq
    0.517 vs 0.505, git-doc 0.734 vs 0.515, sqlite3-doc 0.727 vs 0.741, emacs-common 0.720 vs
    0.733; mean 0.675 vs 0.623 (bench/tune_fusion.py, bench/run_suite.py)."""
    stop = _stopwords()
    return list(_stemmer().stemWords([t for t in _TOKEN.findall(text.lower()) if t not in stop]))


def build(chunks: list[Chunk], root: Path) -> None:
    """Write a BM25 index of `chunks` under `root` and make it the current one."""
    bm25s = _bm25s()

    root.mkdir(parents=True, exist_ok=True)
    target = root / f"v{time.time_ns()}"
    target.mkdir()
    with open(target / CHUNKS, "w", encoding="utf-8") as fh:
        for c in chunks:
            fh.write(json.dumps({"text": c.text, "metadata": c.to_metadata()}, ensure_ascii=False))
            fh.write("\n")
    if chunks:
        retriever = bm25s.BM25()
        retriever.index([bm25_tokens(c.text) or [""] for c in chunks], show_progress=False)
        retriever.save(str(target / "bm25"), show_progress=False)
    pointer = root / "current.tmp"
    pointer.write_text(target.name, encoding="utf-8")
    os.replace(pointer, root / "current")
    for old in root.glob("v*"):
        if old.name != target.name and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def current_folder(root: Path) -> Path | None:
    """The folder of the current build under `root`, or None when there is none."""
    try:
        name = (root / "current").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return root / name if name and (root / name).is_dir() else None


def read_chunks(folder: Path) -> list[Chunk]:
    """The chunks of one build, in BM25 document order; a malformed file raises."""
    with open(folder / CHUNKS, encoding="utf-8") as fh:
        return [_chunk(row) for row in map(json.loads, fh)]


def _chunk(row: Any) -> Chunk:
    if isinstance(row, list):  # [source, section, start, end, text]: indexes built before 0.2
        source, section, start, end, text = row
        return Chunk(str(source), str(section), str(text), int(start), int(end))
    return Chunk.from_metadata(row["text"], row["metadata"])


def load_build(folder: Path) -> tuple[list[Chunk], Any]:
    """(chunks, bm25s retriever or None when there are no chunks) of one build."""
    chunks = read_chunks(folder)
    if not chunks:
        return chunks, None
    return chunks, _bm25s().BM25.load(str(folder / "bm25"), show_progress=False)


class Bm25Index:
    """A loaded BM25 index; `search` returns (chunk, score) best first."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.version = ""
        self.chunks: list[Chunk] = []
        self._retriever: Any = None
        self._vocab: dict[str, int] = {}
        # `current` as last read: its (inode, mtime, size) and the build it names
        self._pointer: tuple[tuple[int, int, int] | None, str] = (None, "")

    def current_version(self) -> str:
        """The name of the current build. Each question checks it (a sync in another process
        switches it), so the pointer file is read only when its inode or time changed: a
        `build` replaces it with a new file, and between builds the check is one stat."""
        pointer = self.root / "current"
        try:
            st = os.stat(pointer)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            if stamp != self._pointer[0]:
                # (one tuple, replaced whole: threads asking at once see a stamp and its name)
                self._pointer = (stamp, pointer.read_text(encoding="utf-8").strip())
        except OSError:
            self._pointer = (None, "")
        return self._pointer[1]

    def refresh(self) -> None:
        """Load the current build if it changed since the last load. A build that cannot be
        read keeps the one loaded before; with none loaded, it is a StoreError."""
        version = self.current_version()
        if version == self.version:
            return
        try:
            chunks, retriever = load_build(self.root / version)
        except Exception as exc:  # bm25s raises whatever its malformed JSON leads to
            if version != self.current_version():
                return self.refresh()  # a newer build was switched in meanwhile
            if self.version:
                log.warning("BM25 index %s not readable (%s); keeping the previous one", version, exc)
                return
            raise StoreError(
                f"the BM25 index in {self.root} is damaged ({type(exc).__name__}: {exc}); "
                "run `rag index` to build it again"
            ) from None
        self.chunks, self._retriever, self.version = chunks, retriever, version
        self._vocab = dict(retriever.vocab_dict) if retriever is not None else {}

    def search(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        self.refresh()
        if self._retriever is None:
            return []
        tokens = [t for t in bm25_tokens(query) if t in self._vocab]
        if not tokens:
            return []
        k = min(k, len(self.chunks))
        docs, scores = self._retriever.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        return [
            (self.chunks[int(i)], float(s))
            for i, s in zip(docs[0], scores[0], strict=True)
            if float(s) > 0
        ]

"""The BM25 side of the index (bm25s), rebuilt from the vector store's chunks after each sync.

Each build goes into a fresh folder and a `current` file is switched to it atomically, so a
reader in another process never sees a half-written index."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any

from rag.errors import StoreError
from rag.spelling import respelled
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
        self._titles = SectionTitles([])
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
        self._titles = SectionTitles(chunks)

    def respelled(self, text: str) -> str:
        """`text` in the spelling of the indexed text (rag.spelling): a question's British
        "licence" reads "license" where the text writes that."""
        self.refresh()
        if not self._vocab:
            return text

        def known(word: str) -> bool:
            stems = bm25_tokens(word)
            return bool(stems) and all(t in self._vocab for t in stems)

        return respelled(text, known, lambda word: bool(bm25_tokens(word)))

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

    def by_title(self, query: str, k: int) -> list[Chunk]:
        """The first chunks of the k sections whose titles best match the query (SectionTitles)."""
        self.refresh()
        return self._titles.match(query, k)


_FIELD_KEY = re.compile(r"^([A-Za-z_][\w-]*):", re.M)


def title_terms(chunk: Chunk) -> frozenset[str]:
    """The terms of what a chunk's section is called: its title, and for a Markdown file's YAML
    front matter (which has no title) the keys of its fields ("license", "language")."""
    words = chunk.section
    if chunk.text.startswith("---\n"):
        close = chunk.text.find("\n---", 4)
        words += " " + " ".join(_FIELD_KEY.findall(chunk.text[: close if close >= 0 else None]))
    return frozenset(bm25_tokens(words))


# A stem's first ROOT letters: the stemmer leaves "conclude" and "conclusion" apart ("conclud",
# "conclus"), though a question that asks what an article concludes names its "Conclusion". English
# word formation, not tuned; a title and a question share a root when their stems do. Round 10:
# every reader and FAQ dev figure unchanged (`python bench/reader_sets.py --split dev`, `python
# bench/run_suite.py --split dev`); the conclusion's passage is now retrieved for "What does the
# Defining Divide article conclude?", which is still refused (its sentences are far from the question).
ROOT = 6


def roots(terms: Iterable[str]) -> frozenset[str]:
    """The roots of these stems (rag.lexical.ROOT)."""
    return frozenset(t[:ROOT] for t in terms)


def name_tokens(source: str) -> frozenset[str]:
    """The terms of a document's file name ("apach", "licens" for related/apache-license-2.0.txt)."""
    return frozenset(bm25_tokens(PurePath(source).stem.replace("_", " ")))


class SectionTitles:
    """The section titles of the indexed chunks, to find the sections a question names: a
    question's word in a section's title ("warranty" in "Disclaimer of Warranty", "license" in
    a model card's front-matter field `license:`) says where its answer is even when the
    section's text is far from the question's wording. A question that names documents (most
    terms of their file names: "Apache", "GPL", "MiniLM") looks only in their sections, and a
    document's own name terms in a title match nothing (every section of the Apache licence is
    about "license")."""

    def __init__(self, chunks: list[Chunk]) -> None:
        first: dict[tuple[str, str], Chunk] = {}
        for c in chunks:
            key = (c.source, c.section)
            if key not in first or c.start < first[key].start:
                first[key] = c
        self.firsts = sorted(first.values(), key=lambda c: (c.source, c.start))
        self.names = {c.source: name_tokens(c.source) for c in self.firsts}
        self.terms = [title_terms(c) - self.names[c.source] for c in self.firsts]
        df: dict[str, int] = {}
        for terms in self.terms:
            for t in terms:
                df[t] = df.get(t, 0) + 1
        n = len(self.terms)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def named(self, q: set[str]) -> set[str]:
        """The documents a query of these terms names: those whose file names share the most of them."""
        held = {s: len(n & q) for s, n in self.names.items()}  # "Zorblax-licensed" names zorblax-license
        return {s for s, n in held.items() if n and n == max(held.values())}  # more than quux-license

    def match(self, query: str, k: int) -> list[Chunk]:
        """The first chunks of the k sections whose titles hold the most of the query's terms
        (IDF-weighted, over the titles), in the named documents when the query names any;
        ties keep the documents' order."""
        q = set(bm25_tokens(query))
        q_roots = roots(q)
        named = self.named(q)
        scored = []
        for i, (c, terms) in enumerate(zip(self.firsts, self.terms, strict=True)):
            shared = {t for t in terms if t[:ROOT] in q_roots}
            if (named and c.source not in named) or not shared:
                continue
            scored.append((-sum(self.idf[t] for t in shared), i))
        return [self.firsts[i] for _s, i in sorted(scored)[:k]]

"""Sentences, citation markers and support checks, shared by the answerers and `rag eval`."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.lexical import tokenize
from rag.text import MARKER, MARKER_NUMBER, split_sentences


def markers_in(text: str) -> list[int]:
    return [int(m.group(1)) for m in MARKER.finditer(text)]


_MARKER_LIST = re.compile(
    rf"\[(?:passages?|sources?|doc(?:ument)?s?)?\s*({MARKER_NUMBER}(?:\s*(?:,|;|and)\s*{MARKER_NUMBER})*)\]", re.I
)
_REPEATED = re.compile(rf"({MARKER.pattern})(?:\s*\[\2\])+")  # "[2][2]", "[2] [2]"
# where an llm reply's sentences break: after ".", "!", "?" or a marker's "]", before anything but
# another marker (the capturing group keeps the breaks: `SENTENCE_BREAK.split(reply)[::2]` are the
# sentences)
SENTENCE_BREAK = re.compile(r"((?<=[.!?\]])\s+(?=[^\[]))")


def normalize_markers(text: str) -> str:
    """Rewrite the marker styles models write ("[1, 2]", "[Passage 3]") as "[1][2]", "[3]"."""
    return _MARKER_LIST.sub(lambda m: "".join(f"[{n}]" for n in re.findall(r"\d+", m.group(1))), text)


def first_appearance(text: str) -> dict[int, int]:
    """Old marker -> new marker, numbered 1..n in the order the markers first appear."""
    mapping: dict[int, int] = {}
    for n in markers_in(text):
        mapping.setdefault(n, len(mapping) + 1)
    return mapping


def prune_markers(text: str, valid: set[int]) -> str:
    """Drop `[n]` markers that point to no passage."""
    return MARKER.sub(lambda m: m.group(0) if int(m.group(1)) in valid else "", text)


def renumber(text: str, mapping: dict[int, int]) -> str:
    """Apply `mapping` to the markers; drop markers it lacks and repeats of the same marker."""

    def new(m: re.Match[str]) -> str:
        n = mapping.get(int(m.group(1)))
        if n is None:
            return ""
        return f"[{n}]" if m.start() > 0 and text[m.start() - 1] == "]" else f" [{n}]"

    text = MARKER.sub(new, text)
    return _REPEATED.sub(r"\1", text)


def word_overlap(claim: str, passage: str) -> float:
    """Share of the claim's content words that occur in the passage."""
    words = set(tokenize(claim))
    if not words:
        return 1.0
    return len(words & set(tokenize(passage))) / len(words)


def cited_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """Each sentence of an answer with the markers that follow it."""
    out: list[tuple[str, list[int]]] = []
    for sentence in SENTENCE_BREAK.split(answer.strip())[::2]:
        marks = markers_in(sentence)
        clean = MARKER.sub("", sentence).strip()
        if clean:
            out.append((clean, marks))
    return out


# When a passage supports a claim (`supported`): MiniLM cosine similarity to the passage or one of
# its sentences of at least SUPPORT_SIMILARITY with at least SUPPORT_OVERLAP of the claim's content
# words in it, or SUPPORT_OVERLAP_ALONE of its words whatever the similarity (a close paraphrase
# MiniLM scores low). Set by hand when the llm answerer's check was written (not tuned on a split);
# what they decide is reported as "citation support" and "unsupported" per answer, and re-measured
# by `rag eval --answerer llm --qa tests/data/qa.jsonl` (README's eval table, docs/llm.md) and
# `python bench/run_suite.py --split dev` (invalid citations, per domain). docs/llm.md states them.
SUPPORT_SIMILARITY = 0.6
SUPPORT_OVERLAP = 0.5
SUPPORT_OVERLAP_ALONE = 0.9


def supported(
    claim: str,
    passages: Sequence[str],
    similarity: Callable[[str, Sequence[str]], list[float]],
    min_similarity: float = SUPPORT_SIMILARITY,
    min_overlap: float = SUPPORT_OVERLAP,
) -> bool:
    """A claim is supported when some passage (or one of its sentences) is close to it in
    meaning and shares enough of its words."""
    if not passages:
        return False
    candidates = [s for p in passages for s in split_sentences(p)] + list(passages)
    sims = similarity(claim, candidates)
    best_sim = max(sims)
    best_overlap = max(word_overlap(claim, p) for p in passages)
    return (best_sim >= min_similarity and best_overlap >= min_overlap) or best_overlap >= SUPPORT_OVERLAP_ALONE

"""Answerers behind one small protocol: given the question and the retrieved hits, produce
the answer text with `[n]` markers and the citations they point to, or abstain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from rag.types import Citation, Hit

NOT_COVERED = (
    "The knowledge base does not cover this question: none of the indexed documents "
    "contains an answer to it."
)


@dataclass(frozen=True)
class Draft:
    """What an answerer returns; the knowledge base adds the question and the timings."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    unsupported: tuple[str, ...] = ()


def abstention() -> Draft:
    return Draft(NOT_COVERED, (), True)


class Answerer(Protocol):
    name: str

    def stream(self, question: str, hits: list[Hit]) -> Iterator[str | Draft]:
        """Yield pieces of the answer text as they come, then the final Draft."""
        ...


def final(stream: Iterator[str | Draft]) -> Draft:
    """The Draft at the end of an answerer's stream."""
    last: str | Draft | None = None
    for last in stream:
        pass
    if not isinstance(last, Draft):
        raise RuntimeError("an answerer's stream must end with a Draft")
    return last

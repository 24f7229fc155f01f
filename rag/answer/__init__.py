"""Answerers behind one small protocol: given the question and the retrieved hits, produce
the answer text with `[n]` markers and the citations they point to, or abstain."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.types import Citation, Hit

Turn = tuple[str, str]  # (question, answer) of an earlier exchange

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
    # the answerer whose text this is, when not the one asked: the llm answerer's fallback on
    # the extractive answerer's quotes says "extractive"
    answerer: str = ""


def abstention() -> Draft:
    return Draft(NOT_COVERED, (), True)


class Answerer(Protocol):
    """What the knowledge base asks of an answerer."""

    name: str

    def warm(self, passages: Sequence[tuple[str, str]]) -> None:
        """Prepare for questions about these (section, text) passages; may do nothing."""
        ...

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """A follow-up question made standalone for retrieval, given the earlier turns."""
        ...

    def stream(self, question: str, hits: list[Hit], history: Sequence[Turn] = ()) -> Iterator[str | Draft]:
        """Yield pieces of the answer text as they come, then the final Draft. `history` holds
        the earlier turns of the conversation (the answer should not just repeat them)."""
        ...


def final(stream: Iterator[str | Draft]) -> Draft:
    """The Draft at the end of an answerer's stream."""
    last: str | Draft | None = None
    for last in stream:
        pass
    if not isinstance(last, Draft):
        raise RuntimeError("an answerer's stream must end with a Draft")
    return last

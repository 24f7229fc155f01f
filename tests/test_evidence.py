"""What the llm answerer reads (rag/answer/evidence.py), with the real MiniLM scorer: each
piece an exact span of its source, within the budget, in both layouts."""

from __future__ import annotations

import pytest

import rag.answer.evidence as evidence
from rag.answer.evidence import select_evidence
from rag.answer.scorer import SentenceScorer
from rag.types import Chunk, Hit

# the best sentence for the question is in the middle of a chunk; the sentences around it are
# what a reader needs to make sense of it
LICENCE = ("The licence has nine sections. Section three is about patents. Each contributor grants "
           "you a royalty-free patent license to use the work. The grant ends if you sue a contributor "
           "over a patent. Section four is about redistribution.")
OTHER = ("Redistribution requires a copy of the licence. Modified files must carry a notice that "
         "they were changed. The licence is not a contract.")


def hit(source: str, text: str, offset: int = 0, score: float = 0.6) -> Hit:
    return Hit(Chunk(source, "Licence", text, offset, offset + len(text)), score, score, None)


HITS = [hit("other.txt", OTHER, 40), hit("licence.txt", LICENCE, 100)]
QUESTION = "Does the licence grant a patent license?"


def spans_exact(pieces: list[Hit]) -> None:
    texts = {"licence.txt": (100, LICENCE), "other.txt": (40, OTHER)}
    for p in pieces:
        offset, text = texts[p.chunk.source]
        assert text[p.chunk.start - offset : p.chunk.end - offset] == p.chunk.text


def test_passage_first_leads_with_the_best_sentences_whole_passage(embedder: object,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    scorer = SentenceScorer(embedder)
    sentences = select_evidence(QUESTION, HITS, scorer)
    assert "royalty-free patent license" in sentences[0].chunk.text
    assert sentences[0].chunk.text != LICENCE  # today's layout: the sentence and short neighbours
    monkeypatch.setattr(evidence, "LAYOUT", "passage-first")
    first = select_evidence(QUESTION, HITS, scorer)
    assert first[0].chunk.text == LICENCE  # the whole chunk: it fits the budget
    assert sum(len(p.chunk.text) for p in first) <= evidence.EVIDENCE_CHARS
    spans_exact(first)


def test_passage_first_cuts_a_long_passage_around_its_best_sentence(embedder: object,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence, "LAYOUT", "passage-first")
    budget = 160  # the best sentence and one or two around it, not the whole 240-character chunk
    pieces = select_evidence(QUESTION, HITS, SentenceScorer(embedder), budget=budget)
    top = pieces[0].chunk.text
    assert "royalty-free patent license" in top and top != LICENCE
    assert len(top) <= budget
    assert sum(len(p.chunk.text) for p in pieces) <= budget
    spans_exact(pieces)

"""The llm answerer's rewrite of a follow-up (LLMAnswerer.condense): the model's standalone
question is used only when it is one that keeps the follow-up's meaning; otherwise the
extractive answerer's rule carries the earlier question's key terms over. The model is the
stand-in OpenAI-compatible server on 127.0.0.1, replying as qwen-1.5b did on
tests/data/conversations.jsonl's dev half."""

from __future__ import annotations

import pytest
from standin_llm import StandinLLM

from rag.answer.rewrite import usable_rewrite
from rag.answer.scorer import SentenceScorer

pytest.importorskip("langchain_openai")

HISTORY = [("Does the Apache License come with a warranty?",
            "The Work is provided on an AS IS basis, without warranties or conditions of any kind [1].")]


def condensed(reply: str, question: str, embedder: object) -> str:
    from rag.answer.llm import LLMAnswerer, chat_model

    with StandinLLM(lambda prompt: reply, held=False) as llm:
        answerer = LLMAnswerer(chat_model(llm.base_url, "standin", "key"), SentenceScorer(embedder), condense="model")
        return answerer.condense(question, HISTORY)


@pytest.mark.parametrize("reply", [
    "No answer, no explanation.",  # the condense prompt's own words
    "Can I offer one myself?",  # the follow-up unchanged, though it points back
    "Does the Apache License let me sell the software?",  # another question: "offer", "one" lost
])
def test_an_unusable_rewrite_gives_way_to_the_carried_terms(reply: str, embedder: object) -> None:
    standalone = condensed(reply, "Can I offer one myself?", embedder)
    assert standalone.startswith("Can I offer one myself?") and "warranty" in standalone.lower()


def test_a_rewrite_that_keeps_the_question_is_used(embedder: object) -> None:
    reply = "Standalone question: Can I offer a warranty myself for Apache-licensed software?"
    assert condensed(reply, "Can I offer one myself?", embedder) == (
        "Can I offer a warranty myself for Apache-licensed software?")


def test_usable_rewrite() -> None:
    # a rewrite in other words keeps half of the follow-up's key terms, stemmed
    assert usable_rewrite("Will the gap between closed and open models persist?", "Will that gap last?")
    assert usable_rewrite("What are the methods for accessing closed AI models?", "How are they accessed?")
    assert not usable_rewrite("Does the license for the model allow commercial use?",
                              "Does that license give me patent rights?")
    # unchanged: standalone only with three key terms of its own
    assert usable_rewrite("Why would openness make it more secure?", "Why would openness make it more secure?")
    assert not usable_rewrite("And in the GPL?", "And in the GPL?")
    assert not usable_rewrite("", "Why?")


def test_by_default_the_rule_condenses_without_asking_the_model(embedder: object) -> None:
    """qwen-1.5b's rewrites held fewer facts than the rule's on the dev halves (rag.settings
    llm_condense): by default no model call is made for a follow-up, and the standalone question
    is the extractive answerer's."""
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.answer.llm import LLMAnswerer, chat_model

    scorer = SentenceScorer(embedder)
    with StandinLLM(lambda prompt: "What is the weather like on Mars?", held=False) as llm:
        answerer = LLMAnswerer(chat_model(llm.base_url, "standin", "key"), scorer)
        standalone = answerer.condense("Can I offer one myself?", HISTORY)
        assert not llm.requests
    assert standalone == ExtractiveAnswerer(scorer).condense("Can I offer one myself?", HISTORY)
    assert "warranty" in standalone.lower(), standalone
    with pytest.raises(Exception, match="RAG_LLM_CONDENSE"):
        LLMAnswerer(None, scorer, condense="guess")

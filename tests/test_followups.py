"""Follow-up questions follow: retrieved for their own words with the earlier topic as context,
and never answered by repeating the previous answer. Runs the two-turn conversations of
tests/data/followups.jsonl over the whole corpus/ (the articles and the related sources)."""

from __future__ import annotations

from conftest import DATA

from rag.answer.followup import already_said, carry_over, condense
from rag.conversations import ask_pair, judge, read
from rag.kb import KnowledgeBase

CONVERSATIONS = read(DATA / "followups.jsonl")


def test_the_set_has_pronoun_and_standalone_follow_ups() -> None:
    assert len(CONVERSATIONS) >= 15
    pronouns = sum(c.refers_back for c in CONVERSATIONS)
    assert pronouns >= len(CONVERSATIONS) / 2 and pronouns < len(CONVERSATIONS)
    assert any(not c.answerable for c in CONVERSATIONS)


def test_carry_over_keeps_the_topic_not_the_earlier_aspect() -> None:
    previous = "What is the difference between open and closed AI?"
    answer = "Open-source AI refers to models that are publicly released. Closed AI is proprietary."
    standalone = carry_over("What are its risks?", previous, answer)
    assert standalone.startswith("What are its risks? risks (")  # its own words first, then the topic
    assert "open" in standalone and "closed" in standalone and "AI" in standalone
    assert " risk " not in standalone and "what its" not in standalone  # words as written, no stems or pronouns
    assert "difference" not in standalone  # the first question's aspect, absent from its answer
    # a question that names its own subject is left alone
    own = "What are the main risks of closed source models for startups?"
    assert carry_over(own, previous, answer) == own
    assert condense("What are its risks?", []) == "What are its risks?"
    assert already_said([(previous, answer)]) == answer and already_said([]) == ""


def test_its_risks_after_the_difference(full_kb: KnowledgeBase) -> None:
    first = full_kb.ask("What is the difference between open and closed AI?")
    follow = full_kb.ask("What are its risks?", history=[(first.question, first.text)])
    assert not follow.abstained and follow.text != first.text
    assert not {(c.source, c.start, c.end) for c in follow.citations} & {
        (c.source, c.start, c.end) for c in first.citations}
    assert any("risk" in c.quote.lower() for c in follow.citations), follow.text


def test_follow_ups_say_something_new_and_cite_the_right_document(full_kb: KnowledgeBase) -> None:
    results = [judge(conv, *ask_pair(full_kb, conv)) for conv in CONVERSATIONS]
    answerable = [r for r in results if "differs" in r]
    assert all(r["differs"] for r in answerable), results
    assert sum(r["source"] for r in answerable) >= 0.9 * len(answerable), results
    assert all(r["abstained"] for r in results if "abstained" in r), results


def test_the_sentence_that_answers_a_follow_up_may_be_quoted_again(full_kb: KnowledgeBase) -> None:
    """"How are they accessed?" after a list of closed models: the sentence that says so was in
    the first answer; the follow-up's answer quotes it again rather than something new and off
    the question (it answered about open models before)."""
    first = full_kb.ask("What examples of closed AI models does the second article give?")
    assert "accessed via APIs" in first.text
    follow = full_kb.ask("How are they accessed?", history=[(first.question, first.text)])
    assert "accessed via APIs" in follow.text, follow.text
    assert "open source" not in follow.text.lower(), follow.text

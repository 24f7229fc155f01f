"""What kind of answer a question asks for (rag.shape): read from its own words, never from a
follow-up's carried context, and matched against what a sentence shows."""

from __future__ import annotations

from rag.kb import KnowledgeBase
from rag.shape import asked, expanded, fit


def test_what_a_question_asks_for() -> None:
    assert asked("What are the downsides of closed AI?") == {"negative"}
    assert asked("Why is it more secure?") == {"reason"}
    assert asked("Examples?") == {"example"}
    assert asked("What are the pros and cons of open models?") == frozenset()  # both polarities: neither
    assert asked("How do I install it?") == frozenset()
    # "who benefits" asks for people, not for a list of advantages
    assert asked("Who benefits when a company releases open weights?") == frozenset()
    # the carried context of a condensed follow-up says what it is about, not what it asks
    assert asked("And its downsides? downsides (advantages open-source AI)") == {"negative"}


def test_a_sentence_fits_the_asked_shape_or_its_opposite() -> None:
    neg = asked("What are the risks?")
    assert fit(neg, "It requires more expertise and carries misuse risks.") == 1.0
    assert fit(neg, "The advantages of open models are many.") == -1.0
    assert fit(neg, "Open models are published by companies.") == 0.0
    assert fit(asked("Why?"), "Closed models lead due to proprietary data.") == 1.0
    assert fit(asked("Examples?"), "Examples include:\n- LLaMA\n- Bloom") == 1.0
    assert fit(frozenset(), "anything") == 0.0


def test_bm25_query_gets_the_words_a_polarity_goes_by() -> None:
    assert expanded("How do I install it?") == "How do I install it?"
    more = expanded("What are its downsides?")
    assert more.startswith("What are its downsides?") and "risks" in more and "drawbacks" in more
    assert "advantages" in expanded("What are the benefits?")


def test_a_cross_reference_is_a_pointer_not_an_answer() -> None:
    from rag.shape import is_pointer

    assert is_pointer("Please see Section 6.1, “How many Debian distributions are there?\n” for more information.")
    assert is_pointer("For more information see Section 10.2, “What tools does Debian provide?”.")
    assert is_pointer("For more information on :func:`testfile`, see section :ref:`doctest-basic-api`.")
    # a pointer inside a statement, or to something outside the documents, may be the answer
    assert not is_pointer("Debian supports many architectures (see Section 3).")
    assert not is_pointer("Please refer to Debian GNU/Linux on CDs (https://www.debian.org/CD/).")
    # a sentence that sends the reader elsewhere "for more information" says nothing itself
    assert is_pointer("Please refer to the model card for more detailed information about the pre-training procedure.")
    assert is_pointer("See the git-config manual for more details.")
    assert not is_pointer("See https://www.debian.org/CD/ for the list of vendors.")  # where: an answer


def test_a_pointer_sentence_does_not_answer_how_a_model_was_trained(full_kb: KnowledgeBase) -> None:
    answer = full_kb.ask("How was all-MiniLM-L6-v2 trained?")
    assert "Please refer to the model card" not in answer.text, answer.text


def test_a_cross_reference_s_quoted_title_is_not_the_sentence_s_content() -> None:
    from rag.shape import without_cross_references

    text = "Debian has good support for non-English users, see\nSection 5.9, “How does Debian support\nnon-English languages?”."
    assert without_cross_references(text) == "Debian has good support for non-English users, see\nSection 5.9."
    assert without_cross_references("He said “hello” in chapter two.") == "He said “hello” in chapter two."

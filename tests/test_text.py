"""Sentences follow the text, not its line breaks, and their spans are exact."""

from __future__ import annotations

import json
import textwrap

from hypothesis import example, given, settings
from hypothesis import strategies as st

from rag.text import MARKER, blocks, is_list_item, sentence_spans, split_sentences

WORDS = ["the", "index", "keeps", "every", "chunk", "and", "its", "offsets", "while", "a", "reader",
         "asks", "questions", "about", "files", "in", "one", "folder", "with", "care", "debian", "emacs"]
ABBREVIATIONS = ["e.g.", "vs.", "i.e.", "U.S."]


@st.composite
def sentence(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=4, max_size=14))
    if draw(st.booleans()):
        words.insert(draw(st.integers(1, len(words) - 1)), draw(st.sampled_from(ABBREVIATIONS)))
    words[0] = words[0].capitalize()
    return " ".join(words) + draw(st.sampled_from([".", "!", "?"]))


paragraphs = st.lists(st.lists(sentence(), min_size=1, max_size=5).map(" ".join), min_size=1, max_size=4)


def norm(sentences: list[str]) -> list[str]:
    return [" ".join(s.split()) for s in sentences]


def check_exact(text: str) -> None:
    spans = sentence_spans(text, offset=7)
    last = 7
    for s, e in spans:
        piece = text[s - 7 : e - 7]
        assert piece and piece == piece.strip() and s >= last
        last = e


@settings(max_examples=40, deadline=None)
@given(paragraphs, st.integers(50, 90))  # hard-wrapped text in the wild: 60-80 columns
def test_a_wrapped_line_is_not_a_sentence_boundary(paras: list[str], width: int) -> None:
    flowed = "\n\n".join(paras)
    wrapped = "\n\n".join(textwrap.fill(p, width) for p in paras)
    for text in (flowed, wrapped, wrapped.replace("\n", "\r\n")):
        check_exact(text)
    expected = norm(split_sentences(flowed))
    assert norm(split_sentences(wrapped)) == expected
    assert norm(split_sentences(wrapped.replace("\n", "\r\n"))) == expected
    assert len(expected) == sum(p.count(".") + p.count("!") + p.count("?") for p in paras) - sum(
        p.count(a) * a.count(".") for p in paras for a in ABBREVIATIONS)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab .?!\n\r\t-*1:#="), max_size=200))
@example("1?  ?  ?")  # pysbd placed the second sentence inside the first
def test_spans_are_exact_on_any_text(text: str) -> None:
    check_exact(text)


def test_abbreviations_do_not_end_sentences() -> None:
    text = "Open models vs. closed ones differ, e.g. in cost. The U.S. market is large.\n"
    assert split_sentences(text) == ["Open models vs. closed ones differ, e.g. in cost.", "The U.S. market is large."]


def test_structure_ends_sentences() -> None:
    text = (
        "Overview\n"
        "========\n"
        "Open and closed models differ in what they share with\n"
        "their users and in how they are updated by the vendors\n"
        "\n"
        "The benefits of an open model include:\n"
        "- lower cost\n"
        "- more control\n"
        "How do I configure the editor for this program?::\n"
        "\tSet the option in the file.\n"
    )
    sentences = split_sentences(text)
    assert sentences[:6] == [
        "Overview", "========",
        "Open and closed models differ in what they share with\ntheir users and in how they are updated by the vendors",
        "The benefits of an open model include:", "- lower cost", "- more control",
    ]
    assert sentences[-1] == "Set the option in the file."
    assert sentences[6].startswith("How do I configure the editor for this program?")


def test_an_enumeration_inside_a_sentence_stays_in_it() -> None:
    """A licence's '"control" means (i) ..., or (ii) ..., or (iii) ...' is one sentence: its
    parts are fragments (pysbd ends a sentence before "(ii)"). Items on lines of their own, and
    an enumeration after a sentence that ends, still start sentences."""
    text = ('      control with that entity. For the purposes of this definition,\n'
            '      "control" means (i) the power, direct or indirect, to cause the\n'
            '      direction or management of such entity, whether by contract or\n'
            '      otherwise, or (ii) ownership of fifty percent (50%) or more of the\n'
            '      outstanding shares, or (iii) beneficial ownership of such entity.\n')
    sentences = split_sentences(text)
    assert len(sentences) == 2 and sentences[1].startswith("For the purposes")
    assert sentences[1].endswith("(iii) beneficial ownership of such entity."), sentences
    listed = split_sentences("You must do two things.\n(a) Keep the notice;\n(b) Mark your changes.\n")
    assert listed[0] == "You must do two things." and len(listed) == 3, listed


def test_a_paragraph_that_introduces_a_literal_block_ends_with_it() -> None:
    """reStructuredText ends a paragraph that introduces code with "::": that last line is part
    of its sentence, while a definition list's term ("core.editor::") still starts a block."""
    text = ("Most of these new methods\nhave been widely accepted, but the one which appears to make some programmers\n"
            "feel uncomfortable is::\n\n   \", \".join(['1', '2'])\n")
    assert split_sentences(text)[0].endswith("programmers\nfeel uncomfortable is::"), split_sentences(text)
    # (a capital after a line that stops on "In": python-faq's answer began "Python, use the key argument")
    sort = ('It sorts by a metric which maps each element to its "sort value". In\n'
            "Python, use the ``key`` argument for the :meth:`list.sort` method::\n\n   L.sort(key=f)\n")
    assert split_sentences(sort)[1] == "In\nPython, use the ``key`` argument for the :meth:`list.sort` method::"
    terms = "The editor runs on the file system\ncore.editor::\n\tThe editor to use.\n"
    assert split_sentences(terms)[:2] == ["The editor runs on the file system", "core.editor::"], split_sentences(terms)


def test_short_lines_are_kept_apart_and_indentation_starts_a_paragraph() -> None:
    text = ("A Title Line\nThe first paragraph is one long line that runs on and on without any wrap at all here.\n"
            "   An indented line starts a new paragraph in Info files")
    assert next(text[s:e] for s, e in blocks(text)) == "A Title Line\n"
    assert split_sentences(text)[-1] == "An indented line starts a new paragraph in Info files"


def test_list_items_and_markers() -> None:
    assert is_list_item("- item") and is_list_item("2) item") and not is_list_item("-item")
    assert [m.group(1) for m in MARKER.finditer("a [1] b [12]")] == ["1", "12"]


def test_the_marker_and_reply_sentence_rules_are_written_once() -> None:
    """rag.text's MARKER_PATTERN is the one `[n]` rule: no other module, nor the page's
    JavaScript, writes a pattern of its own for a marker (`\\[(\\d`), and rag.citations'
    SENTENCE_BREAK is the one way an llm reply is cut into sentences."""
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    sources = {str(p.relative_to(repo)): p.read_text() for p in sorted([*repo.glob("rag/**/*.py"), *repo.glob("ui/**/*.py")])}
    assert [name for name, text in sources.items() if "\\[(\\d" in text] == []  # (text.py builds it from MARKER_NUMBER)
    assert [name for name, text in sources.items() if "(?<=[.!?\\]])" in text] == ["rag/citations.py"]
    from rag.answer.llm import build_messages
    from rag.text import defuse_markers
    from rag.types import Chunk, Hit

    for text in ("See [2] and [12], not [2024] or [ 3 ].", "[1][2]", "a[999]b"):  # the llm's passages: one rule
        _, user = build_messages("Q?", [Hit(Chunk("a.md", "", text, 0, len(text)), 0.5)], sources=False)
        assert f"[1] {defuse_markers(text)}\n</passages>" in str(user.content)
    from ui import page, render

    constants = json.loads(re.search(r"const C = (\{.*\});", page.SOURCES_JS).group(1))  # type: ignore[union-attr]
    assert (constants["link"], constants["flagged"], constants["unescape"]) == (
        render.LINK_PATTERN, render.FLAGGED_PATTERN, render.UNESCAPE_PATTERN)
    assert "\\d" not in page.SOURCES_JS.replace(json.dumps(constants), "")  # no digit rule of the page's own
    assert re.fullmatch(render.LINK_PATTERN, render.answer_markdown("x [7]", [7], turn=3)[2:])

"""Splitter: structure-following chunks with exact offsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.load import load_file
from rag.split import find_headings, is_plain_heading, sections, split_document
from rag.types import Document

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
ARTICLES = sorted(CORPUS.glob("[!.]*.txt"))


def doc(source: str, text: str) -> Document:
    return Document(source, text, "0" * 64)


@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.name)
@pytest.mark.parametrize("size", [200, 800, 1500])
def test_every_chunk_is_its_exact_source_span(path: Path, size: int) -> None:
    d = load_file(path, CORPUS)
    raw = path.read_bytes().decode("utf-8")
    assert d.text == raw  # offsets point into the file itself
    chunks = split_document(d, chunk_size=size, chunk_overlap=size // 10)
    assert chunks
    for c in chunks:
        assert raw[c.start : c.end] == c.text
        assert len(c.text) <= max(size, 1) or "\n" not in c.text.strip()
        assert c.source == path.name
    # together the chunks cover every sentence of the text
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    letters = [i for i, ch in enumerate(raw) if ch.isalnum()]
    assert all(i in covered for i in letters)


def test_headings_of_the_open_vs_closed_article() -> None:
    d = load_file(CORPUS / "open-vs-closed-source-ai.txt", CORPUS)
    assert [t for _o, t in find_headings(d)] == [
        "Open Source vs Closed Source AI",
        "AI-Generated Content",
        "Open Source vs Closed Source AI",
        "Defining the Spectrum: Open Models vs. Proprietary Walled Gardens",
        "The Case for Open Source: Innovation, Access, and Auditability",
        "The Case for Closed Source: Safety, Investment, and Reliability",
        "The Central Tension: Balancing Competing Values",
        "Common Pitfalls",
        "Summary",
    ]


def test_headings_of_the_defining_divide_article() -> None:
    d = load_file(CORPUS / "defining-divide-open-vs-closed-ai.txt", CORPUS)
    assert [t for _o, t in find_headings(d)] == [
        "A Defining Divide in the AI Era",
        "What Are Open Source and Closed AI Models?",
        "Defining Open Source AI",
        "Defining Closed AI Models",
        "Transparency vs Performance",
        "The Transparency Advantage",
        "Innovation and Collaboration",
        "Open Innovation Ecosystems",
        "Controlled Innovation in Closed Systems",
        "Customization and Flexibility",
        "Tailoring Open Models",
        "Constraints of Closed Systems",
        "Ethical and Societal Impact",
        "Accountability and Trust",
        "Power Distribution",
        "Use Cases and Practical Applications",
        "When Open Source AI Excels",
        "When Closed AI Is Preferable",
        "Conclusion: Choosing the Right Path",
    ]


def test_chunks_carry_their_section_and_headings_without_body_join_the_next() -> None:
    d = load_file(CORPUS / "defining-divide-open-vs-closed-ai.txt", CORPUS)
    chunks = split_document(d)
    by_section = {c.section: c for c in chunks}
    advantage = by_section["The Transparency Advantage"]
    # "Transparency vs Performance" has no body of its own: it leads the next section's chunk
    assert advantage.text.startswith("Transparency vs Performance\nThe Transparency Advantage")
    assert "Transparency vs Performance" not in by_section
    assert all(c.section for c in chunks)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Common Pitfalls", True),
        ("What Are Open Source and Closed AI Models?", True),
        ("Conclusion: Choosing the Right Path", True),
        ("Examples include:", False),
        ("- Stable Diffusion", False),
        ("1. First step", False),
        ("Open ecosystems often drive foundational breakthroughs.", False),
        ("is this a heading?", False),
        ("Will progress be driven by a few large labs or a global community?", False),
        ("x" * 120, False),
    ],
)
def test_plain_heading_rule(line: str, expected: bool) -> None:
    assert is_plain_heading(line) is expected


def test_markdown_headings_and_fenced_code() -> None:
    text = (
        "Intro paragraph before any heading.\n\n# Title\n\nBody one.\n\n## Part Two ##\n\n"
        "Body two.\n\n```\n# not a heading\n```\nMore body.\n"
    )
    d = doc("notes.md", text)
    assert [t for _o, t in find_headings(d)] == ["Title", "Part Two"]
    chunks = split_document(d)
    assert [c.section for c in chunks] == ["", "Title", "Part Two"]
    assert "# not a heading" in chunks[-1].text
    for c in chunks:
        assert text[c.start : c.end] == c.text


def test_long_section_is_split_with_offsets_and_section_kept() -> None:
    para = "Sentence number {} talks about models and data. "
    body = "".join(para.format(i) for i in range(200))
    text = "Long Section\n" + body + "\n"
    d = doc("long.txt", text)
    chunks = split_document(d, chunk_size=300, chunk_overlap=50)
    assert len(chunks) > 10
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert len(c.text) <= 300
        assert c.section == "Long Section"


def test_one_enormous_line_without_spaces_is_split() -> None:
    text = "A" * 5000
    chunks = split_document(doc("blob.txt", text), chunk_size=400, chunk_overlap=0)
    assert "".join(c.text for c in chunks) == text
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_a_repeated_text_is_located_where_it_is_not_at_an_earlier_copy() -> None:
    # LangChain's start_index put the last "X" at 39, inside the first chunk, and left 50 unindexed
    text = "X" * 49 + " X"
    chunks = split_document(doc("x.txt", text), chunk_size=50, chunk_overlap=10)
    assert [(c.text, c.start) for c in chunks] == [("X" * 49, 0), ("X", 50)]


def test_wrapped_lines_of_a_paragraph_are_not_headings() -> None:
    """Hard-wrapped text (a license, an Info manual): only the short title lines start sections,
    not the first line of each wrapped paragraph."""
    para = ("The licenses for most software and other practical works are designed\n"
            "to take away your freedom to share and change the works.  By contrast,\n"
            "the General Public License is intended to guarantee your freedom to\n"
            "share and change all versions of a program to make sure it remains free\n"
            "Software for all its users.  We use it for most of our software today.\n")
    text = "Preamble\n\n" + para + "\n" + para + "\nTERMS AND CONDITIONS\n\n" + para + "\n" + para
    doc = Document("license.txt", text, "0" * 64)
    assert [title for _start, _end, title in sections(doc)] == ["Preamble", "TERMS AND CONDITIONS"]
    for chunk in split_document(doc, 300, 30):
        assert text[chunk.start : chunk.end] == chunk.text
    # an unwrapped text keeps its short title lines, even straight before a paragraph
    long = "Open models can be studied, changed and shared by anyone who downloads them. " * 4
    flat = "".join(f"Part {n}\n{long}\n{long}\n" for n in range(1, 6))
    titles = [t for _s, _e, t in sections(Document("flat.txt", flat, "0" * 64))]
    assert titles == [f"Part {n}" for n in range(1, 6)]


def _labels(path: Path) -> list[str]:
    d = load_file(path, CORPUS)
    return list(dict.fromkeys(c.section for c in split_document(d)))


def test_licence_labels_come_from_real_headings_only() -> None:
    """Issue 19: "§ END OF TERMS AND CONDITIONS" (a closing line) labelled the Apache appendix, and
    the GPL's preamble notice was labelled by its date line; a list item stays no title either."""
    apache = _labels(CORPUS / "related" / "apache-license-2.0.txt")
    assert apache[:3] == ["Apache License", "Definitions", "Grant of Copyright License"]
    assert apache[-2:] == ["Accepting Warranty or Additional Liability",
                           "APPENDIX: How to apply the Apache License to your work"]
    gpl = _labels(CORPUS / "related" / "gnu-gpl-3.0.txt")
    assert gpl[:2] == ["GNU GENERAL PUBLIC LICENSE", "Preamble"]
    assert gpl[-1] == "How to Apply These Terms to Your New Programs"
    for label in apache + gpl:
        assert not label.startswith(("END OF", "Version")) and not label.endswith((";", " or", " and"))
    # the closing line stays with the section it closes
    d = load_file(CORPUS / "related" / "apache-license-2.0.txt", CORPUS)
    [closing] = [c for c in split_document(d) if "END OF TERMS AND CONDITIONS" in c.text]
    assert closing.section == "Accepting Warranty or Additional Liability"


def test_closing_lines_end_their_section_and_other_all_caps_headings_stay() -> None:
    text = ("USER GUIDE\n\nTERMS OF SERVICE\n\n1. Scope. These terms cover the service in full.\n\n"
            "END OF TERMS OF SERVICE\n\nA note that belongs to no section, long enough to be a body.\n\n"
            "End of Life Policy\n\nOld versions get fixes for two years after the next release.\n\n"
            "APPENDIX A: Contact details.\n\nWrite to the address on the first page.\n")
    got = [(t, text[s:e].strip().splitlines()[0]) for s, e, t in sections(doc("terms.txt", text))]
    assert got == [
        ("Scope", "USER GUIDE"),
        ("", "A note that belongs to no section, long enough to be a body."),
        ("End of Life Policy", "End of Life Policy"),  # it closes no earlier heading: a title
        ("APPENDIX A: Contact details", "APPENDIX A: Contact details."),
    ]
    start, end, _title = sections(doc("terms.txt", text))[0]
    assert text[start:end].strip().endswith("END OF TERMS OF SERVICE")  # the closing line ends its section

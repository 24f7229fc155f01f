"""Hostile input: random bytes in every format, random Unicode, enormous lines, deeply nested
HTML, and upload names that try to leave the corpus folder."""

from __future__ import annotations

import hashlib
import html
import re
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rag.errors import LoadError, RagError
from rag.kb import KnowledgeBase
from rag.load import SUFFIXES, load_file
from rag.split import split_document
from rag.text import sentence_spans
from rag.types import Document

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Real headers of each format, so random bytes get past the first check of the parsers.
MAGIC = {
    ".txt": b"",
    ".md": b"# ",
    ".markdown": b"Title\n=====\n",
    ".html": b"<html><body>",
    ".htm": b"<!DOCTYPE html><h1>",
    ".pdf": b"%PDF-1.4\n",
    ".docx": b"PK\x03\x04",
}
TEXT_SUFFIXES = [".txt", ".md", ".markdown", ".html", ".htm"]
# What a person types: no control characters (\n and \r come from the line joins), no surrogates.
LINE = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=80)
NEWLINE = st.sampled_from(["\n", "\r\n", "\n\n", "\r\n\r\n"])
MEMORY_LIMIT = 64 * 2**20  # traced Python memory of one load + split of a 3 KB input (lazy imports included)


@contextmanager
def memory_limit(limit: int) -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit, f"peak {peak / 2**20:.1f} MiB"


def load_bytes(data: bytes, suffix: str) -> Document | LoadError:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f{suffix}"
        path.write_bytes(data)
        try:
            return load_file(path, Path(tmp))
        except LoadError as err:
            return err


def check_document(doc: Document, data: bytes) -> None:
    assert doc.text.strip()
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    for start, end, title in doc.headings:
        assert 0 <= start <= end <= len(doc.text) and title


def check_split(doc: Document, chunk_size: int = 200, overlap: int = 20) -> None:
    for chunk in split_document(doc, chunk_size, overlap):
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip()
        assert len(chunk.text) <= chunk_size


@pytest.mark.timeout(300)
@FUZZ
@given(suffix=st.sampled_from(SUFFIXES), body=st.binary(max_size=3000), with_magic=st.booleans())
def test_random_bytes_load_or_loaderror(suffix: str, body: bytes, with_magic: bool) -> None:
    """Random bytes with each supported extension: a Document with exact chunks or a LoadError,
    never another exception, within the memory limit (and pytest-timeout's time limit)."""
    data = (MAGIC[suffix] if with_magic else b"") + body
    with memory_limit(MEMORY_LIMIT):
        result = load_bytes(data, suffix)
        if isinstance(result, LoadError):
            assert result.path == f"f{suffix}" and result.reason
        else:
            check_document(result, data)
            check_split(result)


@pytest.mark.timeout(300)
@FUZZ
@given(suffix=st.sampled_from(TEXT_SUFFIXES), text=st.text(max_size=2000))
def test_random_unicode_loads_and_splits_exactly(suffix: str, text: str) -> None:
    data = text.encode("utf-8")
    result = load_bytes(data, suffix)
    if isinstance(result, LoadError):
        assert result.reason
        return
    check_document(result, data)
    check_split(result)


@pytest.mark.timeout(300)
@FUZZ
@given(suffix=st.sampled_from(TEXT_SUFFIXES), lines=st.lists(LINE, min_size=1, max_size=40), newline=NEWLINE)
def test_valid_text_always_loads_and_splits(suffix: str, lines: list[str], newline: str) -> None:
    """Text a person could write is never given up on: it loads, and its chunks cover it."""
    text = newline.join(lines)
    assume(text.strip() and not text.startswith("\ufeff"))  # a leading U+FEFF reads as a BOM
    html_page = suffix in (".html", ".htm")
    data = (f"<p>{html.escape(text)}</p>" if html_page else text).encode("utf-8")
    result = load_bytes(data, suffix)
    assert isinstance(result, Document), result
    if not html_page:
        assert result.text == text
    chunks = split_document(result, 200, 20)
    assert chunks
    covered = {i for c in chunks for i in range(c.start, c.end)}
    for c in chunks:
        assert result.text[c.start : c.end] == c.text
    assert all(i in covered for i, ch in enumerate(result.text) if ch.isalnum())


BLANKS = st.builds(lambda blank, n: blank * n, st.sampled_from([" ", "\t", "\n", "\r\n", " \n"]), st.integers(1, 1500))
WORDS = st.text(st.sampled_from("abc XYZ.\n"), min_size=1, max_size=300)


@FUZZ
@given(parts=st.lists(st.one_of(WORDS, BLANKS), min_size=1, max_size=30), size=st.integers(50, 400))
def test_long_blank_runs_split_exactly(parts: list[str], size: int) -> None:
    text = "".join(parts)
    assume(text.strip())
    doc = Document("blanks.txt", text, "0" * 64)
    check_split(doc, size, size // 5)
    covered = {i for c in split_document(doc, size, size // 5) for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(text) if ch.isalnum())


SENTENCE = st.text(st.sampled_from("abcdefgh XYZ,;'\"()"), min_size=1, max_size=60).map(
    lambda s: s.strip().capitalize() + "."
)


@FUZZ
@given(
    sentences=st.lists(SENTENCE, min_size=1, max_size=40),
    joins=st.lists(st.sampled_from([" ", "\r\n", "\r\n\r\n", "\n", "  \r\n"]), min_size=40, max_size=40),
    size=st.integers(60, 400),
)
def test_sentence_quotes_are_exact_on_crlf_text(sentences: list[str], joins: list[str], size: int) -> None:
    """A citation quotes a sentence of a chunk: quote == text[start:end] with CRLF line ends too."""
    text = "".join(s + j for s, j in zip(sentences, joins, strict=False))
    doc = load_bytes(text.encode("utf-8"), ".txt")
    assert isinstance(doc, Document) and doc.text == text
    for chunk in split_document(doc, size, size // 5):
        spans = sentence_spans(chunk.text, chunk.start)
        assert spans
        for start, end in spans:
            quote = chunk.text[start - chunk.start : end - chunk.start]
            assert quote == doc.text[start:end]
            # a line break inside a paragraph is a wrap, not a boundary; a blank line always is
            assert quote and quote == quote.strip() and not re.search(r"\n[ \t]*\r?\n", quote)


@FUZZ
@given(
    text=st.text(st.characters(codec="utf-8"), min_size=1, max_size=3000),
    headings=st.lists(st.tuples(st.integers(0, 3000), st.text(min_size=1, max_size=20)), max_size=5),
    source=st.sampled_from(["a.txt", "b.md", "c.html"]),
    size=st.integers(100, 400),
)
def test_splitter_offsets_are_exact(text: str, headings: list[tuple[int, str]], source: str, size: int) -> None:
    known = tuple(sorted((min(s, len(text)), min(s, len(text)), t) for s, t in headings))
    doc = Document(source, text, "0" * 64, known)
    check_split(doc, size, size // 5)


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_enormous_lines(tmp_path: Path, suffix: str) -> None:
    for name, line in {
        "word": "x" * 300_000,
        "words": "lorem ipsum " * 50_000,
        "cjk": "知识库" * 60_000,
    }.items():
        path = tmp_path / f"{name}{suffix}"
        path.write_text(line + "\n", encoding="utf-8")
        doc = load_file(path, tmp_path)
        chunks = split_document(doc, 800, 100)
        assert len(chunks) > 100
        assert all(len(c.text) <= 800 and doc.text[c.start : c.end] == c.text for c in chunks)


def test_deeply_nested_html(tmp_path: Path) -> None:
    depth = 10_000
    for tag in ("div", "b", "span", "h2"):
        path = tmp_path / f"deep-{tag}.html"
        path.write_text(f"<html><body>{f'<{tag}>' * depth}deep text{f'</{tag}>' * depth}</body></html>")
        result = load_bytes(path.read_bytes(), ".html")
        if isinstance(result, Document):
            assert "deep text" in result.text
            check_split(result)
    unclosed = tmp_path / "unclosed.html"
    unclosed.write_text("<div><p><table><tr><td>" * 3000 + "still text")
    result = load_bytes(unclosed.read_bytes(), ".html")
    assert isinstance(result, (Document, LoadError))


def bad_files(corpus: Path) -> set[str]:
    """One broken file of each kind; returns their names."""
    files = {
        "empty.txt": b"",
        "blank.md": b" \n\t\n",
        "binary.txt": bytes(range(256)) * 20,
        "nul.md": b"text\x00with\x00nul",
        "noise.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 8,
        "notapdf.pdf": b"hello, I am not a PDF",
        "noise.docx": b"PK\x03\x04" + bytes(range(256)) * 8,
        "notadocx.docx": b"plain text pretending",
        "empty.html": b"<html><head><title>t</title></head><body><script>x()</script></body></html>",
        "badutf16.txt": b"\xff\xfe" + b"\x00\xd8" * 10,
    }
    for name, data in files.items():
        (corpus / name).write_bytes(data)
    return set(files)


def test_sync_over_bad_files_reports_each(tmp_path: Path, make_kb: Callable[..., KnowledgeBase]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    bad = bad_files(corpus)
    (corpus / "good.md").write_text("# Good\n\nThe only readable file talks about lighthouses.\n")
    (corpus / "deep.html").write_text("<div>" * 10_000 + "Deep lighthouse text." + "</div>" * 10_000)
    kb = make_kb(corpus)
    report = kb.sync(progress=False)
    skipped = {s.path: s.reason for s in report.skipped}
    assert set(skipped) == bad
    assert all(reason for reason in skipped.values())
    assert {d.source for d in kb.documents()} == {"good.md", "deep.html"}
    assert kb.search("lighthouse", k=2)[0].chunk.source in ("good.md", "deep.html")


# -- uploads -------------------------------------------------------------------------------
ESCAPES = st.one_of(
    st.builds(lambda a, b: f"{a}/../../{b}.txt", st.text(max_size=8), st.text(max_size=8)),
    st.builds(lambda a: f"/{a}.txt", st.text(max_size=12)),
    st.builds(lambda a: f"..\\{a}.md", st.text(max_size=12)),
    st.builds(lambda a, b: f"{a}\x00{b}.txt", st.text(max_size=8), st.text(max_size=8)),
    st.builds(lambda a: f"C:\\..\\..\\{a}.txt", st.text(max_size=8)),
)
NAMES = st.one_of(ESCAPES, st.text(max_size=40), st.builds(lambda a: a + ".txt", st.text(max_size=300)))


@pytest.fixture
def upload_kb(tmp_path: Path, make_kb: Callable[..., KnowledgeBase]) -> KnowledgeBase:
    return make_kb(tmp_path / "corpus", max_upload_mb=0.01)


@FUZZ
@given(name=NAMES)
def test_add_file_never_escapes(upload_kb: KnowledgeBase, name: str) -> None:
    corpus = upload_kb.settings.corpus_dir.resolve()
    before = {p for p in corpus.parent.rglob("*")}
    try:
        saved = upload_kb.add_file(name, b"hello")
    except RagError as err:
        assert str(err).startswith(("refused", "could not save"))
        after = {p for p in corpus.parent.rglob("*")}
        assert {p for p in after - before if corpus not in p.parents} == set()
        return
    assert corpus in saved.resolve().parents
    assert saved.read_bytes() == b"hello"
    assert ".." not in name.replace("\\", "/").split("/") and "\x00" not in name
    saved.unlink()


@FUZZ
@given(name=ESCAPES)
def test_add_file_refuses_escaping_names(upload_kb: KnowledgeBase, name: str) -> None:
    with pytest.raises(RagError):
        upload_kb.add_file(name, b"hello")


@FUZZ
@given(extra=st.integers(1, 100_000))
def test_add_file_refuses_over_the_limit(upload_kb: KnowledgeBase, extra: int) -> None:
    limit = upload_kb.settings.max_upload_bytes
    with pytest.raises(RagError, match="upload limit"):
        upload_kb.add_file("big.txt", b"x" * (limit + extra))
    assert not (upload_kb.settings.corpus_dir / "big.txt").exists()
    assert upload_kb.add_file("fits.txt", b"x" * limit, replace=True).stat().st_size == limit

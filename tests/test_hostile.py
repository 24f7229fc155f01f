"""Hostile input (issue 13, items 1-3): each reproduction is generated here, small because the
budgets stop it early. Speed itself is measured by bench/hostile_sync.py, not here."""

from __future__ import annotations

import io
import os
import socket
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.errors import LoadError
from rag.kb import KnowledgeBase
from rag.load import LIMITS, Limits, discover, is_indexable, load_corpus, load_file
from rag.split import MAX_TITLE, find_headings, split_document
from rag.types import Document
from rag.watch import relevant

pytestmark = pytest.mark.timeout(120)  # the first test to use the model loads it


def refused(path: Path, corpus: Path, limits: Limits = LIMITS) -> str:
    with pytest.raises(LoadError) as err:
        load_file(path, corpus, limits)
    assert err.value.path == path.relative_to(corpus).as_posix()
    return err.value.reason


def assert_exact(doc: Document) -> None:
    chunks = split_document(doc)
    assert chunks
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)


# -- 1. quadratic splitting and backtracking headings --------------------------------------------
def test_many_short_lines_are_over_the_line_budget(tmp_path: Path) -> None:
    f = tmp_path / "lines.txt"
    f.write_text("a\n" * 150_000)
    assert "line budget" in refused(f, tmp_path)


@pytest.mark.parametrize("suffix", [".txt", ".md"])
def test_many_short_lines_split_when_allowed(tmp_path: Path, suffix: str) -> None:
    f = tmp_path / f"lines{suffix}"
    f.write_text("a\n" * 150_000)
    doc = load_file(f, tmp_path, Limits(lines=200_000))
    assert_exact(doc)


def test_plain_headings_are_found_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.split

    calls = 0
    real = rag.split.is_plain_heading

    def counting(line: str) -> bool:
        nonlocal calls
        calls += 1
        return real(line)

    monkeypatch.setattr(rag.split, "is_plain_heading", counting)
    text = "Heading\nBody line.\n\n" * 20_000
    heads = find_headings(Document("h.txt", text, "0" * 64))
    assert len(heads) == 20_000
    assert calls == 40_000  # once per non-blank line


def test_markdown_line_that_made_the_regex_backtrack(tmp_path: Path) -> None:
    f = tmp_path / "spaces.md"
    f.write_text("# a" + " " * 64_000 + "b")
    doc = load_file(f, tmp_path)
    assert find_headings(doc) == [(0, "a b")]
    assert [(c.text, c.start, c.section) for c in split_document(doc)] == [("# a", 0, "a b"), ("b", 64_003, "a b")]


def test_markdown_headings_keep_exact_offsets_with_any_line_ends() -> None:
    text = "intro\r\n\r\n# One\r\nbody\r\r## Two ##\rmore\n\nSetext\n======\n\n```\n# code\n```\n"
    heads = find_headings(Document("m.md", text, "0" * 64))
    assert [t for _o, t in heads] == ["One", "Two", "Setext"]
    assert [text[o:].split("\r")[0].split("\n")[0] for o, _t in heads] == ["# One", "## Two ##", "Setext"]


def test_enormous_heading_title_is_cut() -> None:
    text = "# " + "word " * 10_000 + "\n\nbody text\n"
    [(_o, title)] = find_headings(Document("t.md", text, "0" * 64))
    assert len(title) == MAX_TITLE and title.endswith("…")


# -- DOCX: many paragraphs, zip bombs ------------------------------------------------------------
def docx_bytes(paragraphs: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A python-docx document whose body is `paragraphs` (WordprocessingML), plus extra parts."""
    from docx import Document as Docx

    buf = io.BytesIO()
    Docx().save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "word/document.xml":
                xml = data.decode()
                start = xml.index("<w:body>") + len("<w:body>")
                data = (xml[:start] + paragraphs + xml[start:]).encode()
            dst.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            dst.writestr(name, data)
    return out.getvalue()


def para(text: str, style: str = "") -> str:
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{props}<w:r><w:t>{text}</w:t></w:r></w:p>"


def test_docx_with_very_many_paragraphs_is_over_budget(tmp_path: Path) -> None:
    f = tmp_path / "many.docx"
    f.write_bytes(docx_bytes("<w:p/>" * 97_000))
    assert f.stat().st_size < 100_000
    assert "paragraph budget" in refused(f, tmp_path)


def test_docx_heading_styles_are_read_once_and_right(tmp_path: Path) -> None:
    body = "".join(para(f"Part {i}", "Heading1") + para(f"Text of part {i}.") for i in range(5_000))
    f = tmp_path / "styled.docx"
    f.write_bytes(docx_bytes(body + para("Unknown style", "NoSuchStyle")))
    doc = load_file(f, tmp_path)
    assert [t for _s, _e, t in doc.headings] == [f"Part {i}" for i in range(5_000)]
    assert all(doc.text[s:e] == t for s, e, t in doc.headings)
    assert "Unknown style" in doc.text


def zip_bomb_docx(path: Path, mib: int, level: int = 1, xml: bytes | None = None) -> None:
    """A DOCX whose document.xml inflates to `mib` MiB (zeros after one paragraph, or after
    all of `xml`); at level 9, 1 GiB compresses to ~1 MB. The zip directory declares the
    inflated size."""
    with zipfile.ZipFile(io.BytesIO(docx_bytes(para("boom")))) as src, zipfile.ZipFile(
        path, "w", zipfile.ZIP_DEFLATED, compresslevel=level
    ) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename != "word/document.xml":
                dst.writestr(info.filename, data)
                continue
            with dst.open(info.filename, "w") as member:
                member.write(xml or data[:-20])  # the XML left open, then the zeros
                for _ in range(mib):
                    member.write(bytes(2**20))


def refused_with_peak(path: Path, corpus: Path) -> tuple[str, int]:
    """Why `path` is refused, and the peak of the memory Python allocated meanwhile."""
    tracemalloc.start()
    try:
        return refused(path, corpus), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_docx_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    f = tmp_path / "bomb.docx"
    zip_bomb_docx(f, 80)
    assert f.stat().st_size < 1_000_000
    reason, peak = refused_with_peak(f, tmp_path)
    assert "word/document.xml inflates to 80 MiB" in reason
    assert peak < 20 * 2**20  # nothing was inflated


def test_docx_of_tiny_elements_is_refused_before_lxml_parses_it(tmp_path: Path) -> None:
    # 1.6 M empty runs: 9.6 MB of XML, within the size budgets, ~190 MB as lxml elements
    f = tmp_path / "runs.docx"
    f.write_bytes(docx_bytes("<w:p>" + "<w:r/>" * 1_600_000 + "</w:p>"))
    assert f.stat().st_size < 100_000
    assert "markup budget: more than 1,500,000 XML tags" in refused(f, tmp_path)
    assert "markup budget" in refused(tmp_path / "runs.docx", tmp_path, Limits(xml_tags=1_000))


def test_docx_zip_total_and_directory_budgets(tmp_path: Path) -> None:
    parts = {f"word/media/image{i}.bin": bytes(1000) for i in range(100)}
    f = tmp_path / "parts.docx"
    f.write_bytes(docx_bytes(para("hello"), parts))
    assert "hello" in load_file(f, tmp_path).text
    assert "parts inflate to" in refused(f, tmp_path, Limits(zip_total_bytes=100_000))
    assert "directory" in refused(f, tmp_path, Limits(zip_directory_bytes=5_000))


def lying_docx(path: Path, mib: int) -> None:
    """A DOCX whose document.xml inflates to `mib` MiB of zeros after the XML, while the zip
    directory (and local header) declare the XML's size and checksum alone (issue 21, item 2):
    zipfile inflates the whole stream in one call, then cuts it to the declared size."""
    xml = zipfile.ZipFile(io.BytesIO(docx_bytes(para("boom")))).read("word/document.xml")
    zip_bomb_docx(path, mib, level=9, xml=xml)
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("word/document.xml")
    truth = struct.pack("<I", zlib.crc32(xml)), struct.pack("<I", len(xml))
    for at, crc_at, size_at in ((info.header_offset, 14, 22), (_central_entry(data, info.filename), 16, 24)):
        data[at + crc_at : at + crc_at + 4] = truth[0]
        data[at + size_at : at + size_at + 4] = truth[1]
    path.write_bytes(bytes(data))


def _central_entry(data: bytearray, name: str) -> int:
    at = data.find(b"PK\x01\x02")
    while data[at + 46 : at + 46 + struct.unpack_from("<H", data, at + 28)[0]] != name.encode():
        at = data.find(b"PK\x01\x02", at + 4)
    return at


def test_docx_whose_directory_lies_about_sizes_is_counted_as_it_inflates(tmp_path: Path) -> None:
    f = tmp_path / "lying.docx"
    lying_docx(f, 80)
    assert zipfile.ZipFile(f).getinfo("word/document.xml").file_size < 2_000  # what the directory says
    reason, peak = refused_with_peak(f, tmp_path)
    size = zipfile.ZipFile(f).getinfo("word/document.xml").file_size
    assert reason == f"a lying zip: its directory says word/document.xml inflates to {size:,} bytes, its data to more"
    assert peak < 20 * 2**20  # counted piece by piece, never held


def zip64_docx(parts: int, claimed: int = 100) -> bytes:
    """A DOCX with `parts` extra empty parts whose end record claims a `claimed`-byte directory,
    while the ZIP64 end record (which zipfile reads instead) gives the true size (issue 21, item 8)."""
    data = docx_bytes(para("many parts"), {f"p/{i}": b"" for i in range(parts)})
    end = len(data) - 22
    size, offset = struct.unpack_from("<II", data, end + 12)
    if data[end - 20 : end - 16] != b"PK\x06\x07":  # zipfile writes ZIP64 records past 65,535 entries only
        record = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, parts + 11, parts + 11, size, offset)
        locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, end, 1)
        data = data[:end] + record + locator + data[end:]
        end += len(record) + len(locator)
    lie = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, claimed, 0xFFFFFFFF, 0)
    return data[:end] + lie


def test_zip64_record_that_lies_about_the_directory(tmp_path: Path) -> None:
    f = tmp_path / "zip64.docx"
    f.write_bytes(zip64_docx(2_000))
    assert len(zipfile.ZipFile(f).infolist()) > 2_000  # what zipfile reads
    assert "many parts" in load_file(f, tmp_path).text
    assert "its directory has 0.099" in refused(f, tmp_path, Limits(zip_directory_bytes=50_000))
    assert "lists more than 1,000 parts" in refused(f, tmp_path, Limits(zip_entries=1_000))


# -- PDF: pages that share one enormous content stream, too many pages, time -------------------
def pdf_bytes(pages: int, content: bytes, font_map: bytes = b"", names: int = 1) -> bytes:
    """A PDF whose pages all draw one shared content stream; its font, named /F1 ... /F`names`,
    has `font_map` as its /ToUnicode character map when given."""
    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, StreamObject

    writer = PdfWriter()
    entries = {
        NameObject("/Type"): NameObject("/Font"),
        NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    }
    if font_map:
        cmap = StreamObject()
        cmap.set_data(font_map)
        entries[NameObject("/ToUnicode")] = writer._add_object(cmap.flate_encode())
    font = writer._add_object(DictionaryObject(entries))
    stream = StreamObject()
    stream.set_data(content)
    shared = writer._add_object(stream.flate_encode())
    for _ in range(pages):
        page = writer.add_blank_page(612, 792)
        fonts = DictionaryObject({NameObject(f"/F{i}"): font for i in range(1, names + 1)})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
        page[NameObject("/Contents")] = shared
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def font_map(mib: float, filler: bytes) -> bytes:
    """A /ToUnicode map of `mib` MiB: one real entry, then `filler` over and over (issue 21,
    item 3: a 60 MB map took pypdf 37 s and 2.9 GB on one page)."""
    head = b"begincmap\n1 beginbfchar\n<68> <0068>\nendbfchar\n"
    return head + filler * int(mib * 2**20 // len(filler)) + b"endcmap\n"


SHOW = b"BT /F1 12 Tf 72 720 Td (hello world) Tj ET\n"


def test_pdf_pages_sharing_an_enormous_content_stream(tmp_path: Path) -> None:
    f = tmp_path / "shared.pdf"
    f.write_bytes(pdf_bytes(3, SHOW * (3 * 2**20 // len(SHOW))))
    assert f.stat().st_size < 30_000
    assert "page 1 draws 3 MiB of content" in refused(f, tmp_path)


def test_pdf_page_and_time_budgets(tmp_path: Path) -> None:
    f = tmp_path / "small.pdf"
    f.write_bytes(pdf_bytes(3, SHOW))
    doc = load_file(f, tmp_path)
    assert doc.text.count("hello world") == 3 and len(doc.pages) == 3
    assert "more than 2 pages" in refused(f, tmp_path, Limits(pages=2))
    assert "time budget" in refused(f, tmp_path, Limits(seconds=-1))


def test_pdf_font_map_counts_in_the_page_budget(tmp_path: Path) -> None:
    f = tmp_path / "fontmap.pdf"
    f.write_bytes(pdf_bytes(1, SHOW, font_map(1, b"<68> <0068>\n"), names=4))
    assert f.stat().st_size < 30_000
    assert "page 1 draws 4 MiB of content and font maps" in refused(f, tmp_path)  # once per name
    assert "hello world" in load_file(f, tmp_path, Limits(page_content_bytes=8 * 2**20)).text


@pytest.mark.timeout(60)
def test_pdf_parser_is_stopped_inside_a_page(tmp_path: Path) -> None:
    # a map pypdf reads line by line: ~1 s a MiB here, all of it inside page 1
    f = tmp_path / "slow.pdf"
    f.write_bytes(pdf_bytes(1, SHOW, font_map(10, b"x\n")))
    began = time.monotonic()
    reason = refused(f, tmp_path, Limits(page_content_bytes=2**30, seconds=1))
    assert time.monotonic() - began < 5
    assert reason == "over the time budget: reading took more than 1 s (stopped inside a page)"
    small = tmp_path / "small.pdf"
    small.write_bytes(pdf_bytes(3, SHOW))
    assert load_file(small, tmp_path).text.count("hello world") == 3  # a new parser serves the next file


def test_pdf_parser_memory_is_bounded(tmp_path: Path) -> None:
    # pypdf splits a map at every "<": 6 MiB of "<>" took 470 MB (~2 s), 3 MiB half that
    f = tmp_path / "greedy.pdf"
    f.write_bytes(pdf_bytes(1, SHOW, font_map(3, b"<>")))
    limits = Limits(page_content_bytes=2**30, pdf_memory_bytes=120 * 2**20)
    assert "memory budget" in refused(f, tmp_path, limits)
    assert "hello world" in load_file(f, tmp_path, Limits(page_content_bytes=2**30)).text


# -- bytes, characters --------------------------------------------------------------------------
def test_bytes_and_character_budgets(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_bytes(b"x" * 100)
    assert load_file(f, tmp_path, Limits(text_bytes=100)).text == "x" * 100
    assert "size budget" in refused(f, tmp_path, Limits(text_bytes=99))
    assert "text budget" in refused(f, tmp_path, Limits(chars=99))
    h = tmp_path / "p.html"
    h.write_bytes(b"<p>" + b"y" * 100 + b"</p>")
    assert "size budget" in refused(h, tmp_path, Limits(html_bytes=50))


# -- 3. links and files that are not regular ------------------------------------------------------
@pytest.fixture
def linked_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    hidden = corpus / ".special"
    hidden.mkdir(parents=True)
    (corpus / "real.txt").write_text("A real document about lighthouses.\n")
    (corpus / "sub").mkdir()
    (corpus / "sub" / "inner.md").write_text("# Inner\n\nText about harbours.\n")
    os.mkfifo(hidden / "fifo")
    os.mkfifo(corpus / "pipe.md")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(hidden / "sock"))
    sock.close()
    outside = tmp_path / "outside.txt"
    outside.write_text("secret words outside the corpus\n")
    links = {
        "passwd.txt": Path("/etc/passwd"),
        "zero.txt": Path("/dev/zero"),
        "outside.txt": outside,
        "fifo.txt": hidden / "fifo",
        "sock.txt": hidden / "sock",
        "folder.md": corpus / "sub",
        "inside.txt": corpus / "real.txt",
        "relative.md": Path("sub/inner.md"),
    }
    for name, target in links.items():
        (corpus / name).symlink_to(target)
    return corpus


REASONS = {
    "passwd.txt": "links outside the corpus folder",
    "zero.txt": "links outside the corpus folder",
    "outside.txt": "links outside the corpus folder",
    "fifo.txt": "not a regular file: it is a named pipe",
    "pipe.md": "not a regular file: it is a named pipe",
    "sock.txt": "not a regular file: it is a socket",
    "folder.md": "not a regular file: it is a folder",
}


@pytest.mark.timeout(30)  # a FIFO opened for reading would wait forever for a writer
def test_links_and_special_files_are_skipped_with_a_reason(linked_corpus: Path) -> None:
    results = {r.path if isinstance(r, LoadError) else r.source: r for r in load_corpus(linked_corpus)}
    skipped = {k: v.reason for k, v in results.items() if isinstance(v, LoadError)}
    assert skipped == REASONS
    loaded = {k: v for k, v in results.items() if isinstance(v, Document)}
    assert set(loaded) == {"real.txt", "sub/inner.md", "inside.txt", "relative.md"}
    assert loaded["inside.txt"].text == loaded["real.txt"].text  # links inside the corpus work


def test_sync_reports_links_and_never_serves_outside_files(
    linked_corpus: Path, make_kb: Callable[..., KnowledgeBase]
) -> None:
    kb = make_kb(linked_corpus)
    report = kb.sync(progress=False)
    assert {s.path: s.reason for s in report.skipped} == REASONS
    hits = kb.search("secret words outside the corpus root passwd", k=10)
    assert hits and all(h.chunk.source in {"real.txt", "sub/inner.md", "inside.txt", "relative.md"} for h in hits)


# -- one rule for what is indexable ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.txt", True),
        ("sub/b.MD", True),
        ("x/y/z.docx", True),
        ("c.py", False),
        (".hidden.txt", False),
        (".git/x.md", False),
        ("sub/.cache/x.md", False),
        ("../x.txt", False),
        ("/etc/x.txt", False),
        ("", False),
    ],
)
def test_is_indexable(path: str, expected: bool) -> None:
    assert is_indexable(path) is expected


def test_watch_uses_the_same_rule(tmp_path: Path) -> None:
    for name in ["a.txt", ".h/b.txt", "d/.e/f.md", "d/g.md"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("text")
    found = {p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)}
    assert found == {"a.txt", "d/g.md"}
    watched = {n for n in ["a.txt", ".h/b.txt", "d/.e/f.md", "d/g.md"] if relevant(str(tmp_path / n), tmp_path)}
    assert watched == found
    assert not relevant("/somewhere/else/a.txt", tmp_path)

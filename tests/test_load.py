"""Loaders: every supported format, legacy encodings, and every kind of bad file."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from rag.errors import LoadError
from rag.load import decode_text, discover, load_file

TEXT = "Café au lait — naïve résumé. Ünïcödé ßtraße.\nSecond line with more words here.\n"


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1252"]
)
def test_text_in_any_common_encoding_decodes_exactly(tmp_path: Path, encoding: str) -> None:
    f = write(tmp_path / "doc.txt", TEXT.replace("—", "-").encode(encoding))
    doc = load_file(f, tmp_path)
    assert doc.text == TEXT.replace("—", "-")
    assert doc.source == "doc.txt"


def test_cp1252_quotes_are_not_mangled(tmp_path: Path) -> None:
    text = "The “open” models – and the ‘closed’ ones – cost €5 to run. " * 5
    f = write(tmp_path / "q.md", text.encode("cp1252"))
    assert load_file(f, tmp_path).text == text


def test_utf8_text_is_kept_byte_for_byte(tmp_path: Path) -> None:
    raw = b"Line one\r\nLine two\n\n  indented\ttab\n"
    f = write(tmp_path / "a.txt", raw)
    assert load_file(f, tmp_path).text == raw.decode()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"  \n\n\t \n", "empty"),
        ("binary.txt", bytes(range(256)) * 40, "binary"),
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00\xff" * 500, "binary"),
        ("corrupt.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage \x00\xff" * 3, "PDF"),
        ("notpdf.pdf", b"this is plain text pretending to be a PDF", "PDF"),
        ("corrupt.docx", b"PK\x03\x04 definitely not a zip file" * 10, "DOCX"),
        ("page.html", b"<html><body><script>var x = 1;</script></body></html>", "no text"),
    ],
)
def test_bad_files_raise_load_error_with_path_and_reason(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    f = write(tmp_path / "sub" / name, data)
    with pytest.raises(LoadError) as err:
        load_file(f, tmp_path)
    assert err.value.path == f"sub/{name}"
    assert reason.lower() in err.value.reason.lower()


def test_docx_zip_without_document_is_reported(tmp_path: Path) -> None:
    f = tmp_path / "empty.docx"
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("hello.txt", "not a word document")
    with pytest.raises(LoadError, match="DOCX"):
        load_file(f, tmp_path)


def test_dangling_link_is_discovered_and_reported(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    assert [p.name for p in discover(tmp_path)] == ["gone.txt"]
    with pytest.raises(LoadError, match="cannot read"):
        load_file(tmp_path / "gone.txt", tmp_path)


def test_unreadable_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the tests run as root, who can read a chmod 000 file, so the permission error is injected
    import os

    f = write(tmp_path / "secret.txt", b"classified words here")
    real = os.open

    def deny(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if Path(path).name == "secret.txt":
            raise PermissionError(13, "Permission denied")
        return real(path, flags, *args)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(LoadError, match="Permission denied"):
        load_file(f, tmp_path)


def test_html_text_headings_and_no_markup(tmp_path: Path) -> None:
    html = (
        "<html><head><title>T</title><style>p{}</style></head><body>"
        "<h1>Main Title</h1><p>First paragraph &amp; more.</p>"
        "<div><h2>Sub <em>section</em></h2><p>Second <b>bold</b> text.</p>"
        "<script>alert(1)</script><ul><li>item one</li><li>item two</li></ul></div></body></html>"
    )
    doc = load_file(write(tmp_path / "p.html", html.encode()), tmp_path)
    assert "alert" not in doc.text and "<" not in doc.text and "p{}" not in doc.text
    assert "First paragraph & more." in doc.text
    assert "Second bold text." in doc.text
    assert [t for _s, _e, t in doc.headings] == ["Main Title", "Sub section"]
    for start, end, title in doc.headings:
        assert doc.text[start:end] == title


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    f = tmp_path / "r.pdf"
    c = canvas.Canvas(str(f))
    c.drawString(72, 720, "Quarterly report about open models.")
    c.showPage()
    c.drawString(72, 720, "Second page mentions licensing.")
    c.save()
    doc = load_file(f, tmp_path)
    assert "Quarterly report about open models." in doc.text
    assert "Second page mentions licensing." in doc.text


def test_docx_text_and_heading_styles(tmp_path: Path) -> None:
    from docx import Document as Docx

    d = Docx()
    d.add_heading("Budget Overview", level=1)
    d.add_paragraph("The budget grew by ten percent.")
    d.add_heading("Risks", level=2)
    d.add_paragraph("Supply chains remain fragile.")
    f = tmp_path / "w.docx"
    d.save(str(f))
    doc = load_file(f, tmp_path)
    assert "The budget grew by ten percent." in doc.text
    assert [t for _s, _e, t in doc.headings] == ["Budget Overview", "Risks"]
    for start, end, title in doc.headings:
        assert doc.text[start:end] == title


def test_discover_skips_hidden_and_unknown_files(tmp_path: Path) -> None:
    for name in ["a.txt", "b.MD", "c.py", ".hidden.txt", ".git/x.md", "d/e.html", "f.pdf~"]:
        write(tmp_path / name, b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)] == ["a.txt", "b.MD", "d/e.html"]


def test_decode_rejects_text_with_nul_bytes() -> None:
    with pytest.raises(LoadError, match="binary"):
        decode_text(b"abc\x00def" * 100 + b"\xff", "x.txt")


def test_cyrillic_legacy_encoding_is_detected(tmp_path: Path) -> None:
    text = "Открытые модели искусственного интеллекта доступны всем разработчикам. " * 4
    f = write(tmp_path / "ru.txt", text.encode("cp1251"))
    assert load_file(f, tmp_path).text == text


def test_pdf_pages_record_where_each_page_starts(tmp_path: Path) -> None:
    from bisect import bisect_right

    from reportlab.pdfgen import canvas

    f = tmp_path / "p.pdf"
    c = canvas.Canvas(str(f))
    for text in ("First page words.", "", "Third page words."):
        if text:
            c.drawString(72, 720, text)
        c.showPage()
    c.save()
    doc = load_file(f, tmp_path)
    assert len(doc.pages) == 3
    assert doc.text[doc.pages[0] :].startswith("First page words.")
    assert doc.text[doc.pages[2] :].startswith("Third page words.")
    assert doc.pages[1] == doc.pages[2]  # the empty page holds no text
    assert bisect_right(doc.pages, doc.text.index("Third")) == 3
    assert bisect_right(doc.pages, doc.text.index("page words.")) == 1
    assert load_file(write(tmp_path / "t.txt", b"plain text"), tmp_path).pages == ()

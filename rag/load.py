"""Files -> Documents. Every failure is a LoadError with the path and a reason; the caller
reports it and goes on."""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from rag.errors import LoadError
from rag.types import Document

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
MAX_FILE_BYTES = 200 * 1024 * 1024

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def discover(corpus: Path) -> list[Path]:
    """The files below `corpus` that the loaders read, hidden ones left out, sorted."""
    found = []
    for path in corpus.rglob("*"):
        rel = path.relative_to(corpus)
        if any(part.startswith(".") for part in rel.parts):
            continue
        # a dangling link is listed too, so that it is reported rather than silently ignored
        if path.suffix.lower() in SUFFIXES and (path.is_file() or path.is_symlink()):
            found.append(path)
    return sorted(found)


def relative_source(path: Path, corpus: Path) -> str:
    return path.relative_to(corpus).as_posix()


def load_file(path: Path, corpus: Path) -> Document:
    """Read one file into a Document, or raise LoadError saying why it cannot be."""
    source = relative_source(path, corpus)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LoadError(source, f"file is larger than {MAX_FILE_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(source, f"cannot read file ({exc.strerror or exc})") from None
    if not data.strip():
        raise LoadError(source, "file is empty")
    suffix = path.suffix.lower()
    headings: list[tuple[int, int, str]] = []
    pages: tuple[int, ...] = ()
    try:
        if suffix in (".html", ".htm"):
            text, headings = _html(decode_text(data, source))
        elif suffix == ".pdf":
            text, pages = _pdf(data)
        elif suffix == ".docx":
            text, headings = _docx(data)
        else:
            text = decode_text(data, source)
    except LoadError:
        raise
    except Exception as exc:  # a parser library failing on corrupt input
        kind = suffix.lstrip(".").upper()
        raise LoadError(source, f"not a readable {kind} file ({type(exc).__name__}: {exc})") from None
    if not text.strip():
        raise LoadError(source, "no text could be extracted")
    return Document(source, text, hashlib.sha256(data).hexdigest(), tuple(headings), pages)


def load_corpus(corpus: Path) -> Iterator[Document | LoadError]:
    for path in discover(corpus):
        try:
            yield load_file(path, corpus)
        except LoadError as err:
            log.warning("skipped %s", err)
            yield err


def decode_text(data: bytes, source: str) -> str:
    """Decode bytes of a text file: BOMs, then UTF-8, then a detected legacy encoding."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                raise LoadError(source, f"invalid {encoding} text") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_legacy(data, source)
    if "\x00" in text:
        raise LoadError(source, "binary file (contains NUL bytes), not text")
    if _control_ratio(text) > 0.05:
        raise LoadError(source, "binary file (mostly control characters), not text")
    return text


def _decode_legacy(data: bytes, source: str) -> str:
    if b"\x00" in data:
        # UTF-16 without a BOM: every other byte is NUL in mostly-Latin text
        zeros_even = data[0::2].count(0)
        zeros_odd = data[1::2].count(0)
        half = len(data) / 2
        for encoding, zeros in (("utf-16-le", zeros_odd), ("utf-16-be", zeros_even)):
            if zeros > 0.3 * half and len(data) % 2 == 0:
                try:
                    return data.decode(encoding)
                except UnicodeDecodeError:
                    pass
        raise LoadError(source, "binary file (contains NUL bytes), not text")
    # Western text is mostly ASCII with a few accented letters or typographic quotes: that is
    # Windows-1252 (a superset of Latin-1 for printable text). Text where most letters are
    # high bytes (Cyrillic, Greek, CJK in legacy code pages) goes to the detector.
    high = sum(1 for b in data if b >= 0x80)
    if high <= 0.3 * len(data):
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and best.encoding:
        try:
            return data.decode(best.encoding)
        except (UnicodeDecodeError, LookupError):
            pass
    return data.decode("cp1252", errors="replace")


def _control_ratio(text: str) -> float:
    sample = text[:20000]
    if not sample:
        return 0.0
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    return bad / len(sample)


_BLOCK_TAGS = {
    "p", "div", "section", "article", "li", "ul", "ol", "tr", "table", "br", "pre",
    "blockquote", "header", "footer", "main", "nav", "aside", "dd", "dt", "figcaption",
}
_HEADING = re.compile(r"^h([1-6])$")


def _html(markup: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Visible text of an HTML page, one block per line; headings are recorded with offsets."""
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString, Tag

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    parts: list[str] = []
    headings: list[tuple[int, int, str]] = []
    length = 0

    def emit(text: str) -> None:
        nonlocal length
        parts.append(text)
        length += len(text)

    def newline() -> None:
        if parts and not parts[-1].endswith("\n"):
            emit("\n")

    stack: list[tuple[object, bool]] = [(soup, False)]
    while stack:  # iterative walk: deeply nested pages must not hit the recursion limit
        node, closing = stack.pop()
        if closing:
            newline()
            continue
        if isinstance(node, NavigableString):
            text = re.sub(r"\s+", " ", str(node))
            if text.strip():
                if parts and parts[-1].endswith("\n"):
                    text = text.lstrip()
                emit(text)
            continue
        if not isinstance(node, Tag):
            continue
        match = _HEADING.match(node.name or "")
        if match:
            title = " ".join(node.get_text(" ").split())
            if title:
                newline()
                headings.append((length, length + len(title), title))
                emit(title + "\n")
            continue
        block = node.name in _BLOCK_TAGS
        if block:
            newline()
            stack.append((node, True))
        stack.extend((child, False) for child in reversed(list(node.children)))
    return "".join(parts).strip("\n") + "\n", headings


def _pdf(data: bytes) -> tuple[str, tuple[int, ...]]:
    """The text of every page, pages separated by a blank line, and where each page starts."""
    from io import BytesIO

    from pypdf import PdfReader

    reader = PdfReader(BytesIO(data))
    if reader.is_encrypted:
        raise ValueError("the PDF is encrypted")
    parts: list[str] = []
    starts: list[int] = []
    empty = 0  # pages without text so far: they start where the next text begins
    length = 0
    for page in reader.pages:
        text = (page.extract_text() or "").strip()
        if not text:
            empty += 1
            continue
        if parts:
            parts.append("\n\n")
            length += 2
        starts.extend([length] * (empty + 1))
        empty = 0
        parts.append(text)
        length += len(text)
    starts.extend([length] * empty)
    return "".join(parts) + "\n", tuple(starts)


def _docx(data: bytes) -> tuple[str, list[tuple[int, int, str]]]:
    from io import BytesIO

    from docx import Document as DocxDocument

    doc = DocxDocument(BytesIO(data))
    lines: list[str] = []
    headings: list[tuple[int, int, str]] = []
    length = 0
    for para in doc.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        if style.lower().startswith(("heading", "title")):
            headings.append((length, length + len(text), text))
        lines.append(text)
        length += len(text) + 1
    for table in doc.tables:
        for row in table.rows:
            text = " | ".join(cell.text.strip() for cell in row.cells)
            if text.strip(" |"):
                lines.append(text)
    return "\n".join(lines) + "\n", headings

"""Files -> Documents. Every failure is a LoadError with the path and a reason; the caller
reports it and goes on. Every file is read within budgets (bytes, lines, characters, pages,
paragraphs, zip sizes, time), so that no file, however small or hostile, costs more than a
bounded amount of time and memory on every sync."""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePath
from typing import Any

from rag.errors import LoadError
from rag.types import Document

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")

# -- budgets of one file ------------------------------------------------------------------------
# A sync holds about 780 MB before it reads a file (the articles' sync, torch and MiniLM loaded,
# measured with bench/hostile_sync.py); the budgets keep one file's peak well under 200 MB more.
# The biggest documents of the development data (Debian's FAQ, Emacs' efaq) have ~300 K
# characters and ~8 K lines; the budgets are ten to a hundred times that.
@dataclass(frozen=True)
class Limits:
    """The budgets of one file; tests pass smaller ones."""

    chars: int = 5_000_000  # extracted characters: a 2,500-page book (War and Peace has 3.2 M)
    lines: int = 100_000  # extracted lines: 40 a page over the character budget's 2,500 pages
    text_bytes: int = 4 * 5_000_000  # .txt/.md: UTF-8 needs at most 4 bytes a character
    # BeautifulSoup's tree takes ~70x the page (1.5 MB of paragraphs peaked at 107 MB, measured
    # with tracemalloc) and html.parser reads ~1 MB/s here; sqlite's faq.html has 60 KB.
    html_bytes: int = 2 * 2**20
    binary_bytes: int = 64 * 2**20  # .pdf/.docx: images and fonts take most of their bytes
    pages: int = 2_000  # PDF pages; pypdf extracted ~120 pages of text a second here (reportlab, 55 lines)
    # PDF: decoded content one page draws (its streams and forms): 55 lines of text take 6.5 KB;
    # pypdf extracts ~1 MB/s of text operators here, and a 26 KB file whose 3 pages share one
    # 8.8 MB stream took 92 s (issue 13)
    page_content_bytes: int = 2 * 2**20
    # DOCX paragraphs, table cells and styles together: ~1,000 pages; python-docx reads ~50 K/s
    paragraphs: int = 50_000
    zip_member_bytes: int = 64 * 2**20  # one inflated DOCX part: document.xml of ~1,000 pages
    zip_total_bytes: int = 128 * 2**20  # all parts inflated (python-docx holds every part it reads)
    # The zip directory: a DOCX has 10-30 parts plus one per image, ~100 bytes each; 400 K empty
    # entries (a 35 MB zip) cost zipfile 230 MB and 1.7 s (measured); this allows ~10 K parts.
    zip_directory_bytes: int = 2**20
    seconds: float = 60.0  # wall time, checked between pages, paragraphs, rows and HTML nodes

    def read_bytes(self, suffix: str) -> int:
        if suffix in (".html", ".htm"):
            return self.html_bytes
        return self.binary_bytes if suffix in (".pdf", ".docx") else self.text_bytes


LIMITS = Limits()


class _Refused(Exception):
    """A budget or rule stops this file; load_file adds the path."""


class _Budget:
    """Counts what one file has cost so far and stops it at its limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.began = time.monotonic()
        self.chars = 0

    def tick(self, where: str) -> None:
        if time.monotonic() - self.began > self.limits.seconds:
            raise _Refused(f"over the time budget: reading took more than {self.limits.seconds:g} s ({where})")

    def add_chars(self, n: int) -> None:
        self.chars += n
        if self.chars > self.limits.chars:
            raise _Refused(f"over the text budget: more than {self.limits.chars:,} characters")


def _mib(n: int) -> str:
    return f"{n / 2**20:.4g} MiB"


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def is_indexable(relative_path: str | PurePath) -> bool:
    """The one rule for which files of the corpus are documents: a path relative to the corpus
    folder with a supported suffix, where neither the file nor a folder above it is hidden."""
    rel = PurePath(relative_path)
    return (
        bool(rel.parts)
        and not rel.is_absolute()
        and rel.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in rel.parts)
    )


def discover(corpus: Path) -> list[Path]:
    """The indexable entries below `corpus`, sorted. Hidden folders are not entered and links to
    folders not followed; links, dangling ones too, and other non-regular entries with a
    document's name are listed, so that loading them reports why they are skipped."""
    found = []
    for root, dirs, files in os.walk(corpus):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        here = Path(root)
        for name in files + [d for d in dirs if (here / d).is_symlink()]:
            path = here / name
            if is_indexable(path.relative_to(corpus)):
                found.append(path)
    return sorted(found)


def _line_count(text: str) -> int:
    """Lines as str.splitlines counts them, without building the list."""
    return sum(text.count(ch) for ch in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029") - text.count("\r\n")


def relative_source(path: Path, corpus: Path) -> str:
    return path.relative_to(corpus).as_posix()


def load_file(path: Path, corpus: Path, limits: Limits = LIMITS) -> Document:
    """Read one file into a Document, or raise LoadError saying why it cannot be."""
    source = relative_source(path, corpus)
    suffix = path.suffix.lower()
    budget = _Budget(limits)
    try:
        data = read_regular_file(path, corpus, limits.read_bytes(suffix))
        if not data.strip():
            raise _Refused("file is empty")
        text, headings, pages = _extract(data, suffix, source, budget)
        if not text.strip():
            raise _Refused("no text could be extracted")
        budget.add_chars(len(text) - budget.chars)
        if _line_count(text) > limits.lines:
            raise _Refused(f"over the line budget: more than {limits.lines:,} lines")
    except _Refused as exc:
        raise LoadError(source, str(exc)) from None
    except OSError as exc:
        raise LoadError(source, f"cannot read file ({exc.strerror or exc})") from None
    return Document(source, text, hashlib.sha256(data).hexdigest(), tuple(headings), pages)


def _extract(
    data: bytes, suffix: str, source: str, budget: _Budget
) -> tuple[str, list[tuple[int, int, str]], tuple[int, ...]]:
    try:
        if suffix in (".html", ".htm"):
            return (*_html(decode_text(data, source), budget), ())
        if suffix == ".pdf":
            text, pages = _pdf(data, budget)
            return text, [], pages
        if suffix == ".docx":
            return (*_docx(data, budget), ())
        return decode_text(data, source), [], ()
    except (LoadError, _Refused):
        raise
    except Exception as exc:  # a parser library failing on corrupt input
        kind = suffix.lstrip(".").upper()
        raise _Refused(f"not a readable {kind} file ({type(exc).__name__}: {exc})") from None


def read_regular_file(path: Path, corpus: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file inside `corpus` (links are followed only to files inside
    it), at most `max_bytes`, counted as they are read: the size `stat` reports is not trusted
    (it is 0 for /dev/zero and for files that grow)."""
    real = Path(os.path.realpath(path))
    root = Path(os.path.realpath(corpus))
    if root not in real.parents:
        raise _Refused("links outside the corpus folder")
    _require_regular(os.stat(real).st_mode)
    # O_NONBLOCK: opening a FIFO that replaced the file since the check does not wait for a
    # writer; O_NOFOLLOW: nor does a link that replaced it get followed
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(real, flags)
    try:
        _require_regular(os.fstat(fd).st_mode)
        parts: list[bytes] = []
        size = 0
        while size <= max_bytes:
            part = os.read(fd, min(2**20, max_bytes + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
    finally:
        os.close(fd)
    if size > max_bytes:
        raise _Refused(f"over the size budget: larger than {_mib(max_bytes)}")
    return b"".join(parts)


def _require_regular(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    raise _Refused(f"not a regular file: it is {kind}")


def load_corpus(corpus: Path, limits: Limits = LIMITS) -> Iterator[Document | LoadError]:
    for path in discover(corpus):
        began = time.perf_counter()
        try:
            yield load_file(path, corpus, limits)
        except LoadError as err:
            log.warning("skipped %s", err)
            yield err
        else:
            log.debug("loaded %s in %.2f s", path, time.perf_counter() - began)


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
    high = len(data.translate(None, _ASCII))  # the bytes >= 0x80
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


_ASCII = bytes(range(0x80))


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


def _html(markup: str, budget: _Budget) -> tuple[str, list[tuple[int, int, str]]]:
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
        budget.tick("in the HTML tree")
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


def _pdf(data: bytes, budget: _Budget) -> tuple[str, tuple[int, ...]]:
    """The text of every page, pages separated by a blank line, and where each page starts."""
    from pypdf import PdfReader

    limits = budget.limits
    reader = PdfReader(BytesIO(data))
    if reader.is_encrypted:
        raise ValueError("the PDF is encrypted")
    if len(reader.pages) > limits.pages:
        raise _Refused(f"over the page budget: more than {limits.pages:,} pages")
    parts: list[str] = []
    starts: list[int] = []
    empty = 0  # pages without text so far: they start where the next text begins
    length = 0
    for number, page in enumerate(reader.pages, 1):
        budget.tick(f"page {number}")
        size = _content_bytes(page)
        if size > limits.page_content_bytes:
            raise _Refused(
                f"over the page budget: page {number} draws {_mib(size)} of content, "
                f"more than {_mib(limits.page_content_bytes)}"
            )
        text = (page.extract_text() or "").strip()
        budget.add_chars(len(text) + 2)
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


def _content_bytes(page: Any) -> int:
    """Decoded bytes of what extract_text reads for a page: its content streams and the forms
    (XObjects) its resources name; pypdf caps each stream's inflation at 75 MB itself."""
    contents = page.get_contents()
    size = len(contents.get_data()) if contents is not None else 0
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    if xobjects is not None:
        for ref in xobjects.get_object().values():
            xobject = ref.get_object()
            if xobject.get("/Subtype") == "/Form":
                size += len(xobject.get_data())
    return size


def _docx(data: bytes, budget: _Budget) -> tuple[str, list[tuple[int, int, str]]]:
    from docx import Document as DocxDocument
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml.ns import qn

    limits = budget.limits
    _check_zip(data, limits)
    doc = DocxDocument(BytesIO(data))
    elements = sum(1 for _ in doc.element.body.iter(qn("w:p"), qn("w:tc"))) + len(doc.styles)
    if elements > limits.paragraphs:
        raise _Refused(f"over the paragraph budget: more than {limits.paragraphs:,} paragraphs, cells and styles")
    # Style names read once: python-docx's `paragraph.style` searches the styles part on
    # every call (97 K paragraphs took 177 s, issue 13).
    names = {s.style_id: s.name or "" for s in doc.styles if s.type == WD_STYLE_TYPE.PARAGRAPH}
    default = doc.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    default_name = (default.name or "") if default is not None else ""
    lines: list[str] = []
    headings: list[tuple[int, int, str]] = []
    length = 0
    for number, para in enumerate(doc.paragraphs, 1):
        budget.tick(f"paragraph {number}")
        text = para.text.strip()
        if not text:
            continue
        budget.add_chars(len(text) + 1)
        style_id = para._p.style  # the w:pStyle value, without the lookup
        style = names.get(style_id, default_name) if style_id else default_name
        if style.lower().startswith(("heading", "title")):
            headings.append((length, length + len(text), text))
        lines.append(text)
        length += len(text) + 1
    for table in doc.tables:
        for number, row in enumerate(table.rows, 1):
            budget.tick(f"table row {number}")
            text = " | ".join(cell.text.strip() for cell in row.cells)
            if text.strip(" |"):
                budget.add_chars(len(text) + 1)
                lines.append(text)
    return "\n".join(lines) + "\n", headings


def _check_zip(data: bytes, limits: Limits) -> None:
    """Refuse a zip whose directory declares too much, before anything is inflated: the size of
    the directory itself (from the end record), each member's and the total uncompressed size.
    zipfile never inflates a member past the size its directory entry declares."""
    import struct
    import zipfile

    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))  # end record + longest comment
    if 0 <= end <= len(data) - 22:
        (directory,) = struct.unpack_from("<I", data, end + 12)
        if directory > limits.zip_directory_bytes:
            raise _Refused(f"over the zip budget: its directory has {_mib(directory)}, more than "
                           f"{_mib(limits.zip_directory_bytes)}")
    with zipfile.ZipFile(BytesIO(data)) as archive:
        members = archive.infolist()
    for info in members:
        if info.file_size > limits.zip_member_bytes:
            raise _Refused(f"over the zip budget: {info.filename} inflates to {_mib(info.file_size)}, "
                           f"more than {_mib(limits.zip_member_bytes)}")
    total = sum(info.file_size for info in members)
    if total > limits.zip_total_bytes:
        raise _Refused(f"over the zip budget: its parts inflate to {_mib(total)}, more than "
                       f"{_mib(limits.zip_total_bytes)}")

"""The text of each file format, read within a budget: decoding of text files, HTML, PDF and
DOCX. rag.load decides the budgets and turns a refusal into a LoadError with the path."""

from __future__ import annotations

import codecs
import re
import time
from io import BytesIO
from typing import Any

from rag.errors import LoadError


class Refused(Exception):
    """A budget or rule stops this file; rag.load adds the path."""

    lasting = True  # the same bytes would be refused again


class OverTime(Refused):
    """The time budget ran out: on a less busy machine the same bytes might load."""

    lasting = False


class Budget:
    """What one file has cost so far in characters and time; stops it at its budget."""

    def __init__(self, max_chars: int, max_seconds: float) -> None:
        self.max_chars = max_chars
        self.max_seconds = max_seconds
        self.began = time.monotonic()
        self.chars = 0

    def tick(self, where: str) -> None:
        if time.monotonic() - self.began > self.max_seconds:
            raise OverTime(f"over the time budget: reading took more than {self.max_seconds:g} s ({where})")

    def add_chars(self, n: int) -> None:
        self.chars += n
        if self.chars > self.max_chars:
            raise Refused(f"over the text budget: more than {self.max_chars:,} characters")


def mib(n: int) -> str:
    return f"{n / 2**20:.4g} MiB"


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


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


def html_text(markup: str, budget: Budget) -> tuple[str, list[tuple[int, int, str]]]:
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


def pdf_text(data: bytes, budget: Budget, max_pages: int, max_page_content: int) -> tuple[str, tuple[int, ...]]:
    """The text of every page, pages separated by a blank line, and where each page starts."""
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(data))
    if reader.is_encrypted:
        raise ValueError("the PDF is encrypted")
    # the page count the file declares first, before pypdf builds the list of every page
    if _declared_pages(reader) > max_pages or len(reader.pages) > max_pages:
        raise Refused(f"over the page budget: more than {max_pages:,} pages")
    parts: list[str] = []
    starts: list[int] = []
    empty = 0  # pages without text so far: they start where the next text begins
    length = 0
    for number, page in enumerate(reader.pages, 1):
        budget.tick(f"page {number}")
        size = _content_bytes(page)
        if size > max_page_content:
            raise Refused(
                f"over the page budget: page {number} draws {mib(size)} of content, "
                f"more than {mib(max_page_content)}"
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


def _declared_pages(reader: Any) -> int:
    try:
        return int(reader.root_object["/Pages"].get_object()["/Count"])
    except Exception:  # a missing or broken count: len(reader.pages) decides
        return 0


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


def docx_text(
    data: bytes, budget: Budget, max_paragraphs: int, zip_limits: tuple[int, int, int, int]
) -> tuple[str, list[tuple[int, int, str]]]:
    """Paragraphs, then table rows; headings from the paragraph styles. `zip_limits`: see check_zip."""
    from docx import Document as DocxDocument
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml.ns import qn

    check_zip(data, *zip_limits)
    doc = DocxDocument(BytesIO(data))
    elements = sum(1 for _ in doc.element.body.iter(qn("w:p"), qn("w:tc"))) + len(doc.styles)
    if elements > max_paragraphs:
        raise Refused(f"over the paragraph budget: more than {max_paragraphs:,} paragraphs, cells and styles")
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


def check_zip(data: bytes, max_member: int, max_total: int, max_directory: int, max_tags: int) -> None:
    """Refuse a zip that declares too much before anything is parsed: the size of its directory
    (from the end record), each member's and the total uncompressed size (zipfile never
    inflates a member past the size its directory entry declares), then the XML tags of all
    members, counted while inflating them piece by piece: lxml takes ~120 bytes an element
    (1 M `<w:r/>` in 6 MB of XML took 117 MB, measured), so 64 MiB of tiny elements would
    take 1.3 GB."""
    import struct
    import zipfile

    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))  # end record + longest comment
    if 0 <= end <= len(data) - 22:
        (directory,) = struct.unpack_from("<I", data, end + 12)
        if directory > max_directory:
            raise Refused(f"over the zip budget: its directory has {mib(directory)}, more than "
                          f"{mib(max_directory)}")
    with zipfile.ZipFile(BytesIO(data)) as archive:
        members = archive.infolist()
        for info in members:
            if info.file_size > max_member:
                raise Refused(f"over the zip budget: {info.filename} inflates to {mib(info.file_size)}, "
                              f"more than {mib(max_member)}")
        total = sum(info.file_size for info in members)
        if total > max_total:
            raise Refused(f"over the zip budget: its parts inflate to {mib(total)}, more than "
                          f"{mib(max_total)}")
        tags = 0
        for info in members:  # every member: python-docx parses a part by its declared type, not its name
            with archive.open(info) as member:
                while piece := member.read(2**20):
                    tags += piece.count(b"<")
                    if tags > max_tags:
                        raise Refused(f"over the markup budget: more than {max_tags:,} XML tags")

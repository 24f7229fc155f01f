"""The text of the binary document formats, PDF and DOCX, read within a budget (see
rag.formats); a DOCX's zip is checked against its budgets before anything parses it."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from rag.formats import Budget, Refused, mib


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

    refusal = f"over the paragraph budget: more than {max_paragraphs:,} paragraphs, cells and styles"
    if check_zip(data, *zip_limits) > max_paragraphs:  # the count in the markup, before parsing it
        raise Refused(refusal)
    doc = DocxDocument(BytesIO(data))
    if sum(1 for _ in doc.element.body.iter(qn("w:p"), qn("w:tc"))) + len(doc.styles) > max_paragraphs:
        raise Refused(refusal)
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


def check_zip(data: bytes, max_member: int, max_total: int, max_directory: int, max_tags: int) -> int:
    """Refuse a zip that declares too much before anything is parsed: the size of its directory
    (from the end record), each member's and the total uncompressed size (zipfile never
    inflates a member past the size its directory entry declares), then the XML tags of all
    members, counted while inflating them piece by piece: lxml takes ~120 bytes an element
    (1 M `<w:r/>` in 6 MB of XML took 117 MB, measured), so 64 MiB of tiny elements would
    take 1.3 GB. Returns how many paragraphs, table cells and styles all parts write out with
    Word's `w:` prefix (a tag cut between two pieces goes uncounted)."""
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
        tags = elements = 0
        for info in members:  # every member: python-docx parses a part by its declared type, not its name
            with archive.open(info) as member:
                while piece := member.read(2**20):
                    tags += piece.count(b"<")
                    if tags > max_tags:
                        raise Refused(f"over the markup budget: more than {max_tags:,} XML tags")
                    elements += sum(piece.count(tag) for tag in _COUNTED)
    return elements


# the elements the paragraph budget counts: w:p, w:tc and w:style start tags
_COUNTED = tuple(b"<w:" + name + end for name in (b"p", b"tc", b"style") for end in (b" ", b">", b"/"))

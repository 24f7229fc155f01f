"""The text of the binary document formats, PDF and DOCX, read within a budget (see
rag.formats); a DOCX's zip is checked against its budgets before anything parses it."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from io import BytesIO
from typing import Any, NamedTuple

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
                f"over the page budget: page {number} draws {mib(size)} of content and font maps, "
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
    """Decoded bytes of what extract_text reads for a page: its content streams, the forms
    (XObjects) its resources name, and the character maps of the fonts of both, each font as
    often as it is named (pypdf parses a map again for every font name: a 60 MB map took 37 s,
    under four names 117 s, issue 21); pypdf caps each stream's inflation at 75 MB itself."""
    contents = page.get_contents()
    size = len(contents.get_data()) if contents is not None else 0
    resources = page.get("/Resources")
    size += _font_maps(resources)
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    if xobjects is not None:
        for ref in xobjects.get_object().values():
            xobject = ref.get_object()
            if xobject.get("/Subtype") == "/Form":
                size += len(xobject.get_data()) + _font_maps(xobject.get("/Resources"))
    return size


def _font_maps(resources: Any) -> int:
    """Decoded bytes of the /ToUnicode maps and embedded CMaps (/Encoding streams) of the
    fonts that `resources` name."""
    from pypdf.generic import StreamObject

    fonts = resources.get_object().get("/Font") if resources is not None else None
    size = 0
    for ref in fonts.get_object().values() if fonts is not None else ():
        font = ref.get_object()
        for key in ("/ToUnicode", "/Encoding"):
            stream = font.get(key)
            stream = stream.get_object() if stream is not None else None
            if isinstance(stream, StreamObject):
                size += len(stream.get_data())
    return size


def docx_text(
    data: bytes, budget: Budget, max_paragraphs: int, zip_budget: ZipBudget
) -> tuple[str, list[tuple[int, int, str]]]:
    """Paragraphs, then table rows; headings from the paragraph styles."""
    from docx import Document as DocxDocument
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml.ns import qn

    refusal = f"over the paragraph budget: more than {max_paragraphs:,} paragraphs, cells and styles"
    if check_zip(data, zip_budget) > max_paragraphs:  # the count in the markup, before parsing it
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


class ZipBudget(NamedTuple):
    """The budgets of a DOCX's zip, in bytes except `entries` and `tags` (see rag.load.Limits)."""

    member: int  # one part, inflated
    total: int  # all parts, inflated
    directory: int  # the central directory
    entries: int  # parts listed in the directory
    tags: int  # XML tags in all parts


def check_zip(data: bytes, budget: ZipBudget) -> int:
    """Refuse a zip that costs too much before anything parses it: the size of its directory
    and its number of entries (before zipfile reads them), each member's and the total
    uncompressed size as the directory declares them, and that the members really inflate to
    those sizes, counted piece by piece (the directory may lie: zipfile inflates a member's
    whole stream in one call before it cuts it to the declared size, issue 21), then the XML
    tags of all members: lxml takes ~120 bytes an element (1 M `<w:r/>` in 6 MB of XML took 117 MB,
    measured), so 64 MiB of tiny elements would take 1.3 GB. Returns how many paragraphs,
    table cells and styles all parts write out with Word's `w:` prefix (a tag cut between two
    pieces goes uncounted)."""
    import zipfile

    _check_directory(data, budget)
    with zipfile.ZipFile(BytesIO(data)) as archive:
        members = archive.infolist()
        for info in members:
            if info.file_size > budget.member:
                raise Refused(f"over the zip budget: {info.filename} inflates to {mib(info.file_size)}, "
                              f"more than {mib(budget.member)}")
        declared = sum(info.file_size for info in members)
        if declared > budget.total:
            raise Refused(f"over the zip budget: its parts inflate to {mib(declared)}, more than "
                          f"{mib(budget.total)}")
        tags = elements = 0
        for info in members:  # every member: python-docx parses a part by its declared type, not its name
            for piece in _inflated(data, info):
                tags += piece.count(b"<")
                if tags > budget.tags:
                    raise Refused(f"over the markup budget: more than {budget.tags:,} XML tags")
                elements += sum(piece.count(tag) for tag in _COUNTED)
    return elements


def _check_directory(data: bytes, budget: ZipBudget) -> None:
    """The directory's size from the end record and, when there is one, from the ZIP64 end
    record that zipfile reads instead (both may lie; zipfile trusts one of them), and its
    entries as the central directory signatures in the file (each entry zipfile reads
    starts with one)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))  # end record + longest comment
    sizes = [0]
    if 0 <= end <= len(data) - 22:
        sizes.append(struct.unpack_from("<I", data, end + 12)[0])
        # where zipfile looks: the ZIP64 locator right before the end record, the record before it
        if end >= 76 and data[end - 20 : end - 16] == b"PK\x06\x07" and data[end - 76 : end - 72] == b"PK\x06\x06":
            sizes.append(struct.unpack_from("<Q", data, end - 76 + 40)[0])
    if max(sizes) > budget.directory:
        raise Refused(f"over the zip budget: its directory has {mib(max(sizes))}, more than "
                      f"{mib(budget.directory)}")
    entries = data.count(b"PK\x01\x02")
    if entries > budget.entries:
        raise Refused(f"over the zip budget: its directory lists more than {budget.entries:,} parts")


def _inflated(data: bytes, info: Any) -> Iterator[bytes]:
    """The bytes of one member as zipfile reads them (the `compress_size` bytes after its local
    header), inflated in pieces of at most 1 MiB and counted: refused as soon as they pass the
    size the directory declares (which the budgets checked), or when they fall short of it."""
    import zipfile

    start = info.header_offset
    if data[start : start + 4] != b"PK\x03\x04":
        raise ValueError(f"bad local header of {info.filename}")
    name, extra = struct.unpack_from("<HH", data, start + 26)
    begin = start + 30 + name + extra
    raw = memoryview(data)[begin : begin + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        pieces: Iterator[bytes] = (bytes(raw[i : i + 2**20]) for i in range(0, len(raw), 2**20))
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        pieces = _inflate(raw)
    else:
        raise Refused(f"{info.filename} is compressed with method {info.compress_type}; Word uses deflate")
    lie = f"a lying zip: its directory says {info.filename} inflates to {info.file_size:,} bytes, its data to"
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > info.file_size:
            raise Refused(f"{lie} more")
        yield piece
    if size < info.file_size:
        raise Refused(f"{lie} {size:,}")


def _inflate(raw: memoryview) -> Iterator[bytes]:
    """Raw deflate data inflated in pieces of at most 1 MiB (input fed 64 KiB at a time, so
    that the unconsumed rest zlib copies on every call stays small)."""
    import zlib

    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    for i in range(0, len(raw), 2**16):
        tail = bytes(raw[i : i + 2**16])
        while tail or not inflater.eof:
            piece = inflater.decompress(tail, 2**20)
            tail = inflater.unconsumed_tail
            if not piece and not tail:
                break
            yield piece
        if inflater.eof:
            return


# the elements the paragraph budget counts: w:p, w:tc and w:style start tags
_COUNTED = tuple(b"<w:" + name + end for name in (b"p", b"tc", b"style") for end in (b" ", b">", b"/"))

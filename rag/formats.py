"""The text of each file format, read within a budget: the budget itself, decoding of text
files and HTML; PDF and DOCX are in rag.binary_formats. rag.load decides the budgets and turns
a refusal into a LoadError with the path."""

from __future__ import annotations

import codecs
import re
import time

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


# How text is told from binary data and one legacy encoding from another. Not tuned on a split:
# bounds with a wide margin on both sides, checked on real and made-up files by
# tests/test_load.py, tests/test_index.py and tests/test_fuzz.py (`python -m pytest tests/test_load.py`).
CONTROL_SHARE = 0.05  # more control characters (not tab/newline/form feed) than this: binary
CONTROL_SAMPLE = 20_000  # characters looked at for that share
UTF16_ZEROS = 0.3  # UTF-16 without a BOM: more than this share of the odd (LE) or even (BE) bytes are NUL
LATIN_HIGH = 0.3  # at most this share of bytes >= 0x80: Western text, read as Windows-1252


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
    if _control_ratio(text) > CONTROL_SHARE:
        raise LoadError(source, "binary file (mostly control characters), not text")
    return text


def _decode_legacy(data: bytes, source: str) -> str:
    if b"\x00" in data:
        # UTF-16 without a BOM: every other byte is NUL in mostly-Latin text
        zeros_even = data[0::2].count(0)
        zeros_odd = data[1::2].count(0)
        half = len(data) / 2
        for encoding, zeros in (("utf-16-le", zeros_odd), ("utf-16-be", zeros_even)):
            if zeros > UTF16_ZEROS * half and len(data) % 2 == 0:
                try:
                    return data.decode(encoding)
                except UnicodeDecodeError:
                    pass
        raise LoadError(source, "binary file (contains NUL bytes), not text")
    # Western text is mostly ASCII with a few accented letters or typographic quotes: that is
    # Windows-1252 (a superset of Latin-1 for printable text). Text where most letters are
    # high bytes (Cyrillic, Greek, CJK in legacy code pages) goes to the detector.
    high = len(data.translate(None, _ASCII))  # the bytes >= 0x80
    if high <= LATIN_HIGH * len(data):
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
    sample = text[:CONTROL_SAMPLE]
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

"""Files -> Documents. Every failure is a LoadError with the path and a reason; the caller
reports it and goes on. Every file is read within budgets (bytes, lines, characters, pages,
paragraphs, zip sizes, time), so that no file, however small or hostile, costs more than a
bounded amount of time and memory on every sync."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath

from rag import pdf_worker
from rag.binary_formats import ZipBudget, docx_text
from rag.errors import LoadError
from rag.formats import Budget, Refused, decode_text, html_text, mib
from rag.types import Document

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")

# -- budgets of one file ------------------------------------------------------------------------
# A syncing process holds ~550 MB once torch and MiniLM are loaded and peaks at ~900 MB over the
# articles (bench/hostile_sync.py); the budgets keep what one file adds to about 200 MB.
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
    # address space of the process that parses PDFs (rag.pdf_worker): 42 MB once Python and
    # pypdf are loaded; a 59 MB PDF of 8 images (incompressible, within binary_bytes) peaked at
    # 311 MB there, a 1,200-page text PDF at 85 MB (reportlab, 55 lines a page); with the
    # ~0.9 GB of a syncing process, under 1.5 GB together (python bench/hostile_sync.py prints
    # the worker's peak)
    pdf_memory_bytes: int = 512 * 2**20
    # DOCX paragraphs, table cells and styles together (of all parts, counted in the markup
    # before parsing, then in the body): ~1,000 pages; python-docx reads ~50 K paragraphs/s
    paragraphs: int = 50_000
    zip_member_bytes: int = 64 * 2**20  # one inflated DOCX part: document.xml of ~1,000 pages
    zip_total_bytes: int = 128 * 2**20  # all parts inflated (python-docx holds every part it reads)
    # The zip directory: a DOCX has 10-30 parts plus one per image, ~100 bytes each; 400 K empty
    # entries (a 35 MB zip) cost zipfile 230 MB and 1.7 s (measured); this allows ~10 K parts.
    zip_directory_bytes: int = 2**20
    # entries of the zip directory, however its end records describe it (a ZIP64 record that
    # lied about the size listed 300 K, issue 21): the same ~10 K parts
    zip_entries: int = 10_000
    # XML tags ("<") in all DOCX parts: lxml takes ~120 bytes an element (see binary_formats.check_zip);
    # ~30 K paragraphs of Word's usual markup, at most ~180 MB of elements
    xml_tags: int = 1_500_000
    seconds: float = 60.0  # wall time, checked between pages, paragraphs, rows and HTML nodes

    def read_bytes(self, suffix: str) -> int:
        if suffix in (".html", ".htm"):
            return self.html_bytes
        return self.binary_bytes if suffix in (".pdf", ".docx") else self.text_bytes


LIMITS = Limits()


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
    return parse_file(source, read_file(path, corpus, limits), limits)


def read_file(path: Path, corpus: Path, limits: Limits = LIMITS) -> bytes:
    """The bytes of one file of the corpus, or LoadError: a link out of the corpus, not a regular
    file, over the size budget, empty or unreadable (checks that cost no parsing)."""
    source = relative_source(path, corpus)
    try:
        data = read_regular_file(path, corpus, limits.read_bytes(path.suffix.lower()))
    except Refused as exc:
        raise LoadError(source, str(exc)) from None
    except OSError as exc:
        raise LoadError(source, f"cannot read file ({exc.strerror or exc})") from None
    if not data.strip():
        raise LoadError(source, "file is empty")
    return data


def parse_file(source: str, data: bytes, limits: Limits = LIMITS) -> Document:
    """The Document of a file's bytes (`source`: its path relative to the corpus), or LoadError.
    A sync remembers refused bytes by their hash (rag.scan), so hostile bytes cost their parsing
    once."""
    suffix = PurePath(source).suffix.lower()
    budget = Budget(limits.chars, limits.seconds)
    try:
        text, headings, pages = _extract(data, suffix, source, limits, budget)
        if not text.strip():
            raise Refused("no text could be extracted")
        budget.add_chars(len(text) - budget.chars)
        if _line_count(text) > limits.lines:
            raise Refused(f"over the line budget: more than {limits.lines:,} lines")
    except Refused as exc:
        raise LoadError(source, str(exc)) from None
    return Document(source, text, hashlib.sha256(data).hexdigest(), tuple(headings), pages)


def _extract(
    data: bytes, suffix: str, source: str, limits: Limits, budget: Budget
) -> tuple[str, list[tuple[int, int, str]], tuple[int, ...]]:
    try:
        if suffix in (".html", ".htm"):
            return (*html_text(decode_text(data, source), budget), ())
        if suffix == ".pdf":
            text, pages = pdf_worker.extract(data, budget, limits.pages, limits.page_content_bytes,
                                             limits.pdf_memory_bytes)
            return text, [], pages
        if suffix == ".docx":
            zip_budget = ZipBudget(limits.zip_member_bytes, limits.zip_total_bytes, limits.zip_directory_bytes,
                                   limits.zip_entries, limits.xml_tags)
            return (*docx_text(data, budget, limits.paragraphs, zip_budget), ())
        return decode_text(data, source), [], ()
    except (LoadError, Refused):
        raise
    except Exception as exc:  # a parser library failing on corrupt input
        kind = suffix.lstrip(".").upper()
        raise Refused(f"not a readable {kind} file ({type(exc).__name__}: {exc})") from None


def read_regular_file(path: Path, corpus: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file inside `corpus` (links are followed only to files inside
    it), at most `max_bytes`, counted as they are read: the size `stat` reports is not trusted
    (it is 0 for /dev/zero and for files that grow)."""
    real = Path(os.path.realpath(path))
    root = Path(os.path.realpath(corpus))
    if root not in real.parents:
        raise Refused("links outside the corpus folder")
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
        raise Refused(f"over the size budget: larger than {mib(max_bytes)}")
    return b"".join(parts)


def _require_regular(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    raise Refused(f"not a regular file: it is {kind}")


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



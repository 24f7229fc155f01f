"""A source document's text and page boundaries, read back for display: the page number of a
citation in a PDF, and the whole text the web chat's document viewer shows."""

from __future__ import annotations

import bisect
import dataclasses
import functools
import logging
from collections.abc import Sequence
from pathlib import Path

from rag.errors import LoadError, RagError
from rag.types import Citation, Document

log = logging.getLogger(__name__)

PAGED_SUFFIXES = (".pdf",)


def load_source(corpus: Path, source: str) -> Document:
    """The Document of `source` (a path relative to the corpus folder), as the indexer read it;
    kept while the file is unchanged. Raises RagError for a path outside the folder."""
    root = corpus.resolve()
    path = (root / source).resolve()
    if root not in path.parents:
        raise RagError(f"{source!r} is not a document of this knowledge base")
    try:
        stat = path.stat()
    except OSError as exc:
        raise LoadError(source, f"cannot read file ({exc.strerror or exc})") from None
    return _load(path, root, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load(path: Path, corpus: Path, mtime_ns: int, size: int) -> Document:
    from rag.load import load_file

    return load_file(path, corpus)


def page_of(document: Document, offset: int) -> int | None:
    """The 1-based page holding `offset`, or None for a document without pages."""
    if not document.pages:
        return None
    return max(1, bisect.bisect_right(document.pages, offset))


def with_pages(corpus: Path, citations: Sequence[Citation]) -> tuple[Citation, ...]:
    """`citations` with `page` set for those that point into a paged document (PDF)."""
    out = []
    for c in citations:
        if c.page is None and c.source.lower().endswith(PAGED_SUFFIXES):
            try:
                c = dataclasses.replace(c, page=page_of(load_source(corpus, c.source), c.start))
            except RagError as exc:
                log.warning("no page number for %s: %s", c.source, exc)
        out.append(c)
    return tuple(out)

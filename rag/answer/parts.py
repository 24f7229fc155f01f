"""The parts of a document that are not what it says: a template to fill in and the sample
notice under it, the back matter after a closing line; and a list cut off by a chunk's edge,
whole as far as its items go."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from rag.headings import closing_line
from rag.text import is_list_item
from rag.types import Chunk

# a placeholder of a template to fill in: three or more lower-case words in brackets ("Copyright
# [yyyy] [name of copyright owner]", "<name of author>"); a command's "<pathspec>" is one word
_PLACEHOLDER = re.compile(r"[\[<][a-z][a-z']*(?: [a-z'.]+){2,}[\]>]")


def is_template(text: str) -> bool:
    """A line of a template for the reader to fill in (a licence's "how to apply" notice): it
    states nothing."""
    return bool(_PLACEHOLDER.search(text))


@lru_cache(maxsize=8192)
def samples(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of the sample blocks of a passage: a template line (`is_template`) and the
    indented lines under it, blank lines between them included, up to the first line indented
    less than the first one under it (a licence's "how to apply" notice: "Copyright [yyyy] [name
    of copyright owner]" then "Licensed under the Apache License, Version 2.0 ..."). Such a block
    shows what a reader writes, not what the document says: quoted, it answers a question about
    the licence's terms with the sample notice. A template line with no indented line under it
    is a block of its own line."""
    blocks: list[tuple[int, int]] = []
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    i = 0
    while i < len(lines):
        if not is_template(lines[i]):
            i += 1
            continue
        end = starts[i + 1]
        indent = None
        j = i + 1
        while j < len(lines):
            line = lines[j]
            if line.strip():
                depth = len(line) - len(line.lstrip())
                if depth == 0 or (indent is not None and depth < indent):
                    break
                indent = depth if indent is None else indent
                end = starts[j + 1]
            j += 1
        blocks.append((starts[i], end))
        i = j
    return tuple(blocks)


_ITEM_END = re.compile(r";(?:\s+(?:and|or))?\s*$")


def listed(text: str) -> bool:
    """A sentence that introduces a list, with its items so far, the last of them ending as a
    list item does in a licence or a law ("...a copy of this License; and"): whole as far as it
    goes, though the chunk's edge cuts the rest of the list off."""
    lines = [line for line in text.splitlines() if line.strip()]
    first_item = next((i for i, line in enumerate(lines) if is_list_item(line)), None)
    return (first_item is not None and first_item > 0 and lines[first_item - 1].rstrip().endswith(":")
            and bool(_ITEM_END.search(text)))


def clause(text: str) -> bool:
    """One item of a licence's or a law's list, ending as such an item does ("e) Declining to grant
    rights under trademark law for use of some trade names, trademarks, or service marks; or"):
    whole, though it stops on "or" (round 10, read by hand: "what about the GPL?" after Apache's
    trademark section re-quoted Apache; dev, `python bench/reader_sets.py --split dev`: unchanged)."""
    return is_list_item(text) and bool(_ITEM_END.search(text))


def back_matter(chunks: Sequence[Chunk]) -> dict[str, int]:
    """Where each document's back matter starts, for documents whose body ends on a closing
    line ("END OF TERMS AND CONDITIONS"): what follows (an appendix on how to apply a licence)
    is not what the document says."""
    ends: dict[str, int] = {}
    for c in chunks:
        pos = 0
        for line in c.text.splitlines(keepends=True):
            if closing_line(line):
                ends[c.source] = min(ends.get(c.source, c.start + pos + len(line)), c.start + pos + len(line))
            pos += len(line)
    return ends

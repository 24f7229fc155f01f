"""Where a passage is laid out rather than written in sentences: its Markdown tables (rows
with the header that says what their cells are) and a Markdown file's YAML front matter."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from rag.text import TABLE_ROW
from rag.types import Chunk

# a Markdown table's header's separator line
_TABLE_RULE = re.compile(r"^[ \t]*\|[\s:|-]*\|[ \t]*$")


@lru_cache(maxsize=8192)
def tables(text: str) -> tuple[tuple[tuple[int, int], ...], ...]:
    """The Markdown tables of `text`: each as the (start, end) of its lines, the header first
    and the |---| rule second (a block of bar-delimited lines without that rule is not one).
    Cached per passage text, as its sentences are (rag.text): every unit of a passage asks."""
    blocks: list[list[tuple[int, int]]] = []
    for m in TABLE_ROW.finditer(text):
        if blocks and blocks[-1][-1][1] + 1 == m.start():
            blocks[-1].append((m.start(), m.end()))
        else:
            blocks.append([(m.start(), m.end())])
    return tuple(tuple(b) for b in blocks if len(b) > 2 and _TABLE_RULE.match(text[b[1][0] : b[1][1]]))


@lru_cache(maxsize=8192)
def continued_table(text: str) -> tuple[tuple[int, int], ...]:
    """The rows a passage opens with when it starts inside a Markdown table (the splitter cut a
    long table: its header and |---| rule are in an earlier passage): at least two bar-delimited
    lines from the passage's first character on, each of as many cells as the first, no rule
    among them. () otherwise."""
    rows: list[tuple[int, int]] = []
    for m in TABLE_ROW.finditer(text):
        if m.start() != (rows[-1][1] + 1 if rows else 0) or _TABLE_RULE.match(m.group()):
            break
        rows.append((m.start(), m.end()))
    cells = {text[s:e].strip().count("|") for s, e in rows}
    return tuple(rows) if len(rows) >= 2 and len(cells) == 1 else ()


def table_spans(text: str) -> list[tuple[int, int]]:
    """Where each Markdown table of `text` (a continued one too) starts and ends."""
    whole = [(t[0][0], t[-1][1]) for t in tables(text)]
    rows = continued_table(text)
    return whole + ([(rows[0][0], rows[-1][1])] if rows else [])


def table_headers(chunks: Iterable[Chunk]) -> dict[tuple[str, int], str]:
    """The header line of the table that each passage opening inside a table continues
    (`continued_table`), from the last table header of its document's earlier passages, keyed by
    (source, passage start): what a continued row's numbers count ("Number of training tuples")."""
    out: dict[tuple[str, int], str] = {}
    last: dict[str, str] = {}
    for c in sorted(chunks, key=lambda c: (c.source, c.start)):
        if continued_table(c.text) and c.source in last:
            out[(c.source, c.start)] = last[c.source]
        found = tables(c.text)
        if found:
            head = found[-1][0]
            last[c.source] = c.text[head[0]:head[1]]
    return out


def table_rows(text: str) -> list[tuple[int, int, int]]:
    """(start, end, header start) of each data row of the Markdown tables in `text` that has
    words in at least two cells; a continued table's rows (`continued_table`) have no header in
    the passage: their header start is -1."""
    return list(_table_rows(text))


@lru_cache(maxsize=8192)
def _table_rows(text: str) -> tuple[tuple[int, int, int], ...]:
    rows = [(s, e, table[0][0]) for table in tables(text) for s, e in table[2:]]
    rows += [(s, e, -1) for s, e in continued_table(text)]
    return tuple((s, e, h) for s, e, h in rows if sum(bool(re.search(r"\w", cell)) for cell in text[s:e].split("|")) >= 2)


_FIELD = re.compile(r"^[A-Za-z_][\w-]*:(?:[ \t]+\S.*)?$")


@lru_cache(maxsize=8192)
def front_matter(text: str) -> tuple[tuple[int, int], ...]:
    """The fields of a Markdown file's YAML front matter, when `text` starts with it: each
    `key: value` line, a key with a list under it with its items ("license: apache-2.0" is
    the fact a model card gives about its licence)."""
    if not text.startswith("---\n"):
        return ()
    close = text.find("\n---", 4)
    block = text[: close if close >= 0 else len(text)]
    fields: list[tuple[int, int]] = []
    pos = 4
    for line in block[4:].split("\n"):
        if _FIELD.match(line):
            fields.append((pos, pos + len(line)))
        elif fields and line.lstrip().startswith("- ") and fields[-1][1] == pos - 1:
            fields[-1] = (fields[-1][0], pos + len(line))  # an item of the key above
        pos += len(line) + 1
    return tuple((s, e) for s, e in fields if text[s:e].rstrip()[-1] != ":")

"""A document's text as a reader is shown it: a quote without the file's formatting
(`readable`: Markdown and reStructuredText syntax, hard line breaks), and the line breaks of a
passage that only wrap a paragraph (`wrap_breaks`, for the web chat's sources panel). The
citation keeps the exact text and its offsets; rag.text splits the text into sentences."""

from __future__ import annotations

import re

from rag.text import (
    MAX_WRAP_WIDTH,
    MD_HEADING,
    MIN_WRAP_WIDTH,
    TABLE_ROW,
    WRAP_FILL,
    blocks,
    defuse_markers,
    indent,
    is_list_item,
)

_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*\)")
_MD_CODE = re.compile(r"``([^`\n]+)``|`([^`\n]+)`")  # (reStructuredText's literal: ``144``)
# reStructuredText's link ("`Pylint <https://pylint.pycqa.org/>`_") and role (":func:`copy.copy`"):
# the Python FAQ's answers showed "Pylint <https://...>_" and ":func:copy.copy" (round 11, read by hand;
# a unit is embedded as it is shown: python-faq's dev right entry 86 -> 87 %, every other dev figure
# unchanged, `python bench/run_suite.py --split dev [--domains python-faq perl-faq zsh-faq]`)
_RST_LINK = re.compile(r"`([^`<\n]+?)\s+<[^>`\n]+>`__?")  # (the "_": `git diff <commit>` is code, kept)
_RST_ROLE = re.compile(r"(?<![\w:]):[a-z]+(?::[a-z]+)?:`([^`<\n]+?)(?:\s+<[^>`\n]+>)?`")
# bold: "**x**", or "__x y__" outside a word; not a Python name's underscores ("__name__",
# "__init__.py", "a__b__c"), which the Python FAQ's answers showed as "name" (read by hand, round 21)
_MD_STRONG = re.compile(r"(\*\*)(?=\S)(.+?)(?<=\S)\*\*|(?<!\w)(__)(?=\S)(?!\w+__(?![^\W_]))(.+?)(?<=\S)__(?!\w)")
_SHOWN_ITEM = re.compile(r"^([-*•▪◦–—+]|\d+[.)])\s")  # an item an answer keeps on its own line ("(1)" may be inline)
_SPACES = re.compile(r"[ \t]{2,}")
MD_HEADING_MARK = re.compile(r"^ {0,3}#{1,6}\s+", re.M)  # (the sources panel drops it too)


def readable(quote: str) -> str:
    """A quote as an answer shows it: the file's formatting gone (Markdown heading marks, link
    and code syntax, bold; hard line breaks joined), list items still one a line, the source's
    own bracketed numbers defused. The citation keeps the exact quote and its offsets."""
    text = MD_HEADING_MARK.sub("", quote)
    text = _MD_LINK.sub(r"\1", text)
    text = _RST_ROLE.sub(r"\1", text)
    text = _RST_LINK.sub(r"\1", text)
    text = _MD_CODE.sub(lambda m: m.group(1) or m.group(2), text)
    text = _MD_STRONG.sub(lambda m: m.group(2) or m.group(4), text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # a Markdown table row shows its cells without the outer bars ("| Reddit | 726 |")
    lines = [line.strip("|").strip() if len(line) > 1 and line[0] == line[-1] == "|" else line for line in lines]
    out, before = "", ""
    for line in lines:
        out += ("\n" if out and _SHOWN_ITEM.match(line) and not _wrapped_number(before, line) else " " if out else "") + line
        before = line
    if "\n" not in out and (item := _SHOWN_ITEM.match(out)) and not out[0].isdigit():
        out = out[item.end():]  # one bullet item alone reads as a sentence ("- Open-source AI fuels...")
    return defuse_markers(_SPACES.sub(" ", out))


def _wrapped_number(before: str, line: str) -> bool:
    """Whether `line`'s leading number only goes on with a wrapped sentence ("... under section" /
    "7. This requirement ..."): the line before is a paragraph's long line that ends mid-sentence.
    (Read by hand, round 22: a GPL quote was shown with "7. This requirement" as a list item.)"""
    # (not "1.", which starts a list a long line may introduce without a colon)
    return line[0].isdigit() and not _FIRST_ITEM.match(line) and len(before) >= MIN_WRAP_WIDTH and before[-1].isalnum()


_FIRST_ITEM = re.compile(r"1[.)]\s")


_CODE_FENCE = re.compile(r"^\s*(```|~~~)")
_FIELD = re.compile(r"^[\w-]+:(\s|$)")  # "license: apache-2.0"


PARAGRAPH_INDENT = 4  # the most spaces a paragraph's first line is indented by (typewriter style)


def wrap_breaks(text: str, markdown: bool = False) -> list[tuple[int, int]]:
    """The hard line breaks inside the paragraphs of `text`, each with the spaces around it: where
    the file wrapped a paragraph only to keep its lines short (a licence's 70 columns). A reader
    is shown a space there (the web chat's sources panel); every other line break stays. A
    block's lines but its last all fill the text's width, so a list or code is never joined. In
    `markdown`, every line break inside a paragraph is such a wrap (Markdown shows it as a space),
    outside fenced code, lists, tables and headings."""
    lines = text.splitlines(keepends=True)
    width = max((len(line.rstrip()) for line in lines), default=0)
    if not markdown and not MIN_WRAP_WIDTH <= width <= MAX_WRAP_WIDTH:
        return []  # (a text of a paragraph a line is not wrapped: its line breaks end paragraphs)
    out: list[tuple[int, int]] = []
    fences, pos = [], 0  # where each line that opens or closes fenced code starts, read once
    for line in lines:
        if _CODE_FENCE.match(line):
            fences.append(pos)
        pos += len(line)
    for start, end in blocks(text):
        inner = text[start:end].rstrip("\n").split("\n")
        if markdown and (sum(f < start for f in fences) % 2
                         or any(MD_HEADING.match(line) or _FIELD.match(line) or is_list_item(line) for line in inner)):
            continue  # (inside a fenced code block; a heading, a front-matter field or a list)
        # (the text's first line may be the end of a line the chunk began inside)
        if len(inner) < 2 or (not markdown and any(len(line.rstrip()) < WRAP_FILL * width
                                                   for line in inner[int(start == 0):-1])):
            continue
        # (nor a list, a table, or code that goes back to a shallower indentation; a paragraph after
        # a blank line may indent its first line by a few spaces over lines that start the line, as
        # the GPL's do)
        para = (start == 0 or text.endswith("\n\n", 0, start)) and indent(inner[0]) <= PARAGRAPH_INDENT
        base = 0 if para and not any(indent(line) for line in inner[1:]) else indent(inner[0])
        if any(is_list_item(line) or TABLE_ROW.match(line) or indent(line) < base or
               line.rstrip().endswith(":") for line in inner[1:]) or any(
                _code_like(readable(line) if markdown else line) for line in inner):
            continue
        pos = start
        for line in inner[:-1]:
            stop = pos + len(line)
            lo = pos + len(line.rstrip())
            nxt = text[stop + 1:end]
            out.append((lo, stop + 1 + len(nxt) - len(nxt.lstrip(" \t"))))
            pos = stop + 1
    return out


_CODE_CHARS = frozenset("{}[]=<>|$@#\\;&*_`~^")


def _code_like(line: str) -> bool:
    """A line of code or markup, not of prose: three or more of the signs code is written in
    ("binmode(STDIN, ...) || die ...;", "<a href=...>")."""
    return sum(ch in _CODE_CHARS for ch in line) >= 3

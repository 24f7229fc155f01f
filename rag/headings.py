"""Heading lines of plain text: the rules `rag.split.find_headings` applies to each line (a
short title line, a numbered or labelled section title, a closing line, a version line)."""

from __future__ import annotations

import re

from rag.text import BULLET, RUNS_ON, runs_on

_FINAL_PUNCT = ".,;:!…\"'”’)]»"

# A plain-text heading's most words and characters, and the share of a title's 4+ letter words
# capitalised (title case less a "with"). Chosen by reading corpus/, its licences and the suite's
# FAQs (tests/test_split.py); re-measure: `python bench/run_suite.py --split dev`.
HEADING_MAX_WORDS = 14
HEADING_MAX_CHARS = 100
TITLE_CASE_SHARE = 0.6


def is_plain_heading(line: str) -> bool:
    """A plain-text heading: a short line that does not end like a sentence."""
    text = line.strip()
    words = text.split()
    if not 1 <= len(words) <= HEADING_MAX_WORDS or len(text) > HEADING_MAX_CHARS or BULLET.match(line):
        return False
    if not (text[0].isupper() or text[0].isdigit()):
        return False
    if text.endswith("?"):  # a question is a heading only when it is written like a title
        return _title_cased(words)
    return not text.endswith(tuple(_FINAL_PUNCT)) and words[-1].lower() not in RUNS_ON


# "2. Basic Permissions." on a line of its own, or run in before its paragraph's text ("3. Grant
# of Patent License. Subject to ..."): numbered sections of licences, standards and manuals
_NUMBERED_TITLE = re.compile(r"^\s{0,8}(?:\d{1,2}|[A-Z])\.\s+([A-Z][\w'’-]*(?:[ ][\w'’-]+){0,7})\.(?:\s|$)")


def numbered_title(line: str) -> str:
    """The title of a numbered section heading ("2. Basic Permissions."), or "": most of its
    longer words are capitalised, as in a title (the rule `is_plain_heading` has for questions)."""
    match = _NUMBERED_TITLE.match(line)
    return match.group(1) if match and _title_cased(match.group(1).split()) else ""


# "APPENDIX: How to apply the Apache License to your work." or "Appendix B. Glossary": a line of
# its own named by a word for a part of a document (a closed class of words, not tuned), which may
# end in a full stop as numbered titles do
_LABELLED_TITLE = re.compile(
    r"^\s{0,8}((?:APPENDIX|Appendix|ANNEX|Annex|CHAPTER|Chapter|PART|Part)(?:\s+[A-Z0-9]{1,4})?\s*[:.]\s+\S.{0,90}?)\.?\s*$"
)


def labelled_title(line: str) -> str:
    """The title of an appendix, annex, chapter or part heading line, or ""."""
    match = _LABELLED_TITLE.match(line)
    return match.group(1) if match and not runs_on(match.group(1)) else ""


# "END OF TERMS AND CONDITIONS" closes the section it names (GPL-3.0 and Apache-2.0 in
# corpus/related/): the words after "end of" begin the title of an earlier heading
_CLOSING = re.compile(r"^(?:the\s+)?end\s+of\s+(?:the\s+)?(\w.*?)[.]?$", re.IGNORECASE)


# "Version 3, 29 June 2007" under a licence's title dates the title; it is not a section's title
_VERSION_LINE = re.compile(r"^(?:Version|Revision|Release|Rev\.)\s+v?\d[\w.-]*,", re.IGNORECASE)


def is_version_line(line: str) -> bool:
    return bool(_VERSION_LINE.match(line.strip()))


def closing_line(line: str) -> bool:
    """A line of its own in capitals that closes a part of a document ("END OF TERMS AND
    CONDITIONS"), whatever titles came before it."""
    text = line.strip()
    return text.isupper() and bool(_CLOSING.match(text))


# a closing line names a title by its first words ("END OF TERMS AND CONDITIONS"); more words
# than this are not looked up (GPL-3.0 and Apache-2.0 close with three)
CLOSED_WORDS = 6


class ClosedTitles:
    """Tells a closing line ("END OF TERMS AND CONDITIONS") of an earlier heading from a
    heading. The first words of each heading's title are read once, so a document of many
    headings and closing lines stays one pass."""

    def __init__(self) -> None:
        self.prefixes: set[str] = set()
        self.read = 0  # headings read so far

    def closes(self, line: str, headings: list[tuple[int, str]]) -> bool:
        match = _CLOSING.match(line)
        if not match:
            return False
        for _offset, title in headings[self.read :]:
            words = title.lower().split()
            self.prefixes.update(" ".join(words[:n]) for n in range(1, min(len(words), CLOSED_WORDS) + 1))
        self.read = len(headings)
        return " ".join(match.group(1).lower().split()) in self.prefixes


def _title_cased(words: list[str]) -> bool:
    """Most (60 %) of the longer words are capitalised, as in a title."""
    long_words = [w for w in words if len(w) > 3]
    capitalised = sum(1 for w in long_words if w[0].isupper())
    return bool(long_words) and capitalised / len(long_words) >= TITLE_CASE_SHARE

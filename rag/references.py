"""Sentences that refer the reader elsewhere in the documents: a sentence that only points to
another section (`is_pointer`), which the scorer leaves out, and the quoted titles of the sections
a sentence refers to (`without_cross_references`), which it reads without. English phrasing of
cross-references, read by the answerers (rag.answer.scorer, rag.answer.units)."""

from __future__ import annotations

import re

# A sentence that only sends the reader to another part of the documents ("Please see Section
# 6.1, “How many Debian distributions are there?” for more information.", "For more information
# on X, see section :ref:`y`."): it repeats the other part's title, so it is close to the question
# that part answers, and says nothing itself. English phrasing of cross-references, not tuned; the
# scorer leaves such sentences out. Dev (`python bench/run_suite.py --split dev`): debian-faq right
# entry 59 -> 63 %, cited when retrieved 74 -> 79 %; the other FAQ and reader dev halves unchanged.
# Round 6 adds "Please refer to X for more (detailed) information" and "See X for more details",
# read by hand as the second sentence of "How was all-MiniLM-L6-v2 trained?": every FAQ and reader
# dev half unchanged (the command above, and with `--qa` of each reader set). Round 7 adds "For
# more information on this, ..., see <https://...>" (the GPL's, read by hand in an answer about
# linking a library): the same commands unchanged.
_POINTER = re.compile(r"^\W*(please\s+)?(for\s+(more|further)\s+(information|details)\b[^.]*?,?\s*)?(please\s+)?"
                      r"(see|refer\s+to)\b[^.]*?\b(section|chapter|question|note|:ref:)"
                      # "Please refer to the model card for more detailed information about ...":
                      r"|^\W*(please\s+)?(see|refer\s+to|consult|read)\b[^.]*?\bfor\s+(more|further)\s+"
                      r"(detailed\s+)?(information|details)\b"
                      # "For more information on this, and how to apply the GNU GPL, see <https://...>.":
                      r"|^\W*(please\s+)?for\s+(more|further)\s+(information|details)\b[^.]*?\bsee\s+<?https?://"
                      # "But first, please read <https://www.gnu.org/licenses/why-not-lgpl.html>.": a link alone
                      r"|^\W*(but\s+)?(first,?\s+)?(please\s+)?(see|read|consult|visit)\s+<?https?://\S+\s*$",
                      re.I | re.S)


def is_pointer(sentence: str) -> bool:
    """Whether the sentence only refers the reader to another section of the documents."""
    return bool(_POINTER.match(sentence))


# The quoted title of another section inside a sentence ("see Section 5.9, “How does Debian
# support non-English languages?”"): it is that section's words, so it makes the sentence look
# like the answer to the question the other section answers. The scorer reads a sentence without
# them (the quote keeps them). Dev (`python bench/run_suite.py --split dev`): debian-faq right entry
# 63 -> 67 %, cited when retrieved 79 -> 85 %; the other FAQ and reader dev halves unchanged.
_CROSS_REFERENCE = re.compile(r"\b((?:section|chapter)\s+\d+(?:\.\d+)*)\s*,?\s*“[^”]{3,300}”", re.I)


def without_cross_references(text: str) -> str:
    """The text with the quoted titles of the sections it refers to left out ("Section 5.9")."""
    return _CROSS_REFERENCE.sub(r"\1", text)

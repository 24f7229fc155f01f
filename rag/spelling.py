"""A question's words in the spelling of the indexed text: British "licence" and "organised"
read "license" and "organized" in a knowledge base written in American spelling, and the other
way round. English orthography; which spellings the text holds is the index's to say
(rag.lexical.Bm25Index.respelled)."""

from __future__ import annotations

import re
from collections.abc import Callable

# The regular differences between British and American spelling (English orthography, written
# from no question set), each way: a word is respelled only to a form the indexed text holds.
_SPELLINGS = tuple((re.compile(p), r) for p, r in [
    (r"isation(s?)$", r"ization\1"), (r"ization(s?)$", r"isation\1"),
    (r"is(e|ed|es|ing)$", r"iz\1"), (r"iz(e|ed|es|ing)$", r"is\1"),
    (r"ence(s?)$", r"ense\1"), (r"ense(s?)$", r"ence\1"),
    (r"our(s|ed|ing|ite|ites|able)?$", r"or\1"), (r"(?<=[^aeiou])or(s|ed|ing|ite|ites|able)?$", r"our\1"),
    (r"tre(s?)$", r"ter\1"), (r"yse(s|d)?$", r"yze\1"), (r"yze(s|d)?$", r"yse\1"),
    (r"ll(ed|ing)$", r"l\1"), (r"ogue(s?)$", r"og\1"), (r"amme(s?)$", r"am\1"),
])
# shorter words are left as they are: "four", "hour", "tour" have no other spelling
MIN_RESPELLED = 6
_WORD = re.compile(r"[A-Za-z]+")


def respelled(text: str, known: Callable[[str], bool], searched: Callable[[str], bool]) -> str:
    """`text` with each word that is `searched` (no stop word) but not `known` to the indexed
    text in the other spelling, when that one is known; a capital stays."""

    def respell(match: re.Match[str]) -> str:
        word = match.group(0)
        low = word.lower()
        if len(low) < MIN_RESPELLED or not searched(low) or known(low):
            return word
        for pattern, other in _SPELLINGS:
            variant = pattern.sub(other, low)
            if variant != low and known(variant):
                return variant.capitalize() if word[0].isupper() else variant
        return word

    return _WORD.sub(respell, text)

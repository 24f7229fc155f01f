"""A follow-up that asks the previous question again, of something else ("and for closed
ones?", "what about Apache?", "is that true for Llama too?"): English forms, read by rag.shape
(what such a follow-up asks for) and rag.answer.followup (what it carries over)."""

from __future__ import annotations

import re

# A follow-up that asks the previous question again of something else: "and for closed ones?",
# "what about Apache?", "and the learning rate?", "And which closed ones?" (not "And how are they
# accessed?", which asks something new): it opens with "and", "but", "what about" or "how
# about", no question word after the "and", and names at most AGAIN_WORDS words besides these
# function words (English grammar, not tuned). Such a follow-up carries all of the previous
# question, less what it names an alternative to (rag.answer.followup.carry_over), and asks for
# the shapes the previous question asked for ("analogy"). Dev (`python bench/reader_sets.py
# --split dev`): follow-ups with all facts 57 -> 61 (conversations_fresh3 5 -> 9 of 14,
# conversations_short 9 -> 10 of 11, conversations 14 -> 13 of 19: "And in the GPL?" after an
# Apache patent question no longer carries "Apache", and the GPL passage on patent litigation is
# not retrieved); the single questions unchanged
_AGAIN = re.compile(r"^\W*(?:(?:and|but)\s+)?(?:what|how)\s+about\b|^\W*(?:and|but)\b(?!\s+(?:what|how|why|"
                    r"who|when|where|is|are|was|were|does|do|did|can|could|should|would|will|may|might|must|has|"
                    r"have|had)\b)", re.I)
_FUNCTION = frozenset(["and", "but", "what", "how", "which", "about", "the", "a", "an", "for", "in", "of", "on",
                       "with", "one", "ones", "then", "so", "too", "also", "as", "well", "its", "their"])
AGAIN_WORDS = 2
# ... or whether what was said holds for something else too: "is that true for Llama too?", "does
# the same apply to the GPL?", "same for closed models?" (English grammar, not tuned; round 10,
# from the issue's own example, read by hand)
# (the words of these forms that ask whether, not what about: rag.answer.followup.carry_over drops them)
HOLDS_WORDS = ("true", "case", "apply", "hold", "same")
_HOLDS = re.compile(r"^\W*(?:(?:is|was)\s+(?:that|this|it|the\s+same)\s+(?:also\s+)?(?:true|the\s+case|so)|"
                    r"(?:does|do)\s+(?:that|this|it|the\s+same)\s+(?:also\s+)?(?:apply|hold)|"
                    r"(?:the\s+)?same)\s+(?:for|of|to|with|in)\s+", re.I)


def asks_again(question: str) -> bool:
    """Whether a follow-up asks the previous question again of something else (_AGAIN, _HOLDS)."""
    held = _HOLDS.match(question)
    rest = question[held.end():] if held else question
    words = {w for w in re.findall(r"[\w'’-]+", rest.lower()) if w not in _FUNCTION}
    return bool(held or _AGAIN.match(question)) and 0 < len(words) <= AGAIN_WORDS

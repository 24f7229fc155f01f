"""A model's reply made readable before it is checked: the section titles it copied from the
prompt, the markers it wrote inside a sentence and the openings that speak of the passages
("The second passage mentions that ...") are taken out. rag.answer.verify checks what is left,
and drops with these rules the sentences that are only a title (`is_title`) or speak of the
passages (`of_the_prompt`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.citations import SENTENCE_BREAK
from rag.types import Hit


def without_titles(reply: str, hits: Sequence[Hit]) -> str:
    """The reply without the section titles it copied from the prompt at the start of a line
    ("Common Pitfalls: - Ignoring the Strategic Risk of Lock-in: ...", qa.jsonl's dev half), and
    the list bullet after one: the reader sees the title's words as a sentence of the answer.
    In any case, and without the colon when a capital follows: qwen-1.5b began answers "Constraints
    of Closed Systems Closed models typically offer..." and "The case for closed source: Safety,
    investment, and reliability: The closed-source model..." (the article sets' dev halves, round 18)."""
    for title in dict.fromkeys(h.chunk.section.strip() for h in hits):
        if title:
            # (without the colon, a title of two or more words: "Apache License 2.0" is no title "Apache")
            bare = r"|[ \t]+(?-i:(?=[A-Z]))" if len(title.split()) > 1 else ""
            reply = re.sub(rf"(?im)^[ \t]*{re.escape(title)}(?::[ \t]*(?:[-*•][ \t]+)?{bare})", "", reply)
    return reply


def is_title(claim: str, hits: Sequence[Hit]) -> bool:
    """Whether the claim is only a piece's section title ("When Closed AI Is Preferable", which
    the prompt shows before the piece): a title names what a section is about, not what it says.
    qwen-1.5b answered "When does it make more sense to go with a closed model?" with that title
    alone, and the check let it through, as the piece holds its words (qa_fresh7_articles.jsonl's
    dev half, round 18)."""
    words = _words(claim)
    return bool(words) and any(words == _words(h.chunk.section) for h in hits)


def of_the_prompt(claim: str, hits: Sequence[Hit]) -> bool:
    """Whether the claim speaks of the passages, which the reader never saw, where no passage
    speaks of passages itself: qwen-1.5b ended an answer "The passage directly supports this answer
    by mentioning that ..." (qa_fresh4_articles.jsonl's dev half, round 18). (An opening such as
    "The passage says that" is cut, `without_lead_ins`; this is the rest.)"""
    return bool(_PASSAGE.search(claim)) and not any(_PASSAGE.search(h.chunk.text) for h in hits)


_PASSAGE = re.compile(r"\bpassages?\b", re.I)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


# a run of markers inside a sentence: followed by a word in lower case, or by a comma
_MID_MARKERS = re.compile(r"(?:\s*\[\d+\])+(?=\s*,|\s+[a-z])")
# where the sentence that holds such a run ends: its own markers, its stop, or the reply's end
_SENTENCE_END = re.compile(r"(?:\s*\[\d+\])+|[.!?](?=\s|$)|$")
_ONE_MARKER = re.compile(r"\[\d+\]")


def markers_at_sentence_end(text: str) -> str:
    """Markers the model wrote inside a sentence moved to its end: "The second passage [1]
    mentions that developing cutting-edge AI requires immense computational resources" was
    split after "[1]" (a marker ends a sentence, rag.citations.SENTENCE_BREAK), the check
    removed "The second passage" and the answer began "mentions that developing..." (issue 18,
    qwen-1.5b on the articles); "Llama [1] and Stable Diffusion [2] are examples" was three
    pieces. Each sentence then cites what its words cite."""
    for _ in range(text.count("[")):  # each turn moves one run out of a sentence: bounded
        m = _MID_MARKERS.search(text)
        if m is None:
            break
        marks = "".join(_ONE_MARKER.findall(m.group(0)))
        rest = text[m.end():]
        end = _SENTENCE_END.search(rest)
        cut = end.start() if end else len(rest)
        tail = rest[cut:].lstrip() if rest[cut:].lstrip().startswith("[") else rest[cut:]
        text = f"{text[:m.start()]}{rest[:cut].rstrip()} {marks}{tail}"
    return text


# "The second passage mentions that", "According to passage 2,": the model speaking of its
# prompt, which the reader never saw, at the start of a sentence. English grammar, not tuned.
# And a "Yes," or "No," before a statement: no check can verify it (rag.answer.verify.restates
# removes a yes that is all a sentence adds), and qwen-1.5b answered "Is Meta's LLaMA actually
# fully open source?" with "Yes, Meta's LLaMA is partially open source" (round 18, the article
# sets' dev halves): the statement the passages support is what the reader gets.
_NOUN = r"(?:passage|article|piece|text|document|source|evidence|context)s?(?:\s+\d+)?"
_LEAD_IN = re.compile(
    rf"(?P<start>^|{SENTENCE_BREAK.pattern}|^[ \t]*[-*•][ \t]+)"
    rf"(?:(?:yes|no)\s*,\s*(?=\w)|(?:according\s+to|as\s+(?:stated|mentioned|noted|explained)\s+in)(?:\s+(?:the\s+)?(?:\w+\s+)?{_NOUN})?\s*,\s*"
    rf"|(?:the\s+|this\s+)?(?:\w+\s+){{0,3}}{_NOUN}\s+(?:also\s+)?(?:mentions|says|states|notes|explains|describes|"
    r"highlights|suggests|indicates|shows|emphasi[sz]es|points\s+out|argues)\s+(?:that\s+)?)(?P<first>\w)", re.I | re.M)


def without_lead_ins(text: str) -> str:
    """The text without sentence openings that speak of the passages or say yes or no, the next
    word capitalised."""
    return _LEAD_IN.sub(lambda m: m.group("start") + m.group("first").upper(), text)

"""A follow-up rewritten as a standalone question by a language model (rag.answer.llm): the
request, and the checks of the model's reply. Without a model, rag.answer.followup."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer import Turn
from rag.answer.followup import GRAMMAR_WORDS, WORD
from rag.lexical import bm25_tokens
from rag.text import MARKER

# What condense shows the model: the last 3 turns, each answer cut at 400 characters; its reply
# may take 64 tokens, and a question longer than 200 characters and 3 times the follow-up is
# rambling (clean_question's limit, 300 by default). Set by hand with the first llm answerer
# (18527f0), tuned on no split; re-measure: `python bench/followups.py --answerer llm --split dev`.
# Tried on conversations.jsonl's dev half with qwen-1.5b and not kept: asking to "replace each word
# that points back (it, that, they, one, there) with the words of the conversation it stands for"
# (all facts 8/19 either way, off-topic follow-ups refused 1/3 -> 0/3).
CONDENSE_PROMPT = (
    "Rewrite the follow-up question of a conversation as one standalone question that can be "
    "understood without the conversation. Keep its meaning. Reply with the question only: no "
    "answer, no explanation."
)


def condense_request(question: str, history: Sequence[Turn]) -> str:
    """The user message that asks a model for the standalone question: the last three turns
    (answers without their markers, cut at 400 characters), then the follow-up."""
    turns = []
    for q, a in list(history)[-3:]:
        a = MARKER.sub("", a).strip()
        turns.append(f"User: {q.strip()}\nAssistant: {a[:400]}")
    return "Conversation:\n" + "\n".join(turns) + f"\n\nFollow-up question: {question.strip()}\n\nStandalone question:"


def clean_question(reply: str, limit: int = 300) -> str:
    """The question in a condense reply, without labels and quotes; "" if there is none or it
    is longer than `limit` characters (a rambling reply)."""
    for line in reply.splitlines():
        line = re.sub(r"^\s*(standalone question|question)\s*:\s*", "", line, flags=re.I).strip().strip("\"'“”")
        if not line:
            continue
        if "?" in line:
            line = line[: line.index("?") + 1]
        return line if len(line) <= limit else ""
    return ""


# A model's standalone question must keep at least this share of the follow-up's own key terms
# (its words less the grammar words, Snowball-stemmed: "accessed" is "accessing"): qwen-1.5b
# rewrote "Does that license give me patent rights?" as "Does the license for All-MiniLM-L6-v2
# allow me to use it for commercial purposes?" (1 of 4 kept), and "Will that gap last?" as "Will
# the gap between closed and open models persist?" (1 of 2, a fair rewrite). And the follow-up
# returned unchanged is taken as standalone only with at least STANDALONE_TERMS key terms of its
# own: "Why would openness make it more secure?" (4) is, "Can I get it back?" (2) and "And in
# the GPL?" (1) are not. Both chosen on tests/data/conversations.jsonl's dev half: `python
# bench/followups.py --answerer llm --split dev` (RAG_MODELS_DIR set).
KEPT_TERMS = 0.5
STANDALONE_TERMS = 3
# the speaker's words, not what a question is about (English grammar, not tuned): "Can I offer
# one myself?" has one key term, "offer"
_SPEAKER = frozenset(["i", "me", "my", "mine", "myself", "you", "your", "yourself", "we", "us", "our",
                      "one", "ones"])


def usable_rewrite(standalone: str, question: str) -> bool:
    """Whether a model's standalone question can replace the follow-up: a question (when the
    follow-up was one; qwen-1.5b once replied "No answer, no explanation.", the condense
    prompt's own words), keeping KEPT_TERMS of the follow-up's key terms (its meaning), and
    not the follow-up unchanged unless it has STANDALONE_TERMS key terms."""
    if not standalone or ("?" in question and not standalone.endswith("?")):
        return False
    own = set(bm25_tokens(" ".join(w for w in WORD.findall(question) if w.lower() not in GRAMMAR_WORDS | _SPEAKER)))
    if " ".join(standalone.lower().split()) == " ".join(question.lower().split()):
        return len(own) >= STANDALONE_TERMS
    return len(own & set(bm25_tokens(standalone))) >= KEPT_TERMS * len(own)

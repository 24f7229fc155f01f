"""Two-turn conversations for measuring follow-up questions: reading the sets, asking both
turns, and judging what the follow-up's answer got right (bench/followups.py prints the
summary; tests/test_followups.py holds the answerers to it).

Two formats are read. tests/data/conversations.jsonl (docs/eval.md): `answers` is a list of
facts, each a list of alternative phrases, and `split` is dev or test. tests/data/followups.jsonl
(the older set, written for the follow-up rule): `answers` is a list of phrases any one of which
is the expected fact; its records count as dev."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.types import Answer


@dataclass(frozen=True)
class Conversation:
    first: str
    follow_up: str
    refers_back: bool
    answers: tuple[tuple[str, ...], ...]  # the facts, each as alternative phrases
    sources: tuple[str, ...]
    split: str = "dev"

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def read(path: Path) -> list[Conversation]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        answers = d["answers"]
        if answers and all(isinstance(a, str) for a in answers):
            facts: tuple[tuple[str, ...], ...] = (tuple(answers),)  # the old format: one fact, any phrase
        else:
            facts = tuple(tuple(a) for a in answers)
        out.append(Conversation(d["first"], d["follow_up"], bool(d.get("refers_back", True)), facts,
                                tuple(d["sources"]), d.get("split", "dev")))
    return out


def spans(answer: Answer) -> set[tuple[str, int, int]]:
    return {(c.source, c.start, c.end) for c in answer.citations}


def _plain(text: str) -> str:
    return " ".join(text.lower().split())


def judge(conv: Conversation, first: Answer, follow: Answer) -> dict[str, bool | float]:
    """What the follow-up's answer got right."""
    if not conv.answerable:
        return {"abstained": follow.abstained}
    text = _plain(follow.text)
    found = [not follow.abstained and any(_plain(p) in text for p in fact) for fact in conv.answers]
    # an answer repeats the previous one when it says nothing new: every passage it quotes was
    # quoted before. Quoting again the one sentence that answers the follow-up, beside new ones,
    # is what a reader expects ("How are they accessed?" after a list that said so); `shares`
    # counts those answers.
    repeats = not follow.abstained and spans(follow) <= spans(first)
    return {
        "answered": not follow.abstained,
        "differs": not follow.abstained and not repeats,
        "repeats": repeats,
        "shares": bool(spans(follow) & spans(first)),
        "source": any(c.source in conv.sources for c in follow.citations),
        "fact": any(found),
        "all_facts": all(found),
        "recall": sum(found) / len(found),
    }


def ask_pair(kb: Any, conv: Conversation, answerer: str | None = None) -> tuple[Answer, Answer]:
    """The first question's answer, then the follow-up's with the first exchange as history."""
    first = kb.ask(conv.first, answerer=answerer)
    return first, kb.ask(conv.follow_up, history=[(conv.first, first.text)], answerer=answerer)

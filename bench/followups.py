"""Two-turn conversations: does the follow-up's answer follow the follow-up?

    python bench/followups.py [--qa tests/data/followups.jsonl] [--corpus corpus] [--answerer extractive]

For each conversation the first question is asked, then the follow-up with the first exchange
as history. Printed: how often the follow-up's answer differs from the first answer (shares no
cited passage with it), cites an expected source, holds an expected fact, and how often the
unanswerable follow-ups abstain. The set was written from the documents before any answer was
looked at; it is used for the follow-up rule's tests, so it is a development set."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag.kb import KnowledgeBase  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.types import Answer  # noqa: E402


@dataclass(frozen=True)
class Conversation:
    first: str
    follow_up: str
    refers_back: bool
    answers: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def read(path: Path) -> list[Conversation]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(Conversation(d["first"], d["follow_up"], bool(d["refers_back"]),
                                    tuple(d["answers"]), tuple(d["sources"])))
    return out


def spans(answer: Answer) -> set[tuple[str, int, int]]:
    return {(c.source, c.start, c.end) for c in answer.citations}


def judge(conv: Conversation, first: Answer, follow: Answer) -> dict[str, bool]:
    """What the follow-up's answer got right."""
    text = follow.text.lower()
    if not conv.answerable:
        return {"abstained": follow.abstained}
    return {
        "answered": not follow.abstained,
        "differs": not follow.abstained and not (spans(follow) & spans(first)),
        "source": any(c.source in conv.sources for c in follow.citations),
        "fact": any(a.lower() in text for a in conv.answers),
    }


def run(kb: KnowledgeBase, convs: list[Conversation], answerer: str | None = None) -> list[dict[str, bool]]:
    results = []
    for conv in convs:
        first = kb.ask(conv.first, answerer=answerer)
        follow = kb.ask(conv.follow_up, history=[(conv.first, first.text)], answerer=answerer)
        results.append(judge(conv, first, follow))
    return results


def summary(results: list[dict[str, bool]]) -> dict[str, str]:
    keys = ("answered", "differs", "source", "fact", "abstained")
    out = {}
    for key in keys:
        got = [r[key] for r in results if key in r]
        if got:
            out[key] = f"{sum(got)}/{len(got)}"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qa", type=Path, default=REPO / "tests" / "data" / "followups.jsonl")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("--answerer", default=None)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    convs = read(args.qa)
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Settings.from_env(corpus_dir=args.corpus, index_dir=Path(tmp) / "index"))
        kb.sync(progress=False)
        results = run(kb, convs, args.answerer)
        if args.verbose:
            for conv, r in zip(convs, results, strict=True):
                print(json.dumps({"follow_up": conv.follow_up, **r}))
    print(json.dumps(summary(results)))


if __name__ == "__main__":
    main()

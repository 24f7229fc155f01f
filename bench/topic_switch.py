"""What a change of subject costs: each question of some reader sets, asked alone and asked after an
unrelated exchange (a follow-up rule may carry the earlier words into a question that needed none).

    python bench/topic_switch.py [--qa tests/data/qa.jsonl ...] [--split dev|test]
                                 [--previous "Does the Apache License grant patent rights?"]

Printed: the facts the answers hold (each question's share of its facts, summed) asked alone and
after the previous exchange, and how many answers changed. Round 8 (docs/eval.md), the five
article sets' dev halves: 76.3 alone, 72.5 after the switch, of 93 questions."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from run_suite import open_corpus  # noqa: E402

from rag.types import Answer  # noqa: E402

ARTICLE_SETS = ["qa.jsonl", "qa_paraphrase.jsonl", "qa_fresh_articles.jsonl", "qa_fresh2_articles.jsonl",
                "qa_fresh3_articles.jsonl"]


def plain(text: str) -> str:
    return " ".join(text.lower().split())


def held(answer: Answer, facts: list[list[str]]) -> float:
    """The share of the facts the answer holds (an abstention holds none)."""
    if answer.abstained:
        return 0.0
    return sum(any(plain(p) in plain(answer.text) for p in fact) for fact in facts) / len(facts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--qa", nargs="+", type=Path, default=[REPO / "tests" / "data" / n for n in ARTICLE_SETS])
    ap.add_argument("--split", default="dev", choices=["dev", "test"])
    ap.add_argument("--previous", default="Does the Apache License grant patent rights?")
    ap.add_argument("--corpus", type=Path, default=REPO / "corpus")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kb = open_corpus(args.corpus, Path(tmp) / "index")
        previous = (args.previous, kb.ask(args.previous).text)
        alone = after = 0.0
        asked = changed = 0
        for path in args.qa:
            for line in path.read_text(encoding="utf-8").splitlines():
                item = json.loads(line)
                if item.get("split", "dev") != args.split or not item.get("answerable", True) or not item["answers"]:
                    continue
                facts = [f if isinstance(f, list) else [f] for f in item["answers"]]
                first, second = kb.ask(item["question"]), kb.ask(item["question"], history=[previous])
                alone, after = alone + held(first, facts), after + held(second, facts)
                asked += 1
                changed += first.text != second.text
    print(json.dumps({"split": args.split, "questions": asked, "facts alone": round(alone, 1),
                      "facts after the switch": round(after, 1), "answers changed": changed}))


if __name__ == "__main__":
    main()

"""Two-turn conversations: does the follow-up's answer follow the follow-up?

    python bench/followups.py [--qa tests/data/conversations.jsonl] [--split dev|test|both]
                              [--corpus corpus] [--answerer extractive] [-v]

For each conversation the first question is asked, then the follow-up with the first exchange
as history. Printed, per split: how many answerable follow-ups hold all their facts (fact
recall 1) and the mean fact recall (an abstention scores 0), how many cite an expected source,
how many repeat the previous answer (say nothing new: every passage they quote it quoted), how many share a passage with it, how many unanswerable
follow-ups abstain and how many answerable ones abstain (false abstentions).

Two formats are read. tests/data/conversations.jsonl (docs/eval.md): `answers` is a list of
facts, each a list of alternative phrases, and `split` is dev or test; only the dev half may be
tuned on. tests/data/followups.jsonl (the older set, written for the follow-up rule and used by
its tests, so a development set: its records count as dev): `answers` is a list of phrases any
one of which is the expected fact."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag.conversations import Conversation, ask_pair, judge, read  # noqa: E402
from rag.kb import KnowledgeBase  # noqa: E402
from rag.settings import Settings  # noqa: E402


def run(kb: KnowledgeBase, convs: list[Conversation], answerer: str | None = None,
        verbose: bool = False) -> list[dict[str, bool | float]]:
    results = []
    for conv in convs:
        first, follow = ask_pair(kb, conv, answerer)
        result = judge(conv, first, follow)
        if verbose:
            print(json.dumps({"split": conv.split, "first": conv.first, "follow_up": conv.follow_up,
                              "standalone": follow.standalone_question, **result,
                              "answer": follow.text[:300], "first_answer": first.text}, ensure_ascii=False))
        results.append(result)
    return results


def summary(results: list[dict[str, bool | float]]) -> dict[str, str]:
    answerable = [r for r in results if "answered" in r]
    unanswerable = [r for r in results if "abstained" in r]
    out: dict[str, str] = {}
    if answerable:
        n = len(answerable)
        out["all facts"] = f"{sum(bool(r['all_facts']) for r in answerable)}/{n}"
        out["fact recall"] = f"{sum(float(r['recall']) for r in answerable) / n:.3f}"
        out["source"] = f"{sum(bool(r['source']) for r in answerable)}/{n}"
        out["repeats"] = f"{sum(bool(r['repeats']) for r in answerable)}/{n}"
        out["share a passage"] = f"{sum(bool(r['shares']) for r in answerable)}/{n}"
        out["false abstentions"] = f"{sum(not r['answered'] for r in answerable)}/{n}"
    if unanswerable:
        out["abstained"] = f"{sum(bool(r['abstained']) for r in unanswerable)}/{len(unanswerable)}"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qa", type=Path, default=REPO / "tests" / "data" / "conversations.jsonl")
    parser.add_argument("--split", choices=("dev", "test", "both"), default="both",
                        help="which half to run (tune on dev only)")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("--answerer", default="extractive",
                        help="extractive (default), llm or auto (llm when a model is installed)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    splits = ("dev", "test") if args.split == "both" else (args.split,)
    convs = [c for c in read(args.qa) if c.split in splits]
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Settings.from_env(corpus_dir=args.corpus, index_dir=Path(tmp) / "index"))
        kb.sync(progress=False)
        results = run(kb, convs, args.answerer, args.verbose)
    for split in splits:
        got = [r for c, r in zip(convs, results, strict=True) if c.split == split]
        if got:
            print(json.dumps({"split": split, **summary(got)}))


if __name__ == "__main__":
    main()

"""Every reader question set and conversation set of tests/data over corpus/, one split, in one
process: what the answerer's rules are judged on (docs/eval.md, round 9 on).

    python bench/reader_sets.py [--split dev|test] [--answerer extractive|llm] [--save FILE.jsonl]
                                [--result NAME] [--sets FILE ...]

Printed, per question set: the facts the answers hold (each question's fact recall, summed, of
the answerable questions), the false abstentions and the unanswerable questions refused; per
conversation set, bench/followups.py's summary; and the total: facts plus follow-ups with all
their facts. `--save` writes every answer (set, question, fact recall, answer text) as JSON
Lines, to compare two runs; `--result NAME` writes the figures to bench/results/NAME.json with
the command and the date. The articles' qa.jsonl has no split of its own: its halves are the
suite's (bench/data/suite/articles/qa-SPLIT.jsonl, `python bench/make_suite.py`), and it is
left out when the suite is not built. qa_articles_independent.jsonl and qa_holdout.jsonl have
no halves and are left out: they are reported, never tuned on. Tune on dev; run test once."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from followups import summary  # noqa: E402
from run_suite import open_corpus, save_result  # noqa: E402

from rag.conversations import ask_pair, judge, read  # noqa: E402
from rag.evaluate import evaluate, load_qa  # noqa: E402
from rag.kb import KnowledgeBase  # noqa: E402

DATA = REPO / "tests" / "data"
QUESTION_SETS = ["qa.jsonl", "qa_paraphrase.jsonl", "qa_fresh_articles.jsonl", "qa_fresh2_articles.jsonl",
                 "qa_fresh3_articles.jsonl", "qa_fresh4_articles.jsonl", "qa_fresh5_articles.jsonl", "qa_fresh6_articles.jsonl",
                 "qa_fresh7_articles.jsonl", "qa_fresh8_articles.jsonl", "qa_fresh9_articles.jsonl", "qa_fresh10_articles.jsonl",
                 "qa_fresh11_articles.jsonl", "qa_fresh12_articles.jsonl", "qa_fresh13_articles.jsonl",
                 "qa_fresh14_articles.jsonl",
                 "qa_related.jsonl", "qa_fresh_related.jsonl", "qa_fresh2_related.jsonl",
                 "qa_fresh3_related.jsonl", "qa_fresh4_related.jsonl", "qa_fresh5_related.jsonl",
                 "qa_fresh6_related.jsonl", "qa_fresh7_related.jsonl", "qa_fresh8_related.jsonl",
                 "qa_fresh9_related.jsonl", "qa_fresh10_related.jsonl", "qa_fresh11_related.jsonl",
                 "qa_fresh12_related.jsonl", "qa_fresh13_related.jsonl", "qa_fresh14_related.jsonl"]
# followups.jsonl has no halves: written for the follow-up rule, it is a development set
CONVERSATION_SETS = ["conversations.jsonl", "conversations_short.jsonl", "conversations_fresh.jsonl",
                     "conversations_fresh2.jsonl", "conversations_fresh3.jsonl", "conversations_fresh4.jsonl",
                     "conversations_fresh5.jsonl", "conversations_fresh6.jsonl", "conversations_fresh7.jsonl",
                     "conversations_fresh8.jsonl", "conversations_fresh9.jsonl", "conversations_fresh10.jsonl",
                     "conversations_fresh11.jsonl", "conversations_fresh12.jsonl", "conversations_fresh13.jsonl",
                     "conversations_fresh14.jsonl", "conversations_fresh15.jsonl",
                     "followups.jsonl"]


def question_file(name: str, split: str) -> tuple[Path, str | None]:
    """The file of a question set's split, and the split to select in it (None: all of it)."""
    if name == "qa.jsonl":
        return REPO / "bench" / "data" / "suite" / "articles" / f"qa-{split}.jsonl", None
    return DATA / name, split


def question_sets(kb: KnowledgeBase, split: str, answerer: str | None, saved: TextIO | None,
                  figures: dict[str, Any], names: list[str] = QUESTION_SETS) -> tuple[float, int, int, int]:
    """Print each question set's line, and put its figures in `figures`; returns facts, false
    abstentions, refused, unanswerable."""
    facts = 0.0
    false_abst = refused = unanswerable = 0
    for name in names:
        path, select = question_file(name, split)
        if not path.exists():
            print(f"{name:30s} left out: {path} is not there (python bench/make_suite.py)")
            continue
        report = evaluate(kb, load_qa(path, select), answerer=answerer)
        answerable = [i for i in report.items if i.answerable and i.fact_recall is not None]
        held = sum(i.fact_recall or 0.0 for i in answerable)
        wrong = sum(i.abstained for i in report.items if i.answerable)
        others = [i for i in report.items if not i.answerable]
        said_no = sum(i.abstained for i in others)
        facts, false_abst = facts + held, false_abst + wrong
        refused, unanswerable = refused + said_no, unanswerable + len(others)
        figures[name] = {"facts": round(held, 2), "answerable": len(answerable), "false_abstentions": wrong,
                         "unanswerable_refused": said_no, "unanswerable": len(others)}
        print(f"{name:30s} facts {held:5.1f} of {len(answerable):3d} ({100 * held / max(len(answerable), 1):5.1f} %)"
              f"  false abstentions {wrong}  unanswerable refused {said_no}/{len(others)}", flush=True)
        for i in report.items if saved else ():
            write(saved, {"set": name, "question": i.question, "recall": i.fact_recall, "abstained": i.abstained,
                          "answer": i.answer})
    return facts, false_abst, refused, unanswerable


def conversation_sets(kb: KnowledgeBase, split: str, answerer: str | None, saved: TextIO | None,
                      figures: dict[str, Any], names: list[str] = CONVERSATION_SETS) -> int:
    """Print each conversation set's summary, and put it in `figures`; returns the follow-ups
    that hold all their facts."""
    total = 0
    for name in names:
        convs = [c for c in read(DATA / name) if c.split == split or (c.split not in ("dev", "test") and split == "dev")]
        results = []
        for conv in convs:
            first, follow = ask_pair(kb, conv, answerer)
            result = judge(conv, first, follow)
            results.append(result)
            if saved:
                write(saved, {"set": name, "question": f"{conv.first} || {conv.follow_up}",
                              "standalone": follow.standalone_question, "recall": result.get("recall"),
                              "all_facts": result.get("all_facts"), "answer": follow.text})
        total += sum(bool(r.get("all_facts")) for r in results if "answered" in r)
        if results:
            figures[name] = summary(results)
        print(f"{name:30s} {summary(results)}", flush=True)
    return total


def write(out: TextIO, row: dict[str, Any]) -> None:
    out.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--answerer", default=None, help="extractive (the default) or llm")
    parser.add_argument("--save", type=Path, default=None, help="every answer, as JSON Lines")
    parser.add_argument("--result", default=None, help="write the figures to bench/results/NAME.json")
    parser.add_argument("--sets", nargs="+", default=None, metavar="FILE",
                        help="only these sets (file names in tests/data), e.g. a new set's first look")
    args = parser.parse_args()
    chosen = set(args.sets or QUESTION_SETS + CONVERSATION_SETS)
    if unknown := chosen - set(QUESTION_SETS + CONVERSATION_SETS):
        parser.error(f"no such set: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory() as tmp:
        kb = open_corpus(REPO / "corpus", Path(tmp) / "index", warm=False)
        saved = args.save.open("w", encoding="utf-8") if args.save else None
        try:
            figures: dict[str, Any] = {}
            facts, false_abst, refused, unanswerable = question_sets(
                kb, args.split, args.answerer, saved, figures, [n for n in QUESTION_SETS if n in chosen])
            follow = conversation_sets(kb, args.split, args.answerer, saved, figures,
                                       [n for n in CONVERSATION_SETS if n in chosen])
        finally:
            if saved:
                saved.close()
    print(f"total {facts + follow:.1f} (facts {facts:.1f} + follow-ups with all facts {follow}); "
          f"false abstentions {false_abst}; unanswerable refused {refused}/{unanswerable}")
    if args.result:
        figures["total"] = {"facts": round(facts, 2), "follow_ups_with_all_facts": follow,
                            "false_abstentions": false_abst, "unanswerable_refused": refused,
                            "unanswerable": unanswerable}
        save_result(args.result, {"split": args.split, "sets": figures})


if __name__ == "__main__":
    main()

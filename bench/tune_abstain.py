"""Calibrate the extractive answerer's abstention threshold on the suite's dev halves.

    python bench/tune_abstain.py [bench/data/suite] [--split dev] [--json] [--qa FILE ...]

For every question it records the answerer's confidence and whether the answer it would give
(ignoring the threshold) cites the question's entry (or, on the articles, holds its facts); then
it sweeps the threshold and reports, per domain, answered-and-right, false abstentions and
off-topic abstentions. With --qa, reader question sets (tests/data/qa*.jsonl) are swept too, over
the repository's corpus: their unanswerable questions are on topic (the model's size, who trained
it), so their column is the share refused, which no threshold holds at 95 %. Choose on dev; the
test split is for the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_suite import HERE, REPO, open_corpus, qa_sets, save_result, tuned_domains, tuning_parser

from rag.answer.units import joined
from rag.evaluate import fact_recall, load_qa
from rag.retrieve import ANSWER_LEXICAL_EXTRA, TITLE_EXTRA

# 0.01 apart: round 6's candidates (issue 18) were decided by confidences 0.002-0.005 apart
THRESHOLDS = [round(0.20 + 0.01 * i, 2) for i in range(41)]


def confidences(kb: Any, items: list[Any]) -> list[dict[str, Any]]:
    answerer = kb.answerer("extractive")
    rows = []
    for item in items:
        # the passages the answerer reads (rag.kb.KnowledgeBase.steps): BM25's extra hits and the
        # title's, touching passages joined; `kb.search`'s k hits alone gave 5 of the reader sets'
        # 127 dev questions a confidence 0.02-0.07 lower
        hits = joined(kb.retriever.hits(item.question, kb.settings.k, lexical_extra=ANSWER_LEXICAL_EXTRA,
                                        title_extra=TITLE_EXTRA))
        cands = answerer.scorer.candidates(item.question, hits)
        if not cands:
            rows.append({"answerable": item.answerable, "conf": -1.0, "right": False})
            continue
        chosen = answerer.select(cands, hits)
        conf = answerer.scorer.confidence(item.question, cands, hits)
        sources = {hits[c.hit_rank].chunk.source for c in chosen}
        if item.entry:
            right = item.entry in sources
        else:
            right = fact_recall(" ".join(c.text for c in chosen), item.answers) >= 0.5 if item.answers else False
        rows.append({"answerable": item.answerable, "conf": conf, "right": right})
    return rows


def sweep(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    pos = [r for r in rows if r["answerable"]]
    neg = [r for r in rows if not r["answerable"]]
    out = []
    for t in THRESHOLDS:
        out.append({
            "threshold": t,
            "right": sum(r["right"] and r["conf"] >= t for r in pos) / max(len(pos), 1),
            "false_abstentions": sum(r["conf"] < t for r in pos) / max(len(pos), 1),
            "off_topic_abstentions": sum(r["conf"] < t for r in neg) / max(len(neg), 1),
        })
    return out


def main() -> None:
    parser = tuning_parser(__doc__)
    parser.add_argument("--qa", type=Path, nargs="*", default=[], help="reader question sets, asked of corpus/")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {}
    splits = {d: load_qa(args.suite / d / f"qa-{args.split}.jsonl") for d in args.domains}
    # every domain's off-topic questions (unanswerable, no source) are asked of every domain: five
    # times the negatives a domain's own ten give, so the threshold rests on more than a few
    pool = {i.question: i for items in splits.values() for i in items if not i.answerable and not i.sources}
    for domain, kb in tuned_domains(args.suite, splits):
        items = splits[domain]
        asked = {i.question for i in items}
        results[domain] = sweep(confidences(kb, items + [i for q, i in pool.items() if q not in asked]))
        print(f"{domain} done", file=sys.stderr)
    if args.qa:
        kb = open_corpus(REPO / "corpus", HERE / "data" / "work" / "corpus", warm=False)
        for path in args.qa:
            results[path.stem] = sweep(confidences(kb, [i for items in qa_sets(path, [args.split]).values()
                                                        for i in items]))
    save_result(f"tune_abstain-{args.split}", {"thresholds": list(THRESHOLDS), "domains": results}, args.domains)
    if args.json:
        print(json.dumps(results, indent=1))
        return
    # a lower bound for the choice: below it some domain refuses < 95 % of its off-topic questions
    # (the goal is 90 %; the margin is for domains nobody tuned on)
    safe = [n for n in range(len(THRESHOLDS))
            if all(results[d][n]["off_topic_abstentions"] >= 0.95 for d in args.domains)]
    if safe:
        print(f"lowest threshold refusing >= 95 % off-topic everywhere: {THRESHOLDS[safe[0]]:.2f}", file=sys.stderr)
    print("threshold: " + "  ".join(f"{d[:20]:>22}" for d in results) + "   (right / false abst / off-topic abst;"
          " a --qa set's last: its unanswerable refused)")
    for n, t in enumerate(THRESHOLDS):
        cells = [results[d][n] for d in results]
        print(f"{t:>9.2f}: " + "  ".join(
            f"{c['right']:>6.2f} {c['false_abstentions']:>6.2f} {c['off_topic_abstentions']:>6.2f}  " for c in cells))


if __name__ == "__main__":
    main()

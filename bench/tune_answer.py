"""Choose how the extractive answerer ranks and picks sentences, on the suite's dev halves.

    python bench/tune_answer.py [bench/data/suite] [--split dev|test] [--json]

Each question is retrieved and its sentences scored once; then every configuration of
(passage weight, sentences per answer, sentences per document) re-ranks the same candidates and
runs the answerer's own `select` and `confidence`. A cell is the share of answerable questions
whose answer cites the question's entry (on the articles: holds at least half of its facts),
abstentions counting as misses. Next to it, "on entry": the share of an answer's sentences that
come from the entry (FAQ domains, answered questions only), so that an answer citing many
documents to catch the right one shows as such. Choose on dev; the test split is for the report."""

from __future__ import annotations

import json
import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_suite import save_result, tuned_domains, tuning_parser

from rag.evaluate import fact_recall, load_qa

# (passage weight, most sentences, most sentences from one document); the first row is the
# answerer before this sweep (3 sentences, any source; it also kept only sentences within 0.2
# of the best, which this sweep does not model)
CONFIGS = [(0.0, 3, 3, 0.2)] + [(w, n, p, m) for w in (0.3, 0.4, 0.5) for n, p in ((3, 1), (4, 1), (4, 2)) for m in (0.1, 0.15, 0.2, 0.3, 1.0)]


def prepared(kb: Any, items: list[Any]) -> list[tuple[Any, list[Any], list[Any]]]:
    """(item, hits, candidates) of every question: the expensive part, done once."""
    scorer = kb.scorer
    return [(item, hits, scorer.candidates(item.question, hits))
            for item in items for hits in [kb.search(item.question, kb.settings.k)]]


def score(answerer: Any, rows: list[tuple[Any, list[Any], list[Any]]],
          config: tuple[float, int, int, float]) -> tuple[float, float]:
    """The share of answerable questions answered right under one configuration, and the mean
    share of an answer's sentences that come from the question's entry."""
    w, answerer.max_sentences, answerer.per_source, answerer.margin = config
    right = []
    on_entry = []
    for item, hits, cands in rows:
        if not item.answerable:
            continue
        passage = [h.dense_score or 0.0 for h in hits]
        ranked = sorted((replace(c, score=(1 - w) * c.relevance + w * passage[c.hit_rank]) for c in cands),
                        key=lambda c: -c.score)
        if not ranked:
            right.append(0.0)
            continue
        chosen = answerer.select(ranked, hits)
        if answerer.scorer.confidence(item.question, ranked, hits) < answerer.scorer.threshold:
            right.append(0.0)
        elif item.entry:
            sources = [hits[c.hit_rank].chunk.source for c in chosen]
            right.append(float(item.entry in sources))
            on_entry.append(sources.count(item.entry) / len(sources))
        else:
            right.append(float(fact_recall(" ".join(c.text for c in chosen), item.answers) >= 0.5))
    return (statistics.mean(right) if right else 0.0), (statistics.mean(on_entry) if on_entry else math.nan)


def main() -> None:
    args = tuning_parser(__doc__).parse_args()
    table: dict[tuple[float, int, int, float], dict[str, tuple[float, float]]] = {}
    for domain, kb in tuned_domains(args.suite, args.domains):
        answerer = kb.answerer("extractive")
        defaults = (answerer.max_sentences, answerer.per_source, answerer.margin)
        rows = prepared(kb, load_qa(args.suite / domain / f"qa-{args.split}.jsonl"))
        for config in CONFIGS:
            table.setdefault(config, {})[domain] = score(answerer, rows, config)
        answerer.max_sentences, answerer.per_source, answerer.margin = defaults
        print(f"{domain} done", file=sys.stderr)
    rows = [{"passage_weight": w, "max_sentences": n, "per_source": p, "margin": m,
             **{d: {"right": r, "on_entry": None if math.isnan(e) else e} for d, (r, e) in cells.items()}}
            for (w, n, p, m), cells in table.items()]
    save_result(f"tune_answer-{args.split}", rows, args.domains)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'weight':>6} {'n':>2} {'per':>3} {'margin':>6}: " + " ".join(f"{d[:14]:>14}" for d in args.domains)
          + "    mean  (right entry cited / share of sentences on the entry)")
    for (w, n, p, m), cells in table.items():
        entry_shares = [e for _r, e in cells.values() if not math.isnan(e)]
        print(f"{w:>6.1f} {n:>2} {p:>3} {m:>6.2f}: "
              + " ".join(f"{100 * r:>6.0f}% " + ("     -" if math.isnan(e) else f"{100 * e:>5.0f}%") for r, e in cells.values())
              + f"  {100 * statistics.mean(r for r, _e in cells.values()):5.1f}% {100 * statistics.mean(entry_shares or [math.nan]):5.1f}%")


if __name__ == "__main__":
    main()

"""Sweep the llm answerer's evidence budget on the suite: how often the evidence holds what the
answer needs, against how much the model must read.

    python bench/tune_evidence.py [bench/data/suite] [--split dev]

For every answerable question: does the evidence (rag/answer/evidence.py) hold a piece of the
question's FAQ entry (on the articles: the share of its facts), and how long is the user message
the model reads (median characters; tokens are about a fifth of that with Qwen2.5). Choose on
dev; the test split is for the report."""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_suite import DOMAINS, HERE, save_result, tuned_domains

import rag.answer.evidence as evidence
from rag.answer.llm import build_messages
from rag.evaluate import fact_recall, load_qa

# (character budget, score margin, most pieces)
CONFIGS = [(1000, 0.15, 6), (700, 0.15, 4), (600, 0.15, 3), (500, 0.15, 3), (400, 0.15, 2)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", type=Path, nargs="?", default=HERE / "data" / "suite")
    parser.add_argument("--split", default="dev")
    args = parser.parse_args()
    table: dict[tuple[int, float, int], dict[str, tuple[float, int]]] = {}
    for domain, kb in tuned_domains(args.suite, DOMAINS):
        scorer = kb.scorer
        items = [i for i in load_qa(args.suite / domain / f"qa-{args.split}.jsonl") if i.answerable]
        searched = [(item, kb.search(item.question, kb.settings.k)) for item in items]
        for budget, margin, pieces in CONFIGS:
            evidence.SCORE_MARGIN = margin
            held, sizes = [], []
            for item, hits in searched:
                chosen = evidence.select_evidence(item.question, hits, scorer, budget=budget, max_pieces=pieces)
                sizes.append(len(build_messages(item.question, chosen, sources=False)[1].content))
                if item.entry:
                    held.append(float(any(h.chunk.source == item.entry for h in chosen)))
                else:
                    held.append(fact_recall(" ".join(h.chunk.text for h in chosen), item.answers))
            table.setdefault((budget, margin, pieces), {})[domain] = (statistics.mean(held), int(statistics.median(sizes)))
        print(f"{domain} done", file=sys.stderr)
    save_result(f"tune_evidence-{args.split}", [
        {"budget": b, "margin": m, "pieces": n, **{d: {"held": h, "median_chars": c} for d, (h, c) in cells.items()}}
        for (b, m, n), cells in table.items()])
    print("budget margin pieces: " + "  ".join(f"{d:>18}" for d in DOMAINS) + "   mean  (held / median chars)")
    for (budget, margin, pieces), cells in table.items():
        row = "  ".join(f"{cells[d][0]:>11.3f} / {cells[d][1]:>4}" for d in DOMAINS)
        print(f"{budget:>6} {margin:>6.2f} {pieces:>6}: {row}   {statistics.mean(c[0] for c in cells.values()):.3f}")


if __name__ == "__main__":
    main()

"""Latency of an extractive answer, retrieval included, with the model loaded.

    python bench/ask_latency.py [--questions 50] [--rounds 3] [--corpus corpus] [--json]

Syncs the corpus into a temporary index, loads the model and the index once (as `rag serve`
and `rag ask --batch` do), then asks the first N questions of tests/data/qa.jsonl, `--rounds`
times over. Reports the median and the 95th percentile of `Answer.timings_ms` (retrieval and
answer), over all the questions of the round with the median median, and for comparison the
model's own time to embed one query in the same process. Goal: median under 100 ms."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag.evaluate import percentile  # noqa: E402
from rag.kb import KnowledgeBase  # noqa: E402
from rag.settings import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--corpus", type=Path, default=REPO / "corpus")
    ap.add_argument("--qa", type=Path, default=REPO / "tests" / "data" / "qa.jsonl")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    with open(args.qa, encoding="utf-8") as fh:
        questions = [json.loads(line)["question"] for line in fh if line.strip()][: args.questions]
    with tempfile.TemporaryDirectory(prefix="rag-latency-") as tmp:
        kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=args.corpus, index_dir=Path(tmp) / "index"))
        kb.sync(progress=False)
        kb.warm()
        chunks = sum(d.chunks for d in kb.documents())
        embed = []
        for q in questions:
            began = time.perf_counter()
            kb.embedder.embed_query(q)
            embed.append((time.perf_counter() - began) * 1000)
        rounds = []
        for _ in range(args.rounds):
            rounds.append([kb.ask(q).timings_ms for q in questions])
    chosen = sorted(rounds, key=lambda r: statistics.median(t["total"] for t in r))[len(rounds) // 2]

    def stats(key: str) -> dict[str, float]:
        values = [t[key] for t in chosen]
        return {"median_ms": round(statistics.median(values), 1), "p95_ms": round(percentile(values, 95), 1)}

    result = {
        "questions": len(questions),
        "rounds": args.rounds,
        "chunks": chunks,
        "total": stats("total"),
        "retrieve": stats("retrieve"),
        "answer": stats("answer"),
        "embed_query_median_ms": round(statistics.median(embed), 1),
        "round_medians_ms": [round(statistics.median(t["total"] for t in r), 1) for r in rounds],
        "goal_median_under_100ms": statistics.median(t["total"] for t in chosen) < 100,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['questions']} questions x {args.rounds} rounds on {result['chunks']} chunks")
    for key in ("total", "retrieve", "answer"):
        print(f"  {key:<9} median {result[key]['median_ms']:7.1f} ms   p95 {result[key]['p95_ms']:7.1f} ms")
    print(f"  embedding one query alone: median {result['embed_query_median_ms']} ms")
    print(f"  goal (median under 100 ms): {'met' if result['goal_median_under_100ms'] else 'not met'}")


if __name__ == "__main__":
    main()

"""Sweep the hybrid fusion settings (Settings.dense_weight, Settings.rrf_k) on a BEIR set.

    python bench/tune_fusion.py [--beir bench/data/debian-faq] [-k 10] [--json]

Indexes the set once with the project's pipeline, fetches each query's dense and BM25 lists
once (as HybridRetriever.hits does), then fuses them with rag.retrieve.rrf_fuse for every
setting of the grid. Reports nDCG@k for each setting, on all queries and on two halves of
them (odd and even positions), so that a choice that only fits noise shows."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.benchmark import doc_run, index_beir, ir_metrics, read_beir
from rag.retrieve import rrf_fuse
from rag.store import dense_search
from rag.types import Hit

WEIGHTS = [0.0, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]
RRF_KS = [1, 5, 10, 20, 40, 60, 100]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beir", type=Path, default=Path(__file__).resolve().parent / "data" / "debian-faq")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "data" / "work" / "debian-faq",
                        help="where the index is kept between runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    k, n = args.k, 3 * args.k
    beir = read_beir(args.beir)
    kb, doc_of, _ = index_beir(beir, args.workdir)
    fetch = max(kb.retriever.fetch_k, n * 3)  # what HybridRetriever.hits fetches for n hits
    lists = {}
    for qid, text in beir.queries.items():
        qvec = kb.embedder.embed_query(text)
        lists[qid] = (dense_search(kb.store, qvec, fetch), kb.lexical.search(text, fetch))
    qids = list(beir.queries)
    halves = {"all": qids, "odd": qids[0::2], "even": qids[1::2]}

    def score(run: dict[str, dict[str, float]]) -> dict[str, float]:
        return {
            name: ir_metrics({q: beir.qrels[q] for q in ids}, {q: run[q] for q in ids}, k)[f"ndcg@{k}"]
            for name, ids in halves.items()
        }

    rows: list[dict[str, Any]] = []
    dense_run = {q: doc_run([Hit(c, s) for c, s in d[:n]], doc_of, k) for q, (d, _) in lists.items()}
    bm25_run = {q: doc_run([Hit(c, s) for c, s in b[:n]], doc_of, k) for q, (_, b) in lists.items()}
    rows.append({"retriever": "dense", **score(dense_run)})
    rows.append({"retriever": "bm25", **score(bm25_run)})
    for w in WEIGHTS:
        for rrf_k in RRF_KS:
            run = {q: doc_run(rrf_fuse(d, b, w, rrf_k)[:n], doc_of, k) for q, (d, b) in lists.items()}
            rows.append({"retriever": "hybrid", "dense_weight": w, "rrf_k": rrf_k, **score(run)})
    if args.json:
        print(json.dumps({"dataset": str(args.beir), "queries": len(qids), "k": k, "rows": rows}))
        return
    print(f"{args.beir}: {len(qids)} queries, nDCG@{k} (all / odd half / even half)")
    for r in rows[:2]:
        print(f"  {r['retriever']:<7} {r['all']:.4f} / {r['odd']:.4f} / {r['even']:.4f}")
    print(f"\n  {'w':>5} " + " ".join(f"rrf_k={x:<4}" for x in RRF_KS))
    for w in WEIGHTS:
        cells = [r for r in rows if r.get("dense_weight") == w]
        print(f"  {w:>5.2f} " + " ".join(f"{c['all']:<10.4f}" for c in cells))
    best = max(rows[2:], key=lambda r: r["all"])
    print(f"\nbest: dense_weight={best['dense_weight']} rrf_k={best['rrf_k']}: "
          f"{best['all']:.4f} / {best['odd']:.4f} / {best['even']:.4f}")


if __name__ == "__main__":
    main()

"""Compare fusion methods and BM25 tokenizers on the suite's dev halves (and show the test halves
for the report; choose on dev only).

    python bench/tune_fusion.py [bench/data/suite] [--json]

Writes bench/results/fusion.json; `python bench/render_tables.py` makes the tables of
docs/benchmarks.md "Fusion" from it.

Uses the indexes bench/run_suite.py keeps under bench/data/work. For each domain it fetches each
question's dense list once, builds in-memory BM25 indexes of the same chunks with each tokenizer,
and scores nDCG@10 of: dense, bm25, weighted RRF and min-max convex combination over a grid, a
z-score convex combination, and a query-adaptive RRF whose BM25 weight rises when BM25's list is
peaked (its top score at least `gate` times its 10th), the case where BM25 is likely right."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_suite import DOMAINS, HERE, save_result, tuned_domains

from rag.benchmark import doc_run, ir_metrics
from rag.evaluate import load_qa
from rag.lexical import _bm25s, tokenize
from rag.retrieve import rrf_fuse
from rag.store import dense_search
from rag.types import Chunk, Hit

K, N, FETCH = 10, 30, 90  # nDCG@10 over the first 30 chunks; HybridRetriever fetches 3x


def pystemmer_tokenize() -> Callable[[str], list[str]]:
    import re

    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    _bm25s()
    from bm25s.stopwords import STOPWORDS_EN

    stop = frozenset(STOPWORDS_EN)
    token = re.compile(r"\w\w+")
    return lambda text: stemmer.stemWords([t for t in token.findall(text.lower()) if t not in stop])


def bm25_search(chunks: list[Chunk], tok: Callable[[str], list[str]]) -> Callable[[str], list[tuple[Chunk, float]]]:
    bm25s = _bm25s()
    index = bm25s.BM25()
    index.index([tok(c.text) or [""] for c in chunks], show_progress=False)
    vocab = dict(index.vocab_dict)

    def search(query: str) -> list[tuple[Chunk, float]]:
        terms = [t for t in tok(query) if t in vocab]
        if not terms:
            return []
        docs, scores = index.retrieve([terms], k=min(FETCH, len(chunks)), show_progress=False, n_threads=1)
        return [(chunks[int(i)], float(s)) for i, s in zip(docs[0], scores[0], strict=True) if s > 0]

    return search


def _min_max(ranked: list[tuple[Chunk, float]]) -> dict[str, float]:
    if not ranked:
        return {}
    scores = [s for _c, s in ranked]
    low, high = min(scores), max(scores)
    return {c.id: (s - low) / (high - low) if high > low else 1.0 for c, s in ranked}


def convex_fuse(
    dense: list[tuple[Chunk, float]],
    sparse: list[tuple[Chunk, float]],
    dense_weight: float,
) -> list[Hit]:
    """Convex combination of min-max normalised scores (a chunk missing from a list scores 0
    there); ties keep the dense order."""
    d, b = _min_max(dense), _min_max(sparse)
    chunks = {c.id: c for c, _s in dense + sparse}
    fused = {cid: dense_weight * d.get(cid, 0.0) + (1.0 - dense_weight) * b.get(cid, 0.0) for cid in chunks}
    dense_scores = {c.id: s for c, s in dense}
    bm25_scores = {c.id: s for c, s in sparse}
    order = sorted(fused, key=lambda cid: -fused[cid])
    return [Hit(chunks[cid], fused[cid], dense_scores.get(cid), bm25_scores.get(cid)) for cid in order]


def zscore_fuse(dense: list[tuple[Chunk, float]], sparse: list[tuple[Chunk, float]], w: float) -> list[Hit]:
    """Convex combination of z-scored lists (a chunk missing from a list takes that list's lowest)."""
    def z(lst: list[tuple[Chunk, float]]) -> dict[str, float]:
        if not lst:
            return {}
        mu, sd = statistics.fmean(s for _c, s in lst), statistics.pstdev(s for _c, s in lst)
        return {c.id: (s - mu) / sd if sd > 0 else 0.0 for c, s in lst}

    zd, zb = z(dense), z(sparse)
    low_d, low_b = min(zd.values(), default=0.0), min(zb.values(), default=0.0)
    chunks = {c.id: c for c, _s in dense + sparse}
    fused = {cid: w * zd.get(cid, low_d) + (1 - w) * zb.get(cid, low_b) for cid in chunks}
    return [Hit(chunks[cid], fused[cid]) for cid in sorted(fused, key=lambda cid: -fused[cid])]


def adaptive_rrf(dense: list[tuple[Chunk, float]], sparse: list[tuple[Chunk, float]], peaked_w: float,
                 gate: float) -> list[Hit]:
    """RRF (k 10) with dense weight `peaked_w` when BM25's list is peaked, 0.95 otherwise."""
    peaked = len(sparse) >= 10 and sparse[9][1] > 0 and sparse[0][1] / sparse[9][1] >= gate
    return rrf_fuse(dense, sparse, peaked_w if peaked else 0.95, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", type=Path, nargs="?", default=HERE / "data" / "suite")
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tokenizers = {"light": tokenize, "snowball": pystemmer_tokenize()}
    configs: dict[str, Callable[[Any, Any], list[Hit]]] = {"dense": lambda d, b: [Hit(c, s) for c, s in d]}
    for name in tokenizers:
        configs[f"bm25-{name}"] = lambda d, b, n=name: [Hit(c, s) for c, s in b[n]]
        for w in (0.5, 0.6, 0.7, 0.8, 0.9):
            for rk in (10, 60):
                configs[f"rrf-{name}-w{w}-k{rk}"] = lambda d, b, n=name, w=w, rk=rk: rrf_fuse(d, b[n], w, rk)
        for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            configs[f"convex-{name}-w{w}"] = lambda d, b, n=name, w=w: convex_fuse(d, b[n], w)
    for w in (0.6, 0.7, 0.8, 0.9):
        configs[f"zscore-snowball-w{w}"] = lambda d, b, w=w: zscore_fuse(d, b["snowball"], w)
    for gate in (1.5, 2.0, 3.0):
        for w in (0.5, 0.6, 0.7):
            configs[f"adaptive-snowball-g{gate}-w{w}"] = lambda d, b, g=gate, w=w: adaptive_rrf(d, b["snowball"], w, g)
    table: dict[str, dict[str, float]] = {c: {} for c in configs}
    for domain, kb in tuned_domains(args.suite, args.domains):
        kb.lexical.refresh()
        chunks = kb.lexical.chunks
        searchers = {name: bm25_search(chunks, tok) for name, tok in tokenizers.items()}
        for split in ("dev", "test"):
            items = [i for i in load_qa(args.suite / domain / f"qa-{split}.jsonl") if i.answerable and i.sources]
            qrels = {str(n): dict.fromkeys(i.sources, 1) for n, i in enumerate(items)}
            lists = {}
            for n, item in enumerate(items):
                dense = dense_search(kb.store, kb.embedder.embed_query(item.question), FETCH)
                lists[str(n)] = (dense, {name: s(item.question) for name, s in searchers.items()})
            for cname, fn in configs.items():
                run = {q: doc_run(fn(d, b)[:N], None, K) for q, (d, b) in lists.items()}
                table[cname][f"{domain}/{split}"] = ir_metrics(qrels, run, K)[f"ndcg@{K}"]
        print(f"{domain} done", file=sys.stderr)
    save_result("fusion", {"k": K, "chunks": N, "fetched": FETCH, "ndcg@10": table}, args.domains)
    if args.json:
        print(json.dumps(table, indent=1))
        return
    cols = [f"{d}/{s}" for s in ("dev", "test") for d in args.domains]

    def mean(c: str, split: str) -> float:
        return statistics.fmean(v for k, v in table[c].items() if k.endswith(split))

    ranked = sorted(configs, key=lambda c: -mean(c, "dev"))
    print(f"{'config':<26} {'dev mean':>8} {'test mean':>9}  " + " ".join(f"{c[:18]:>18}" for c in cols))
    for c in ranked:
        print(f"{c:<26} {mean(c, 'dev'):>8.3f} {mean(c, 'test'):>9.3f}  "
              + " ".join(f"{table[c][x]:>18.3f}" for x in cols))


if __name__ == "__main__":
    main()

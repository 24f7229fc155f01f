"""How the embedded store behaves as it grows: write time, query latency, reopen time, memory
and disk for N synthetic chunks (random unit vectors of the model's 384 dimensions, so the
numbers leave out embedding, which costs about 1/26 s per chunk on this machine's CPU).

    .venv/bin/python bench/store_scale.py 10000 50000

Each size runs in its own process so its peak memory is its own."""

from __future__ import annotations

import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DIM = 384
WORDS = ["open", "closed", "model", "weights", "license", "safety", "research", "company", "data", "training", "compute"]


def measure(n: int) -> dict[str, float | int]:
    import numpy as np

    from rag import lexical
    from rag.settings import Settings
    from rag.store import all_chunks, collection, dense_search, fresh_client, vector_store
    from rag.types import Chunk

    work = Path(tempfile.mkdtemp(prefix="rag-scale-"))
    settings = Settings.from_env(env={}, corpus_dir=work, index_dir=work / "index")
    rng = random.Random(0)
    chunks = [
        Chunk(f"doc{i // 50}.txt", "", " ".join(rng.choices(WORDS, k=120)) + f" item{i}", i * 800, i * 800 + 790)
        for i in range(n)
    ]
    vectors = np.random.default_rng(0).normal(size=(n, DIM)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    began = time.perf_counter()
    store = vector_store(settings, None, fresh_client(settings))
    for i in range(0, n, 1000):
        part = chunks[i : i + 1000]
        collection(store).upsert(ids=[c.id for c in part], embeddings=vectors[i : i + 1000],
                                 documents=[c.text for c in part], metadatas=[c.to_metadata() for c in part])
    write_s = time.perf_counter() - began

    began = time.perf_counter()
    lexical.build(all_chunks(store), settings.index_dir / "lexical")
    bm25_s = time.perf_counter() - began

    began = time.perf_counter()
    store = vector_store(settings, None, fresh_client(settings))
    dense_search(store, vectors[0].tolist(), 30)
    reopen_s = time.perf_counter() - began
    queries = [vectors[rng.randrange(n)].tolist() for _ in range(50)]
    began = time.perf_counter()
    for q in queries:
        dense_search(store, q, 30)
    query_ms = (time.perf_counter() - began) / len(queries) * 1000

    index = lexical.Bm25Index(settings.index_dir / "lexical")
    began = time.perf_counter()
    index.refresh()
    bm25_load_s = time.perf_counter() - began
    began = time.perf_counter()
    for _ in range(50):
        index.search("open model weights license", 30)
    bm25_query_ms = (time.perf_counter() - began) / 50 * 1000

    disk = sum(p.stat().st_size for p in (work / "index").rglob("*") if p.is_file())
    shutil.rmtree(work, ignore_errors=True)
    return {
        "chunks": n,
        "write_s": round(write_s, 1),
        "bm25_build_s": round(bm25_s, 1),
        "reopen_and_first_query_s": round(reopen_s, 2),
        "dense_query_ms": round(query_ms, 1),
        "bm25_load_s": round(bm25_load_s, 2),
        "bm25_query_ms": round(bm25_query_ms, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "disk_mb": round(disk / 2**20),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(int(sys.argv[2]))), flush=True)
        return
    for n in sys.argv[1:] or ["10000", "50000"]:
        done = subprocess.run([sys.executable, __file__, "--one", n], capture_output=True, text=True)
        print(done.stdout.strip() or done.stderr[-2000:], flush=True)


if __name__ == "__main__":
    main()

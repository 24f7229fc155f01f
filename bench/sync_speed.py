"""Sync speed against the model's own speed, and the cost of an incremental re-sync.

    python bench/sync_speed.py [--docs 300] [--runs 3] [--json]

On a generated corpus of a few hundred real documents (sections of the Debian FAQ and the Debian
Reference, built by bench/make_debian_faq.py, which this script runs when its output is missing),
each run measures in the same process:

- a full sync into an empty index (chunks per second);
- raw `SentenceTransformer.encode` of exactly the same chunk texts (same batch size): the
  pipeline overhead is (sync time - encode time) / encode time; goal: under 15 %;
- a re-sync after one document changed, as a fraction of the full sync; goal: under 5 %.

Then, on the shipped corpus (corpus/), `rag index` in a new process with nothing changed, as
cron or a hook runs it (wall time of the whole process, --new-process-runs times); goal: 1.5 s.

Reports the median over the runs. `--chunks-per-document DIR...` instead prints the documents of
those folders that make the most chunks (what rag.split.MAX_CHUNKS was chosen from)."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag.embed import Embedder  # noqa: E402
from rag.kb import KnowledgeBase  # noqa: E402
from rag.settings import Settings  # noqa: E402

DATA = REPO / "bench" / "data" / "debian-faq" / "corpus.jsonl"


def documents(n: int) -> list[tuple[str, str]]:
    """n (name, text) documents of 400-4000 characters, the same ones every time."""
    if not DATA.exists():
        subprocess.run([sys.executable, str(REPO / "bench" / "make_debian_faq.py")], check=True)
    docs = []
    with open(DATA, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            if 400 <= len(d["text"]) <= 4000:
                title = f"# {d['title']}\n\n" if d["title"] else ""
                docs.append((f"{d['_id']}.md", title + d["text"] + "\n"))
    step = max(1, len(docs) // n)
    return docs[::step][:n]


def one_run(docs: list[tuple[str, str]], embedder: Embedder) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="rag-syncspeed-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for name, text in docs:
            (corpus / name).write_text(text, encoding="utf-8")
        kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=corpus, index_dir=Path(tmp) / "index"), embedder=embedder)
        full = kb.sync(progress=False)
        kb.lexical.refresh()
        texts = [c.text for c in kb.lexical.chunks]  # exactly the chunks the sync embedded
        began = time.perf_counter()
        embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True,
                              convert_to_numpy=True, show_progress_bar=False)
        encode_s = time.perf_counter() - began
        name, text = docs[len(docs) // 2]
        (corpus / name).write_text(text + "\nOne more sentence, added for the re-sync test.\n", encoding="utf-8")
        again = kb.sync(progress=False)
        assert again.updated == 1 and again.added == 0, again
        return {
            "chunks": full.chunks,
            "sync_s": full.seconds,
            "encode_s": encode_s,
            "resync_s": again.seconds,
            "resync_embedded": again.chunks_embedded,
        }


def no_change_new_process(runs: int, embedder: Embedder) -> dict[str, Any]:
    """Median wall seconds of `rag index --json` in a new process over the synced shipped corpus."""
    with tempfile.TemporaryDirectory(prefix="rag-syncspeed-") as tmp:
        corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
        shutil.copytree(REPO / "corpus", corpus)
        KnowledgeBase(Settings.from_env(env={}, corpus_dir=corpus, index_dir=index), embedder=embedder).sync(progress=False)
        command = [sys.executable, "-m", "rag.cli", "index", "--json", "--corpus", str(corpus), "--index", str(index)]
        walls, reported = [], []
        for _ in range(runs + 1):  # the first run records the stamps of files written just now
            began = time.perf_counter()
            out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO).stdout
            walls.append(time.perf_counter() - began)
            report = json.loads(out)
            assert report["chunks_embedded"] == 0 and report["added"] == report["updated"] == 0, report
            reported.append(report["seconds"])
        return {"no_change_new_process_seconds": round(statistics.median(walls[1:]), 3),
                "no_change_new_process_sync_seconds": round(statistics.median(reported[1:]), 3),
                "no_change_new_process_runs": runs}


def chunks_per_document(folders: list[str]) -> None:
    from rag.load import discover, load_file
    from rag.split import split_document

    rows = []
    for folder in map(Path, folders):
        for path in discover(folder):
            try:
                doc = load_file(path, folder)
            except Exception as exc:  # a refused file makes no chunks
                print(f"skipped {path}: {exc}", file=sys.stderr)
                continue
            rows.append((len(split_document(doc)), len(doc.text), str(path)))
    for n, chars, path in sorted(rows, reverse=True)[:10]:
        print(f"{n:>7,} chunks {chars:>10,} characters  {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--new-process-runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--chunks-per-document", nargs="+", metavar="DIR")
    args = parser.parse_args()
    if args.chunks_per_document:
        chunks_per_document(args.chunks_per_document)
        return
    docs = documents(args.docs)
    embedder = Embedder()
    embedder.encode(["warm up"] * 8)
    runs = [one_run(docs, embedder) for _ in range(args.runs)]
    no_change = no_change_new_process(args.new_process_runs, embedder)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    result: dict[str, Any] = {
        "documents": len(docs),
        "chunks": int(med("chunks")),
        "runs": args.runs,
        "sync_seconds": round(med("sync_s"), 2),
        "encode_seconds": round(med("encode_s"), 2),
        "sync_chunks_per_second": round(med("chunks") / med("sync_s"), 1),
        "encode_chunks_per_second": round(med("chunks") / med("encode_s"), 1),
        "pipeline_overhead_pct": round(100 * statistics.median((r["sync_s"] - r["encode_s"]) / r["encode_s"] for r in runs), 1),
        "resync_seconds": round(med("resync_s"), 3),
        "resync_fraction_pct": round(100 * statistics.median(r["resync_s"] / r["sync_s"] for r in runs), 2),
        "resync_chunks_embedded": int(med("resync_embedded")),
        **no_change,
        "per_run": runs,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['documents']} documents, {result['chunks']} chunks, median of {args.runs} runs")
    print(f"full sync      {result['sync_seconds']:>7.2f} s  {result['sync_chunks_per_second']:>6.1f} chunks/s")
    print(f"raw encode     {result['encode_seconds']:>7.2f} s  {result['encode_chunks_per_second']:>6.1f} chunks/s")
    print(f"pipeline overhead {result['pipeline_overhead_pct']:.1f} % of the model's time (goal < 15 %)")
    print(f"re-sync, 1 document changed: {result['resync_seconds']:.2f} s = {result['resync_fraction_pct']:.2f} % "
          f"of a full sync (goal < 5 %), {result['resync_chunks_embedded']} chunks embedded")
    print(f"rag index, nothing changed, new process (corpus/, median of {args.new_process_runs}): "
          f"{result['no_change_new_process_seconds']:.2f} s wall, of which the sync "
          f"{result['no_change_new_process_sync_seconds']:.3f} s (goal <= 1.5 s)")


if __name__ == "__main__":
    main()

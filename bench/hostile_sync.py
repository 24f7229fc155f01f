"""A sync over hostile files beside the articles, against a sync of the articles alone.

    python bench/hostile_sync.py [--runs 3] [--json]

Builds a temporary corpus holding copies of corpus/*.txt and each hostile file of issues 13 and
21 at the size it was reported with (a 300 KB file of 150 K lines, a 64 KB Markdown line that
made the heading regex backtrack, a DOCX of 97 K paragraphs, a DOCX whose document.xml inflates
to 1 GiB, one whose directory says so little while it does, one whose 48 MiB of document.xml
are 8 M empty elements (~1 GB as lxml elements), one of 300 K parts whose end record lies about
the directory's size, a PDF whose 3 pages share one 8.8 MB content stream, one whose font has a
60 MB character map under four names, links to /etc/passwd, /dev/zero and a FIFO, 1 MB of one
repeated paragraph, 403 KB of heading-and-sentence pairs).
Prints, in one process with the model loaded once:

- each hostile file's outcome (skipped and why, or indexed) and its load time;
- the median time of a full sync into an empty index, with and without the hostile files, of a
  re-sync with nothing changed in the same process and of one as a new `rag index` process
  runs it (wall time; refused files are remembered in the index and not parsed again), and
  their ratios; goal: within 2x, and the new process within 1.5 s;
- the peak RSS of the process (resource.getrusage), also after the articles' syncs alone (they
  run first), and of a new process that syncs each corpus once, with the peak of the PDF
  worker it started (rag.pdf_worker); goal: under 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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

sys.path.insert(0, str(REPO / "tests"))
# the reproductions are the hostile tests' own, built here at the sizes issue 13 reported
from test_hostile import (  # noqa: E402
    SHOW,
    docx_bytes,
    font_map,
    lying_docx,
    pdf_bytes,
    zip64_docx,
    zip_bomb_docx,
)


def build_hostile(corpus: Path, outside: Path) -> list[str]:
    """Write the hostile files into `corpus`; returns their names."""
    (corpus / "lines.txt").write_text("a\n" * 150_000)
    (corpus / "spaces.md").write_text("# a" + " " * 64_000 + "b")
    (corpus / "paragraphs.docx").write_bytes(docx_bytes("<w:p/>" * 97_000))
    zip_bomb_docx(corpus / "bomb.docx", 1024, level=9)
    (corpus / "runs.docx").write_bytes(docx_bytes("<w:p>" + "<w:r/>" * (48 * 2**20 // 6) + "</w:p>"))
    (corpus / "shared.pdf").write_bytes(pdf_bytes(3, SHOW * (8_800_000 // len(SHOW))))
    # issue 21: one paragraph repeated 1,500 times under a heading (1 MB), and 403 KB of
    # heading-and-sentence pairs; both are indexed, in a few chunks and at most rag.split.MAX_CHUNKS
    (corpus / "notice.txt").write_text("Notice\n\n" + ("This notice applies to every copy of the work. " * 14 + "\n\n") * 1_500)
    (corpus / "pairs.txt").write_text("".join(f"Heading {i}\nShort sentence number {i}.\n\n" for i in range(9_600)))
    lying_docx(corpus / "lying.docx", 1024)
    (corpus / "zip64.docx").write_bytes(zip64_docx(300_000))
    (corpus / "fontmap.pdf").write_bytes(pdf_bytes(1, SHOW, font_map(60, b"<68> <0068>\n"), names=4))
    os.mkfifo(outside / "fifo")
    os.mkfifo(corpus / "pipe.txt")
    for name, target in {"passwd.txt": "/etc/passwd", "zero.txt": "/dev/zero", "fifo.txt": outside / "fifo"}.items():
        (corpus / name).symlink_to(target)
    return ["lines.txt", "spaces.md", "paragraphs.docx", "bomb.docx", "runs.docx", "shared.pdf", "notice.txt",
            "pairs.txt", "lying.docx", "zip64.docx", "fontmap.pdf", "pipe.txt", "passwd.txt", "zero.txt", "fifo.txt"]


def timed_sync(corpus: Path, index: Path, embedder: Embedder) -> tuple[float, float, float, Any]:
    """Seconds of a full sync into an empty index, of a no-change re-sync in the same process,
    and of one in a new `rag index` process (its wall time, as cron sees it: refusals are
    remembered in the index); the full report."""
    shutil.rmtree(index, ignore_errors=True)
    kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=corpus, index_dir=index), embedder=embedder)
    seconds, reports = [], []
    for _ in range(2):
        began = time.perf_counter()
        reports.append(kb.sync(progress=False))
        seconds.append(time.perf_counter() - began)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rag.cli", "index", "--json", "--corpus", str(corpus), "--index", str(index)],
                   cwd=REPO, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    seconds.append(time.perf_counter() - began)
    return seconds[0], seconds[1], seconds[2], reports[0]


# The peak RSS in MB of a new process (VmHWM: ru_maxrss would keep this process's peak, which
# it had when it started the new one) and of its PDF workers (as they report it)
PEAKS = ("int(next(x for x in open('/proc/self/status') if x.startswith('VmHWM:')).split()[1]) / 1024, "
         "pdf_worker.peak_rss / 2**20")


def load_in_new_process(path: Path, corpus: Path) -> dict[str, Any]:
    """One file loaded by a new process: the outcome, seconds, and the peak RSS in MB of the
    process (~45 MB with Python and rag.load) and of the PDF worker it started, if any."""
    code = (
        "import json, sys, time; from pathlib import Path; from rag import pdf_worker; "
        "from rag.errors import LoadError; from rag.load import load_file\n"
        "began = time.perf_counter()\n"
        "try:\n    out = f'indexed ({len(load_file(Path(sys.argv[1]), Path(sys.argv[2])).text):,} characters)'\n"
        "except LoadError as err:\n    out = f'skipped: {err.reason}'\n"
        "seconds = time.perf_counter() - began\n"
        f"print(json.dumps([out, seconds, {PEAKS}]))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(path), str(corpus)], cwd=REPO, check=True,
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    outcome, seconds, own, worker = json.loads(result.stdout.splitlines()[-1])
    return {"file": path.name, "bytes": os.lstat(path).st_size, "outcome": outcome, "load_s": round(seconds, 3),
            "peak_rss_mb": round(own), "pdf_worker_peak_rss_mb": round(worker)}


def peak_of_one_sync(corpus: Path, index: Path) -> tuple[float, float]:
    """Peak RSS in MB of a new process that loads the model and syncs `corpus` once, and of the
    PDF workers it started."""
    code = (
        "import json, sys; from pathlib import Path; from rag.kb import KnowledgeBase; "
        "from rag.settings import Settings; from rag import pdf_worker; "
        "KnowledgeBase(Settings.from_env(env={}, corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2])))"
        f".sync(progress=False); print(json.dumps([{PEAKS}]))"
    )
    shutil.rmtree(index, ignore_errors=True)
    out = subprocess.run([sys.executable, "-c", code, str(corpus), str(index)], cwd=REPO, check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    own, worker = json.loads(out.stdout.splitlines()[-1])
    return own, worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    embedder = Embedder()
    embedder.embed_query("warm up")
    rss_ready = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory(prefix="rag-hostile-") as tmp:
        root = Path(tmp)
        articles, hostile, outside = root / "articles", root / "hostile", root / "outside"
        for folder in (articles, hostile, outside):
            folder.mkdir()
        for path in sorted((REPO / "corpus").glob("[!.]*.txt")):
            shutil.copy(path, articles / path.name)
            shutil.copy(path, hostile / path.name)
        names = build_hostile(hostile, outside)

        outcomes = [load_in_new_process(hostile / name, hostile) for name in names]

        one_sync_peaks = {label: peak_of_one_sync(corpus, root / f"index-{label}")
                          for label, corpus in (("articles", articles), ("hostile", hostile))}
        # the articles' runs first, so that the peak RSS they reach can be told apart
        runs: dict[str, list[tuple[float, float, float, Any]]] = {}
        peaks: dict[str, float] = {}
        for label, corpus in (("articles", articles), ("hostile", hostile)):
            runs[label] = [timed_sync(corpus, root / f"index-{label}", embedder) for _ in range(args.runs)]
            peaks[label] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def median(label: str, i: int) -> float:
        return statistics.median(r[i] for r in runs[label])

    hostile_report = runs["hostile"][-1][3]
    result = {
        "files": outcomes,
        "skipped_in_sync": len(hostile_report.skipped),
        "chunks": {label: runs[label][-1][3].chunks for label in runs},
        "full_sync_s": {label: round(median(label, 0), 3) for label in runs},
        "resync_s": {label: round(median(label, 1), 3) for label in runs},
        "full_sync_ratio": round(median("hostile", 0) / median("articles", 0), 2),
        "resync_ratio": round(median("hostile", 1) / median("articles", 1), 2),
        "resync_new_process_s": {label: round(median(label, 2), 3) for label in runs},
        "resync_new_process_ratio": round(median("hostile", 2) / median("articles", 2), 2),
        "rss_mb_model_loaded": round(rss_ready),
        "peak_rss_mb_after_articles_syncs": round(peaks["articles"]),
        "peak_rss_mb": round(peaks["hostile"]),
        "one_sync_process_peak_rss_mb": {label: round(mb[0]) for label, mb in one_sync_peaks.items()},
        "one_sync_pdf_worker_peak_rss_mb": {label: round(mb[1]) for label, mb in one_sync_peaks.items()},
        "runs": args.runs,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for f in outcomes:
        print(f"{f['file']:<16} {f['bytes']:>10,} B  {f['load_s']:>6.3f} s  {f['peak_rss_mb']:>5} MB "
              f"(PDF worker {f['pdf_worker_peak_rss_mb']:>3} MB)  {f['outcome']}")
    print(f"sync skipped {result['skipped_in_sync']} files; chunks: {result['chunks']}")
    print(f"full sync (median of {args.runs}): articles {result['full_sync_s']['articles']} s, "
          f"with hostile files {result['full_sync_s']['hostile']} s, ratio {result['full_sync_ratio']}")
    print(f"re-sync, nothing changed: articles {result['resync_s']['articles']} s, "
          f"with hostile files {result['resync_s']['hostile']} s, ratio {result['resync_ratio']}")
    print(f"re-sync as a new `rag index` process (wall time): articles "
          f"{result['resync_new_process_s']['articles']} s, with hostile files "
          f"{result['resync_new_process_s']['hostile']} s, ratio {result['resync_new_process_ratio']}")
    print(f"peak RSS {result['peak_rss_mb']} MB (model loaded: {result['rss_mb_model_loaded']} MB, "
          f"after the articles' syncs: {result['peak_rss_mb_after_articles_syncs']} MB)")
    print(f"peak RSS of a new process that syncs once: articles {one_sync_peaks['articles'][0]:.0f} MB, "
          f"with hostile files {one_sync_peaks['hostile'][0]:.0f} MB (its PDF worker: "
          f"{one_sync_peaks['hostile'][1]:.0f} MB)")


if __name__ == "__main__":
    main()

"""Load test of the web app: starts `rag serve` on 127.0.0.1 over a corpus, then N concurrent
gradio_client users ask questions through the `/ask` API for a bounded time, and reports
throughput, latency median / 95th percentile and errors as JSON.

    .venv/bin/python bench/load_test.py --users 20 --seconds 60
    .venv/bin/python bench/load_test.py --concurrency 1   # try another Gradio queue setting

`--concurrency N` overrides ui.app.ANSWER_CONCURRENCY (the queue's default_concurrency_limit)
for this run only, to compare settings; without it the app runs as shipped."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag.evaluate import percentile  # noqa: E402

QUESTIONS = (
    "What is the difference between open source and closed AI models?",
    "What are the risks of open source AI?",
    "Why do companies keep their AI models closed?",
    "Who benefits from open model weights?",
    "How do closed models make money?",
    "What does transparency mean for AI models?",
    "Is open source AI safe?",
    "What is the capital of Mongolia?",  # off-topic: should abstain, still a valid request
)
SERVE = (
    "import sys, ui.app; ui.app.ANSWER_CONCURRENCY = int(sys.argv[1]); "
    "from rag.cli import main; sys.exit(main(sys.argv[2:]))"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(corpus: Path, index: Path, port: int, concurrency: int | None) -> subprocess.Popen[bytes]:
    args = ["serve", "--corpus", str(corpus), "--index", str(index), "--host", "127.0.0.1", "--port", str(port)]
    cmd = [sys.executable, "-m", "rag.cli", *args] if concurrency is None else [
        sys.executable, "-c", SERVE, str(concurrency), *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"rag serve exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)


def user(url: str, until: float, offset: int, results: list[tuple[float, float, str]], lock: threading.Lock) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    i = offset
    while time.perf_counter() < until:
        question = QUESTIONS[i % len(QUESTIONS)]
        i += 1
        began = time.perf_counter()
        error = ""
        try:
            answer = client.predict(question, api_name="/ask")
            if not isinstance(answer, dict) or "answer" not in answer:
                error = f"unexpected reply {str(answer)[:80]}"
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc)[:120]}"
        with lock:
            results.append((began, time.perf_counter() - began, error))


def run(users: int, seconds: float, concurrency: int | None, corpus: Path) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="rag-load-"))
    try:
        port = free_port()
        proc = start_server(corpus, work / "index", port, concurrency)
        try:
            url = f"http://127.0.0.1:{port}/"
            results: list[tuple[float, float, str]] = []
            lock = threading.Lock()
            start = time.perf_counter()
            until = start + seconds
            threads = [threading.Thread(target=user, args=(url, until, n, results, lock)) for n in range(users)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = [lat for _, lat, err in results if not err]
    errors = [err for _, _, err in results if err]
    return {
        "users": users,
        "seconds": round(elapsed, 1),
        "queue_concurrency": concurrency if concurrency is not None else "as shipped",
        "requests": len(results),
        "ok": len(ok),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "throughput_rps": round(len(ok) / elapsed, 2),
        "latency_median_s": round(statistics.median(ok), 3) if ok else None,
        "latency_p95_s": round(percentile(ok, 95), 3) if ok else None,
        "latency_max_s": round(max(ok), 3) if ok else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, help="override the queue's concurrency limit")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    args = parser.parse_args()
    print(json.dumps(run(args.users, args.seconds, args.concurrency, args.corpus)), flush=True)


if __name__ == "__main__":
    main()

"""How fast the local model reads a prompt and generates, by thread counts, on this machine now.

    python bench/llm_threads.py [--model qwen-1.5b] [--runs 6] [--settings 1/1,1/2,2/2] [--wait active]

Serves the installed model (`rag models install NAME`) with xllamacpp once per setting
(threads that generate / threads that read the prompt), all at once, and sends the same
prompts of about 150 tokens cut from the first article to each in turn, with the prompt cache
off, so every setting meets the same load. Prints llama.cpp's own medians of prompt and
generation tokens per second, and how much CPU other processes used before it started,
over one second. `--wait active` lets OpenMP's waiting threads spin (its default) instead of
sleeping (what rag.local_llm sets): run it both ways to compare. The thread rule in
rag/local_llm.py and the tables in docs/llm.md come from this script."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag.models import default_model, models_dir  # noqa: E402
from rag.settings import Settings  # noqa: E402


def cpu_seconds() -> tuple[float, float, float]:
    """(wall clock, CPU seconds every process has used since boot per /proc/stat, CPU seconds
    this process has used): two of these give what other processes used in between."""
    with open("/proc/stat", encoding="ascii") as fh:
        f = [int(x) for x in fh.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    own = os.times()
    return time.monotonic(), (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK"), own.user + own.system


def busy_between(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """Cores' worth of CPU time that other processes used between two `cpu_seconds()`."""
    return max(0.0, (b[1] - a[1]) - (b[2] - a[2])) / max(b[0] - a[0], 1e-6)


def busy_elsewhere(seconds: float) -> float:
    began = cpu_seconds()
    time.sleep(seconds)
    return busy_between(began, cpu_seconds())


def serve(model: Path, generate: int, batch: int) -> tuple[Any, str]:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.n_ctx = 4096
    params.cpuparams.n_threads = generate
    params.cpuparams_batch.n_threads = batch
    params.port = 0
    params.hostnames = ["127.0.0.1"]
    params.verbosity = -1
    server = xllamacpp.Server(params)
    return server, str(server.listening_address).rstrip("/")


def timings(address: str, prompt: str, n_predict: int) -> dict[str, float]:
    body = json.dumps({"prompt": prompt, "n_predict": n_predict, "cache_prompt": False, "temperature": 0,
                       "ignore_eos": True}).encode()
    request = urllib.request.Request(address + "/completion", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as resp:
        return dict(json.load(resp)["timings"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen-1.5b", help="an installed model (rag models list)")
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--settings", default="1/1,1/2,2/2", help="generate/read thread pairs")
    ap.add_argument("--tokens", type=int, default=40, help="tokens generated per prompt")
    ap.add_argument("--wait", choices=("passive", "active"), default="passive", help="OpenMP's OMP_WAIT_POLICY")
    args = ap.parse_args()
    os.environ["OMP_WAIT_POLICY"] = args.wait.upper()  # before xllamacpp loads libgomp
    model = default_model(models_dir(Settings.from_env()), args.model)
    if model is None:
        raise SystemExit(f"{args.model} is not installed: rag models install {args.model}")
    settings = [tuple(int(x) for x in s.split("/")) for s in args.settings.split(",")]
    busy = busy_elsewhere(1.0)
    load = [round(x, 1) for x in os.getloadavg()]
    servers = [serve(model.path, g, b) for g, b in settings]
    text = (REPO / "corpus" / "defining-divide-open-vs-closed-ai.txt").read_text(encoding="utf-8")
    rates: dict[int, list[tuple[float, float]]] = {i: [] for i in range(len(servers))}
    n = 0
    for run in range(args.runs):
        prompt = f"Question {run}: " + text[run * 900 : run * 900 + 700] + "\nAnswer briefly:"
        order = range(len(servers)) if run % 2 == 0 else reversed(range(len(servers)))
        for i in order:
            t = timings(servers[i][1], prompt, args.tokens)
            rates[i].append((t["prompt_per_second"], t["predicted_per_second"]))
            n = int(t["prompt_n"])
    print(f"{model.name}, OMP_WAIT_POLICY={args.wait}: {args.runs} prompts of {n} tokens, {args.tokens} generated; "
          f"before: other processes used {busy:.2f} cores, load average {load}; after: "
          f"{[round(x, 1) for x in os.getloadavg()]}")
    for i, (g, b) in enumerate(settings):
        read = statistics.median(r[0] for r in rates[i])
        made = statistics.median(r[1] for r in rates[i])
        print(f"  generate {g} / read {b} threads: prompt {read:5.1f} tokens/s, generation {made:5.1f} tokens/s")


if __name__ == "__main__":
    main()

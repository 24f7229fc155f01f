"""How fast the local model reads a prompt and generates, by thread counts.

    python bench/llm_threads.py [--model qwen2.5-coder-1.5b-instruct-q4_k_m.gguf] [--runs 5]

Serves the installed GGUF (~/.cache/rag-kb/models, `rag models install qwen-1.5b`) with xllamacpp
once per setting (threads that generate, threads that read the prompt), sends `--runs` prompts of
about 150 tokens cut from the first article with the prompt cache off, and prints llama.cpp's
own medians of prompt and generation tokens per second. Run it on a machine as quiet or as busy
as the one you want numbers for: the numbers in docs/llm.md came from this script."""

from __future__ import annotations

import argparse
import json
import statistics
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SETTINGS = ((1, 1), (1, 2), (2, 2))


def measure(model: Path, generate: int, batch: int, runs: int, text: str) -> tuple[float, float, int]:
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
    address = str(server.listening_address).rstrip("/")
    prompt_rates, gen_rates, n = [], [], 0
    for i in range(runs):
        prompt = f"Question {i}: " + text[i * 900 : i * 900 + 800] + "\nAnswer briefly:"
        body = json.dumps({"prompt": prompt, "n_predict": 30, "cache_prompt": False, "temperature": 0}).encode()
        request = urllib.request.Request(address + "/completion", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=600) as resp:
            timings = json.load(resp)["timings"]
        prompt_rates.append(timings["prompt_per_second"])
        gen_rates.append(timings["predicted_per_second"])
        n = timings["prompt_n"]
    del server
    return statistics.median(prompt_rates), statistics.median(gen_rates), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    model = Path.home() / ".cache" / "rag-kb" / "models" / args.model
    text = (REPO / "corpus" / "defining-divide-open-vs-closed-ai.txt").read_text(encoding="utf-8")
    for generate, batch in SETTINGS:
        read, made, n = measure(model, generate, batch, args.runs, text)
        print(f"generate {generate} thread(s), read with {batch}: prompt {read:.0f} tokens/s ({n} tokens), "
              f"generation {made:.1f} tokens/s")


if __name__ == "__main__":
    main()

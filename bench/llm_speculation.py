"""Does llama.cpp's n-gram (draftless) speculative decoding speed up the llm answerer here?

    python bench/llm_speculation.py [--model qwen-1.5b] [--questions 10] [--threads 1]

The answer copies much of its evidence, which is what n-gram speculation drafts from: it looks
the last n tokens up in the context and proposes the tokens that followed them there, and the
model checks the draft in one batch. Syncs the corpus into a temporary index, builds the llm
answerer's evidence-mode prompts for the answerable questions of tests/data/qa.jsonl that pass
its gate, serves the installed model once without speculation and once per n-gram setting (all
at once, the same threads), and sends each prompt to each server in turn, so all meet the same
load. Prints per setting the median time to the first token and to the end, the generation
rate (llama.cpp's own timings) and the drafted / accepted tokens."""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag.evaluate import load_qa  # noqa: E402
from rag.kb import KnowledgeBase  # noqa: E402
from rag.models import default_model, models_dir  # noqa: E402
from rag.settings import Settings  # noqa: E402

# (type, n: tokens looked up, m: tokens drafted); n=12/m=48 are llama.cpp's defaults
SETTINGS = (("none", 0, 0), ("ngram_simple", 3, 4), ("ngram_simple", 2, 8), ("ngram_map_k", 3, 6),
            ("ngram_mod", 4, 8), ("ngram_simple", 12, 48))


def serve(model: Path, threads: int, kind: str, n: int, m: int) -> tuple[Any, str]:
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = str(model)
    p.n_ctx = 4096
    p.cpuparams.n_threads = p.cpuparams_batch.n_threads = threads
    p.port = 0
    p.hostnames = ["127.0.0.1"]
    p.verbosity = -1
    if kind != "none":
        spec = p.speculative
        spec.types = [getattr(xllamacpp.common_speculative_type, "COMMON_SPECULATIVE_TYPE_" + kind.upper())]
        for table in (spec.ngram_simple, spec.ngram_map_k):
            table.size_n, table.size_m = n, m
        spec.ngram_mod.n_match, spec.ngram_mod.n_min, spec.ngram_mod.n_max = n, 1, m
        spec.draft.n_min, spec.draft.n_max = 0, m
    server = xllamacpp.Server(p)
    return server, str(server.listening_address).rstrip("/")


def ask(address: str, messages: list[dict[str, str]], max_tokens: int = 200) -> dict[str, Any]:
    body = {"messages": messages, "stream": True, "max_tokens": max_tokens, "temperature": 0, "cache_prompt": True}
    request = urllib.request.Request(address + "/v1/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    began, first, timings = time.perf_counter(), None, {}
    with urllib.request.urlopen(request, timeout=600) as resp:
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            data = json.loads(line[5:])
            timings = data.get("timings") or timings
            if any((c.get("delta") or {}).get("content") for c in data.get("choices", [])):
                first = first or time.perf_counter()
    end = time.perf_counter()
    return {"first": (first or end) - began, "total": end - began, **timings}


def prompts(questions: int) -> list[list[dict[str, str]]]:
    """The evidence-mode messages of answerable questions that pass the gate."""
    from rag.answer.llm import LLMAnswerer

    out = []
    with tempfile.TemporaryDirectory(prefix="rag-spec-") as tmp:
        kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=REPO / "corpus", index_dir=Path(tmp) / "index"))
        kb.sync(progress=False)
        a = LLMAnswerer(None, kb.scorer)
        for item in load_qa(REPO / "tests" / "data" / "qa.jsonl"):
            hits = kb.search(item.question)
            if not item.answerable or a.too_weak(a.scorer.confidence_for(item.question, hits) if hits else -math.inf):
                continue
            system, user = a.messages(item.question, a.evidence(item.question, hits))
            out.append([{"role": "system", "content": str(system.content)}, {"role": "user", "content": str(user.content)}])
            if len(out) == questions:
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen-1.5b")
    ap.add_argument("--questions", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    model = default_model(models_dir(Settings.from_env()), args.model)
    if model is None:
        raise SystemExit(f"{args.model} is not installed: rag models install {args.model}")
    chats = prompts(args.questions)
    servers = [serve(model.path, args.threads, *s) for s in SETTINGS]
    for _, address in servers:  # the system prompt into each server's cache
        ask(address, [chats[0][0], {"role": "user", "content": "Are you ready?"}], 1)
    load = [round(x, 1) for x in os.getloadavg()]
    runs: list[list[dict[str, Any]]] = [[] for _ in SETTINGS]
    for k, chat in enumerate(chats):
        order = list(range(len(servers)))
        for i in order if k % 2 == 0 else order[::-1]:
            runs[i].append(ask(servers[i][1], chat))
    print(f"{model.name}, {args.threads} thread(s), {len(chats)} questions; load average {load} before, "
          f"{[round(x, 1) for x in os.getloadavg()]} after")
    for (kind, n, m), rs in zip(SETTINGS, runs, strict=True):
        made = sum(r["predicted_n"] for r in rs) / (sum(r["predicted_ms"] for r in rs) / 1000)
        drafted, accepted = sum(r.get("draft_n", 0) for r in rs), sum(r.get("draft_n_accepted", 0) for r in rs)
        name = kind if kind == "none" else f"{kind} n={n} m={m}"
        print(f"  {name:<24} first token {statistics.median(r['first'] for r in rs):5.2f} s, "
              f"full answer {statistics.median(r['total'] for r in rs):5.2f} s (medians), generation "
              f"{made:5.1f} tokens/s, drafted {drafted}, accepted {accepted}")


if __name__ == "__main__":
    main()

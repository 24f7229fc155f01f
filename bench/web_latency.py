"""`python bench/ask_latency.py --web`: the answer's latency as the web page sees it.

Serves the corpus with the web app (`ui.app.build_app` + `launch`, on a free loopback port, as
`rag serve` does: index synced, model and answerer warmed) and asks N questions of qa.jsonl
(spread over the file) through the chat's own streaming endpoint, `/chat`, with gradio_client,
one at a time. Per question it times, from the moment the question is sent: the first update
(the "Searching…" the page shows at once), the first visible words of the answer (the first
update that is neither empty nor a status line) and the full answer (the last update). With a
local model it also reads llama.cpp's counters before and after each question: the prompt
tokens it read and the seconds it took, and the tokens it generated and their seconds, so the
time before the first words splits into the model's prompt reading and the rest (retrieval,
evidence, the gate, Gradio). Reports medians and p95s; `--json` adds every question."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from llm_threads import busy_between, cpu_seconds

from rag.evaluate import load_qa, percentile
from rag.kb import KnowledgeBase
from rag.settings import Settings

COUNTERS = ("prompt_tokens_total", "prompt_seconds_total", "tokens_predicted_total", "tokens_predicted_seconds_total")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _counters(server: Any) -> dict[str, float]:
    if server is None:
        return {}
    metrics = server.metrics()
    return {k: metrics.get(k, 0.0) for k in COUNTERS}


def _ask(client: Any, question: str, answerer: str, k: int) -> dict[str, float | str]:
    """One question through /chat: seconds to the first update, the first words, the end."""
    from ui.render import STATUS_PREFIX

    began = time.perf_counter()
    job = client.submit(question, answerer, k, False, {}, api_name="/chat")
    first_update = first_words = None
    text = ""
    for text, _panel in job:
        now = time.perf_counter() - began
        first_update = first_update if first_update is not None else now
        if first_words is None and text and not text.startswith(STATUS_PREFIX):
            first_words = now
    done = time.perf_counter() - began
    return {"first_update_s": first_update or done, "first_words_s": first_words or done, "total_s": done,
            "answer": text}


def web_bench(args: argparse.Namespace) -> None:
    from gradio_client import Client

    from ui.app import build_app, launch

    items = load_qa(args.qa)
    n = args.questions or 12
    items = items[:: max(1, math.ceil(len(items) / n))][:n]
    load = [round(x, 1) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="rag-web-latency-") as tmp:
        env = {k: v for k, v in os.environ.items() if k.startswith("RAG_LLM_") or k == "RAG_MODELS_DIR"}
        settings = Settings.from_env(env=env, corpus_dir=args.corpus, index_dir=Path(tmp) / "index",
                                     answerer=args.answerer, llm_model=args.model)
        kb = KnowledgeBase(settings)
        kb.sync(progress=False)
        kb.warm()  # as `rag serve`: the model loaded, the system prompt in the server's cache
        server = getattr(kb.answerer(), "server", None)
        app = build_app(kb)
        url = launch(app, settings, "127.0.0.1", _free_port(), block=False)
        try:
            client = Client(url, verbose=False)
            _ask(client, "Warm-up: what is this about?", kb.answerer_name(), settings.k)  # the client's first call
            runs = []
            began = cpu_seconds()
            for item in items:
                before = _counters(server)
                run = _ask(client, item.question, kb.answerer_name(), settings.k)
                after = _counters(server)
                run.update({k: round(after[k] - before[k], 3) for k in after})
                run.update(question=item.question, answerable=item.answerable)
                runs.append(run)
            elsewhere = busy_between(began, cpu_seconds())
        finally:
            with contextlib.redirect_stdout(sys.stderr):  # Gradio says it closes on stdout: keep --json clean
                app.close()
    report = _report(runs, args, load, elsewhere, getattr(server, "threads", None), kb.answerer_name())
    if args.json:
        print(json.dumps({**report, "items": runs}, indent=2))
        return
    print(f"{report['answerer']} ({args.model}) through the web app's /chat, {len(runs)} questions; load average "
          f"{load} before; other processes used {report['busy_elsewhere_cores']} cores meanwhile; "
          f"model threads {report['threads']}")
    for key in ("first_update", "first_words", "total"):
        s = report[key]
        print(f"  {key.replace('_', ' '):<12} median {s['median_s']:5.2f} s  p95 {s['p95_s']:5.2f} s")
    if report.get("prompt_tokens_median") is not None:
        print(f"  prompt: median {report['prompt_tokens_median']} tokens read in {report['prompt_seconds_median']} s; "
              f"generation median {report['generated_tokens_median']} tokens at {report['generation_tokens_per_s']} "
              f"tokens/s; before the first words, besides the prompt: median {report['other_before_words_median_s']} s")


def _report(runs: list[dict[str, Any]], args: argparse.Namespace, load: list[float], elsewhere: float,
            threads: int | None, answerer: str) -> dict[str, Any]:
    def stats(key: str) -> dict[str, float]:
        values = [float(r[key]) for r in runs]
        return {"median_s": round(statistics.median(values), 2), "p95_s": round(percentile(values, 95), 2)}

    report: dict[str, Any] = {
        "answerer": answerer, "model": args.model, "questions": len(runs), "load_average_before": load,
        "busy_elsewhere_cores": round(elsewhere, 2), "threads": threads,
        "first_update": stats("first_update_s"), "first_words": stats("first_words_s"), "total": stats("total_s"),
    }
    asked = [r for r in runs if r.get("prompt_tokens_total")]  # the model was asked (not gated)
    if asked:
        med = statistics.median
        report.update(
            model_asked=len(asked),
            prompt_tokens_median=med(r["prompt_tokens_total"] for r in asked),
            prompt_seconds_median=round(med(r["prompt_seconds_total"] for r in asked), 2),
            generated_tokens_median=med(r["tokens_predicted_total"] for r in asked),
            generation_tokens_per_s=round(sum(r["tokens_predicted_total"] for r in asked)
                                          / max(sum(r["tokens_predicted_seconds_total"] for r in asked), 1e-9), 1),
            other_before_words_median_s=round(med(r["first_words_s"] - r["prompt_seconds_total"] for r in asked), 2),
        )
    return report

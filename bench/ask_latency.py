"""Latency of an answer, retrieval included, with the model loaded.

    python bench/ask_latency.py [--questions 50] [--rounds 3] [--corpus corpus] [--json]
    python bench/ask_latency.py --answerer llm [--model qwen-1.5b] [--questions 12] [--json]
    python bench/ask_latency.py --web [--answerer llm] [--model qwen-1.5b] [--questions 12] [--json]

With `--web` the questions go through the web app's streaming chat endpoint (bench/web_latency.py):
time to the first update, to the first visible words and to the full answer, as a page sees them.

With `--answerer llm` (see the end of this docstring) it compares the llm answerer's two modes.

Syncs the corpus into a temporary index, loads the model and the index once (as `rag serve`
and `rag ask --batch` do), then asks the first N questions of tests/data/qa.jsonl, `--rounds`
times over. Reports the median and the 95th percentile of `Answer.timings_ms` (retrieval and
answer), over all the questions of the round with the median median, and for comparison the
model's own time to embed one query in the same process. Goal: median under 100 ms.

`--answerer llm`: the installed local model `--model` (`rag models install NAME`), or the server
of RAG_LLM_BASE_URL, answers N questions of qa.jsonl spread over the file (answerable and
unanswerable ones), each in evidence and in passages mode one after the other, so both modes
share the machine's load. Reports per mode the median and p95 time to the first token and to
the full answer, the prompt tokens the server read (local model), fact recall, refusals and
citation validity, and the passages/evidence ratio of the medians. Goals (issue 10, qwen-1.5b,
evidence mode): median full answer <= 5 s, first token <= 2 s."""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from llm_threads import busy_between, cpu_seconds  # noqa: E402

from rag.evaluate import SourceTexts, citation_valid, fact_recall, load_qa, percentile  # noqa: E402
from rag.kb import KnowledgeBase  # noqa: E402
from rag.settings import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=None, help="default: 50, or 12 with --answerer llm")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--answerer", choices=("extractive", "llm"), default="extractive")
    ap.add_argument("--model", default="local", help="with --answerer llm: the installed model (RAG_LLM_MODEL)")
    ap.add_argument("--modes", default="evidence,passages", help="with --answerer llm: the modes to compare")
    ap.add_argument("--corpus", type=Path, default=REPO / "corpus")
    ap.add_argument("--qa", type=Path, default=REPO / "tests" / "data" / "qa.jsonl")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--web", action="store_true", help="ask through the web app's /chat (bench/web_latency.py)")
    args = ap.parse_args()
    if args.web:
        from web_latency import web_bench

        web_bench(args)
        return
    if args.answerer == "llm":
        llm_bench(args)
        return
    args.questions = args.questions or 50

    with open(args.qa, encoding="utf-8") as fh:
        questions = [json.loads(line)["question"] for line in fh if line.strip()][: args.questions]
    with tempfile.TemporaryDirectory(prefix="rag-latency-") as tmp:
        kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=args.corpus, index_dir=Path(tmp) / "index",
                                             answerer="extractive"))  # not auto: an installed model would answer
        kb.sync(progress=False)
        kb.warm()
        chunks = sum(d.chunks for d in kb.documents())
        embed = []
        for q in questions:
            began = time.perf_counter()
            kb.embedder.embed_query(q)
            embed.append((time.perf_counter() - began) * 1000)
        rounds = []
        for _ in range(args.rounds):
            rounds.append([kb.ask(q).timings_ms for q in questions])
    chosen = sorted(rounds, key=lambda r: statistics.median(t["total"] for t in r))[len(rounds) // 2]

    def stats(key: str) -> dict[str, float]:
        values = [t[key] for t in chosen]
        return {"median_ms": round(statistics.median(values), 1), "p95_ms": round(percentile(values, 95), 1)}

    result = {
        "questions": len(questions),
        "rounds": args.rounds,
        "chunks": chunks,
        "total": stats("total"),
        "retrieve": stats("retrieve"),
        "answer": stats("answer"),
        "embed_query_median_ms": round(statistics.median(embed), 1),
        "round_medians_ms": [round(statistics.median(t["total"] for t in r), 1) for r in rounds],
        "goal_median_under_100ms": statistics.median(t["total"] for t in chosen) < 100,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['questions']} questions x {args.rounds} rounds on {result['chunks']} chunks")
    for key in ("total", "retrieve", "answer"):
        print(f"  {key:<9} median {result[key]['median_ms']:7.1f} ms   p95 {result[key]['p95_ms']:7.1f} ms")
    print(f"  embedding one query alone: median {result['embed_query_median_ms']} ms")
    print(f"  goal (median under 100 ms): {'met' if result['goal_median_under_100ms'] else 'not met'}")


def llm_bench(args: argparse.Namespace) -> None:
    items = load_qa(args.qa)
    step = max(1, math.ceil(len(items) / (args.questions or 12)))
    items = items[::step][: args.questions or 12]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    load = [round(x, 1) for x in os.getloadavg()]
    runs: dict[str, list[dict[str, object]]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(prefix="rag-latency-") as tmp:
        env = {k: v for k, v in os.environ.items() if k.startswith("RAG_LLM_")}
        settings = Settings.from_env(env=env, corpus_dir=args.corpus, index_dir=Path(tmp) / "index",
                                     answerer="llm", llm_model=args.model)
        kb = KnowledgeBase(settings)
        kb.sync(progress=False)
        kb.warm()  # loads the model and reads the system prompt into the server's cache
        a = kb.answerer("llm")
        threads = getattr(getattr(a, "server", None), "threads", None)
        texts = SourceTexts(settings.corpus_dir)
        checks = _time_the_check()
        began = cpu_seconds()
        for item in items:
            for mode in modes:
                a.context = mode  # type: ignore[attr-defined]
                read = _prompt_tokens(a)
                checks.clear()
                answer = kb.ask(item.question)
                t = answer.timings_ms
                runs[mode].append({
                    "question": item.question, "answerable": item.answerable, "abstained": answer.abstained,
                    "first_token_ms": t["first_token"], "total_ms": t["total"], "retrieve_ms": t["retrieve"],
                    "check_ms": sum(checks),
                    "prompt_tokens": None if read is None else _prompt_tokens(a) - read,  # type: ignore[operator]
                    "fact_recall": fact_recall(answer.text, item.answers) if item.answerable and item.answers else None,
                    "citations": len(answer.citations),
                    "valid_citations": sum(citation_valid(c.quote, texts.get(c.source), c.start, c.end)
                                           for c in answer.citations),
                    "unsupported_removed": len(answer.unsupported), "answer": answer.text,
                })
        elsewhere = busy_between(began, cpu_seconds())
    report = {"model": args.model, "questions": len(items), "load_average_before": load,
              "threads": threads, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
              # cores' worth of CPU that other processes used while the questions were asked
              "busy_elsewhere_cores": round(elsewhere, 2),
              "load_average_after": [round(x, 1) for x in os.getloadavg()],
              "modes": {m: _summary(r) for m, r in runs.items()}}
    if len(modes) == 2:
        a_, b_ = (report["modes"][m] for m in modes)  # type: ignore[index]
        report["ratio"] = {k: round(b_[k]["median_ms"] / max(a_[k]["median_ms"], 1e-9), 2)
                           for k in ("first_token", "total")}
    if args.json:
        report["items"] = runs
        print(json.dumps(report, indent=2))
        return
    print(f"{args.model}: {len(items)} questions per mode; load average {load} before, "
          f"{report['load_average_after']} after; other processes used {report['busy_elsewhere_cores']} "
          f"cores meanwhile; local model threads: {report['threads']}, OMP_WAIT_POLICY={report['omp_wait_policy']}")
    for mode, s in report["modes"].items():  # type: ignore[attr-defined]
        print(f"  {mode:<9} first token median {s['first_token']['median_ms'] / 1000:6.1f} s  p95 "
              f"{s['first_token']['p95_ms'] / 1000:6.1f} s | full answer median {s['total']['median_ms'] / 1000:6.1f} s"
              f"  p95 {s['total']['p95_ms'] / 1000:6.1f} s | prompt tokens read {s['prompt_tokens_median']}")
        print(f"            retrieval median {s['retrieve']['median_ms']} ms, check of the reply median "
              f"{s['check_answered_median_ms']} ms (answered questions)")
        print(f"            answered only: first token median {s['first_token_answered_median_ms']} ms, "
              f"full answer median {s['total_answered_median_ms']} ms")
        print(f"            fact recall {s['fact_recall']}, refused unanswerable {s['refused_unanswerable']}, "
              f"false refusals {s['false_refusals']}, citations valid {s['citation_validity']}, "
              f"unsupported sentences removed {s['unsupported_removed']}")
    if "ratio" in report:
        r = report["ratio"]
        print(f"  {modes[1]} / {modes[0]} median: first token x{r['first_token']}, full answer x{r['total']}")  # type: ignore[index]


def _time_the_check() -> list[float]:
    """Milliseconds each call of the reply's check (`rag.answer.llm.finish`) takes, in a list
    that the caller clears before each question."""
    import rag.answer.llm as llm

    spent: list[float] = []
    check = llm.finish

    def timed(*args: object, **kwargs: object) -> object:
        began = time.perf_counter()
        try:
            return check(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            spent.append((time.perf_counter() - began) * 1000)

    llm.finish = timed  # type: ignore[assignment]
    return spent


def _prompt_tokens(answerer: object) -> float | None:
    """Prompt tokens the local server has read so far (cached ones left out)."""
    server = getattr(answerer, "server", None)
    return None if server is None else server.metrics().get("prompt_tokens_total")


def _summary(runs: list[dict[str, object]]) -> dict[str, object]:
    def stats(key: str) -> dict[str, float]:
        values = [float(r[key]) for r in runs]  # type: ignore[arg-type]
        return {"median_ms": round(statistics.median(values), 1), "p95_ms": round(percentile(values, 95), 1)}

    answered = [r for r in runs if not r["abstained"]]
    answerable = [r for r in runs if r["answerable"]]
    unanswerable = [r for r in runs if not r["answerable"]]
    recalls = [float(r["fact_recall"]) for r in answerable if r["fact_recall"] is not None]  # type: ignore[arg-type]
    tokens = [float(r["prompt_tokens"]) for r in runs if r["prompt_tokens"] is not None]  # type: ignore[arg-type]
    cited = sum(int(r["citations"]) for r in runs)  # type: ignore[call-overload]
    return {
        "first_token": stats("first_token_ms"),
        "total": stats("total_ms"),
        "retrieve": stats("retrieve_ms"),
        "check_answered_median_ms": round(statistics.median(
            [float(r["check_ms"]) for r in answered]), 1) if answered else None,  # type: ignore[arg-type]
        # an abstention shows its text at the end: time to the first word of real answers only
        "first_token_answered_median_ms": round(statistics.median(
            [float(r["first_token_ms"]) for r in answered]), 1) if answered else None,  # type: ignore[arg-type]
        "total_answered_median_ms": round(statistics.median(
            [float(r["total_ms"]) for r in answered]), 1) if answered else None,  # type: ignore[arg-type]
        "prompt_tokens_median": statistics.median(tokens) if tokens else None,
        "fact_recall": round(statistics.mean(recalls), 3) if recalls else None,
        "refused_unanswerable": f"{sum(bool(r['abstained']) for r in unanswerable)}/{len(unanswerable)}",
        "false_refusals": f"{sum(bool(r['abstained']) for r in answerable)}/{len(answerable)}",
        "citation_validity": f"{sum(int(r['valid_citations']) for r in runs)}/{cited}",  # type: ignore[call-overload]
        "unsupported_removed": sum(int(r["unsupported_removed"]) for r in runs),  # type: ignore[call-overload]
    }


if __name__ == "__main__":
    main()

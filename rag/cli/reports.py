"""`rag eval` and `rag bench`: run the library's evaluation or benchmark and format its report
(rag.evaluate and rag.benchmark return data; the text for people is made here)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rag.cli.output import emit, say, settings_from
from rag.errors import ConfigError, RagError
from rag.evaluate import abstention_correct

if TYPE_CHECKING:
    from rag.benchmark import BenchReport
    from rag.evaluate import EvalReport


def format_eval(report: EvalReport) -> str:
    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.1f}%"

    rows = [
        ("questions", f"{report.questions} ({report.answerable} answerable)"),
        (f"retrieval recall@{report.k}", pct(report.recall_at_k)),
        ("retrieval MRR", "n/a" if report.mrr is None else f"{report.mrr:.3f}"),
        ("fact recall", pct(report.fact_recall)),
        ("right entry cited", pct(report.entry_cited)),
        ("citation validity", pct(report.citation_validity)),
        ("citation support", pct(report.citation_support)),
        ("abstention accuracy", pct(report.abstention_accuracy)),
        ("  abstained on unanswerable", pct(report.abstained_on_unanswerable)),
        ("  false abstentions", pct(report.false_abstention_rate)),
        ("latency median", f"{report.latency_ms_median:.0f} ms"),
        ("latency p95", f"{report.latency_ms_p95:.0f} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"answerer: {report.answerer}, k={report.k}"]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    wrong = [i for i in report.items if not abstention_correct(i.abstained, i.answerable)]
    if wrong:
        lines.append("\nwrong abstention decisions:")
        for i in wrong:
            verb = "abstained, but answerable" if i.abstained else "answered, but unanswerable"
            lines.append(f"  - {i.question} ({verb})")
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.evaluate import CORPUS_QA, evaluate, load_qa
    from rag.kb import KnowledgeBase

    kb = KnowledgeBase(settings_from(args))
    qa = Path(args.qa) if args.qa else kb.settings.corpus_dir / CORPUS_QA
    if not args.qa and not qa.is_file():
        raise ConfigError(f"no question set given and no {qa}; pass --qa FILE (see docs/eval.md)")
    items = load_qa(qa)
    if not kb.last_sync():
        if not kb.settings.corpus_dir.is_dir():
            raise RagError(f"no corpus at {kb.settings.corpus_dir}; pass --corpus DIR")
        kb.sync(progress=False)
    report = evaluate(kb, items, args.k, args.answerer)
    if args.json:
        emit(report.to_json())
    else:
        say(format_eval(report))
    return 0


def format_bench(report: BenchReport) -> str:
    k = report.k
    lines = [
        f"{report.dataset}: {report.documents} documents, {report.queries} queries, {report.chunks} chunks",
        f"indexed in {report.index_seconds:.1f} s ({report.chunks / max(report.index_seconds, 1e-9):.1f} chunks/s); "
        f"hybrid: dense_weight={report.dense_weight}, rrf_k={report.rrf_k}",
        "",
        f"{'retriever':<14} {'nDCG@' + str(k):>9} {'recall@' + str(k):>10} {'MRR@' + str(k):>8} {'latency':>10}",
    ]
    for name, r in report.retrievers.items():
        m = r.metrics
        lines.append(
            f"{name:<14} {m[f'ndcg@{k}']:>9.3f} {m[f'recall@{k}']:>10.3f} {m[f'mrr@{k}']:>8.3f} "
            f"{r.latency_ms_median:>7.1f} ms"
        )
    return "\n".join(lines)


def cmd_bench(args: argparse.Namespace) -> int:
    from rag.benchmark import run_benchmark

    if not 1 <= args.k <= 100:
        raise ConfigError(f"-k must be between 1 and 100, not {args.k}")
    report = run_benchmark(Path(args.beir), k=args.k, reranker=args.reranker)
    if args.json:
        emit(report.to_json())
    else:
        say(format_bench(report))
    return 0

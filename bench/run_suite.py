"""Run the development suite built by bench/make_suite.py and print one table: per domain and
split, retrieval nDCG@10 (bm25, dense, hybrid) and answer-level results (right entry cited,
facts found, false abstentions, off-topic abstentions, invalid citations, median latency).

    python bench/run_suite.py [bench/data/suite] [--split dev|test|both] [--json]

Each domain's corpus is indexed once under bench/data/work/<domain> (a rerun only checks what
changed). RAG_* variables apply (for example RAG_DENSE_WEIGHT, RAG_ABSTAIN_THRESHOLD).
Tune on the dev split only; report the test split."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.benchmark import score_questions
from rag.evaluate import QAItem, evaluate, load_qa
from rag.kb import KnowledgeBase
from rag.settings import Settings

HERE = Path(__file__).resolve().parent
DOMAINS = ("debian-faq", "git-doc", "sqlite3-doc", "emacs-common", "articles")


def open_domain(suite: Path, domain: str, workdir: Path, embedder: Any = None, warm: bool = True,
                timings: dict[str, Any] | None = None) -> KnowledgeBase:
    """A synced knowledge base over one domain's corpus (never a shared Chroma server); `timings`
    receives the chunks embedded by the sync, its seconds, and the seconds of the warm-up."""
    settings = Settings.from_env(corpus_dir=suite / domain / "corpus", index_dir=workdir / domain)
    kb = KnowledgeBase(replace(settings, chroma_url=None), embedder=embedder)
    kb.embedder.embed_query("warm up")  # model loading is neither indexing nor warm-up time
    report = kb.sync(progress=False)
    began = time.perf_counter()
    if warm:
        kb.warm()  # as `rag serve` does: sentence vectors ahead, so latency is per question
    if timings is not None:
        timings.update(chunks=report.chunks, embedded=report.chunks_embedded, sync_s=round(report.seconds, 1),
                       warm_s=round(time.perf_counter() - began, 1))
        if report.chunks_embedded:
            timings["chunks_per_s"] = round(report.chunks_embedded / report.seconds, 2)
    return kb


def tuned_domains(suite: Path, domains: Iterable[str]) -> Iterator[tuple[str, KnowledgeBase]]:
    """Each domain's knowledge base over the indexes run_suite.py keeps under bench/data/work,
    not warmed, all sharing one embedding model (what the tuning scripts read)."""
    embedder = None
    for domain in domains:
        kb = open_domain(suite, domain, HERE / "data" / "work", embedder, warm=False)
        embedder = kb.embedder
        yield domain, kb


def tuning_parser(doc: str | None) -> argparse.ArgumentParser:
    """The arguments of a tuning script: the suite folder, the split to score (choose on dev),
    the domains, and --json."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", type=Path, nargs="?", default=HERE / "data" / "suite")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS))
    parser.add_argument("--json", action="store_true")
    return parser


def run_split(kb: KnowledgeBase, items: list[QAItem], k: int = 10, answers: bool = True) -> dict[str, Any]:
    questions = {str(n): (i.question, set(i.sources)) for n, i in enumerate(items) if i.answerable and i.sources}
    retrieval = score_questions(kb, questions, k)
    if not answers:
        return {"questions": len(questions), "ndcg@10": {mode: round(r.metrics[f"ndcg@{k}"], 3)
                                                         for mode, r in retrieval.items()}}
    report = evaluate(kb, items)
    wrong_off = [i.question for i in report.items if not i.answerable and not i.abstained]
    missed = [i.question for i in report.items if i.answerable and i.entry_cited is False]
    return {
        "questions": report.answerable,
        "off_topic": report.questions - report.answerable,
        "ndcg@10": {mode: round(r.metrics[f"ndcg@{k}"], 3) for mode, r in retrieval.items()},
        "entry_cited": report.entry_cited,
        "fact_recall": report.fact_recall,
        "false_abstentions": report.false_abstention_rate,
        "off_topic_abstentions": report.abstained_on_unanswerable,
        "invalid_citations": sum(i.citations - i.valid_citations for i in report.items),
        "latency_ms_median": round(report.latency_ms_median, 1),
        "missed": missed,
        "answered_off_topic": wrong_off,
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.0f}%"

    head = (f"{'domain':<13} {'split':<5} {'qs':>4} {'bm25':>6} {'dense':>6} {'hybrid':>6} {'entry':>6} "
            f"{'facts':>6} {'false-abst':>10} {'off-topic':>9} {'bad-cit':>7} {'median':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        n = r["ndcg@10"]
        lines.append(
            f"{r['domain']:<13} {r['split']:<5} {r['questions']:>4} {n['bm25']:>6.3f} {n['dense']:>6.3f} "
            f"{n['hybrid']:>6.3f} {pct(r['entry_cited']):>6} {pct(r['fact_recall']):>6} "
            f"{pct(r['false_abstentions']):>10} {pct(r['off_topic_abstentions']):>9} {r['invalid_citations']:>7} "
            f"{r['latency_ms_median']:>5.0f} ms"
        )
    return "\n".join(lines)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.0f} %"

    lines = ["| domain | split | questions (+ off-topic) | nDCG@10 bm25 | dense | hybrid | right entry cited | "
             "facts in answer | false abstentions | off-topic abstentions | invalid citations | median latency |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        n = r["ndcg@10"]
        lines.append(f"| {r['domain']} | {r['split']} | {r['questions']} (+{r['off_topic']}) | {n['bm25']:.3f} | "
                     f"{n['dense']:.3f} | {n['hybrid']:.3f} | {pct(r['entry_cited'])} | {pct(r['fact_recall'])} | "
                     f"{pct(r['false_abstentions'])} | {pct(r['off_topic_abstentions'])} | {r['invalid_citations']} | "
                     f"{r['latency_ms_median']:.0f} ms |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", type=Path, nargs="?", default=HERE / "data" / "suite")
    parser.add_argument("--split", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS))
    parser.add_argument("--workdir", type=Path, default=HERE / "data" / "work")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-warm", action="store_true",
                        help="embed sentences as questions need them (a slow model's latency then includes that)")
    parser.add_argument("--retrieval-only", action="store_true", help="nDCG@10 only, no answers (JSON rows)")
    parser.add_argument("--from-json", type=Path, help="print the table of an earlier --json run")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list the questions answered wrongly")
    args = parser.parse_args()
    splits = ("dev", "test") if args.split == "both" else (args.split,)
    if args.retrieval_only and not args.json:
        parser.error("--retrieval-only writes JSON rows: add --json")
    rows: list[dict[str, Any]] = json.loads(args.from_json.read_text()) if args.from_json else []
    embedder = None
    for domain in [] if args.from_json else args.domains:
        timings: dict[str, Any] = {}
        kb = open_domain(args.suite, domain, args.workdir, embedder, warm=not args.no_warm, timings=timings)
        embedder = kb.embedder  # one model for all domains
        print(f"{domain} indexed: {timings}", file=sys.stderr)
        for split in splits:
            row = {"domain": domain, "split": split, "index": timings,
                   **run_split(kb, load_qa(args.suite / domain / f"qa-{split}.jsonl"),
                                 answers=not args.retrieval_only)}
            rows.append(row)
            print(f"{domain} {split} done", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(markdown_table(rows) if args.markdown else format_table(rows))
    if args.misses:
        for r in rows:
            for q in r["missed"]:
                print(f"  {r['domain']}/{r['split']} missed: {q}")
            for q in r["answered_off_topic"]:
                print(f"  {r['domain']}/{r['split']} answered off-topic: {q}")


if __name__ == "__main__":
    main()

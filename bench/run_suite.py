"""Run the development suite built by bench/make_suite.py and print one table: per domain and
split, retrieval nDCG@10 (bm25, dense, hybrid) and answer-level results (right entry cited,
facts found, false abstentions, off-topic abstentions, invalid citations, median latency), and
issue 18's checks:

- recall@5: the share of answerable questions whose entry file (the question's sources where it
  has no entry) is among the sources of the top-5 hybrid hits the answerer receives;
- cited when retrieved (answer/recall ratio): of those questions, the share whose answer cites
  that file (goal >= 95 %);
- right file / with all facts: the answer cites one of the target files / and holds every fact
  (question sets with facts: the articles, --qa sets);
- intro first: how many answers (of the questions answered) quote first one of the 3 sentences
  nearest the centroid of all the domain's answerable sentences (goal 0).

    python bench/run_suite.py [bench/data/suite] [--split dev|test|both] [--json] [--markdown]

Writes its rows to bench/results/suite-SPLIT.json (see --save).
    python bench/run_suite.py --qa tests/data/qa_related.jsonl --split dev   # over corpus/

`--qa FILE` runs a question set (JSON Lines; a "split" field of "dev"/"test" selects the
questions of --split, a file without one is run whole as split "all") as a domain named after
the file (qa_related.jsonl: "related") over --qa-corpus (the repository's corpus/).

Each domain's corpus is indexed once under bench/data/work/<domain> (a rerun only checks what
changed). RAG_* variables apply (for example RAG_DENSE_WEIGHT, RAG_ABSTAIN_THRESHOLD).
Tune on the dev split only; report the test split."""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer.units import answer_units
from rag.benchmark import score_questions
from rag.evaluate import (
    EvalReport,
    QAItem,
    Span,
    evaluate,
    in_top_k,
    load_qa,
    nearest_centroid,
    share_given,
    spans_overlap,
)
from rag.kb import KnowledgeBase
from rag.settings import Settings

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DOMAINS = ("debian-faq", "git-doc", "sqlite3-doc", "emacs-common", "articles")
INTRO_SENTENCES = 3  # the sentences nearest a domain's centroid that no answer should start with
RESULTS = HERE / "results"  # committed; bench/render_tables.py renders docs tables from them


def save_result(name: str, data: Any, domains: Iterable[str] = DOMAINS) -> Path:
    """Write a run's results to bench/results/NAME.json with the command that made them and the
    date (the tuning scripts and this one write there; `python bench/render_tables.py` then
    rewrites the docs tables made from them). A run over other domains than the five is saved
    under a name with theirs, so that it never replaces a whole run's file."""
    if list(domains) != list(DOMAINS):
        name = f"{name}-{'-'.join(domains)}"
    command = " ".join(shlex.quote(a) for a in [f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    record = {"command": f"python {command}", "measured": datetime.date.today().isoformat(), "results": data}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"results written to {path}", file=sys.stderr)
    return path


def open_domain(suite: Path, domain: str, workdir: Path, embedder: Any = None, warm: bool = True,
                timings: dict[str, Any] | None = None) -> KnowledgeBase:
    """A synced knowledge base over one domain's corpus (never a shared Chroma server); `timings`
    receives the chunks embedded by the sync, its seconds, and the seconds of the warm-up."""
    return open_corpus(suite / domain / "corpus", workdir / domain, embedder, warm, timings)


def open_corpus(corpus: Path, index: Path, embedder: Any = None, warm: bool = True,
                timings: dict[str, Any] | None = None) -> KnowledgeBase:
    """open_domain's knowledge base over any corpus folder, indexed in `index`."""
    settings = Settings.from_env(corpus_dir=corpus, index_dir=index)
    # the extractive answerer unless RAG_ANSWERER names one: `auto` would measure a model that
    # happens to be installed on this machine
    answerer = "extractive" if settings.answerer == "auto" else settings.answerer
    kb = KnowledgeBase(replace(settings, chroma_url=None, answerer=answerer), embedder=embedder)
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


def intro_sentences(kb: KnowledgeBase, n: int = INTRO_SENTENCES) -> list[tuple[Span, str]]:
    """The n sentences of the indexed chunks nearest the centroid of them all (cosine, the
    embedder's normalised vectors): the units the extractive answerer may quote, each once."""
    kb.lexical.refresh()
    units: dict[Span, str] = {}
    for c in kb.lexical.chunks:
        for s, e in answer_units(c.text, c.section):
            units.setdefault((c.source, c.start + s, c.start + e), c.text[s:e])
    if not units:
        return []
    spans = list(units)
    texts = list(dict.fromkeys(units.values()))
    vectors = dict(zip(texts, kb.embedder.encode(texts), strict=True))
    nearest = nearest_centroid(np.stack([vectors[units[span]] for span in spans]), n)
    return [(spans[i], units[spans[i]]) for i in nearest]


def answer_checks(items: list[QAItem], report: EvalReport, intro: list[Span]) -> dict[str, Any]:
    """Issue 18's figures of one split: recall@k of the target files, the answer/recall ratio,
    right file (with all facts) and the answers whose first quote is an intro sentence."""
    found_cited, with_facts = [], []
    for item, result in zip(items, report.items, strict=True):
        if not (item.answerable and item.targets):
            continue
        cites = any(source in item.targets for source, _s, _e in result.cited)
        found_cited.append((in_top_k(result.retrieved, item.targets, report.k), cites))
        if result.fact_recall is not None:
            with_facts.append(cites and result.fact_recall == 1.0)
    answered = [r for r in report.items if not r.abstained]
    intro_first = [r.question for r in answered
                   if r.cited and any(spans_overlap(r.cited[0], span) for span in intro)]
    return {
        f"recall@{report.k}": share_given([(True, found) for found, _ in found_cited]),
        "cited_when_retrieved": share_given(found_cited),
        "right_file": share_given([(True, cites) for _, cites in found_cited]),
        "right_file_with_facts": share_given([(True, ok) for ok in with_facts]),
        "answered": len(answered),
        "intro_first": len(intro_first),
        "intro_first_questions": intro_first,
    }


def run_split(kb: KnowledgeBase, items: list[QAItem], k: int = 10, answers: bool = True,
              intro: list[Span] | None = None) -> dict[str, Any]:
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
        **answer_checks(items, report, intro or []),
        "missed": missed,
        "answered_off_topic": wrong_off,
    }


def intro_cell(row: dict[str, Any]) -> str:
    """Answers whose first quote is an intro sentence, of the answers ("-" for older rows)."""
    return f"{row['intro_first']}/{row['answered']}" if "intro_first" in row else "-"


def qa_splits(path: Path) -> list[str]:
    """The values of a question file's "split" field, first seen first (["all"] if it has none)."""
    splits = [json.loads(line).get("split") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [str(s) for s in dict.fromkeys(splits) if s is not None] or ["all"]


def qa_sets(path: Path, splits: Iterable[str]) -> dict[str, list[QAItem]]:
    """A --qa file's questions by split: those of `splits` it has, or the whole file as "all"."""
    have = qa_splits(path)
    if have == ["all"]:
        return {"all": load_qa(path)}
    return {split: load_qa(path, split) for split in splits if split in have}


def format_table(rows: list[dict[str, Any]]) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.0f}%"

    head = (f"{'domain':<13} {'split':<5} {'qs':>4} {'bm25':>6} {'dense':>6} {'hybrid':>6} {'entry':>6} "
            f"{'facts':>6} {'false-abst':>10} {'off-topic':>9} {'bad-cit':>7} {'median':>8} "
            f"{'r@5':>5} {'cit|r@5':>7} {'file':>5} {'+facts':>6} {'intro':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        n = r["ndcg@10"]
        lines.append(
            f"{r['domain']:<13} {r['split']:<5} {r['questions']:>4} {n['bm25']:>6.3f} {n['dense']:>6.3f} "
            f"{n['hybrid']:>6.3f} {pct(r['entry_cited']):>6} {pct(r['fact_recall']):>6} "
            f"{pct(r['false_abstentions']):>10} {pct(r['off_topic_abstentions']):>9} {r['invalid_citations']:>7} "
            f"{r['latency_ms_median']:>5.0f} ms {pct(r.get('recall@5')):>5} {pct(r.get('cited_when_retrieved')):>7} "
            f"{pct(r.get('right_file')):>5} {pct(r.get('right_file_with_facts')):>6} {intro_cell(r):>7}"
        )
    return "\n".join(lines)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.0f} %"

    lines = ["| domain | split | questions (+ off-topic) | nDCG@10 bm25 | dense | hybrid | right entry cited | "
             "facts in answer | false abstentions | off-topic abstentions | invalid citations | median latency | "
             "recall@5 | cited when retrieved | right file / with all facts | intro first |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        n = r["ndcg@10"]
        lines.append(f"| {r['domain']} | {r['split']} | {r['questions']} (+{r['off_topic']}) | {n['bm25']:.3f} | "
                     f"{n['dense']:.3f} | {n['hybrid']:.3f} | {pct(r['entry_cited'])} | {pct(r['fact_recall'])} | "
                     f"{pct(r['false_abstentions'])} | {pct(r['off_topic_abstentions'])} | {r['invalid_citations']} | "
                     f"{r['latency_ms_median']:.0f} ms | {pct(r.get('recall@5'))} | "
                     f"{pct(r.get('cited_when_retrieved'))} | {pct(r.get('right_file'))} / "
                     f"{pct(r.get('right_file_with_facts'))} | {intro_cell(r)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", type=Path, nargs="?", default=HERE / "data" / "suite")
    parser.add_argument("--split", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--domains", nargs="*", help=f"default: {' '.join(DOMAINS)} (none with --qa)")
    parser.add_argument("--qa", type=Path, help="a question set to run as one more domain over --qa-corpus")
    parser.add_argument("--qa-corpus", type=Path, default=REPO / "corpus", help="default: the repository's corpus/")
    parser.add_argument("--qa-name", help="the --qa domain's name (default: the file's, without qa_)")
    parser.add_argument("--workdir", type=Path, default=HERE / "data" / "work")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-warm", action="store_true",
                        help="embed sentences as questions need them (a slow model's latency then includes that)")
    parser.add_argument("--retrieval-only", action="store_true", help="nDCG@10 only, no answers (JSON rows)")
    parser.add_argument("--from-json", type=Path, help="print the table of an earlier --json run")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list the questions answered wrongly")
    parser.add_argument("--save", metavar="NAME", help="the results file, bench/results/NAME.json (default: "
                        "suite-SPLIT for the five domains, else the domains' names and the split)")
    args = parser.parse_args()
    splits = ("dev", "test") if args.split == "both" else (args.split,)
    if args.retrieval_only and not args.json:
        parser.error("--retrieval-only writes JSON rows: add --json")
    rows: list[dict[str, Any]] = json.loads(args.from_json.read_text()) if args.from_json else []
    domains = args.domains if args.domains is not None else [] if args.qa else list(DOMAINS)
    runs = [] if args.from_json else [
        (domain, args.suite / domain / "corpus",
         {split: load_qa(args.suite / domain / f"qa-{split}.jsonl") for split in splits})
        for domain in domains]
    if args.qa and not args.from_json:
        runs.append((args.qa_name or args.qa.stem.removeprefix("qa_"), args.qa_corpus, qa_sets(args.qa, splits)))
    embedder = None
    for domain, corpus, sets in runs:
        timings: dict[str, Any] = {}
        kb = open_corpus(corpus, args.workdir / domain, embedder, warm=not args.no_warm, timings=timings)
        embedder = kb.embedder  # one model for all domains
        print(f"{domain} indexed: {timings}", file=sys.stderr)
        intro = [] if args.retrieval_only else intro_sentences(kb)
        for (source, start, end), text in intro:
            print(f"{domain} intro sentence: {source}[{start}:{end}] {text[:100]!r}", file=sys.stderr)
        for split, items in sets.items():
            row = {"domain": domain, "split": split, "index": timings,
                   **run_split(kb, items, answers=not args.retrieval_only, intro=[span for span, _ in intro])}
            if intro:
                row["intro_sentences"] = [{"source": src, "start": s, "end": e, "text": text}
                                          for (src, s, e), text in intro]
            rows.append(row)
            print(f"{domain} {split} done", file=sys.stderr)
    if not args.from_json:
        names = [*domains, *([args.qa_name or args.qa.stem.removeprefix("qa_")] if args.qa else [])]
        default = "suite" if names == list(DOMAINS) else "-".join(names)
        save_result(args.save or f"{default}-{args.split}", rows)
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
            for q in r.get("intro_first_questions", []):
                print(f"  {r['domain']}/{r['split']} intro sentence first: {q}")


if __name__ == "__main__":
    main()

"""Render the docs tables that come from committed results: every block
`<!-- table:NAME -->` ... `<!-- /table -->` in README.md and docs/*.md is rewritten from
bench/results/ (the JSON that bench/tune_*.py and bench/run_suite.py write).

    python bench/render_tables.py            # rewrite the blocks
    python bench/render_tables.py --check    # exit 1 if a block differs from what it renders

tests/test_docs_tables.py runs `--check`: the committed docs match the committed results."""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
BLOCK = re.compile(r"(<!-- table:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)

# the fusion settings docs/benchmarks.md shows, in its order: config name in fusion.json -> row label
FUSION_ROWS = {
    "dense": "dense",
    "bm25-light": "bm25, light stemmer",
    "bm25-snowball": "bm25, Snowball stemmer (the default)",
    "rrf-snowball-w0.7-k60": "RRF w 0.7, k 60 (the old default)",
    "rrf-snowball-w0.5-k60": "RRF w 0.5, k 60",
    "convex-light-w0.7": "convex min-max w 0.7, light",
    "convex-snowball-w0.9": "convex min-max w 0.9",
    "zscore-snowball-w0.9": "convex z-score w 0.9",
    "zscore-snowball-w0.7": "convex z-score w 0.7",
    "adaptive-snowball-g2.0-w0.7": "query-adaptive RRF, gate 2, w 0.7 / 0.95",
    "adaptive-snowball-g1.5-w0.6": "query-adaptive RRF, gate 1.5, w 0.6 / 0.95",
    "rrf-snowball-w0.9-k10": "**RRF w 0.9, k 10, Snowball (the default)**",
}
FUSION_DOMAINS = ("debian-faq", "git-doc", "sqlite3-doc", "emacs-common", "articles")


def results(name: str) -> Any:
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def fusion(split: str) -> str:
    """nDCG@10 of each fusion setting per domain on one half, and the mean (bench/tune_fusion.py)."""
    record = results("fusion")
    table = record["results"]["ndcg@10"]
    lines = [f"Measured {record['measured']} with `{record['command']}`.", "",
             "| retriever | " + " | ".join(FUSION_DOMAINS) + " | mean |",
             "| --- |" + " --- |" * (len(FUSION_DOMAINS) + 1)]
    for config, label in FUSION_ROWS.items():
        cells = [table[config][f"{d}/{split}"] for d in FUSION_DOMAINS]
        lines.append(f"| {label} | " + " | ".join(f"{v:.3f}" for v in cells)
                     + f" | {statistics.fmean(cells):.3f} |")
    return "\n".join(lines) + "\n"


def rows(name: str) -> list[dict[str, Any]]:
    """The rows of a bench/run_suite.py result (a list before `save_result` added its command)."""
    data = results(name)
    return data["results"] if isinstance(data, dict) else data


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"


# the measures a reader-set row shows: (label, key in a bench/run_suite.py row)
READER_MEASURES = (("right entry / file cited", "entry_cited"), ("facts", "fact_recall"),
                   ("right file with all facts", "right_file_with_facts"),
                   ("false abstentions", "false_abstentions"), ("off-topic abstentions", "off_topic_abstentions"))


def rounds(before: str, after: str, names: tuple[str, ...]) -> str:
    """Test halves of two rounds side by side (bench/run_suite.py rows: `{name}_{round}_test.json`)."""
    lines = ["| set | measure | " + before.replace("round", "round ") + " | " + after.replace("round", "round ") + " |",
             "| --- | --- | --- | --- |"]
    for name in names:
        old = {r["domain"]: r for r in rows(f"{name}_{before}_test")} if (RESULTS / f"{name}_{before}_test.json").exists() else {}
        for row in (r for r in rows(f"{name}_{after}_test") if r["split"] == "test"):
            prev = old.get(row["domain"], {})
            for label, key in READER_MEASURES:
                if row.get(key) is not None:
                    lines.append(f"| {row['domain']} | {label} | {_pct(prev.get(key))} | {_pct(row[key])} |")
            if row.get("intro_first") is not None:
                lines.append(f"| {row['domain']} | first sentence one of the 3 nearest the centroid | "
                             f"{prev.get('intro_first', '-')} of {prev.get('answered', '-')} | "
                             f"{row['intro_first']} of {row['answered']} |")
    return "\n".join(lines) + "\n"


def suite(names: tuple[str, ...]) -> str:
    """bench/run_suite.py's Markdown table of the test-half rows of these results."""
    sys.path.insert(0, str(REPO / "bench"))
    from run_suite import markdown_table

    return markdown_table([r for name in names for r in rows(name) if r["split"] == "test"]) + "\n"


TABLES: dict[str, Callable[[], str]] = {
    "suite-test": lambda: suite(("suite_round8_test", "related_round8_test", "paraphrase_round8_test",
                                 "fresh_articles_round8_test", "fresh_related_round8_test",
                                 "fresh2_articles_round8_test", "fresh2_related_round8_test",
                                 "fresh3_articles_round8_test", "fresh3_related_round8_test", "holdout_round8_test")),
    "rounds-3-4-test": lambda: rounds("round3", "round4", ("suite", "related", "paraphrase", "holdout")),
    "rounds-4-5-test": lambda: rounds("round4", "round5", ("suite", "related", "paraphrase", "holdout")),
    "rounds-5-6-test": lambda: rounds("round5", "round6", ("suite", "related", "paraphrase", "fresh_articles",
                                                           "fresh_related", "holdout")),
    "rounds-6-7-test": lambda: rounds("round6", "round7", ("suite", "related", "paraphrase", "fresh_articles",
                                                           "fresh_related", "fresh2_articles", "fresh2_related",
                                                           "holdout")),
    "rounds-7-8-test": lambda: rounds("round7", "round8", ("suite", "related", "paraphrase", "fresh_articles",
                                                           "fresh_related", "fresh2_articles", "fresh2_related",
                                                           "fresh3_articles", "fresh3_related", "holdout")),
    "fusion-dev": lambda: fusion("dev"),
    "fusion-test": lambda: fusion("test"),
}


def render(text: str, where: str) -> str:
    def block(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in TABLES:
            raise SystemExit(f"{where}: unknown table {name!r} (bench/render_tables.py TABLES: {', '.join(TABLES)})")
        return m.group(1) + TABLES[name]() + m.group(4)

    return BLOCK.sub(block, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block is out of date")
    args = parser.parse_args()
    stale = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        new = render(text, str(doc.relative_to(REPO)))
        if new != text:
            stale.append(str(doc.relative_to(REPO)))
            if not args.check:
                doc.write_text(new, encoding="utf-8")
    if args.check and stale:
        print(f"out of date with bench/results/: {', '.join(stale)}; run: python bench/render_tables.py",
              file=sys.stderr)
        sys.exit(1)
    for name in stale if not args.check else []:
        print(f"rewrote {name}", file=sys.stderr)


if __name__ == "__main__":
    main()

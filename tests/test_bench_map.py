"""bench/README.md is the map of the published figures: every script of bench/ and every bench
script that README.md or docs/ cite is in its table, and `make bench` runs commands of it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TABLE = (REPO / "bench" / "README.md").read_text(encoding="utf-8")
ROWS = [line for line in TABLE.splitlines() if line.startswith("| ") and not line.startswith("| ---")][1:]


def test_every_bench_script_has_a_row() -> None:
    scripts = {p.name for p in (REPO / "bench").glob("*.py")}
    in_rows = {name for row in ROWS for name in re.findall(r"bench/(\w+\.py)", row)}
    assert scripts - in_rows == set()
    assert in_rows - scripts == set()  # no row names a script that is gone


def test_every_cited_bench_script_is_mapped() -> None:
    cited = set()
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        cited |= set(re.findall(r"bench/(\w+\.py)", doc.read_text(encoding="utf-8")))
    assert cited and cited <= {name for row in ROWS for name in re.findall(r"bench/(\w+\.py)", row)}


def test_make_bench_runs_the_headline_rows() -> None:
    dry = subprocess.run(["make", "-n", "-W", "pyproject.toml", "bench"], cwd=REPO, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    run = [re.sub(r"^\S*python ", "python ", line.strip()) for line in dry.replace("\\\n", " ").splitlines()
           if "bench/" in line]
    headline = " ".join(row for row in ROWS if row.startswith("| **headline**"))
    assert len(run) >= 5
    for command in run:
        assert " ".join(command.split()) in " ".join(headline.replace("&&", "\n").split()), command

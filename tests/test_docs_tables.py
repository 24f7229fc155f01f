"""The docs tables made from committed results (bench/results/*.json) are what
`python bench/render_tables.py` renders from them: a re-run of a tuning script plus the renderer
updates them, and nobody pastes figures by hand (issue 20)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_committed_docs_tables_match_the_committed_results() -> None:
    text = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for name in ("fusion-dev", "fusion-test"):
        assert f"<!-- table:{name} -->\n" in text, name
    run = subprocess.run([sys.executable, "bench/render_tables.py", "--check"], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_the_check_fails_on_a_table_edited_by_hand(tmp_path: Path) -> None:
    """--check compares, and says which file to render again (on a copy of the repository's docs)."""
    copy = tmp_path / "repo"
    (copy / "docs").mkdir(parents=True)
    (copy / "bench").mkdir()
    (copy / "bench" / "results").symlink_to(REPO / "bench" / "results")
    (copy / "bench" / "render_tables.py").write_bytes((REPO / "bench" / "render_tables.py").read_bytes())
    (copy / "README.md").write_text("", encoding="utf-8")
    text = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    block = text.index("<!-- table:fusion-dev -->")
    edited = text[:block] + text[block:].replace("| dense | 0.", "| dense | 1.", 1)
    (copy / "docs" / "benchmarks.md").write_text(edited, encoding="utf-8")
    run = subprocess.run([sys.executable, "bench/render_tables.py", "--check"], cwd=copy, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1 and "docs/benchmarks.md" in run.stderr
    subprocess.run([sys.executable, "bench/render_tables.py"], cwd=copy, check=True, timeout=120)
    assert (copy / "docs" / "benchmarks.md").read_text(encoding="utf-8") == text

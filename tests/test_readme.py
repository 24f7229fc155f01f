"""The README's Python example runs as written, against a copy of corpus/."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    marker = readme.index("tests/test_readme.py")
    block = re.search(r"```python\n(.*?)```", readme[marker:], re.S)
    assert block, "the README lost its Python example"
    shutil.copytree(REPO / "corpus", tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAG_CORPUS_DIR", raising=False)
    monkeypatch.delenv("RAG_INDEX_DIR", raising=False)
    exec(compile(block.group(1), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "[1]" in out and "defining-divide-open-vs-closed-ai.txt" in out
    assert (tmp_path / ".rag-index" / "manifest.json").exists()

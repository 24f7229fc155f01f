"""The pure functions behind bench/run_suite.py's issue-18 checks: recall@k of the target file,
the answer/recall ratio, the intro sentences nearest a centroid, and a question file's splits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.answer.units import answer_units
from rag.errors import ConfigError
from rag.evaluate import QAItem, in_top_k, load_qa, nearest_centroid, share_given, spans_overlap


def test_targets_are_the_entry_else_the_sources() -> None:
    assert QAItem("q", (), ("a.txt", "b.txt"), True, entry="e.txt").targets == ("e.txt",)
    assert QAItem("q", (), ("a.txt", "b.txt"), True).targets == ("a.txt", "b.txt")


def test_in_top_k_counts_distinct_documents() -> None:
    assert in_top_k(["a", "a", "b"], {"b"}, 2)  # the repeat does not push b out
    assert not in_top_k(["a", "b", "c"], {"c"}, 2)
    assert in_top_k(["a", "b"], {"x", "b"}, 5) and not in_top_k([], {"a"}, 5)


def test_share_given_is_the_answer_recall_ratio() -> None:
    pairs = [(True, True), (True, False), (False, True), (True, True)]
    assert share_given(pairs) == pytest.approx(2 / 3)  # the third pair is not given
    assert share_given([(False, True)]) is None and share_given([]) is None


def test_spans_overlap_only_in_one_source() -> None:
    assert spans_overlap(("a", 0, 10), ("a", 9, 20))
    assert not spans_overlap(("a", 0, 10), ("a", 10, 20))  # touching is no overlap
    assert not spans_overlap(("a", 0, 10), ("b", 0, 10))
    assert spans_overlap(("a", 5, 6), ("a", 0, 10))


def test_nearest_centroid_normalises_first() -> None:
    vectors = np.array([[0.0, 1.0], [0.0, 1.0], [100.0, 0.0], [0.5, 0.866]])
    # the unit vectors' mean points at (0.46, 0.89): the long vector counts no more than the
    # others (the raw mean would point at it), and ties keep their order
    assert nearest_centroid(vectors, 3) == [3, 0, 1]
    assert nearest_centroid(vectors, 10) == [3, 0, 1, 2]


def test_load_qa_keeps_one_split(tmp_path: Path) -> None:
    rows = [{"question": "a?", "split": "dev"}, {"question": "b?", "split": "test"}, {"question": "c?"}]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert [i.question for i in load_qa(path, "dev")] == ["a?"]
    assert [i.question for i in load_qa(path)] == ["a?", "b?", "c?"]
    with pytest.raises(ConfigError, match="split 'other'"):
        load_qa(path, "other")


def test_answer_units_leave_out_headings_and_fragments() -> None:
    text = "Installing\n\nSee below.\n\nRun the installer from the first disc. Answer a few questions."
    units = [text[s:e] for s, e in answer_units(text, "Installing")]
    assert units == ["Run the installer from the first disc.", "Answer a few questions."]

"""What a sync costs when little or nothing changed, and what one document may cost the others
(issue 20 item 6; issue 21 items 1, 4, 10). The attack files are generated here, small and seeded."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ARTICLES, CORPUS, copy_articles
from test_hostile import docx_bytes

import rag.split
import rag.store
from rag.kb import KnowledgeBase
from rag.load import discover, load_file
from rag.split import MAX_CHUNKS, chunk_document, split_document
from rag.store import all_chunks
from rag.types import Document

pytestmark = pytest.mark.timeout(180)
DOCUMENTS = {p.name for p in ARTICLES if not p.name.startswith(".")}  # (the hidden questions are not)

# A sync in a new process, as `rag index` from cron runs it: its report, and which of the heavy
# libraries (the model, the parsers of refused files, the store, BM25) it imported.
SYNC_IN_A_NEW_PROCESS = """
import json, sys
from pathlib import Path
from rag.kb import KnowledgeBase
from rag.settings import Settings
kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2])))
report = kb.sync(progress=False).to_json()
heavy = ("sentence_transformers", "torch", "pypdf", "docx", "chromadb", "bm25s")
print(json.dumps({"report": report, "imported": [m for m in heavy if m in sys.modules]}))
"""


def sync_in_a_new_process(corpus: Path, index: Path) -> tuple[dict, list[str]]:
    out = subprocess.run([sys.executable, "-c", SYNC_IN_A_NEW_PROCESS, str(corpus), str(index)],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    data = json.loads(out)
    return data["report"], data["imported"]


def hostile_corpus(corpus: Path) -> Path:
    """The articles, an unparseable PDF and a DOCX over the paragraph budget."""
    copy_articles(corpus)
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 broken " + random.Random(7).randbytes(64))
    (corpus / "many.docx").write_bytes(docx_bytes("<w:p/>" * 60_000))
    return corpus


def test_no_change_sync_in_a_new_process_parses_nothing_and_loads_no_model(
    make_kb: Callable[..., KnowledgeBase], tmp_path: Path
) -> None:
    corpus = hostile_corpus(tmp_path / "corpus")
    kb = make_kb(corpus)
    first = kb.sync(progress=False)
    reasons = {s.path: s.reason for s in first.skipped}
    assert set(reasons) == {"broken.pdf", "many.docx"} and first.added == len(DOCUMENTS)
    bm25 = (tmp_path / "index" / "lexical" / "current").read_text()

    for _ in range(2):  # the first re-sync hashes the files written just now; the second only stats them
        report, imported = sync_in_a_new_process(corpus, tmp_path / "index")
        assert imported == []  # no model, no parser, not even the store or BM25
        assert (report["added"], report["updated"], report["deleted"], report["unchanged"]) == (0, 0, 0, 2)
        assert report["chunks"] == first.chunks and report["chunks_embedded"] == 0
        assert {s["path"]: s["reason"] for s in report["skipped"]} == reasons  # reported every time
    assert (tmp_path / "index" / "lexical" / "current").read_text() == bm25  # BM25 kept
    assert kb.search("open source AI", k=1)[0].chunk.source in DOCUMENTS


def test_refusals_are_remembered_by_content_across_processes(
    make_kb: Callable[..., KnowledgeBase], tmp_path: Path
) -> None:
    corpus = hostile_corpus(tmp_path / "corpus")
    reasons = {s.path: s.reason for s in make_kb(corpus).sync(progress=False).skipped}
    # the same bytes under another name are refused at once, for the same reason
    shutil.copy(corpus / "many.docx", corpus / "copy.docx")
    report, imported = sync_in_a_new_process(corpus, tmp_path / "index")
    assert "docx" not in imported and "pypdf" not in imported
    assert {s["path"]: s["reason"] for s in report["skipped"]} == {**reasons, "copy.docx": reasons["many.docx"]}
    # new bytes are parsed again (a DOCX: PDFs are parsed in a worker process, whose imports
    # this process does not see)
    (corpus / "many.docx").write_bytes(docx_bytes("<w:p/>" * 60_001))
    report, imported = sync_in_a_new_process(corpus, tmp_path / "index")
    assert "docx" in imported and "pypdf" not in imported
    assert {s["path"] for s in report["skipped"]} == {"broken.pdf", "many.docx", "copy.docx"}


def test_a_changed_file_beside_unchanged_ones_is_the_only_one_parsed(
    make_kb: Callable[..., KnowledgeBase], tmp_path: Path
) -> None:
    corpus = copy_articles(tmp_path / "corpus")
    (corpus / "notes.md").write_text("# Notes\n\nThe lighthouse keeper counts seven ships.\n")
    kb = make_kb(corpus)
    kb.sync(progress=False)
    (corpus / "notes.md").write_text("# Notes\n\nThe lighthouse keeper counts nine ships.\n")
    report = kb.sync(progress=False)
    assert (report.added, report.updated, report.unchanged) == (0, 1, len(DOCUMENTS))
    assert report.chunks_embedded == 1 and report.chunks_deleted == 1
    fresh = make_kb(corpus, index_dir=tmp_path / "fresh")
    fresh.sync(progress=False)
    assert sorted(c.id for c in all_chunks(kb.store)) == sorted(c.id for c in all_chunks(fresh.store))


# -- one document never fails the sync of the others ---------------------------------------------
def notice(paragraphs: int) -> str:
    """A notice heading and one seeded paragraph repeated (issue 21: 1 MB, 1,500 copies)."""
    rng = random.Random(21)
    words = ["licence", "terms", "party", "notice", "rights", "software", "warranty", "use", "copy", "law"]
    paragraph = " ".join(rng.choice(words) for _ in range(90)).capitalize() + "."
    return "Notice\n\n" + (paragraph + "\n\n") * paragraphs


def test_identical_chunk_texts_of_a_document_are_stored_once(
    make_kb: Callable[..., KnowledgeBase], tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notice.txt").write_text(notice(60))
    (corpus / "other.txt").write_text("Tide pools shelter crabs and anemones at low tide.\n")
    report = make_kb(corpus).sync(progress=False)
    assert report.added == 2 and not report.skipped
    texts = [c.text for c in all_chunks(make_kb(corpus).store) if c.source == "notice.txt"]
    assert len(texts) == len(set(texts)) <= 3


def test_a_document_no_search_finds_is_left_out_and_the_others_indexed(
    make_kb: Callable[..., KnowledgeBase], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chroma's bug (chroma-core/chroma#7758) cannot be caused at will: the check is told that
    the chunks of one document stay unfound, as the real check found for a tied document."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bad.txt").write_text("Basalt columns form as lava cools and cracks.\n")
    (corpus / "good.txt").write_text("Honeybees dance to tell the hive where flowers are.\n")
    real = rag.store.unreachable

    def bad_unfound(store: object, ids: list[str]) -> list[str]:
        got = store.get(ids=ids, include=["metadatas"])  # type: ignore[attr-defined]
        bad = [i for i, m in zip(got["ids"], got["metadatas"], strict=True) if m["source"] == "bad.txt"]
        return sorted(set(real(store, ids)) | set(bad))  # type: ignore[arg-type]

    monkeypatch.setattr(rag.store, "unreachable", bad_unfound)
    kb = make_kb(corpus)
    report = kb.sync(progress=False)
    assert [s.path for s in report.skipped] == ["bad.txt"] and "no search finds" in report.skipped[0].reason
    assert report.added == 1 and {c.source for c in all_chunks(kb.store)} == {"good.txt"}
    assert [d.source for d in kb.documents()] == ["good.txt"]
    monkeypatch.undo()
    again = kb.sync(progress=False)  # remembered: not written again until it changes
    assert again.skipped == report.skipped and again.chunks_embedded == 0
    (corpus / "bad.txt").write_text("Basalt columns form as thick lava cools and cracks.\n")
    assert kb.sync(progress=False).added == 1 and {c.source for c in all_chunks(kb.store)} == {"good.txt", "bad.txt"}


# -- chunks per document -------------------------------------------------------------------------
def pairs(n: int) -> str:
    """n heading-and-sentence pairs (issue 21: 403 KB of them made 25,027 chunks)."""
    rng = random.Random(10)
    return "".join(f"Heading {i} {rng.randint(0, 999)}\nShort sentence number {i}.\n\n" for i in range(n))


def test_tiny_sections_are_merged_when_a_document_has_too_many() -> None:
    doc = Document("pairs.txt", pairs(MAX_CHUNKS + 500), "0" * 64)
    assert len(split_document(doc)) > MAX_CHUNKS
    chunks, note = chunk_document(doc, 800, 100)
    assert note == "" and len(chunks) < MAX_CHUNKS / 10
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert "Short sentence number 1234." in " ".join(c.text for c in chunks)  # nothing lost


def test_no_normal_document_is_capped() -> None:
    for path in discover(CORPUS):
        doc = load_file(path, CORPUS)
        assert chunk_document(doc, 800, 100) == (split_document(doc), "")


def test_a_document_over_the_chunk_budget_is_indexed_in_part_with_the_reason(
    make_kb: Callable[..., KnowledgeBase], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rag.split, "MAX_CHUNKS", 3)  # the real budget would embed 2,000 chunks
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = random.Random(4)
    (corpus / "long.txt").write_text("\n\n".join(" ".join(rng.choices(["sun", "rain", "wind", "snow"], k=150))
                                                 for _ in range(6)))
    kb = make_kb(corpus)
    for _ in range(2):  # said again on every sync
        data = kb.sync(progress=False).to_json()
        assert [p["path"] for p in data["partial"]] == ["long.txt"]  # type: ignore[index]
        assert "its first 3 chunks" in data["partial"][0]["reason"]  # type: ignore[index]
        assert data["chunks"] == 3 and data["skipped"] == []

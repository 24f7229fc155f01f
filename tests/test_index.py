"""Incremental sync against a real Chroma in a temp folder, with the packaged model."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import copy_articles

from rag.kb import KnowledgeBase
from rag.store import all_chunks

ARTICLES = Path(__file__).resolve().parent.parent / "corpus"


def chunk_ids(kb: KnowledgeBase) -> list[str]:
    return sorted(c.id for c in all_chunks(kb.store))


def counts(report: object) -> tuple[int, int, int, int]:
    r = report
    return (r.added, r.updated, r.deleted, r.unchanged)  # type: ignore[attr-defined]


def test_add_change_delete_and_no_change_cycle(make_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    copy_articles(corpus)
    (corpus / "notes.md").write_text("# Notes\n\nThe lighthouse keeper counts seven ships.\n\n## Later\n\nA storm came.\n")
    kb = make_kb(corpus)

    first = kb.sync(progress=False)
    assert counts(first) == (3, 0, 0, 0)
    assert first.chunks == len(chunk_ids(kb)) == first.chunks_embedded
    assert not first.skipped

    again = kb.sync(progress=False)
    assert counts(again) == (0, 0, 0, 3)
    assert again.chunks_embedded == 0 and again.chunks_deleted == 0
    assert again.chunks == first.chunks

    # change the end of one document: only the chunks that changed are embedded again
    notes = corpus / "notes.md"
    notes.write_text(notes.read_text().replace("A storm came.", "A storm came at dawn."))
    changed = kb.sync(progress=False)
    assert counts(changed) == (0, 1, 0, 2)
    assert changed.chunks_embedded == 1 and changed.chunks_deleted == 1
    texts = [c.text for c in all_chunks(kb.store) if c.source == "notes.md"]
    assert any("A storm came at dawn." in t for t in texts)
    assert not any(t.endswith("A storm came.") for t in texts)
    assert [h.chunk.source for h in kb.search("storm at dawn", k=1, mode="bm25")] == ["notes.md"]

    # delete a document: its chunks leave both the vector store and BM25
    notes.unlink()
    deleted = kb.sync(progress=False)
    assert counts(deleted) == (0, 0, 1, 2)
    assert {c.source for c in all_chunks(kb.store)} == {p.name for p in ARTICLES.glob("[!.]*.txt")}
    assert all(h.chunk.source != "notes.md" for h in kb.search("lighthouse keeper ships", k=5, mode="bm25"))
    assert deleted.chunks == first.chunks - 2

    # the index equals a clean build of the same corpus: no duplicates, nothing stale
    fresh = make_kb(corpus, index_dir=tmp_path / "fresh")
    fresh.sync(progress=False)
    assert chunk_ids(kb) == chunk_ids(fresh)
    assert sorted(c.id for c in kb.lexical.chunks) == chunk_ids(fresh)


def test_bad_files_are_reported_and_the_rest_indexed(make_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Solar panels convert sunlight into electricity for homes.\n")
    (corpus / "latin1.txt").write_bytes("Le café coûte deux euros à Zürich.\n".encode("latin-1"))
    (corpus / "utf16.md").write_bytes("# Titel\n\nDie Straße führt zum Fluss.\n".encode("utf-16"))
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    (corpus / "broken.docx").write_bytes(b"PK\x03\x04 not really")
    (corpus / "dangling.md").symlink_to(corpus / "missing.md")
    kb = make_kb(corpus)
    report = kb.sync(progress=False)
    skipped = {s.path: s.reason for s in report.skipped}
    assert set(skipped) == {"empty.txt", "binary.txt", "broken.pdf", "broken.docx", "dangling.md"}
    assert all(reason for reason in skipped.values())
    assert report.added == 3
    sources = {c.source for c in all_chunks(kb.store)}
    assert sources == {"good.txt", "latin1.txt", "utf16.md"}
    texts = " ".join(c.text for c in all_chunks(kb.store))
    assert "Le café coûte deux euros à Zürich." in texts
    assert "Die Straße führt zum Fluss." in texts
    assert report.to_json()["skipped"][0].keys() == {"path", "reason"}


def test_a_file_that_turns_corrupt_keeps_what_was_indexed(make_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Glaciers store most of the fresh water on Earth.\n")
    (corpus / "b.txt").write_text("Volcanoes release gases from deep inside the planet.\n")
    kb = make_kb(corpus)
    kb.sync(progress=False)
    before = chunk_ids(kb)
    (corpus / "a.txt").write_bytes(b"\x00\x01\x02" * 100)
    report = kb.sync(progress=False)
    assert [s.path for s in report.skipped] == ["a.txt"]
    assert (report.deleted, report.updated) == (0, 0)
    assert chunk_ids(kb) == before
    assert kb.search("fresh water glaciers", k=1)[0].chunk.source == "a.txt"


def test_dry_run_changes_nothing_and_rebuild_starts_over(make_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    copy_articles(corpus)
    kb = make_kb(corpus)
    plan = kb.sync(dry_run=True, progress=False)
    assert plan.dry_run and counts(plan) == (2, 0, 0, 0)
    assert plan.chunks == 0 and plan.chunks_embedded > 0
    assert not (tmp_path / "index" / "manifest.json").exists()
    done = kb.sync(progress=False)
    assert done.chunks_embedded == plan.chunks_embedded
    (corpus / "extra.txt").write_text("Bees pollinate flowers in spring.\n")
    plan2 = kb.sync(dry_run=True, progress=False)
    assert counts(plan2) == (1, 0, 0, 2) and plan2.chunks_embedded == 1
    assert len(chunk_ids(kb)) == done.chunks
    rebuilt = kb.sync(rebuild=True, progress=False)
    assert counts(rebuilt) == (3, 0, 0, 0)
    assert rebuilt.chunks_embedded == rebuilt.chunks == done.chunks + 1


def test_missing_corpus_folder_is_a_clear_error(make_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    from rag.errors import ConfigError

    kb = make_kb(tmp_path / "corpus")
    shutil.rmtree(tmp_path / "corpus")
    with pytest.raises(ConfigError, match="does not exist"):
        kb.sync(progress=False)


def test_documents_list_and_last_sync(articles_kb: KnowledgeBase) -> None:
    docs = {d.source: d.chunks for d in articles_kb.documents()}
    assert set(docs) == {p.name for p in ARTICLES.glob("[!.]*.txt")}
    assert all(n > 3 for n in docs.values())
    assert sum(docs.values()) == len(all_chunks(articles_kb.store))
    assert articles_kb.last_sync().startswith("20")


def test_sync_reports_progress_over_every_chunk(make_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(3):
        (corpus / f"doc{i}.md").write_text(f"# Doc {i}\n\n" + f"Sentence {i} about rivers and hills. " * 60)
    kb = make_kb(corpus)
    calls: list[tuple[int, int]] = []
    report = kb.sync(progress=False, on_progress=lambda done, total: calls.append((done, total)))
    totals = {total for _, total in calls}
    assert totals == {report.chunks} and report.chunks > 3
    done = [d for d, _ in calls]
    assert done[0] == 0 and done[-1] == report.chunks and done == sorted(done)

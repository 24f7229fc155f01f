"""The store's own guarantees: every chunk a sync writes is found by a search (Chroma's
chroma-core/chroma#7758 hides some), and clients opened from several threads at once work."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_chroma import Chroma

import rag.store
from rag.errors import StoreError
from rag.kb import KnowledgeBase
from rag.settings import Settings
from rag.store import UnreachableChunks, ensure_reachable, fresh_client, unreachable

REPO = Path(__file__).resolve().parent.parent
ZEBRA = "Zebras cross the Mara river every August, and crocodiles wait at the crossings.\n"


class HidingChroma(Chroma):
    """A real collection whose searches never return the chunks of `hide_source` (as Chroma's
    bug does); with `heal`, a chunk is found again once it was written again."""

    hide_source = "zebra.txt"
    heal = True
    rewritten: list[str]

    def similarity_search_by_vector_with_relevance_scores(self, *args: Any, **kwargs: Any) -> Any:
        found = super().similarity_search_by_vector_with_relevance_scores(*args, **kwargs)
        return [(d, s) for d, s in found if d.metadata["source"] != self.hide_source or d.id in self.rewritten]


@pytest.fixture
def hiding(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], list[list[str]]]:
    """Make every store the sync opens a HidingChroma; returns the list of rewrite() calls."""

    def install(heal: bool) -> list[list[str]]:
        calls: list[list[str]] = []

        def vector_store(settings: Settings, embedding: Any, client: Any = None) -> Chroma:
            store = HidingChroma(
                collection_name=settings.collection, embedding_function=embedding,
                client=client if client is not None else fresh_client(settings),
                collection_configuration={"hnsw": {"space": "cosine"}},
            )
            store.heal, store.rewritten = heal, []
            return store

        real_rewrite = rag.store.rewrite

        def rewrite(store: Any, ids: list[str]) -> None:
            calls.append(list(ids))
            real_rewrite(store, ids)
            if store.heal:
                store.rewritten.extend(ids)

        monkeypatch.setattr(rag.store, "vector_store", vector_store)
        monkeypatch.setattr(rag.store, "rewrite", rewrite)
        return calls

    return install


def records(store: Chroma, ids: list[str]) -> dict[str, Any]:
    got = store.get(ids=ids, include=["embeddings", "documents", "metadatas"])
    return {i: (list(map(float, e)), d, m) for i, e, d, m in
            zip(got["ids"], got["embeddings"], got["documents"], got["metadatas"], strict=True)}


def test_a_hidden_chunk_is_found_written_again_once_and_unchanged(
    articles_corpus: Path, make_kb: Callable[..., KnowledgeBase], hiding: Callable[[bool], list[list[str]]]
) -> None:
    kb = make_kb(articles_corpus)
    kb.sync(progress=False)
    (articles_corpus / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    calls = hiding(True)
    report = kb.sync(progress=False)
    assert report.added == 1 and report.chunks_embedded == 1
    assert report.chunks_verified == 1 and report.chunks_repaired == 1
    assert report.to_json()["chunks_repaired"] == 1
    [zebra] = calls[0]
    assert calls == [[zebra]]  # written again once, alone

    # the record is the same as the sync wrote it, and a direct check finds nothing to repair
    store = rag.store.vector_store(kb.settings, kb.embedder)
    before = records(store, [zebra])
    store.rewritten = []
    assert unreachable(store, [zebra]) == [zebra]
    assert ensure_reachable(store, [zebra], "here") == 1
    assert records(store, [zebra]) == before
    assert unreachable(store, [zebra]) == []


def test_a_chunk_that_stays_hidden_fails_the_sync_and_the_next_sync_writes_it_again(
    articles_corpus: Path, make_kb: Callable[..., KnowledgeBase], hiding: Callable[[bool], list[list[str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kb = make_kb(articles_corpus)
    kb.sync(progress=False)
    manifest = (kb.settings.index_dir / "manifest.json").read_bytes()
    (articles_corpus / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    calls = hiding(False)
    with pytest.raises(StoreError, match=r"1 chunks are stored .* no search finds them") as caught:
        kb.sync(progress=False)
    assert isinstance(caught.value, UnreachableChunks) and len(caught.value.ids) == 1
    assert len(calls) == rag.store.REPAIR_ROUNDS
    assert (kb.settings.index_dir / "manifest.json").read_bytes() == manifest  # not recorded as synced

    monkeypatch.undo()
    again = kb.sync(progress=False)
    assert again.added == 1 and again.chunks_embedded == 1 and again.chunks_repaired == 0
    assert kb.search("zebras Mara river", k=1, mode="dense")[0].chunk.source == "zebra.txt"


def test_verify_checks_the_whole_collection(
    articles_corpus: Path, make_kb: Callable[..., KnowledgeBase], hiding: Callable[[bool], list[list[str]]]
) -> None:
    from rag.index import verify

    (articles_corpus / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    kb = make_kb(articles_corpus)
    first = kb.sync(progress=False)
    assert first.chunks_verified == first.chunks_embedded == first.chunks
    hiding(True)
    assert verify(kb.settings, kb.embedder) == (first.chunks, 1)


def test_search_and_sync_right_after_opening_a_knowledge_base(
    tmp_path: Path, make_kb: Callable[..., KnowledgeBase]
) -> None:
    """The first search and a sync, started together in two threads on a new KnowledgeBase,
    both open Chroma clients at once (issue 13, item 8); 20 rounds, no failure."""
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    make_kb(corpus).sync(progress=False)
    failures: list[BaseException] = []

    def run(start: threading.Barrier, job: Callable[[], object]) -> None:
        start.wait()
        try:
            job()
        except BaseException as exc:
            failures.append(exc)

    for round_ in range(20):
        kb = make_kb(corpus)
        start = threading.Barrier(2)
        (corpus / "round.txt").write_text(f"Round {round_} of the start-up race.\n", encoding="utf-8")
        jobs = [lambda: kb.search("What is open source AI?", k=2), lambda: kb.sync(progress=False)]  # noqa: B023
        threads = [threading.Thread(target=run, args=(start, job)) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not failures, failures


@pytest.mark.slow
def test_cli_index_verify_reports_in_json_and_text(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    shutil.copytree(REPO / "corpus", tmp_path / "corpus")
    paths = ["--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")]
    done = subprocess.run([sys.executable, "-m", "rag.cli", "index", "--verify", "--json", *paths],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {"added", "updated", "deleted", "unchanged", "chunks", "seconds"} <= set(report)
    assert report["chunks_verified"] == report["chunks"] > 0 and report["chunks_repaired"] == 0
    text = subprocess.run([sys.executable, "-m", "rag.cli", "index", "--verify", *paths],
                          cwd=REPO, capture_output=True, text=True)
    assert text.returncode == 0, text.stderr
    assert f"verified: {report['chunks']} chunks found by search, 0 of them written again" in text.stdout

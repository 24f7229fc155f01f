"""The store's own guarantees: every chunk a sync writes is found by a search (Chroma's
chroma-core/chroma#7758 hides some), and clients opened from several threads at once work."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_articles
from langchain_chroma import Chroma

import rag.store
from rag.errors import StoreError
from rag.kb import KnowledgeBase
from rag.settings import Settings
from rag.store import UnreachableChunks, ensure_reachable, fresh_client, unreachable
from rag.types import Chunk

ZEBRA = "Zebras cross the Mara river every August, and crocodiles wait at the crossings.\n"


HIDE_SOURCE = "zebra.txt"


@pytest.fixture
def hiding(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], list[list[str]]]:
    """Make every store the sync opens a real collection whose searches never return the chunks
    of HIDE_SOURCE (as Chroma's bug does); with `heal`, a chunk is found again once it was
    written again. Returns the list of rewrite() calls."""

    def install(heal: bool) -> list[list[str]]:
        calls: list[list[str]] = []
        real_vector_store, real_rewrite = rag.store.vector_store, rag.store.rewrite

        def vector_store(settings: Settings, embedding: Any, client: Any = None) -> Chroma:
            store = real_vector_store(settings, embedding, client if client is not None else fresh_client(settings))
            search = store.similarity_search_by_vector_with_relevance_scores

            def hiding_search(*args: Any, **kwargs: Any) -> Any:
                found = search(*args, **kwargs)
                return [(d, s) for d, s in found if d.metadata["source"] != HIDE_SOURCE or d.id in store.rewritten]

            store.similarity_search_by_vector_with_relevance_scores = hiding_search  # type: ignore[method-assign]
            store.heal, store.rewritten = heal, []  # type: ignore[attr-defined]
            return store

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
    store.rewritten = []  # type: ignore[attr-defined]
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


def cut_in_links(segment: Path, elements: int, victim: int) -> None:
    """Remove every level-0 link to element `victim` from a persisted HNSW segment, as #7758
    leaves a record. hnswlib's layout (chromadb 1.5.x, default 16 neighbours): per element, a
    uint16 link count (in 4 bytes), 32 uint32 neighbour slots, the vector, an 8-byte label."""
    import struct

    raw = (segment / "link_lists.bin").read_bytes()  # per element: uint32 size, then upper levels
    pos, upper = 0, []
    for _ in range(elements):
        size = struct.unpack_from("<I", raw, pos)[0]
        upper.append(size)
        pos += 4 + size
    assert pos == len(raw) and upper[victim] == 0, "not the HNSW layout this test knows"
    data = bytearray((segment / "data_level0.bin").read_bytes())
    per = len(data) // elements
    for e in range(elements):
        count = struct.unpack_from("<H", data, e * per)[0]
        links = [x for x in struct.unpack_from(f"<{count}I", data, e * per + 4) if x != victim]
        struct.pack_into("<H", data, e * per, len(links))
        struct.pack_into(f"<{len(links)}I", data, e * per + 4, *links)
    (segment / "data_level0.bin").write_bytes(data)


def test_a_record_no_link_leads_to_is_found_and_linked_again(tmp_path: Path) -> None:
    """A real Chroma collection with a record that HNSW cannot reach (its links cut on disk):
    `unreachable` names exactly it, in any batch, and `ensure_reachable` makes it findable."""
    import numpy as np

    n = 1000  # Chroma writes the HNSW segment to disk at 1,000 records (hnsw sync_threshold)
    settings = Settings.from_env(env={}, corpus_dir=tmp_path, index_dir=tmp_path / "index")
    client = fresh_client(settings)
    collection = client.get_or_create_collection(settings.collection, configuration={"hnsw": {"space": "cosine"}})
    vectors = np.random.default_rng(3).random((n, 8)) - 0.5
    for i in range(0, n, 100):
        collection.add(ids=[f"r{j}" for j in range(i, i + 100)], embeddings=vectors[i : i + 100],
                       documents=[f"record {j}" for j in range(i, i + 100)])
    collection.get(limit=1, include=["embeddings"])
    del client, collection
    [segment] = [p for p in rag.store.chroma_path(settings).iterdir() if p.is_dir()]
    cut_in_links(segment, n, victim=n // 2)

    store = rag.store.vector_store(settings, None, fresh_client(settings))  # loads the cut segment
    got = store.get(include=["embeddings"])
    own = {i: store.similarity_search_by_vector_with_relevance_scores(list(v), k=5)
           for i, v in zip(got["ids"], got["embeddings"], strict=True)}
    hidden = [i for i, found in own.items() if i not in {d.id for d, _ in found}]
    assert len(hidden) == 1  # no search for its own vector finds it
    ids = sorted(got["ids"])
    assert unreachable(store, ids) == hidden
    others = [i for i in ids if i not in hidden]
    for size in (1, 10, 100, 256):
        assert unreachable(store, hidden + others[: size - 1]) == hidden, size
    assert ensure_reachable(store, ids, "here") == 1
    assert unreachable(store, ids) == []
    [vector] = rag.store.embeddings_of(store, hidden).values()
    assert store.similarity_search_by_vector_with_relevance_scores(vector, k=1)[0][0].id == hidden[0]


def write_in_another_process(settings: Settings, ids: list[str], vectors: list[list[float]]) -> None:
    import subprocess
    import sys

    script = (
        "import sys, json, chromadb\n"
        "path, name, ids, vectors = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])\n"
        "chromadb.PersistentClient(path=path).get_collection(name).add(ids=ids, embeddings=vectors, documents=ids)\n"
    )
    import json

    subprocess.run([sys.executable, "-c", script, str(rag.store.chroma_path(settings)), settings.collection,
                    json.dumps(ids), json.dumps(vectors)], check=True, timeout=300)


def test_a_fresh_client_sees_what_another_process_wrote_and_older_clients_keep_working(tmp_path: Path) -> None:
    """The workaround for chroma-core/chroma#3792 (rag.store.detach, with chromadb's public
    clear_system_cache) on the installed chromadb: a client that shares this process's System
    does not find what another process wrote; one from `fresh_client` does; clients opened
    before, of this index and of another, keep working. A chromadb that changes any of this
    fails here (and one that fixes #3792 fails the first assert: the workaround can go)."""
    from rag.store import collection, count, open_client, vector_store

    def nearest(store: Chroma, vector: list[float], k: int = 1) -> list[str | None]:
        return [d.id for d, _ in store.similarity_search_by_vector_with_relevance_scores(vector, k=k)]

    here, other = (Settings.from_env(env={}, corpus_dir=tmp_path, index_dir=tmp_path / name) for name in ("a", "b"))
    elsewhere, first = (vector_store(s, None, fresh_client(s)) for s in (other, here))  # (each clears the registry)
    for store in (first, elsewhere):
        collection(store).add(ids=["old"], embeddings=[[1.0, 0.0, 0.0]], documents=["old"])
        assert nearest(store, [1.0, 0.0, 0.0]) == ["old"]
    write_in_another_process(here, ["new"], [[0.0, 1.0, 0.0]])

    shared = vector_store(here, None, open_client(here))  # this process's System, loaded before the write
    assert "new" not in nearest(shared, [0.0, 1.0, 0.0], 2)
    fresh = vector_store(here, None, fresh_client(here))
    assert nearest(fresh, [0.0, 1.0, 0.0]) == ["new"] and count(fresh) == 2
    for store in (first, elsewhere):  # opened before the registry was cleared
        assert nearest(store, [1.0, 0.0, 0.0]) == ["old"]
    collection(elsewhere).add(ids=["more"], embeddings=[[0.0, 0.0, 1.0]], documents=["more"])
    assert count(elsewhere) == 2 and count(vector_store(other, None, fresh_client(other))) == 2


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
    copy_articles(corpus)
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


def test_cli_index_verify_reports_in_json_and_text(
    tmp_path: Path, embedder: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rag index --verify`, run in this process (it shares the session's loaded model)."""
    import json

    from rag.cli import main

    copy_articles(tmp_path / "corpus")
    paths = ["--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")]
    assert main(["index", "--verify", "--json", *paths]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"added", "updated", "deleted", "unchanged", "chunks", "seconds"} <= set(report)
    assert report["chunks_verified"] == report["chunks"] > 0 and report["chunks_repaired"] == 0
    assert main(["index", "--verify", *paths]) == 0
    assert f"verified: {report['chunks']} chunks found by search, 0 of them written again" in capsys.readouterr().out


def test_bm25_chunks_of_an_index_built_before_the_metadata_format_still_load(tmp_path: Path) -> None:
    from rag.lexical import read_chunks

    (tmp_path / "chunks.jsonl").write_text('["a.txt", "Intro", 3, 8, "hello"]\n', encoding="utf-8")
    assert read_chunks(tmp_path) == [Chunk("a.txt", "Intro", "hello", 3, 8)]

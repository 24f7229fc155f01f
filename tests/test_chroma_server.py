"""The index in a real Chroma server (`chroma run` on 127.0.0.1): sync, search, ask, incremental
re-sync and moving an embedded index there. BM25, the record manager and the manifest stay in
the local index folder and agree with the server."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_articles, free_port, wait_until

from rag.index_folder import record_manager
from rag.kb import KnowledgeBase
from rag.load import load_corpus
from rag.split import split_all
from rag.store import unreachable

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow




@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if chroma is None:
        pytest.skip("the chroma CLI (installed with chromadb) is not on the PATH")
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False

        wait_until(listening, proc, "chroma run",  # (its error output only once it has ended: no blocking read)
                   lambda: proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else "")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


def server_ids(url: str, collection: str) -> list[str]:
    import chromadb

    host, port = url.removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port))
    return sorted(client.get_collection(collection).get(include=[])["ids"])


def expected_ids(kb: KnowledgeBase) -> list[str]:
    docs = [d for d in load_corpus(kb.settings.corpus_dir) if not isinstance(d, Exception)]
    return sorted(c.id for c in split_all(docs, kb.settings.chunk_size, kb.settings.chunk_overlap))


def bm25_ids(kb: KnowledgeBase) -> list[str]:
    kb.lexical.refresh()
    return sorted(c.id for c in kb.lexical.chunks)


def check_consistent(kb: KnowledgeBase, url: str) -> list[str]:
    ids = server_ids(url, kb.settings.collection)
    assert ids == expected_ids(kb)
    assert bm25_ids(kb) == ids
    assert sorted(record_manager(kb.settings).list_keys()) == ids
    index = kb.settings.index_dir
    assert (index / "records.sqlite").is_file() and (index / "manifest.json").is_file()
    assert not (index / "chroma").exists()  # nothing of Chroma's is stored locally
    return ids


def test_sync_search_ask_and_resync_on_a_server(
    chroma_url: str, articles_corpus: Path, make_kb: Callable[..., KnowledgeBase]
) -> None:
    kb = make_kb(articles_corpus, chroma_url=chroma_url, collection="served-kb")
    report = kb.sync(progress=False)
    ids = check_consistent(kb, chroma_url)
    assert report.added == 2 and report.chunks == len(ids) == report.chunks_embedded

    for mode in ("dense", "bm25", "hybrid"):
        hits = kb.search("What does open source AI publish?", k=3, mode=mode)
        assert hits and hits[0].chunk.source.endswith(".txt"), mode
    answer = kb.ask("What is open source AI?")
    assert not answer.abstained and answer.citations

    # incremental: one document added, one changed; only their chunks are embedded
    (articles_corpus / "zebra.txt").write_text("Zebras cross the Mara river every August.\n")
    first = articles_corpus / "open-vs-closed-source-ai.txt"
    first.write_text(first.read_text(encoding="utf-8") + "\nA closing remark about licences.\n")
    again = kb.sync(progress=False)
    assert (again.added, again.updated, again.unchanged) == (1, 1, 1)
    assert 0 < again.chunks_embedded < len(ids)
    # the sync checked what it wrote (and wrote again what Chroma's #7758 hid from queries)
    assert again.chunks_verified == again.chunks_embedded
    ids = check_consistent(kb, chroma_url)
    # right after the sync, every chunk is found by a query, the new document first
    assert unreachable(kb.store, ids) == []
    assert kb.search("zebras Mara river", k=1, mode="dense")[0].chunk.source == "zebra.txt"
    assert kb.search("zebras Mara river", k=1)[0].chunk.source == "zebra.txt"

    quiet = kb.sync(progress=False)
    assert quiet.chunks_embedded == 0 and quiet.chunks_deleted == 0


def test_cli_moves_an_embedded_index_to_the_server(
    chroma_url: str, articles_corpus: Path, make_kb: Callable[..., KnowledgeBase],
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`rag index --chroma-url URL` over a folder that held an embedded index writes every chunk to
    the server; then `rag ask` with RAG_CHROMA_URL answers from it (both run in this process
    through rag.cli.main, sharing the session's model)."""
    from rag.cli import main

    local = make_kb(articles_corpus)
    local.sync(progress=False)
    index = local.settings.index_dir
    paths = ["--corpus", str(articles_corpus), "--index", str(index)]
    assert main(["index", "--json", "--chroma-url", chroma_url, *paths]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    ids = server_ids(chroma_url, local.settings.collection)
    assert ids == expected_ids(local) and report["chunks"] == len(ids) == report["chunks_embedded"]

    monkeypatch.setenv("RAG_CHROMA_URL", chroma_url)
    assert main(["ask", "--json", "What is open source AI?", *paths]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["citations"] and not answer["abstained"]
    # the embedded index is still there and untouched
    assert sorted(local.store.get(include=[])["ids"]) == ids


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    corpus = tmp_path / "corpus"
    copy_articles(corpus)
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "index", "--corpus", str(corpus), "--index", str(tmp_path / "i"),
         "--chroma-url", url],
        cwd=REPO, capture_output=True, text=True,
    )
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "rag: error:" in done.stderr and url in done.stderr


def sources_found(kb: KnowledgeBase, question: str) -> dict[str, set[str]]:
    return {mode: {h.chunk.source for h in kb.search(question, k=3, mode=mode)} for mode in ("bm25", "dense", "hybrid")}


def within(seconds: float, check: Callable[[], bool]) -> float:
    """Seconds until `check()` holds, polling; fails after `seconds`."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < seconds, f"not within {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - began


def test_two_front_ends_on_one_server_see_each_others_changes(
    chroma_url: str, articles_corpus: Path, make_kb: Callable[..., KnowledgeBase], tmp_path: Path
) -> None:
    """Front ends A and B: their own index folders, one corpus folder, one Chroma server. What is
    uploaded through A is found by B in every mode within 5 s, without a sync of B's; a delete
    likewise. (B's BM25 side had stayed as it was until B synced.)"""
    a = make_kb(articles_corpus, chroma_url=chroma_url, collection="two-front-ends", index_dir=tmp_path / "a")
    b = make_kb(articles_corpus, chroma_url=chroma_url, collection="two-front-ends", index_dir=tmp_path / "b")
    a.sync(progress=False)
    b.sync(progress=False)  # what `rag serve` does at start with an empty index folder
    # and a read-only front end (`rag serve --read-only`), which never syncs
    c = make_kb(articles_corpus, chroma_url=chroma_url, collection="two-front-ends", index_dir=tmp_path / "c",
                read_only=True)
    question = "When did the last quagga die in the Amsterdam zoo?"
    assert all("notes/quagga.md" not in found for found in sources_found(b, question).values())

    a.add_file("notes/quagga.md", b"# Quaggas\n\nThe quagga was a subspecies of plains zebra. "
               b"The last quagga died in the Amsterdam zoo in 1883.\n")
    a.sync(progress=False)
    seen = within(5.0, lambda: all("notes/quagga.md" in found for found in sources_found(b, question).values()))
    assert sorted(bm25_ids(b)) == server_ids(chroma_url, "two-front-ends")  # no duplicates, nothing missing
    assert [d.source for d in b.documents()] == [d.source for d in a.documents()]  # B lists it too
    assert "notes/quagga.md" in [d.source for d in b.documents()]
    assert sources_found(c, question) == sources_found(b, question) and len(c.documents()) == 3

    a.delete_file("notes/quagga.md")
    a.sync(progress=False)
    gone = within(5.0, lambda: all("notes/quagga.md" not in found for found in sources_found(b, question).values()))
    assert sorted(bm25_ids(b)) == server_ids(chroma_url, "two-front-ends")
    assert "notes/quagga.md" not in [d.source for d in b.documents()]
    print(f"B saw the upload after {seen:.1f} s and the delete after {gone:.1f} s")

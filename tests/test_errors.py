"""Expected failures end with `rag: error: ...`, a non-zero exit status and no traceback; a
failed sync leaves the index as it was."""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from conftest import copy_articles

from rag.errors import ConfigError, StoreError
from rag.index_folder import Manifest
from rag.kb import KnowledgeBase
from rag.settings import Settings

REPO = Path(__file__).resolve().parent.parent
# Root ignores file permissions; without these capabilities it does not.
NO_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


def rag(
    args: Sequence[str],
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "rag.cli", *args],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, **(env or {})}, preexec_fn=preexec_fn,
    )


def assert_clean_failure(done: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    assert done.returncode == status, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    assert "rag: error: " in done.stderr
    message = done.stderr.split("rag: error: ", 1)[1].lower()
    for word in words:
        assert word.lower() in message, done.stderr


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (["search", "what is open AI?"], 3, ["no index", "rag index"]),
        (["ask", "what is open AI?"], 3, ["no index", "rag index"]),
        (["ask", "what?", "-k", "-3"], 2, ["-k", "positive"]),
        (["search", "what?", "-k", "0"], 2, ["-k", "positive"]),
        (["ask", "what?", "--answerer", "oracle"], 2, ["unknown answerer", "extractive"]),
        (["index", "--corpus", "{tmp}/nowhere"], 2, ["does not exist", "--corpus"]),
        (["ask", "what?", "--chroma-url", "ftp://x"], 2, ["RAG_CHROMA_URL", "http://host:port"]),  # a setting: ConfigError
    ],
)
def test_cli_failures_are_clear(tmp_path: Path, args: list[str], status: int, words: list[str]) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args] + ["--index", str(tmp_path / "index")]
    assert_clean_failure(rag(args), status, *words)


@pytest.mark.parametrize(
    ("var", "value", "words"),
    [("RAG_K", "-2", ["k must be"]), ("RAG_K", "many", ["not a valid int"]), ("RAG_ANSWERER", "x", ["answerer"]),
     ("RAG_CHUNK_SIZE", "5", ["chunk size"])],
)
def test_bad_settings_from_environment(tmp_path: Path, var: str, value: str, words: list[str]) -> None:
    done = rag(["search", "q", "--index", str(tmp_path)], env={var: value})
    assert_clean_failure(done, 2, *words)
    with pytest.raises(ConfigError):
        Settings.from_env(env={var: value})


@pytest.fixture
def synced(tmp_path: Path, make_kb: Callable[..., KnowledgeBase]) -> KnowledgeBase:
    corpus = tmp_path / "corpus"
    copy_articles(corpus)
    kb = make_kb(corpus)
    kb.sync(progress=False)
    return kb


def _chmod_tree(root: Path, writable: bool) -> None:
    for p in [root, *root.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.mark.slow
def test_read_only_index_folder(synced: KnowledgeBase) -> None:
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    prefix = NO_OVERRIDE if os.geteuid() == 0 else []
    s = synced.settings
    (s.corpus_dir / "new.txt").write_text("A new document that cannot be indexed yet.\n")
    manifest = (s.index_dir / "manifest.json").read_bytes()
    _chmod_tree(s.index_dir, writable=False)
    try:
        paths = ["--corpus", str(s.corpus_dir), "--index", str(s.index_dir)]
        assert_clean_failure(rag(["index", *paths], prefix), 3, "not writable", "--index")
        assert_clean_failure(rag(["search", "open source", *paths], prefix), 3, "not writable", "permissions")
    finally:
        _chmod_tree(s.index_dir, writable=True)
    assert (s.index_dir / "manifest.json").read_bytes() == manifest
    assert synced.search("open source", k=2)


@pytest.mark.slow
def test_disk_full_during_a_sync(tmp_path: Path, make_kb: Callable[..., KnowledgeBase],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A sync whose writes fail (file size limit: the kernel's EFBIG, like a full disk) stops with
    a clear message; the next sync with room (`rag index` in this process, with the session's
    model) completes the index exactly."""
    from rag.cli import main

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    copy_articles(corpus)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    done = rag(["index", "--corpus", str(corpus), "--index", str(index)], preexec_fn=limit)
    assert_clean_failure(done, 3, "disk may be full", "rag index")
    assert not (index / "manifest.json").exists()

    assert main(["index", "--json", "--corpus", str(corpus), "--index", str(index)]) == 0
    again = json.loads(capsys.readouterr().out)
    kb = make_kb(corpus)
    from rag.load import load_corpus
    from rag.split import split_all

    docs = [d for d in load_corpus(corpus) if not isinstance(d, Exception)]
    expected = sorted(c.id for c in split_all(docs, kb.settings.chunk_size, kb.settings.chunk_overlap))
    assert sorted(kb.store.get(include=[])["ids"]) == expected
    assert again["chunks"] == len(expected)


@pytest.mark.parametrize("stage", ["lexical", "manifest"])
def test_no_space_left_keeps_the_last_good_index(
    synced: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    """ENOSPC while writing the BM25 index or the manifest: StoreError, and what readers see
    (BM25 build, manifest) is still the last complete one; the next sync succeeds."""
    s = synced.settings
    (s.corpus_dir / "extra.txt").write_text("Lighthouse keepers trimmed the lamps at dusk.\n")
    manifest = (s.index_dir / "manifest.json").read_bytes()
    current = (s.index_dir / "lexical" / "current").read_text()

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def half_written(self: Manifest, index_dir: Path) -> None:
        (index_dir / "manifest.json.tmp").write_text('{"documents": {"a')
        full()

    if stage == "lexical":
        monkeypatch.setattr("bm25s.BM25.save", full)
    else:
        monkeypatch.setattr(Manifest, "write", half_written)
    with pytest.raises(StoreError, match="disk may be full"):
        synced.sync(progress=False)
    monkeypatch.undo()
    assert (s.index_dir / "manifest.json").read_bytes() == manifest
    if stage == "lexical":
        assert (s.index_dir / "lexical" / "current").read_text() == current
    assert synced.search("open source", k=2)

    report = synced.sync(progress=False)
    assert report.added == 1
    assert synced.search("lighthouse lamps at dusk", k=1, mode="bm25")[0].chunk.source == "extra.txt"


# -- a damaged index folder (issue 13, item 9) ------------------------------------------------
@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Path:
    """An index of the repository's corpus, built once; tests damage copies of it."""
    root = tmp_path_factory.mktemp("built")
    copy_articles(root / "corpus")
    kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=root / "corpus", index_dir=root / "index"),
                       embedder=embedder)
    kb.sync(progress=False)
    return root


@pytest.fixture
def damaged(built_index: Path, tmp_path: Path, make_kb: Callable[..., KnowledgeBase]) -> KnowledgeBase:
    """A KnowledgeBase over a copy of the built index, to damage."""
    shutil.copytree(built_index / "index", tmp_path / "index")
    return make_kb(built_index / "corpus")


def one_line_failure(done: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    """`rag: error: ...` as the only line on standard error (besides the model's load bar)."""
    assert_clean_failure(done, status, *words)
    lines = [line for line in done.stderr.splitlines() if line.strip() and "Loading weights" not in line]
    assert len(lines) == 1, done.stderr


def cli(kb: KnowledgeBase, *args: str) -> subprocess.CompletedProcess[str]:
    return rag([*args, "--corpus", str(kb.settings.corpus_dir), "--index", str(kb.settings.index_dir)])


@pytest.mark.slow
def test_rebuild_recovers_from_random_bytes_in_the_chroma_database(
    damaged: KnowledgeBase, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.cli import main

    (damaged.settings.index_dir / "chroma" / "chroma.sqlite3").write_bytes(os.urandom(8192))
    one_line_failure(cli(damaged, "index"), 3, "rag index --rebuild")
    # the rebuild as `rag index` in this process, with the session's model
    paths = ["--corpus", str(damaged.settings.corpus_dir), "--index", str(damaged.settings.index_dir)]
    assert main(["index", "--rebuild", "--json", *paths]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["chunks"] == report["chunks_embedded"] == report["chunks_verified"] > 0
    assert damaged.search("open source", k=1)


@pytest.mark.slow
def test_an_unsearchable_collection_says_to_rebuild(damaged: KnowledgeBase) -> None:
    """With its vector segment folder deleted, a collection still counts its records but cannot
    be searched; `rag index` says so instead of reporting success."""
    import chromadb
    import numpy as np

    # Chroma writes the vector segment to disk once it holds 1,000 records (hnsw sync_threshold)
    client = chromadb.PersistentClient(path=str(damaged.settings.index_dir / "chroma"))
    collection = client.get_collection(damaged.settings.collection)
    filler = np.random.default_rng(0).random((1000, 384)).tolist()
    collection.add(ids=[f"filler-{i}" for i in range(1000)], embeddings=filler,
                   documents=["filler"] * 1000, metadatas=[{"source": "x", "start": 0, "end": 1}] * 1000)
    collection.get(limit=1, include=["embeddings"])
    segments = [p for p in (damaged.settings.index_dir / "chroma").iterdir() if p.is_dir()]
    assert segments
    for p in segments:
        shutil.rmtree(p)
    one_line_failure(cli(damaged, "index"), 3, "cannot be searched", "rag index --rebuild")
    report = damaged.sync(rebuild=True, progress=False)
    assert report.added == 2 and report.chunks == report.chunks_embedded
    assert damaged.search("open source", k=1, mode="dense")


def test_a_manifest_of_the_wrong_type_reads_as_missing(damaged: KnowledgeBase) -> None:
    (damaged.settings.index_dir / "manifest.json").write_text("[1, 2, 3]")
    assert damaged.documents() == []
    report = damaged.sync(progress=False)
    assert report.added == 2 and report.chunks_embedded == 0  # the records still know every chunk
    assert len(damaged.documents()) == 2


@pytest.mark.slow
def test_damaged_bm25_files_say_to_run_rag_index(damaged: KnowledgeBase) -> None:
    lexical = damaged.settings.index_dir / "lexical"
    build = lexical / (lexical / "current").read_text().strip()
    (build / "bm25" / "params.index.json").write_text("[]")
    one_line_failure(cli(damaged, "search", "open source"), 3, "bm25", "run `rag index`")
    damaged.sync(progress=False)  # builds them again
    assert damaged.search("open source", k=1, mode="bm25")


def test_rebuild_refuses_a_folder_that_is_not_an_index(damaged: KnowledgeBase) -> None:
    mine = damaged.settings.index_dir / "thesis.tex"
    mine.write_text("not the index's")
    with pytest.raises(ConfigError, match="does not look like an index folder"):
        damaged.sync(rebuild=True, progress=False)
    assert mine.read_text() == "not the index's"
    assert damaged.search("open source", k=1)


def test_a_search_that_fails_in_the_store_reopens_it_once(
    damaged: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One store failure: the index is reopened and the search retried; a second one is a
    StoreError that says what failed."""
    from rag.retrieve import HybridRetriever

    real = HybridRetriever.hits
    failures = {"left": 1}

    def flaky(self: HybridRetriever, *args: object, **kwargs: object) -> object:
        if failures["left"]:
            failures["left"] -= 1
            raise OSError(errno.EIO, "Input/output error")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(HybridRetriever, "hits", flaky)
    first = damaged.store
    assert damaged.search("open source", k=1)
    assert damaged.store is not first and not failures["left"]
    failures["left"] = 2
    with pytest.raises(StoreError, match="searching the index failed"):
        damaged.search("open source", k=1)
    assert not failures["left"]

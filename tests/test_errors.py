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
from rag.index import Manifest
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
        (["ask", "what?", "--chroma-url", "ftp://x"], 3, ["http://host:port"]),
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
def test_disk_full_during_a_sync(tmp_path: Path, make_kb: Callable[..., KnowledgeBase]) -> None:
    """A sync whose writes fail (file size limit: the kernel's EFBIG, like a full disk) stops with
    a clear message; the next sync with room completes the index exactly."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    copy_articles(corpus)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    done = rag(["index", "--corpus", str(corpus), "--index", str(index)], preexec_fn=limit)
    assert_clean_failure(done, 3, "disk may be full", "rag index")
    assert not (index / "manifest.json").exists()

    again = rag(["index", "--json", "--corpus", str(corpus), "--index", str(index)])
    assert again.returncode == 0, again.stderr
    kb = make_kb(corpus)
    from rag.load import load_corpus
    from rag.split import split_all

    docs = [d for d in load_corpus(corpus) if not isinstance(d, Exception)]
    expected = sorted(c.id for c in split_all(docs, kb.settings.chunk_size, kb.settings.chunk_overlap))
    assert sorted(kb.store.get(include=[])["ids"]) == expected
    assert json.loads(again.stdout)["chunks"] == len(expected)


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

"""Shared fixtures: one loaded embedding model per test session, real Chroma in temp folders."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# ranx (the metrics `rag bench` reports and tests/test_eval.py checks against) is numba code:
# compiling it took ~35 s per process, while the same functions run interpreted on a handful
# of queries in milliseconds, with the same results. Nothing else the tests run uses numba.
os.environ.setdefault("NUMBA_DISABLE_JIT", "1")

from rag.embed import Embedder
from rag.kb import KnowledgeBase
from rag.settings import Settings

# The user's cache folder, where `rag models install` records local models by default
# (rag.models.models_dir), is an empty temporary folder for the tests and the commands they
# start: a model a developer installed by hand must not turn the default answerer (auto) into
# the llm answerer. Tests that want a model install one into a folder of their own, or set
# RAG_LLM_BASE_URL; the variables that choose an answerer are not taken from the shell either.
TEST_CACHE = Path(tempfile.mkdtemp(prefix="rag-tests-cache-"))
os.environ["XDG_CACHE_HOME"] = str(TEST_CACHE)
atexit.register(shutil.rmtree, TEST_CACHE, True)
for _var in ("RAG_ANSWERER", "RAG_ANSWERERS", "RAG_LLM_BASE_URL", "RAG_LLM_MODEL", "RAG_MODELS_DIR"):
    os.environ.pop(_var, None)

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
DATA = Path(__file__).resolve().parent / "data"
# The two articles at the top of corpus/ (and its hidden example questions); the related sources
# under corpus/related/ are left out so that most tests embed a small corpus.
ARTICLES = sorted(p for p in CORPUS.iterdir() if p.is_file())


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen[Any], what: str, log: Callable[[], str],
               seconds: float = 300) -> None:
    """Poll `ready()` until it holds; fail, with `log()`, when `proc` ends first or after `seconds`
    (a cold start on a busy 2-core machine takes tens of seconds)."""
    deadline = time.monotonic() + seconds
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"{what} exited: {log()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not start within {seconds:.0f} s: {log()}")
        time.sleep(0.2)  # the poll interval, not a wait for something to happen


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for servers the tests start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def copy_articles(target: Path) -> Path:
    """Copy the two articles of corpus/ into `target` (created) and return it."""
    target.mkdir(parents=True, exist_ok=True)
    for path in ARTICLES:
        shutil.copy(path, target / path.name)
    return target


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The packaged all-MiniLM-L6-v2, loaded once for the whole session."""
    e = Embedder()
    e.embed_query("warm up")
    return e


@pytest.fixture
def make_kb(tmp_path: Path, embedder: Embedder) -> Callable[..., KnowledgeBase]:
    """Build a KnowledgeBase over a corpus folder in tmp_path, sharing the session's model."""

    def make(corpus: Path | None = None, **overrides: object) -> KnowledgeBase:
        corpus = corpus or tmp_path / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        overrides.setdefault("index_dir", tmp_path / "index")
        settings = Settings.from_env(env={}, corpus_dir=corpus, **overrides)
        kb = KnowledgeBase(settings, embedder=embedder)
        return kb

    return make


@pytest.fixture
def articles_corpus(tmp_path: Path) -> Path:
    """A copy of the repository's corpus/ (the two articles)."""
    return copy_articles(tmp_path / "corpus")


@pytest.fixture(scope="session")
def full_kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> KnowledgeBase:
    """A synced knowledge base over the whole corpus/ (the articles and the related sources),
    shared by read-only tests."""
    root = tmp_path_factory.mktemp("full")
    shutil.copytree(CORPUS, root / "corpus")
    kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=root / "corpus", index_dir=root / "index"),
                       embedder=embedder)
    kb.sync(progress=False)
    return kb


@pytest.fixture(scope="session")
def articles_kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> KnowledgeBase:
    """A synced knowledge base over the two articles, shared by read-only tests."""
    root = tmp_path_factory.mktemp("articles")
    copy_articles(root / "corpus")
    settings = Settings.from_env(env={}, corpus_dir=root / "corpus", index_dir=root / "index")
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.sync(progress=False)
    return kb

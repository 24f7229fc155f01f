"""A real `rag index` process is SIGKILLed at several points of a sync; the index keeps
answering, and the next sync leaves exactly what a clean sync of the same corpus holds."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import copy_articles

from rag.kb import KnowledgeBase
from rag.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SMALL = {"chunk_size": 200, "chunk_overlap": 20}  # many small chunks
ENV_SMALL = {"RAG_CHUNK_SIZE": "200", "RAG_CHUNK_OVERLAP": "20"}

WORDS = ["river", "stone", "lantern", "harbor", "orchard", "compass", "meadow", "signal", "copper", "falcon", "garden", "violin", "glacier", "thunder", "pepper", "saddle", "marble", "candle", "anchor", "canyon", "willow", "ember", "parcel", "tunnel", "beacon", "ledger", "prism", "quarry", "ribbon", "summit", "timber", "velvet", "walnut", "yarrow", "zephyr", "basalt"]

# Runs `rag index` in a child process, stopping it at one point (it writes the marker file, then
# sleeps) so the test can SIGKILL it exactly there.
DRIVER = r"""
import sys, time
from pathlib import Path

point, marker = sys.argv[1], Path(sys.argv[2])
calls = {"n": 0}
import rag.index
rag.index.BATCH_SIZE = 8  # many small steps, so there is a "middle" to kill in

def hang(tag):
    marker.write_text(tag)
    time.sleep(3600)

def nth(n):
    calls["n"] += 1
    return calls["n"] == n

if point == "embed":  # the second embedding batch: the first is already written
    from rag.embed import Embedder
    embed = Embedder.embed_documents
    def patched(self, texts):
        if nth(2):
            hang(point)
        return embed(self, texts)
    Embedder.embed_documents = patched
elif point in ("write", "race"):
    from chromadb.api.models.Collection import Collection
    upsert = Collection.upsert
    def patched(self, **kw):
        if point == "race":  # kill while Chroma writes the second batch, wherever it is
            if nth(2):
                marker.write_text(point)
            return upsert(self, **kw)
        if nth(2):  # half of the second batch written, then killed
            half = len(kw["ids"]) // 2
            upsert(self, **{k: v[:half] for k, v in kw.items()})
            hang(point)
        return upsert(self, **kw)
    Collection.upsert = patched
elif point == "records":  # Chroma written, the record manager not yet told
    from langchain_classic.indexes import SQLRecordManager
    update = SQLRecordManager.update
    def patched(self, *a, **kw):
        if nth(2):
            hang(point)
        return update(self, *a, **kw)
    SQLRecordManager.update = patched
elif point == "delete":  # half of the vanished chunks deleted
    from langchain_chroma import Chroma
    delete = Chroma.delete
    def patched(self, ids=None, **kw):
        delete(self, ids=ids[: len(ids) // 2], **kw)
        hang(point)
    Chroma.delete = patched
elif point == "lexical":  # every Chroma write done, BM25 and manifest not
    rag.index.lexical.build = lambda chunks, root: hang(point)
elif point == "manifest":  # BM25 switched, manifest not written
    from rag.index_folder import Manifest
    Manifest.write = lambda self, index_dir: hang(point)

from rag.cli import main
sys.exit(main(sys.argv[3:]))
"""


def prose(seed: int, paragraphs: int) -> str:
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 30)))
        out.append(sentence.capitalize() + ".")
    return "\n\n".join(out) + "\n"


def write_base(corpus: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    copy_articles(corpus)
    (corpus / "a.txt").write_text(prose(1, 6), encoding="utf-8")
    (corpus / "b.md").write_text("# Bees\n\n" + prose(2, 3) + "\n## Wasps\n\n" + prose(3, 3), encoding="utf-8")


def write_update(corpus: Path) -> None:
    """Changes every kind of thing: one document changed, one deleted, one added, one the same."""
    first = corpus / "defining-divide-open-vs-closed-ai.txt"
    first.write_text("A new opening paragraph moves every offset.\n\n" + first.read_text(encoding="utf-8"))
    (corpus / "a.txt").unlink()
    (corpus / "c.txt").write_text(prose(4, 12), encoding="utf-8")


def chroma_ids(kb: KnowledgeBase) -> list[str]:
    return sorted(kb.store.get(include=[])["ids"])


def bm25_ids(index_dir: Path) -> list[str]:
    from rag.lexical import read_chunks

    root = index_dir / "lexical"
    version = (root / "current").read_text(encoding="utf-8").strip()
    return [c.id for c in read_chunks(root / version)]


def manifest_docs(index_dir: Path) -> dict[str, object]:
    """The manifest's documents, without the stamps of the files (size, time, inode: they differ
    between two copies of a corpus)."""
    docs = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["documents"]
    return {source: {k: v for k, v in entry.items() if k != "stamp"} for source, entry in docs.items()}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> tuple[list[str], dict[str, object]]:
    """Chunk ids and manifest of a clean sync of the updated corpus, in its own folder."""
    root = tmp_path_factory.mktemp("clean")
    write_base(root / "corpus")
    write_update(root / "corpus")
    kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=root / "corpus", index_dir=root / "index", **SMALL), embedder=embedder)
    report = kb.sync(progress=False)
    ids = chroma_ids(kb)
    assert report.chunks == len(ids) > 8 * 4
    assert sorted(bm25_ids(root / "index")) == ids
    return ids, manifest_docs(root / "index")


@pytest.fixture(scope="module")
def synced_base(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Path:
    """The base corpus and its synced index, built once; each test syncs on a copy of both."""
    root = tmp_path_factory.mktemp("base")
    write_base(root / "corpus")
    KnowledgeBase(Settings.from_env(env={}, corpus_dir=root / "corpus", index_dir=root / "index", **SMALL),
                  embedder=embedder).sync(progress=False)
    return root


def run_killed(point: str, corpus: Path, index: Path, tmp_path: Path) -> None:
    """Start `rag index` in a child process, wait until it reaches `point`, SIGKILL it."""
    marker = tmp_path / f"reached-{point}"
    env = {**os.environ, **ENV_SMALL, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-c", DRIVER, point, str(marker), "index", "--corpus", str(corpus), "--index", str(index)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    deadline = time.monotonic() + 600  # a sync of the small corpus reaches any point in seconds
    try:
        while not marker.exists():
            assert time.monotonic() < deadline, f"the sync did not reach {point} in 600 s"
            if proc.poll() is not None:
                _out, err = proc.communicate()
                pytest.fail(f"the sync ended (status {proc.returncode}) before reaching {point}:\n{err.decode()}")
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize("point", ["embed", "write", "race", "records", "delete", "lexical", "manifest"])
def test_killed_sync_is_completed_by_the_next(
    point: str,
    tmp_path: Path,
    make_kb: Callable[..., KnowledgeBase],
    clean: tuple[list[str], dict[str, object]],
    synced_base: Path,
) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(synced_base / "corpus", corpus)  # the base corpus, synced in-process
    shutil.copytree(synced_base / "index", index)
    before = manifest_docs(index)
    write_update(corpus)

    run_killed(point, corpus, index, tmp_path)

    # Killed: the index still answers, from whatever state it was left in.
    survivor = make_kb(corpus, **SMALL)
    hits = survivor.search("open source models publish their weights", k=3)
    assert hits and all(h.chunk.text for h in hits)
    assert survivor.ask("What is open source AI?").text
    if point != "manifest":
        assert manifest_docs(index) == before  # the manifest is all-or-nothing

    # The next sync completes it: exactly the chunks of a clean sync, none twice, none stale.
    report = make_kb(corpus, **SMALL).sync(progress=False)
    clean_ids, clean_manifest = clean
    fresh = make_kb(corpus, **SMALL)
    ids = fresh.store.get(include=[])["ids"]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == clean_ids
    lexical_ids = bm25_ids(index)
    assert len(lexical_ids) == len(set(lexical_ids))
    assert sorted(lexical_ids) == clean_ids
    assert manifest_docs(index) == clean_manifest
    assert report.chunks == len(clean_ids)
    assert sorted(r for r in _record_keys(fresh)) == clean_ids
    assert [p.name for p in (index / "lexical").iterdir() if p.is_dir()] == [
        (index / "lexical" / "current").read_text().strip()
    ]
    # and the new document is searchable, the deleted one is gone
    sources = {h.chunk.source for h in fresh.search("glacier thunder pepper saddle", k=10, mode="bm25")}
    assert "c.txt" in sources and "a.txt" not in sources


def _record_keys(kb: KnowledgeBase) -> list[str]:
    from rag.index_folder import record_manager

    return list(record_manager(kb.settings).list_keys())


@pytest.mark.slow
def test_killed_first_sync_then_cli_resume(tmp_path: Path, make_kb: Callable[..., KnowledgeBase],
                                           clean: tuple[list[str], dict[str, object]]) -> None:
    """A first sync killed half-way, then completed by a real `rag index` process."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write_base(corpus)
    write_update(corpus)
    run_killed("write", corpus, index, tmp_path)
    env = {**os.environ, **ENV_SMALL}
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "index", "--json", "--corpus", str(corpus), "--index", str(index)],
        env=env, capture_output=True, text=True, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["chunks"] == len(clean[0])
    assert report["added"] == 4  # no manifest was written by the killed sync
    assert sorted(make_kb(corpus, **SMALL).store.get(include=[])["ids"]) == clean[0]
    assert sorted(bm25_ids(index)) == clean[0]

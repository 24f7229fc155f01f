"""Searches and answers keep working in this process while `rag index` runs in another process
on the same index, and the running KnowledgeBase sees the new documents afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.kb import KnowledgeBase

REPO = Path(__file__).resolve().parent.parent
ZEBRA = (
    "Zebras and giraffes share the savanna during the great migration. The herds cross the "
    "Mara river each August, and crocodiles wait for them at the crossings.\n"
)


def bulk_text(n: int) -> str:
    """Enough text to keep a sync busy for a few seconds."""
    return "\n\n".join(
        f"Paragraph {i} about lighthouse keeping: the lamp number {i} was trimmed at dusk, "
        f"and the keeper logged the weather, the ships seen and the oil burned that night."
        for i in range(n)
    ) + "\n"


def start_sync(corpus: Path, index: Path, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rag.cli", *flags, "index", "--json", "--corpus", str(corpus), "--index", str(index)],
        cwd=REPO, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.slow
def test_search_and_ask_during_a_sync_in_another_process(
    articles_corpus: Path, make_kb: Callable[..., KnowledgeBase]
) -> None:
    kb = make_kb(articles_corpus)
    kb.sync(progress=False)
    before = {h.chunk.source for h in kb.search("zebra giraffe savanna migration", k=5, mode="dense")}
    assert "zebra.txt" not in before

    (articles_corpus / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    (articles_corpus / "lighthouse.txt").write_text(bulk_text(150), encoding="utf-8")
    proc = start_sync(articles_corpus, kb.settings.index_dir)

    errors: list[BaseException] = []
    during = {"search": 0, "ask": 0}

    def user(kind: str) -> None:
        while proc.poll() is None:
            try:
                if kind == "search":
                    assert kb.search("What is open source AI?", k=3)
                else:
                    assert kb.ask("Who controls closed AI models?").text
                during[kind] += 1
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=user, args=(kind,)) for kind in ("search", "ask")]
    for t in threads:
        t.start()
    _out, err = proc.communicate()
    for t in threads:
        t.join()
    assert proc.returncode == 0, err
    assert not errors, errors
    assert during["search"] > 0 and during["ask"] > 0

    # The same KnowledgeBase object, not recreated, sees the other process's sync.
    for mode in ("dense", "bm25", "hybrid"):
        hits = kb.search("zebra giraffe savanna migration", k=3, mode=mode)
        assert hits[0].chunk.source == "zebra.txt", mode
    answer = kb.ask("When do the herds cross the Mara river?")
    assert not answer.abstained
    assert any(c.source == "zebra.txt" for c in answer.citations)
    assert "zebra.txt" in {d.source for d in kb.documents()}


@pytest.mark.slow
def test_two_syncs_at_once_are_serialised(articles_corpus: Path, make_kb: Callable[..., KnowledgeBase]) -> None:
    """A sync in another process, started while this process's sync is under way, waits for it
    (it says so) and then finds nothing left to do; the index then holds each chunk once. (The
    chunk ids alone would make the index right without the lock: each sync's report shows it.)"""
    import json

    from rag.load import load_corpus
    from rag.split import split_all

    (articles_corpus / "lighthouse.txt").write_text(bulk_text(60), encoding="utf-8")
    kb = make_kb(articles_corpus)
    other: list[subprocess.Popen[str]] = []
    waiting: list[str] = []

    def start_the_other(done: int, total: int) -> None:
        """Called inside this sync, before its first chunk is written: the other sync starts,
        and this one goes on once the other says that it waits (or has ended)."""
        if other:
            return
        proc = start_sync(articles_corpus, kb.settings.index_dir, "--verbose")
        other.append(proc)
        assert proc.stderr is not None
        for line in proc.stderr:  # ends with the process at the latest
            if "another sync is running" in line:
                waiting.append(line)
                break

    report = kb.sync(progress=False, on_progress=start_the_other)
    out, err = other[0].communicate()
    assert other[0].returncode == 0, err
    assert waiting, err  # the other sync waited for this one
    theirs = json.loads(out)
    assert report.added == 3 and (theirs["added"], theirs["unchanged"]) == (0, 3)

    docs = [d for d in load_corpus(articles_corpus) if not isinstance(d, Exception)]
    expected = sorted({c.id for c in split_all(docs, kb.settings.chunk_size, kb.settings.chunk_overlap)})
    ids = kb.store.get(include=[])["ids"]
    assert sorted(ids) == expected
    assert report.chunks == len(expected)
    hits = kb.search("lighthouse keeper lamp trimmed at dusk", k=3)
    assert hits[0].chunk.source == "lighthouse.txt"

"""`rag index --watch`: sync whenever files in the corpus folder change, after they settle."""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from rag.load import is_indexable

log = logging.getLogger(__name__)


def relevant(path: str, corpus: Path) -> bool:
    """A change to this path can change the index: the loader's own rule, on the path below
    the corpus folder (so a file in a hidden folder is ignored, as the sync ignores it)."""
    for root in (corpus.absolute(), corpus.resolve()):
        try:
            return is_indexable(Path(path).absolute().relative_to(root))
        except ValueError:
            continue
    return False


def watch(kb: Any, *, json_lines: bool = False, settle_ms: int = 1000, stop: threading.Event | None = None) -> None:
    """Sync once, then after every settled batch of changes; one line per sync."""
    from watchfiles import watch as watch_files

    def run_sync() -> None:
        try:
            report = kb.sync(progress=False)
        except Exception as exc:  # keep watching: the next change may fix it
            log.error("sync failed: %s", exc)
            return
        if json_lines:
            sys.stdout.write(json.dumps(report.to_json()) + "\n")
        else:
            sys.stdout.write(report.summary() + "\n")
        sys.stdout.flush()

    run_sync()
    corpus = kb.settings.corpus_dir
    log.info("watching %s for changes (Ctrl-C to stop)", corpus)
    for changes in watch_files(
        corpus,
        watch_filter=lambda _change, path: relevant(path, corpus),
        debounce=settle_ms,
        step=100,
        stop_event=stop,
        raise_interrupt=False,
    ):
        if changes:
            run_sync()

"""PDF text extraction in a separate process, bounded in memory and wall time: the budgets of
rag.binary_formats.pdf_text are checked between pages, but a parser library can spend minutes
and gigabytes inside one page (a 62 KB PDF whose 60 MB font map took 37 s and 2.9 GB, issue
21). The worker runs `pdf_text` under an address-space limit (RLIMIT_AS) and is killed when
the time budget runs out; the file is refused either way. A worker is started on the first PDF
and serves the next ones (a start costs ~0.2 s: Python and pypdf), one file at a time; one
that failed, or grew, is replaced."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from rag.formats import Budget, OverTime, Refused, mib

# Seconds a worker may run past the file's time budget before it is killed: its own budget,
# checked between pages, refuses it first with the page it reached.
GRACE = 1.0
# A worker whose peak RSS passed this after a file is replaced rather than kept idle holding
# it (the articles' PDFs and tests' PDFs peak at ~60 MB: python bench/hostile_sync.py)
RETIRE_RSS = 200 * 2**20
KEEP_IDLE = 2  # idle workers kept for the next files (a sync and a page view at once)
# the largest peak RSS in bytes a worker of this process reported (python bench/hostile_sync.py);
# a worker killed for time or memory reports none: its address space stayed under its limit
peak_rss = 0


def extract(data: bytes, budget: Budget, max_pages: int, max_page_content: int, memory: int) -> tuple[str, tuple[int, ...]]:
    """`pdf_text(data, ...)` in a worker whose address space is at most `memory` bytes, within
    what is left of `budget`'s time; raises Refused (OverTime for time) as pdf_text would."""
    budget.tick("before parsing")
    left = budget.max_seconds - (time.monotonic() - budget.began)
    request = {"chars": budget.max_chars, "seconds": left, "pages": max_pages, "page_content": max_page_content}
    worker = _take(memory)
    try:
        reply = worker.run(request, data, time.monotonic() + left + GRACE)
    except TimeoutError:
        worker.close(kill=True)
        raise OverTime(f"over the time budget: reading took more than {budget.max_seconds:g} s "
                       "(stopped inside a page)") from None
    except (EOFError, OSError):
        code = worker.close(kill=True)
        raise Refused(f"the PDF parser failed (exit code {code}); its memory budget is {mib(memory)}") from None
    global peak_rss
    peak_rss = max(peak_rss, reply.get("rss", 0))
    if reply.get("last") or reply.get("rss", 0) > RETIRE_RSS:
        worker.close()
    else:
        _give_back(worker)
    if "refused" in reply:
        raise (Refused if reply["lasting"] else OverTime)(reply["refused"])
    if "error" in reply:
        raise Refused(f"not a readable PDF file ({reply['error']})")
    return reply["text"], tuple(reply["pages"])


class Worker:
    """One worker process and its pipes: a request is a 16-byte header (the sizes of a JSON
    object and of the PDF), the object and the PDF; a reply is an 8-byte size and a JSON object."""

    def __init__(self, memory: int) -> None:
        self.memory = memory
        root = str(Path(__file__).resolve().parent.parent)  # where `rag` is, however the parent found it
        start = f"import sys; sys.path.insert(0, {root!r}); from rag.pdf_worker import main; main()"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", start, str(memory)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )

    def run(self, request: dict[str, Any], data: bytes, deadline: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        body = json.dumps(request).encode()
        self.proc.stdin.write(struct.pack("<QQ", len(body), len(data)) + body)
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        fd = self.proc.stdout.fileno()
        (size,) = struct.unpack("<Q", _read(fd, 8, deadline))
        reply: dict[str, Any] = json.loads(_read(fd, size, deadline + 10))  # written at once
        return reply

    def close(self, kill: bool = False) -> int | None:
        """Stop the process (at once when `kill`); its exit code."""
        if kill:
            self.proc.kill()
        elif self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # the worker exits at the end of its input
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def _read(fd: int, n: int, deadline: float) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        part = os.read(fd, n - len(buf))
        if not part:
            raise EOFError
        buf += part
    return bytes(buf)


_IDLE: list[Worker] = []
_LOCK = threading.Lock()


def _take(memory: int) -> Worker:
    with _LOCK:
        while _IDLE:
            worker = _IDLE.pop()
            if worker.memory == memory and worker.proc.poll() is None:
                return worker
            worker.close(kill=True)
    return Worker(memory)


def _give_back(worker: Worker) -> None:
    with _LOCK:
        if len(_IDLE) < KEEP_IDLE:
            _IDLE.append(worker)
            return
    worker.close()


@atexit.register
def stop_workers() -> None:
    """End the idle workers (they also end by themselves when this process does)."""
    with _LOCK:
        workers = list(_IDLE)
        _IDLE.clear()
    for worker in workers:
        worker.close()


# -- the worker process -------------------------------------------------------------------------
def _serve(memory: int, stdin: IO[bytes], stdout: IO[bytes]) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    while header := stdin.read(16):
        request_size, data_size = struct.unpack("<QQ", header)
        request = json.loads(stdin.read(request_size))
        reply = _job(request, stdin.read(data_size), memory)
        reply["rss"] = _peak_rss()
        body = json.dumps(reply).encode()
        stdout.write(struct.pack("<Q", len(body)) + body)
        stdout.flush()
        if reply.get("last"):
            return


def _peak_rss() -> int:
    """Peak RSS in bytes of this process since it started (VmHWM: getrusage's ru_maxrss keeps
    the peak of the process that started it across exec, ~0.8 GB for a syncing process)."""
    try:
        with open("/proc/self/status") as status:
            line = next(x for x in status if x.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration, ValueError):
        return 0


def _job(request: dict[str, Any], data: bytes, memory: int) -> dict[str, Any]:
    from rag.binary_formats import pdf_text

    budget = Budget(request["chars"], request["seconds"])
    try:
        text, pages = pdf_text(data, budget, request["pages"], request["page_content"])
    except Refused as exc:
        return {"refused": str(exc), "lasting": exc.lasting}
    except MemoryError:
        return {"refused": f"over the memory budget: parsing needed more than {mib(memory)}",
                "lasting": True, "last": True}
    except Exception as exc:  # a parser library failing on corrupt input
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"text": text, "pages": pages}


def main() -> None:
    """The worker's entry point: its memory budget is the first argument."""
    _serve(int(sys.argv[1]), sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()

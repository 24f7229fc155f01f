"""Issue 21's attacks on a running server, items 5-7: starts `rag serve --auth` in its own
process on a one-file corpus, then

- sends 200 wrong login guesses at once with the right one among them, and reports how many
  were accepted and how long they took; then one wrong guess for an unknown name and one for the
  user's name, with the time each waited; then the right password from another address
  (127.0.0.2), which must not wait for the attacker's slow-down;
- sends four 300 MB JSON bodies at once to /gradio_api/call/ask (two declaring their length, two
  chunked) and reports the answers and the server's memory (VmRSS, VmHWM) before and after.

    .venv/bin/python bench/server_attacks.py

Measured 2026-12-05 on the 2-core machine, two runs: 0 of 201 guesses accepted, in 0.9-2.0 s
(2-3 of them checked, the rest refused unchecked); then 'nobody' waited 1.0-2.0 s and 'ada' 2.0-4.0 s
(the next steps of one count in a row, whatever the name); the real user 0.01-0.02 s; the four
bodies refused with 413 in 0.2-0.3 s, RSS 722 -> 725 and 729 -> 732 MB (issue 21: 1.08 -> 5.4 GB)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx

MB = b"x" * 2**20


def start(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    (tmp / "corpus").mkdir()
    (tmp / "corpus" / "a.md").write_text("# Zebras\n\nZebras have stripes.\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", RAG_ANSWERER="extractive",
               RAG_AUTH="ada:s3cret")
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--corpus", str(tmp / "corpus"), "--index",
                             str(tmp / "index"), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 300
    while True:
        try:
            urllib.request.urlopen(url)
            return proc, url
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit("the server did not start") from None
            time.sleep(0.5)


def memory(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith(key))


async def logins(url: str) -> None:
    async with httpx.AsyncClient(timeout=120) as c:
        async def guess(user: str, password: str) -> int:
            return (await c.post(url + "login", data={"username": user, "password": password})).status_code

        began = time.time()
        codes = await asyncio.gather(*[guess("ada", f"g{i}") for i in range(200)], guess("ada", "s3cret"))
        print(f"logins: {codes.count(200)} of {len(codes)} accepted in {time.time() - began:.1f} s "
              f"(the right one among them: {codes[-1]})")
        for name in ("nobody", "ada"):
            began = time.time()
            await guess(name, "x")
            print(f"  a wrong guess for {name!r} waited {time.time() - began:.2f} s")
    async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")) as other:
        began = time.time()
        r = await other.post(url + "login", data={"username": "ada", "password": "s3cret"})
        print(f"  the real user from 127.0.0.2: {r.status_code} in {time.time() - began:.2f} s")


def bodies(url: str, pid: int) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"data": ["'
        yield from (MB for _ in range(300))
        yield b'", null, 3, "extractive"]}'

    answers: list[object] = []

    def send(declared: bool) -> None:
        headers = {"content-type": "application/json"}
        if declared:
            headers["content-length"] = str(300 * 2**20 + 37)
        try:
            answers.append(httpx.post(url + "gradio_api/call/ask", content=body(), headers=headers,
                                      timeout=120).status_code)
        except httpx.HTTPError as exc:
            answers.append(type(exc).__name__)

    before = memory(pid, "VmRSS")
    began = time.time()
    threads = [threading.Thread(target=send, args=(i % 2 == 0,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"bodies: {answers} in {time.time() - began:.1f} s; server RSS {before:.0f} -> "
          f"{memory(pid, 'VmRSS'):.0f} MB, peak {memory(pid, 'VmHWM'):.0f} MB")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start(Path(tmp))
        try:
            asyncio.run(logins(url))
            bodies(url, proc.pid)
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()

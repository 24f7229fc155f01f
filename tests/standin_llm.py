"""A stand-in for a remote LLM: a real OpenAI-compatible HTTP server on 127.0.0.1 (chat
completions, streamed as server-sent events) whose reply the test chooses and whose first
token waits until the test releases it, so a page can be checked while the model "reads".
Used where the tests need a slow or a fixed model; xllamacpp serves a real one elsewhere."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[str], str]  # the user message (the prompt with its passages) -> the reply


def quote_first_passage(prompt: str) -> str:
    """A reply that the passages support: passage [1]'s longest sentence, cited [1]."""
    block = re.search(r"^\[1\] (.*?)(?=\n\n\[2\] |\n</passages>)", prompt, re.S | re.M)
    text = block.group(1) if block else ""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.replace("\n", " ")) if s.strip()]
    return (max(sentences, key=len) if sentences else "Nothing.") + " [1]"


class StandinLLM:
    """`with StandinLLM(reply) as llm:` serves on `llm.base_url`; a streamed reply waits for
    `llm.release()` before its first token (`held=False`: it does not wait)."""

    def __init__(self, reply: Reply = quote_first_passage, held: bool = True) -> None:
        self.reply = reply
        self.released = threading.Event()
        if not held:
            self.released.set()
        self.requests: list[dict[str, Any]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def release(self) -> None:
        self.released.set()

    def hold(self) -> None:
        """The next streamed replies wait for `release()` again."""
        self.released.clear()

    def __enter__(self) -> StandinLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                owner.requests.append(body)
                prompt = str((body.get("messages") or [{}])[-1].get("content", ""))
                text = owner.reply(prompt)
                if not body.get("stream"):
                    self._send_json({"id": "x", "object": "chat.completion", "created": 0, "model": "standin",
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": text}}]})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                owner.released.wait(timeout=300)  # the first token waits for the test
                for piece in re.findall(r"\S+\s*", text):
                    self._event({"content": piece})
                self._event({}, finish="stop")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _event(self, delta: dict[str, str], finish: str | None = None) -> None:
                chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "standin",
                         "choices": [{"index": 0, "delta": {"role": "assistant", **delta},
                                      "finish_reason": finish}]}
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                self.wfile.flush()

            def _send_json(self, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler

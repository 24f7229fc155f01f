"""What every request to the web chat goes through before Gradio sees it: a limit on the body's
size, and the client's address for the login's slow-down (ui.auth.CLIENT).

A body over the limit is refused with 413 before it is read: at once when its Content-Length
says so, else as soon as the bytes streamed in pass the limit (a chunked body has no length).
File uploads go to Gradio's upload route, which writes them to disk and checks each file against
the upload limit itself (`max_file_size`), so that route is left to it."""

from __future__ import annotations

import contextlib
from typing import Any

from ui.auth import CLIENT

# Every other request carries JSON: a question of at most 2,000 characters is at most 12 KB
# even with every character escaped (\uXXXX), and the chat sends its earlier turns along; 1 MiB
# holds 80 turns whose question and answer are both that long. Four 300 MB bodies had taken the
# server from 1.08 GB to 5.4 GB (issue 21). Re-check: tests/test_ui_api.py::test_a_body_over_the_limit_is_refused_unread
MAX_BODY_BYTES = 2**20
UPLOAD_ROUTE = "/gradio_api/upload"

Scope = dict[str, Any]
Message = dict[str, Any]


class BodyTooLarge(Exception):
    pass


class RequestGuard:
    """ASGI middleware (Starlette's `Middleware(RequestGuard, max_body=...)`)."""

    def __init__(self, app: Any, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        CLIENT.set(str(client[0]) if client else "")
        if scope["path"].endswith(UPLOAD_ROUTE):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is None:
            await _refuse(send, 400, "the Content-Length header is not a number")
            return
        if declared > self.max_body:
            await _refuse(send, 413, self._too_large())
            return
        await self._counted(scope, receive, send)

    def _too_large(self) -> str:
        return (f"the request is over {self.max_body:,} bytes; questions are at most a few thousand "
                "characters, and files go through the upload route")

    async def _counted(self, scope: Scope, receive: Any, send: Any) -> None:
        """Pass the request on, counting its body's bytes as they come; past the limit, the
        app's reading fails and its response is replaced by a 413."""
        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    over = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # whatever the app answers to its failed read: the 413 below replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):  # raised into the app's read; answered below
            await self.app(scope, counting_receive, guarded_send)
        if over and not started:
            await _refuse(send, 413, self._too_large())


def _content_length(scope: Scope) -> int | None:
    """The declared body size (0 when none is declared), or None when it is not a number."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return 0


async def _refuse(send: Any, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def middleware(max_body: int = MAX_BODY_BYTES) -> Any:
    """The guard as a Starlette `Middleware` entry (for FastAPI's `middleware=` argument)."""
    from starlette.middleware import Middleware

    return Middleware(RequestGuard, max_body=max_body)

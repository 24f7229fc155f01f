"""The login of `rag serve --auth`: one user and password, checked in constant time, with
failed attempts slowed down.

Gradio calls the auth function with only the user name and password (not the client's
address), so the slow-down is per user name, which is what a password guesser targets: after
n failures in a row for a name, its next attempt waits `base * 2**(n-1)` seconds (at most
`ceiling`), and a success resets it. Attempts for other names (spraying) add to one shared
counter that slows every attempt the same way, so switching names does not help."""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

ANY_NAME = "\x00any"  # the shared counter of failures for names that are not the user's


class LoginThrottle:
    def __init__(
        self,
        user: str,
        password: str,
        base: float = 0.5,
        ceiling: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.user = user
        self._password = password.encode("utf-8")
        self.base = base
        self.ceiling = ceiling
        self._sleep = sleep
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LoginThrottle(user={self.user!r})"

    def delay(self, name: str) -> float:
        """Seconds the next attempt for `name` waits before it is checked."""
        key = name if name == self.user else ANY_NAME
        failures = self._failures.get(key, 0)
        return 0.0 if failures == 0 else min(self.base * 2 ** (failures - 1), self.ceiling)

    async def check(self, username: str, password: str) -> bool:
        """Gradio's auth function (a coroutine function: Gradio awaits it only when
        `inspect.iscoroutinefunction` says so, which an object with an async __call__ fails)."""
        wait = self.delay(username)
        if wait:
            await self._sleep(wait)
        ok = hmac.compare_digest(username.encode("utf-8"), self.user.encode("utf-8"))
        ok = hmac.compare_digest(password.encode("utf-8"), self._password) and ok
        key = username if username == self.user else ANY_NAME
        with self._lock:
            if ok:
                self._failures.pop(key, None)
            else:
                self._failures[key] = self._failures.get(key, 0) + 1
        if not ok:
            log.warning("failed login (%d in a row for this name); the next attempt waits %.1f s",
                        self._failures[key], self.delay(username))
        return ok


def login(auth: str | None) -> Callable[[str, str], Awaitable[bool]] | None:
    """The auth function for `gr.Blocks.launch(auth=...)` from Settings.auth (USER:PASSWORD)."""
    if not auth:
        return None
    user, _, password = auth.partition(":")
    return LoginThrottle(user, password).check

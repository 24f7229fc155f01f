"""The login of `rag serve --auth`: one user and password, checked in constant time, with
failed attempts slowed down.

Failures are counted in a row over every name, so that a name that does not exist costs
exactly what the user's name costs (no timing tells which names exist). Gradio calls the auth
function with only the name and password; the client's address comes from `CLIENT`, which the
request guard (ui.guard) sets for every request.

- A client (address) that has not failed is checked at once: the real user logs in without
  waiting for an attacker's slow-down. Its attempt is counted as a failure before the check,
  so a second attempt it sends meanwhile is not one of these.
- A client that has failed waits `base * 2**(n-1)` seconds (at most `ceiling`) after n
  failures in a row (or n of its own, if more), and such attempts are checked one at a time: one that comes while another
  is waiting is refused unchecked, so concurrent guesses gain nothing.
- A success resets the count in a row and forgets that client's failures.

Behind a reverse proxy every client has the proxy's address: then any failure makes every
login wait. An attacker with many addresses gets one unslowed guess per address."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

log = logging.getLogger(__name__)

# the address of the client whose request is being handled ("" when unknown)
CLIENT: ContextVar[str] = ContextVar("rag_login_client", default="")
# failed clients remembered; the oldest is forgotten first (bounds memory under a spray of addresses)
MAX_CLIENTS = 10_000


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
        self.failures = 0  # failed attempts in a row, whatever the name and the client
        self._failed: OrderedDict[str, int] = OrderedDict()  # client -> its failures
        self._busy = False  # a failed client's attempt is waiting or being checked

    def __repr__(self) -> str:
        return f"LoginThrottle(user={self.user!r})"

    def delay(self, client: str = "") -> float:
        """Seconds the next attempt of a client that has failed waits before it is checked: by
        the failures in a row, or the client's own if more (another client's success does not
        free an attacker)."""
        n = max(self.failures, self._failed.get(client, 0))
        return 0.0 if n == 0 else min(self.base * 2 ** (n - 1), self.ceiling)

    def has_failed(self, client: str) -> bool:
        return client in self._failed

    async def check(self, username: str, password: str) -> bool:
        """Gradio's auth function (a coroutine function: Gradio awaits it only when
        `inspect.iscoroutinefunction` says so, which an object with an async __call__ fails)."""
        client = CLIENT.get()
        if not self.has_failed(client):
            self._count_failure(client)  # before the check: see the module's docstring
            return self._checked(client, username, password)
        if self._busy:
            log.warning("login refused unchecked: another attempt of a client that failed is under way")
            return False
        self._busy = True
        try:
            wait = self.delay(client)
            self._count_failure(client)
            if wait:
                await self._sleep(wait)
            return self._checked(client, username, password)
        finally:
            self._busy = False

    def _count_failure(self, client: str) -> None:
        self.failures += 1
        self._failed[client] = self._failed.pop(client, 0) + 1
        while len(self._failed) > MAX_CLIENTS:
            self._failed.popitem(last=False)

    def _checked(self, client: str, username: str, password: str) -> bool:
        ok = hmac.compare_digest(username.encode("utf-8"), self.user.encode("utf-8"))
        ok = hmac.compare_digest(password.encode("utf-8"), self._password) and ok
        if ok:
            self.failures = 0
            self._failed.pop(client, None)
        else:
            log.warning("failed login (%d in a row); this client waits %.1f s next",
                        self.failures, self.delay(client))
        return ok


def login(auth: str | None) -> Callable[[str, str], Awaitable[bool]] | None:
    """The auth function for `gr.Blocks.launch(auth=...)` from Settings.auth (USER:PASSWORD)."""
    if auth is None:
        return None
    user, _, password = auth.partition(":")
    return LoginThrottle(user, password).check

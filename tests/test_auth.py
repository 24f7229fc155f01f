"""The web chat's login: right password accepted, wrong ones slowed down, a success resets;
concurrent guesses gain nothing, names cost the same whether they exist or not, and the real
user's client is not held up by an attacker's failures."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from rag.errors import ConfigError
from rag.settings import Settings
from ui.auth import CLIENT, LoginThrottle, login


class Clock:
    """A recording sleep that lets other attempts run meanwhile, and counts how many wait at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.waiting = self.most_waiting = 0

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.waiting += 1
        self.most_waiting = max(self.most_waiting, self.waiting)
        for _ in range(5):
            await asyncio.sleep(0)
        self.waiting -= 1


def throttle(clock: Clock, base: float = 0.5, ceiling: float = 4.0) -> LoginThrottle:
    return LoginThrottle("ada", "s3cretPW", base=base, ceiling=ceiling, sleep=clock.sleep)


async def attempt(check: LoginThrottle, user: str, password: str, client: str = "10.0.0.9") -> bool:
    CLIENT.set(client)
    return await check.check(user, password)


def run_in_turn(check: LoginThrottle, tries: list[tuple[str, str]], client: str = "10.0.0.9") -> list[bool]:
    async def main() -> list[bool]:
        return [await attempt(check, u, p, client) for u, p in tries]

    return asyncio.run(main())


def test_wrong_passwords_wait_longer_and_longer_then_a_success_resets() -> None:
    clock = Clock()
    check = throttle(clock)
    results = run_in_turn(check, [("ada", "guess")] * 5 + [("ada", "s3cretPW"), ("ada", "x")])
    assert results == [False] * 5 + [True, False]
    # no wait before the first try, then 0.5, 1, 2, 4 (the ceiling) and 4 again before the success;
    # the success reset the count and the client's record, so the try after it did not wait
    assert clock.waits == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert check.delay("10.0.0.9") == 0.5


def test_concurrent_guesses_are_checked_one_at_a_time_and_gain_nothing() -> None:
    """200 guesses sent at once had been checked in 1.9 s (each saw no failure yet), and the
    right one among them was accepted."""
    clock = Clock()
    check = throttle(clock)

    async def main() -> list[bool]:
        guesses = [attempt(check, "ada", f"guess{i}") for i in range(50)]
        return list(await asyncio.gather(*guesses, attempt(check, "ada", "s3cretPW")))

    results = asyncio.run(main())
    assert not any(results)  # the right password, sent among the guesses, was not checked
    assert clock.most_waiting == 1  # one attempt at a time waits and is checked
    assert len(clock.waits) <= 2  # the others were refused unchecked, not queued
    assert check.failures >= 2 and check.has_failed("10.0.0.9")


def test_the_real_user_is_not_held_up_by_an_attackers_failures() -> None:
    clock = Clock()
    check = throttle(clock, ceiling=30.0)
    assert run_in_turn(check, [("ada", "guess")] * 8, client="10.0.0.66") == [False] * 8
    assert check.delay("10.0.0.66") == check.delay("192.168.1.5") == 30.0
    waited = len(clock.waits)
    # the real user's client has not failed: checked at once, and accepted
    assert run_in_turn(check, [("ada", "s3cretPW")], client="192.168.1.5") == [True]
    assert len(clock.waits) == waited and check.failures == 0
    # the attacker's client is still one that failed: it waits as long as before
    assert run_in_turn(check, [("ada", "guess")], client="10.0.0.66") == [False]
    assert clock.waits[waited:] == [30.0]


def test_a_name_that_does_not_exist_costs_what_the_users_name_costs() -> None:
    """After guesses at random names waited 4 s, the real name had waited nothing: a tell."""
    waits: dict[str, list[float]] = {}
    for name in ("ada", "nobody"):
        clock = Clock()
        check = throttle(clock, base=1.0, ceiling=60.0)
        run_in_turn(check, [(f"user{i}", "pw") for i in range(4)] + [(name, "pw"), (name, "pw")])
        waits[name] = clock.waits
    assert waits["ada"] == waits["nobody"] == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_login_from_settings_and_no_secret_in_repr() -> None:
    assert login(None) is None
    check = login("ada:pa:ss")  # a password may hold a colon
    # Gradio awaits the auth function only if it is a coroutine function; else a coroutine
    # object would be taken for True and let anyone in
    assert check is not None and inspect.iscoroutinefunction(check)
    assert asyncio.run(check("ada", "pa:ss")) and not asyncio.run(check("ada", "pass"))
    assert "pa:ss" not in repr(check.__self__)  # type: ignore[attr-defined]


@pytest.mark.parametrize("env", [{"RAG_AUTH": ""}, {"RAG_AUTH_FILE": ""}, {"RAG_AUTH": ":"}])
def test_an_empty_login_is_refused_not_taken_for_no_login(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="USER:PASSWORD"):
        Settings.from_env(env=env)
    with pytest.raises(ConfigError):
        Settings.from_env(env={}, auth_file=" ")

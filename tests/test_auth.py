"""The web chat's login: right password accepted, wrong ones slowed down, and a success resets."""

from __future__ import annotations

import asyncio
import inspect

from ui.auth import LoginThrottle, login


def attempts(throttle: LoginThrottle, tries: list[tuple[str, str]]) -> tuple[list[bool], list[float]]:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    throttle._sleep = record
    results = [asyncio.run(throttle.check(u, p)) for u, p in tries]
    return results, waits


def test_wrong_passwords_wait_longer_and_longer_then_a_success_resets() -> None:
    throttle = LoginThrottle("ada", "s3cretPW", base=0.5, ceiling=4.0)
    results, waits = attempts(throttle, [("ada", "guess")] * 5 + [("ada", "s3cretPW"), ("ada", "x")])
    assert results == [False] * 5 + [True, False]
    # no wait before the first try, then 0.5, 1, 2, 4 (the ceiling) and 4 again before the success;
    # the success reset the count, so the try after it did not wait
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert throttle.delay("ada") == 0.5


def test_spraying_other_names_is_slowed_too() -> None:
    throttle = LoginThrottle("ada", "s3cretPW", base=1.0, ceiling=60.0)
    results, waits = attempts(throttle, [(f"user{i}", "pw") for i in range(4)])
    assert results == [False] * 4 and waits == [1.0, 2.0, 4.0]
    assert throttle.delay("ada") == 0.0  # the real user's own count is separate


def test_login_from_settings_and_no_secret_in_repr() -> None:
    assert login(None) is None
    check = login("ada:pa:ss")  # a password may hold a colon
    # Gradio awaits the auth function only if it is a coroutine function; else a coroutine
    # object would be taken for True and let anyone in
    assert check is not None and inspect.iscoroutinefunction(check)
    assert asyncio.run(check("ada", "pa:ss")) and not asyncio.run(check("ada", "pass"))
    assert "pa:ss" not in repr(check.__self__)  # type: ignore[attr-defined]

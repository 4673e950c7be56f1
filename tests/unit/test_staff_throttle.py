"""Login throttling without lockout (bot.staff.throttle), on a fake clock."""

from __future__ import annotations

from bot.staff.throttle import LoginThrottle


def test_an_address_is_slowed_exponentially_after_its_free_failures() -> None:
    throttle = LoginThrottle(address_free=3, user_free=100, base_seconds=1, max_seconds=8)
    now = 0.0
    for attempt in range(3):
        assert throttle.wait("a", f"user{attempt}", now) == 0
        throttle.failed("a", f"user{attempt}", now)
    waits = []
    for _ in range(5):
        wait = throttle.wait("a", "someone", now)
        waits.append(wait)
        now += wait
        throttle.failed("a", "someone", now)
    assert waits == [1, 2, 4, 8, 8]  # doubling, capped
    assert throttle.wait("b", "someone", now) == 0  # another address is not slowed


def test_an_account_under_attack_is_slowed_only_where_it_failed() -> None:
    throttle = LoginThrottle(address_free=100, user_free=3, base_seconds=1, max_seconds=8)
    for attempt in range(6):
        throttle.failed(f"attacker-{attempt}", "carol", 0.0)
    assert throttle.wait("attacker-1", "carol", 0.0) > 0
    assert throttle.wait("front-desk", "carol", 0.0) == 0  # never failed: never locked out
    throttle.failed("front-desk", "carol", 0.0)  # a typo there: now it waits like the rest
    assert throttle.wait("front-desk", "carol", 0.0) > 0
    throttle.succeeded("front-desk", "carol")
    assert throttle.wait("front-desk", "carol", 0.0) == 0


def test_counts_are_forgotten_after_the_window() -> None:
    throttle = LoginThrottle(address_free=1, user_free=1, base_seconds=60, window_seconds=900)
    throttle.failed("a", "carol", 0.0)
    throttle.failed("a", "carol", 0.0)
    assert throttle.wait("a", "carol", 1.0) > 0
    assert throttle.wait("a", "carol", 1000.0) == 0

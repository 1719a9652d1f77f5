"""Failed logins are limited per user name and per client, and the limit lifts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from datalab.accounts import AccountStore, AuthenticationError, LoginRateLimited
from datalab.errors import TransientError

from .conftest import CHEAP_HASHER, PASSWORD, Clock


@pytest.fixture
def limited(state_url: str, clock: Clock) -> AccountStore:
    store = AccountStore(
        state_url, clock=clock, hasher=CHEAP_HASHER, max_failures=3,
        lockout=timedelta(minutes=5),
    )
    store.add_user("alice", PASSWORD)
    return store


def fail(store: AccountStore, name: str = "alice", client: str = "", times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(AuthenticationError):
            store.login(name, "wrong password", client=client)


def test_locks_after_max_failures_even_with_the_right_password(
    limited: AccountStore, clock: Clock
) -> None:
    fail(limited, times=3)
    with pytest.raises(LoginRateLimited) as caught:
        limited.login("alice", PASSWORD)
    error = caught.value
    assert isinstance(error, TransientError)
    assert error.status_code == 429
    assert error.code == "rate_limited"
    assert "try again in 300 s" in error.message
    assert error.detail == {"retry_after": 300}
    assert error.retry_at == clock.now + timedelta(minutes=5)


def test_the_lock_lifts_after_the_lockout(limited: AccountStore, clock: Clock) -> None:
    fail(limited, times=3)
    clock.advance(minutes=4, seconds=59)
    with pytest.raises(LoginRateLimited, match="try again in 1 s"):
        limited.login("alice", PASSWORD)
    clock.advance(seconds=1)
    assert limited.user_for(limited.login("alice", PASSWORD)) == "alice"


def test_refused_attempts_do_not_extend_the_lock(limited: AccountStore, clock: Clock) -> None:
    fail(limited, times=3)
    for _ in range(10):
        clock.advance(seconds=20)
        with pytest.raises(LoginRateLimited):
            limited.login("alice", "wrong password")
    clock.advance(seconds=100)  # 5 minutes after the three failures
    limited.login("alice", PASSWORD)


def test_the_window_slides(limited: AccountStore, clock: Clock) -> None:
    fail(limited)
    clock.advance(minutes=3)
    fail(limited, times=2)
    with pytest.raises(LoginRateLimited, match="try again in 120 s"):
        limited.login("alice", PASSWORD)
    clock.advance(minutes=2)  # the first failure no longer counts; two still do
    fail(limited)
    with pytest.raises(LoginRateLimited, match="try again in 180 s"):
        limited.login("alice", PASSWORD)


def test_a_success_forgets_the_names_failures(limited: AccountStore) -> None:
    fail(limited, times=2)
    limited.login("alice", PASSWORD)
    fail(limited, times=2)
    limited.login("alice", PASSWORD)


def test_unknown_names_are_limited_alike(limited: AccountStore) -> None:
    fail(limited, "nobody_here", times=3)
    with pytest.raises(LoginRateLimited, match="'nobody_here'"):
        limited.login("nobody_here", PASSWORD)
    with pytest.raises(LoginRateLimited):  # any case: it is the same name
        limited.login("NOBODY_HERE", PASSWORD)
    limited.login("alice", PASSWORD)


def test_a_client_is_limited_across_names(limited: AccountStore, clock: Clock) -> None:
    limited.add_user("bob", "battery staple")
    fail(limited, "carol", client="192.0.2.9")
    fail(limited, "dave", client="192.0.2.9")
    fail(limited, "erin", client="192.0.2.9")
    with pytest.raises(LoginRateLimited, match="client 192.0.2.9"):
        limited.login("bob", "battery staple", client="192.0.2.9")
    # Others, and bob from elsewhere, are not affected.
    limited.login("bob", "battery staple", client="198.51.100.1")
    clock.advance(minutes=5)
    limited.login("bob", "battery staple", client="192.0.2.9")


def test_a_locked_name_is_locked_from_every_client(limited: AccountStore) -> None:
    fail(limited, client="192.0.2.1")
    fail(limited, client="192.0.2.2")
    fail(limited, client="192.0.2.3")
    with pytest.raises(LoginRateLimited, match="'alice'"):
        limited.login("alice", PASSWORD, client="198.51.100.1")


def test_basic_style_checks_are_limited_too(limited: AccountStore) -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            limited.authenticate("alice", "wrong password")
    with pytest.raises(LoginRateLimited):
        limited.authenticate("alice", PASSWORD)


def test_limits_hold_across_stores_on_one_file(
    limited: AccountStore, state_url: str, clock: Clock
) -> None:
    other = AccountStore(
        state_url, clock=clock, hasher=CHEAP_HASHER, max_failures=3,
        lockout=timedelta(minutes=5),
    )
    fail(limited, times=2)
    fail(other)
    with pytest.raises(LoginRateLimited):
        limited.login("alice", PASSWORD)
    other.close()


def test_old_failures_are_pruned(limited: AccountStore, state_url: str, clock: Clock) -> None:
    import sqlite3

    fail(limited, "carol", client="192.0.2.9", times=2)
    clock.advance(minutes=6)
    fail(limited, "dave")
    with sqlite3.connect(state_url.removeprefix("sqlite:///")) as con:
        rows = con.execute("SELECT kind, key FROM accounts_failures").fetchall()
    assert rows == [("user", "dave")]


def test_bad_limits_are_refused(state_url: str) -> None:
    with pytest.raises(ValueError):
        AccountStore(state_url, max_failures=0)
    with pytest.raises(ValueError):
        AccountStore(state_url, lockout=timedelta(0))
    with pytest.raises(ValueError):
        AccountStore(state_url, token_lifetime=timedelta(0))

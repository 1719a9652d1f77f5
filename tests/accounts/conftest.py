"""Fixtures for the accounts tests: a real SQLite state file, a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from datalab.accounts import AccountStore

PASSWORD = "correct horse"

# Argon2id with small costs: the tests check hundreds of passwords, and the costs do not
# change what is tested. One test (test_default_costs_upgrade_cheap_hashes) uses the defaults.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Clock:
    """The store's notion of now, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


@pytest.fixture
def store(state_url: str, clock: Clock) -> Iterator[AccountStore]:
    with AccountStore(state_url, clock=clock, hasher=CHEAP_HASHER) as s:
        yield s


@pytest.fixture
def alice(store: AccountStore) -> str:
    store.add_user("alice", PASSWORD)
    return "alice"

"""Users and tokens in a real SQLite state file."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from datalab.accounts import ANONYMOUS_TOKEN, AccountStore, AuthenticationError, Token, User
from datalab.errors import ConflictError, NotFoundError, PermissionDeniedError

from .conftest import CHEAP_HASHER, PASSWORD, Clock

# The official client's test of a user token (dl/Util.py, see the REST reference §1).
CLIENT_TOKEN_RE = re.compile(r"^[^/\s]+\.\d+\.\d+\.\$1\$\S{22,}$")


def db_rows(state_url: str, sql: str) -> list[tuple[object, ...]]:
    path = state_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as con:
        return con.execute(sql).fetchall()


# -- users ----------------------------------------------------------------------------


def test_add_list_get_remove(store: AccountStore, clock: Clock) -> None:
    alice = store.add_user("alice", PASSWORD)
    clock.advance(seconds=1)
    bob = store.add_user("bob", "battery staple")
    assert alice == User("alice", 1001, clock.now - timedelta(seconds=1), False)
    assert bob.uid == 1002 and bob.created.tzinfo == UTC
    assert store.users() == [alice, bob]
    assert store.get_user("bob") == bob
    assert store.exists("alice") and not store.exists("carol")
    store.remove_user("alice")
    assert store.users() == [bob]
    assert not store.exists("alice")
    with pytest.raises(NotFoundError):
        store.get_user("alice")


def test_uids_are_never_reused(store: AccountStore) -> None:
    store.add_user("alice", PASSWORD)
    store.add_user("bob", PASSWORD)
    store.remove_user("bob")
    assert store.add_user("carol", PASSWORD).uid == 1003
    store.remove_user("alice")
    assert store.add_user("alice", PASSWORD).uid == 1004


def test_a_taken_name_conflicts(store: AccountStore, alice: str) -> None:
    with pytest.raises(ConflictError, match="already exists"):
        store.add_user("alice", "another password")
    assert store.check_password("alice", PASSWORD)


@pytest.mark.parametrize("name", ["carol", "../carol", "a" * 10_000, ""])
def test_unknown_users_are_not_found(store: AccountStore, name: str) -> None:
    for call in (store.get_user, store.remove_user):
        with pytest.raises(NotFoundError):
            call(name)
    with pytest.raises(NotFoundError):
        store.set_password(name, "a fine password")
    assert not store.exists(name)
    assert not store.check_password(name, PASSWORD)


def test_set_password(store: AccountStore, alice: str) -> None:
    store.set_password("alice", "a new password")
    assert store.check_password("alice", "a new password")
    assert not store.check_password("alice", PASSWORD)


def test_passwords_are_stored_as_argon2id(store: AccountStore, state_url: str, alice: str) -> None:
    ((stored,),) = db_rows(state_url, "SELECT password_hash FROM accounts_users")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_default_costs_upgrade_cheap_hashes(state_url: str, alice: str) -> None:
    """A site that raises the costs gets stronger hashes as users log in."""
    with AccountStore(state_url) as default:
        default.login("alice", PASSWORD)
        assert default.check_password("alice", PASSWORD)
    ((stored,),) = db_rows(state_url, "SELECT password_hash FROM accounts_users")
    assert CHEAP_HASHER.check_needs_rehash(stored)
    assert not PasswordHasher().check_needs_rehash(stored)


# -- tokens ---------------------------------------------------------------------------


def test_login_gives_a_token_the_official_client_accepts(store: AccountStore, alice: str) -> None:
    token = store.login("alice", PASSWORD)
    assert CLIENT_TOKEN_RE.match(token)
    user, uid, gid, secret = token.split(".", 3)
    assert (user, uid, gid) == ("alice", "1001", "1001")
    assert secret.startswith("$1$") and len(secret) >= 3 + 32
    assert re.fullmatch(r"[A-Za-z0-9_-]+", secret[3:])
    assert store.user_for(token) == "alice"
    assert store.is_valid_token(token)


def test_every_login_gives_a_new_token(store: AccountStore, alice: str) -> None:
    tokens = {store.login("alice", PASSWORD) for _ in range(3)}
    assert len(tokens) == 3
    assert all(store.user_for(t) == "alice" for t in tokens)
    assert len(store.tokens("alice")) == 3


def test_login_by_any_case_gives_the_lower_case_name(store: AccountStore, alice: str) -> None:
    token = store.login("Alice", PASSWORD)
    assert token.startswith("alice.1001.1001.$1$")


def test_tokens_are_not_stored_in_clear(store: AccountStore, state_url: str, alice: str) -> None:
    token = store.login("alice", PASSWORD, client="192.0.2.7")
    secret = token.split("$1$", 1)[1]
    path = Path(state_url.removeprefix("sqlite:///"))
    # Not in any column, nor anywhere in the files (WAL included).
    for row in db_rows(state_url, "SELECT * FROM accounts_tokens"):
        assert all(secret not in str(value) for value in row)
    rows = db_rows(state_url, "SELECT token_hash, uid, client FROM accounts_tokens")
    assert rows == [(rows[0][0], 1001, "192.0.2.7")]
    assert re.fullmatch(r"[0-9a-f]{64}", rows[0][0])
    for file in path.parent.glob("state.sqlite*"):
        assert secret.encode() not in file.read_bytes()


def test_tokens_expire(state_url: str, clock: Clock) -> None:
    with AccountStore(
        state_url, clock=clock, hasher=CHEAP_HASHER, token_lifetime=timedelta(hours=1)
    ) as store:
        store.add_user("alice", PASSWORD)
        token = store.login("alice", PASSWORD)
        [session] = store.tokens("alice")
        assert session == Token("alice", 1001, clock.now, clock.now + timedelta(hours=1), "")
        clock.advance(minutes=59)
        assert store.user_for(token) == "alice"
        clock.advance(minutes=1)
        assert store.user_for(token) is None
        assert not store.is_valid_token(token)
        assert store.tokens("alice") == []
        assert not store.logout(token)


def test_expired_tokens_are_purged_at_the_next_login(
    store: AccountStore, state_url: str, clock: Clock, alice: str
) -> None:
    store.login("alice", PASSWORD)
    clock.advance(days=31)
    store.login("alice", PASSWORD)
    assert len(db_rows(state_url, "SELECT * FROM accounts_tokens")) == 1


def test_logout_revokes_only_that_token(store: AccountStore, alice: str) -> None:
    first = store.login("alice", PASSWORD)
    second = store.login("alice", PASSWORD)
    assert store.logout(first)
    assert store.user_for(first) is None
    assert store.user_for(second) == "alice"
    assert not store.logout(first)


@pytest.mark.parametrize("change", ["set_password", "remove_user", "set_disabled"])
def test_changing_the_account_revokes_its_tokens(
    store: AccountStore, alice: str, change: str
) -> None:
    store.add_user("bob", "battery staple")
    token = store.login("alice", PASSWORD)
    other = store.login("bob", "battery staple")
    if change == "set_password":
        store.set_password("alice", "a new password")
    elif change == "remove_user":
        store.remove_user("alice")
    else:
        store.set_disabled("alice")
    assert store.user_for(token) is None
    assert store.user_for(other) == "bob"


def test_a_disabled_user_cannot_log_in_until_enabled(store: AccountStore, alice: str) -> None:
    store.set_disabled("alice")
    assert store.get_user("alice").disabled
    assert not store.check_password("alice", PASSWORD)
    with pytest.raises(AuthenticationError, match="wrong user name or password"):
        store.login("alice", PASSWORD)
    store.set_disabled("alice", False)
    assert store.user_for(store.login("alice", PASSWORD)) == "alice"


def test_a_name_added_again_does_not_revive_old_tokens(
    store: AccountStore, state_url: str, alice: str
) -> None:
    token = store.login("alice", PASSWORD)
    digest_row = db_rows(state_url, "SELECT token_hash, created, expires FROM accounts_tokens")
    store.remove_user("alice")
    store.add_user("alice", PASSWORD)
    # Even if the row had survived (put it back by hand), it names the old uid.
    path = state_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as con:
        con.execute(
            "INSERT INTO accounts_tokens (token_hash, uid, created, expires, client) "
            "VALUES (?, 1001, ?, ?, '')",
            digest_row[0],
        )
    assert store.user_for(token) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "alice",
        "alice.1001.1001.$1$" + "A" * 43,  # the right shape, never issued
        "alice.1001.1002.$1$" + "A" * 43,
        "dldemo.99999.99999.demo_access",
        "x" * 100_000,
        "alice.1001.1001.$1$' OR 1=1 --",
    ],
)
def test_unknown_tokens_prove_nobody(store: AccountStore, alice: str, token: str) -> None:
    assert store.user_for(token) is None
    assert not store.is_valid_token(token)
    assert not store.logout(token)


def test_a_tampered_token_proves_nobody(store: AccountStore, alice: str) -> None:
    store.add_user("bob", "battery staple")
    token = store.login("alice", PASSWORD)
    secret = token.split(".", 3)[3]
    assert store.user_for(f"bob.1002.1002.{secret}") is None
    assert store.user_for(token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_the_anonymous_token_is_valid_and_nobody(store: AccountStore) -> None:
    assert store.user_for(ANONYMOUS_TOKEN) is None
    assert store.is_valid_token(ANONYMOUS_TOKEN)
    assert not store.logout(ANONYMOUS_TOKEN)
    assert store.is_valid_token(ANONYMOUS_TOKEN)


# -- credentials ------------------------------------------------------------------------


def test_wrong_password_and_unknown_user_look_the_same(store: AccountStore, alice: str) -> None:
    errors = []
    for name, password in [("alice", "wrong password"), ("nobody_here", PASSWORD),
                           ("../../x", PASSWORD)]:
        with pytest.raises(PermissionDeniedError) as caught:
            store.login(name, password)
        errors.append(caught.value)
    assert {type(e) for e in errors} == {AuthenticationError}
    assert {(e.message, e.status_code, e.code) for e in errors} == {
        ("wrong user name or password", 401, "authentication_failed")
    }


def test_authenticate_checks_without_a_token(
    store: AccountStore, state_url: str, alice: str
) -> None:
    assert store.authenticate("ALICE", PASSWORD, client="192.0.2.1") == "alice"
    assert db_rows(state_url, "SELECT * FROM accounts_tokens") == []
    with pytest.raises(AuthenticationError):
        store.authenticate("alice", "nope nope")


# -- two processes on one file ------------------------------------------------------------


def test_two_stores_on_one_file_see_each_others_changes(state_url: str, clock: Clock) -> None:
    """The CLI (one store) changes accounts while the server (another) uses them."""
    with (
        AccountStore(state_url, clock=clock, hasher=CHEAP_HASHER) as server,
        AccountStore(state_url, clock=clock, hasher=CHEAP_HASHER) as cli,
    ):
        cli.add_user("alice", PASSWORD)
        token = server.login("alice", PASSWORD)
        assert cli.user_for(token) == "alice"
        cli.set_password("alice", "a new password")
        assert server.user_for(token) is None
        token = server.login("alice", "a new password")
        assert server.users() == cli.users()
        cli.remove_user("alice")
        assert server.user_for(token) is None
        assert not server.exists("alice")
        assert server.add_user("bob", PASSWORD).uid == 1002


def test_the_state_database_is_in_wal_mode(state_url: str, store: AccountStore) -> None:
    assert db_rows(state_url, "PRAGMA journal_mode") == [("wal",)]


def test_the_job_store_shares_the_file(tmp_path: Path, state_url: str, store: AccountStore) -> None:
    from datalab.jobs import JobStore

    with JobStore(state_url, tmp_path / "jobs") as jobs:
        job = jobs.create("tap", "alice", {"query": "SELECT 1"})
        store.add_user("alice", PASSWORD)
        assert jobs.get(job.job_id).owner == "alice"
    tables = {name for (name,) in db_rows(state_url, "SELECT name FROM sqlite_master "
                                                     "WHERE type = 'table'")}
    assert {"uws_job", "accounts_users", "accounts_tokens", "accounts_failures"} <= tables

"""What a user name and a password may be."""

from __future__ import annotations

import pytest

from datalab.accounts import RESERVED_NAMES, AccountStore, check_user_name
from datalab.errors import ConflictError, UsageError

from .conftest import PASSWORD


@pytest.mark.parametrize(
    "name", ["al", "alice", "bob_2", "a" + "b" * 31, "gaia_fan", "x1"]
)
def test_good_names_are_kept(name: str) -> None:
    assert check_user_name(name) == name


@pytest.mark.parametrize(("name", "normal"), [("Alice", "alice"), ("BOB_2", "bob_2")])
def test_names_are_lower_cased(name: str, normal: str) -> None:
    assert check_user_name(name) == normal


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a",  # too short
        "a" * 33,  # too long
        "a" * 10_000,
        "alice'",
        'al"ice',
        "al.ice",  # the client splits tokens on '.'
        "../etc",
        "al/ice",
        "al ice",
        "alice\n",  # $ in a regex would accept this
        "1alice",
        "_alice",
        "al-ice",
        "al;ice",
        "élodie",
        "\u212aevin",  # KELVIN SIGN, which str.lower() turns into "k"
    ],
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="bad user name"):
        check_user_name(name)


@pytest.mark.parametrize(
    "name",
    ["anonymous", "Anonymous", "public", "tap_schema", "tap_upload", "mydb", "ivoa", "main",
     "information_schema", "pg_catalog", "pg_anything", "datalab_private", "root", "admin",
     "dldemo", "dltest", "select", "user", "temp"],
)
def test_reserved_names_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="reserved"):
        check_user_name(name)


def test_reserved_names_are_themselves_well_formed() -> None:
    """Otherwise listing them would be pointless: the pattern alone would refuse them."""
    for name in RESERVED_NAMES:
        assert 2 <= len(name) <= 32 and name.replace("_", "").isalnum() and name.islower()


def test_add_user_refuses_a_bad_name_without_creating_anything(store: AccountStore) -> None:
    with pytest.raises(UsageError):
        store.add_user("../alice", PASSWORD)
    assert store.users() == []


def test_case_variants_are_one_user(store: AccountStore) -> None:
    user = store.add_user("Alice", PASSWORD)
    assert user.name == "alice"
    with pytest.raises(ConflictError):
        store.add_user("ALICE", PASSWORD)
    assert store.get_user("aLiCe") == user
    assert store.exists("ALICE")
    assert store.check_password("ALICE", PASSWORD)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("", "too short"),
        ("seven77", "too short"),
        ("x" * 1025, "too long"),
        ("password", "easy to guess"),
        ("12345678", "easy to guess"),
        ("Password1", "easy to guess"),
        ("alice_in", "easy to guess"),  # the user name itself
        ("good pass\nword", "control character"),
        ("tab\tbetween", "control character"),
    ],
)
def test_weak_passwords_are_refused(store: AccountStore, password: str, why: str) -> None:
    name = "alice_in"
    with pytest.raises(UsageError, match=why):
        store.add_user(name, password)
    assert not store.exists(name)


def test_acceptable_passwords(store: AccountStore) -> None:
    store.add_user("alice", "eight ch")
    store.add_user("bob", "ünïcödé passwörd ✓")
    store.add_user("carol", "x" * 1024)
    assert store.check_password("bob", "ünïcödé passwörd ✓")
    assert store.check_password("carol", "x" * 1024)
    assert not store.check_password("carol", "x" * 1025)

"""`datalab user`, run as an operator runs it: a real process on a real data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from datalab.accounts import AccountStore

from .conftest import PASSWORD


def datalab(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATALAB_")}
    return subprocess.run(
        [sys.executable, "-m", "datalab", "user", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def ok(*args: str, stdin: str | None = None) -> str:
    result = datalab(*args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def fails(*args: str, stdin: str | None = None) -> str:
    result = datalab(*args, stdin=stdin)
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    return result.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return path


def store_of(home: Path) -> AccountStore:
    return AccountStore(f"sqlite:///{home / 'state.sqlite'}")


def test_add_list_passwd_remove(home: Path, password_file: Path) -> None:
    out = ok("add", "Alice", "--password-file", str(password_file), "--data-dir", str(home))
    assert out == "added user alice (uid 1001)\n"
    ok("add", "bob", "--data-dir", str(home), "--password-file", "-", stdin="battery staple\n")

    lines = ok("list", "--data-dir", str(home)).splitlines()
    assert lines[0].split() == ["name", "uid", "created", "disabled"]
    assert [line.split()[:2] + line.split()[3:] for line in lines[1:]] == [
        ["alice", "1001", "no"], ["bob", "1002", "no"]
    ]

    with store_of(home) as server:  # the running server, meanwhile
        token = server.login("alice", PASSWORD)
        out = ok("passwd", "alice", "--password-file", "-", "--data-dir", str(home),
                 stdin="a new password\nignored second line\n")
        assert "alice" in out
        assert server.user_for(token) is None
        assert server.check_password("alice", "a new password")
        assert server.check_password("bob", "battery staple")

        ok("remove", "bob", "--yes", "--data-dir", str(home))
        assert not server.exists("bob")
    assert [line.split()[0] for line in ok("list", "--data-dir", str(home)).splitlines()] == [
        "name", "alice"
    ]


def test_seed_syntax(home: Path, password_file: Path) -> None:
    ok("add", "alice", f"password-file={password_file}", f"data-dir={home}")
    assert "alice" in ok("list", f"data-dir={home}")
    ok("remove", "alice", "--yes", f"data-dir={home}")
    assert ok("list", f"data-dir={home}") == ""


def test_add_prompts_twice_without_a_password_file(home: Path) -> None:
    ok("add", "alice", "--data-dir", str(home), stdin=f"{PASSWORD}\n{PASSWORD}\n")
    with store_of(home) as store:
        assert store.check_password("alice", PASSWORD)


def test_remove_asks_first(home: Path, password_file: Path) -> None:
    ok("add", "alice", "--password-file", str(password_file), "--data-dir", str(home))
    declined = datalab("remove", "alice", "--data-dir", str(home), stdin="n\n")
    assert declined.returncode != 0 and "Traceback" not in declined.stderr
    assert "alice" in ok("list", "--data-dir", str(home))
    ok("remove", "alice", "--data-dir", str(home), stdin="y\n")
    assert "alice" not in ok("list", "--data-dir", str(home))


def test_errors_are_one_line_and_exit_1(home: Path, password_file: Path, tmp_path: Path) -> None:
    pw = str(password_file)
    assert "no state database" in fails("list", "--data-dir", str(home))
    ok("add", "alice", "--password-file", pw, "--data-dir", str(home))
    assert "already exists" in fails("add", "alice", "--password-file", pw, "--data-dir", str(home))
    assert "bad user name" in fails("add", "../x", "--password-file", pw, "--data-dir", str(home))
    assert "bad user name" in fails("add", "a" * 10_000, "--data-dir", str(home))
    assert "reserved" in fails("add", "admin", "--password-file", pw, "--data-dir", str(home))
    assert "too short" in fails("add", "bob", "--password-file", "-", "--data-dir", str(home),
                                stdin="short\n")
    assert "empty" in fails("add", "bob", "--password-file", "-", "--data-dir", str(home),
                            stdin="")
    missing = str(tmp_path / "missing")
    assert "cannot read" in fails("add", "bob", "--password-file", missing, "--data-dir", str(home))
    assert "no user 'carol'" in fails("remove", "carol", "--yes", "--data-dir", str(home))
    assert "no user 'carol'" in fails("passwd", "carol", "--password-file", pw,
                                      "--data-dir", str(home))
    assert "easy to guess" in fails("passwd", "alice", "--password-file", "-",
                                    "--data-dir", str(home), stdin="password\n")
    # Nothing was changed by the failures.
    with store_of(home) as store:
        assert [u.name for u in store.users()] == ["alice"]
        assert store.check_password("alice", PASSWORD)

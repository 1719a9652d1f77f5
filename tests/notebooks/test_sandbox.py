"""The sandbox itself, without a hub: what a process inside can see and change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from datalab.notebooks import sandbox
from datalab.notebooks.locate import find_bwrap
from datalab.notebooks.sandbox import (
    VOS_MOUNT,
    bwrap_command,
    check_bwrap,
    identity_files,
    readonly_paths,
)

PROBE = r"""
import json, os, sys
home, other = sys.argv[1], sys.argv[2]
def can_read(path):
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        return True
    except OSError:
        return False
with open("/vos/written-inside.txt", "w") as fh:
    fh.write("from the sandbox")
print(json.dumps({
    "cwd": os.getcwd(),
    "uid": os.getuid(),
    "user": __import__("pwd").getpwuid(os.getuid()).pw_name,
    "own": open("/vos/mine.txt").read(),
    "state": can_read(os.path.join(home, "state.sqlite")),
    "other": can_read(other),
    "home_listed": os.path.exists(home),
    "tmp": os.listdir("/tmp"),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "datalab": __import__("datalab.client").__name__,
}))
"""


@pytest.fixture
def bwrap() -> Path:
    found = find_bwrap()
    if found is None:
        pytest.skip("bubblewrap is not installed (scripts/test installs it)")
    assert check_bwrap(found) is None
    return found


def test_only_the_users_own_tree_is_there(bwrap: Path, tmp_path: Path) -> None:
    home = tmp_path / "data"
    (home / "storage" / "alice").mkdir(parents=True)
    (home / "storage" / "bob").mkdir(parents=True)
    (home / "state.sqlite").write_text("accounts")
    (home / "storage" / "alice" / "mine.txt").write_text("alice's")
    (home / "storage" / "bob" / "theirs.txt").write_text("bob's")
    user_home = home / "notebooks" / "home" / "alice"
    user_home.mkdir(parents=True)
    passwd, group = identity_files(home / "notebooks" / "sandbox" / "alice", "alice")
    command = bwrap_command(
        bwrap, user="alice", storage=home / "storage" / "alice", home=user_home,
        data_dir=home, passwd=passwd, group=group,
    )
    done = subprocess.run(
        [*command, sys.executable, "-c", PROBE, str(home), str(home / "storage/bob/theirs.txt")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["cwd"] == VOS_MOUNT
    assert (seen["uid"], seen["user"]) == (1000, "alice")
    assert seen["own"] == "alice's"
    assert seen["state"] is False and seen["other"] is False and seen["home_listed"] is False
    # /tmp is private: empty but for the way to a Python environment kept below it.
    shown_below_tmp = {
        Path(p).relative_to("/tmp").parts[0] for p in readonly_paths([home])
        if p.startswith("/tmp/")
    }
    assert set(seen["tmp"]) == shown_below_tmp
    assert len(seen["pids"]) <= 3  # bwrap's init, python: no other process is visible
    assert seen["datalab"] == "datalab"
    assert (home / "storage" / "alice" / "written-inside.txt").read_text() == "from the sandbox"


def test_the_data_directory_is_hidden_even_below_a_shown_folder(tmp_path: Path) -> None:
    """A data directory inside the Python environment (or the system's folders) is
    covered by an empty tmpfs."""
    inside = Path(sys.prefix) / "datalab-data-for-a-test"
    command = bwrap_command(
        Path("/usr/bin/bwrap"), user="alice", storage=tmp_path, home=tmp_path,
        data_dir=inside, passwd=tmp_path / "p", group=tmp_path / "g",
    )
    at = command.index(os.path.realpath(inside))
    assert command[at - 1] == "--tmpfs"
    assert all(not path.startswith(str(tmp_path)) for path in readonly_paths([tmp_path]))


def test_a_python_environment_below_tmp_stays_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout (and its .venv) in /tmp is bound over the sandbox's private /tmp, not
    hidden by it: the private /tmp comes first."""
    venv = tmp_path / "checkout" / ".venv"
    venv.mkdir(parents=True)
    monkeypatch.setattr(sandbox, "_python_paths", lambda: [str(venv)])
    command = bwrap_command(
        Path("/usr/bin/bwrap"), user="alice", storage=tmp_path, home=tmp_path,
        data_dir=tmp_path / "data", passwd=tmp_path / "p", group=tmp_path / "g",
    )
    private_tmp = command.index("/tmp", command.index("--tmpfs"))
    shown = command.index(str(venv))
    assert command[private_tmp - 1] == "--tmpfs" and command[shown - 1] == "--ro-bind"
    assert private_tmp < shown


def test_a_broken_bwrap_is_reported(tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    assert "No permissions to create new namespace" in (check_bwrap(fake) or "")

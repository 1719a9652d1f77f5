"""The bubblewrap sandbox each user's notebook server runs in.

Every notebook server runs as the same Unix account as Data Lab itself, which can read
every user's files and the state database; so the isolation between users comes from
what each server can *see*. ``bwrap`` gives it a mount namespace built from nothing
(an empty root) in which there is only:

* the system (``/usr``, ``/etc``, ``/sys`` and the ``/bin``-style links) and the
  Python environment Data Lab runs from, all read-only;
* the user's own storage tree, read-write, at ``/vos`` (so ``/vos/x`` is ``vos://x``);
* a private home, read-write, at ``/home/<user>`` (dot files: IPython history,
  JupyterLab settings, ``pip install --user``), kept outside the storage tree so that
  it neither clutters vos:// nor counts against the quota;
* a private ``/tmp``, fresh ``/proc`` and ``/dev``.

The data directory is not there at all (a tmpfs covers it if it happens to lie below
one of the read-only folders), and neither are the operator's home or the other
users' trees. New user, PID, IPC and cgroup namespaces; the server sees itself as
uid 1000 and cannot see other processes. The network is shared: the server must reach
the hub and the Data Lab server on loopback, both of which check a token on every
request.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "SANDBOX_GID",
    "SANDBOX_UID",
    "VOS_MOUNT",
    "bwrap_command",
    "check_bwrap",
    "home_mount",
    "identity_files",
    "readonly_paths",
]

SANDBOX_UID = 1000
SANDBOX_GID = 1000
"""The identity inside the sandbox: never 0, which Jupyter refuses to run as."""

VOS_MOUNT = "/vos"
"""Where the user's storage tree appears inside the sandbox."""

_SYSTEM_DIRS = ("/usr", "/etc", "/sys")
_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def home_mount(user: str) -> str:
    """The user's home inside the sandbox."""
    return f"/home/{user}"


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _python_paths() -> list[str]:
    """The folders the running Python needs: its installation, the virtual environment,
    and every directory on ``sys.path`` (an editable install adds its source tree)."""
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    found += [entry for entry in sys.path if entry and os.path.isabs(entry)]
    found.append(os.path.dirname(sys.executable))
    return found


def readonly_paths(hidden: Iterable[Path], extra: Iterable[str] = ()) -> list[str]:
    """The folders shown read-only: the system's and Python's (plus ``extra``), each
    as given and as resolved, without duplicates or folders inside others, and
    without anything inside a ``hidden`` folder (the data directory)."""
    hidden_real = [os.path.realpath(h) for h in hidden]
    candidates: set[str] = set()
    for path in [*_SYSTEM_DIRS, *_python_paths(), *extra]:
        for form in (os.path.abspath(path), os.path.realpath(path)):
            if os.path.isdir(form) and not any(_inside(form, h) for h in hidden_real):
                candidates.add(form)
    kept: list[str] = []
    for path in sorted(candidates):
        if not any(_inside(path, outer) for outer in kept):
            kept.append(path)
    return kept


def identity_files(folder: Path, user: str) -> tuple[Path, Path]:
    """A ``passwd`` and a ``group`` naming the sandbox's uid after the user, written into
    ``folder``, so that the shell prompt, ``whoami`` and ``~user`` make sense inside."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    passwd, group = folder / "passwd", folder / "group"
    passwd.write_text(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"{user}:x:{SANDBOX_UID}:{SANDBOX_GID}:{user}:{home_mount(user)}:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    group.write_text(f"root:x:0:\n{user}:x:{SANDBOX_GID}:\nnogroup:x:65534:\n")
    return passwd, group


def bwrap_command(
    bwrap: Path,
    *,
    user: str,
    storage: Path,
    home: Path,
    data_dir: Path,
    passwd: Path,
    group: Path,
) -> list[str]:
    """The ``bwrap`` arguments (up to and including ``--``) for ``user``'s server:
    ``storage`` (their tree) at ``/vos`` and ``home`` at ``/home/<user>``, read-write;
    the rest as the module docstring says. The command to run goes after it."""
    args = [
        str(bwrap),
        "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
        "--unshare-pid", "--unshare-ipc", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
    ]
    # The private /tmp first: a Python environment or source tree that lives below /tmp
    # (a checkout in /tmp, say) is then bound on top of it, not hidden by it.
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    shown = readonly_paths([data_dir])
    for path in shown:
        args += ["--ro-bind", path, path]
    for link in _SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link) and not any(_inside(link, p) for p in shown):
            args += ["--ro-bind", link, link]
    if any(_inside(os.path.realpath(data_dir), p) for p in shown):
        args += ["--tmpfs", os.path.realpath(data_dir)]
    args += ["--ro-bind", str(passwd), "/etc/passwd", "--ro-bind", str(group), "/etc/group"]
    args += ["--bind", os.path.realpath(home), home_mount(user)]
    args += ["--bind", os.path.realpath(storage), VOS_MOUNT]
    args += ["--chdir", VOS_MOUNT, "--"]
    return args


def check_bwrap(bwrap: Path) -> str | None:
    """None when ``bwrap`` can build a sandbox here, else why not (its own words):
    missing user namespaces, a seccomp profile forbidding them, a broken binary."""
    probe = [
        str(bwrap), "--unshare-user", "--uid", str(SANDBOX_UID), "--unshare-pid",
        "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true",
    ]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{bwrap} could not be run: {exc}"
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        return f"{bwrap} cannot create a sandbox on this machine: {reason}"
    return None

"""``python -m datalab.notebooks.launch MODULE [ARG...]``: run MODULE as ``python -m``
would, in a process that the kernel stops when its parent dies.

``datalab serve`` starts the hub this way, and the hub starts unsandboxed notebook
servers this way, so that a parent killed outright (SIGKILL, a crash, the OOM killer)
leaves no hub, proxy or notebook server running: the child gets SIGTERM and shuts
down as on an ordinary stop. (Sandboxed servers get the same from ``bwrap
--die-with-parent``.) Linux's ``PR_SET_PDEATHSIG`` does it; it survives ``exec``, so it
is set here, in the child itself, rather than in a ``preexec_fn``, which is unsafe in a
parent that runs threads.

``DATALAB_PARENT_PID``, when set, is the pid the parent had: if it died before the
signal was armed, the child exits at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import runpy
import signal
import sys

from datalab.notebooks.hubconfig import PARENT_PID_VARIABLE

__all__ = ["die_with_parent", "main"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent exits; False where
    that is not possible (not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return int(libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.exit("usage: python -m datalab.notebooks.launch MODULE [ARG...]")
    expected = os.environ.pop(PARENT_PID_VARIABLE, "")
    die_with_parent()
    if expected.isdigit() and os.getppid() != int(expected):
        sys.exit("the parent process has already exited")
    module, *rest = args
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

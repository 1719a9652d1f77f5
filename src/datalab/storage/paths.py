"""What a vos:// path and a storage user name may be.

Every path a user gives is reduced here to one normal form before anything touches the
disk or the database: segments joined by ``/``, relative to the user's root, ``""`` for
the root itself. The checks are the first of two walls (the second is ``fs.UserTree``,
which never follows a file-system link): a path that passes cannot name anything
outside the user's folder, because it has no ``..``, no ``.``, no backslash and no
absolute form left in it.

Decisions:

* ``vos://a/b``, ``vos:a/b``, ``vos:///a/b``, ``/a/b`` and ``a/b`` all mean the same
  node. A leading ``/`` is the user's root, never the machine's: ``/etc/passwd`` is
  the node ``etc/passwd`` in the user's own space (which is what VOSpace clients mean
  by ``vos://authority!vospace/etc/passwd`` once the authority is stripped).
* Repeated and trailing slashes are dropped (``a//b/`` is ``a/b``).
* ``.`` and ``..`` segments are refused rather than resolved: a client that sends them
  is confused or hostile, and resolving them would hide that.
* ``%2e%2e`` is an ordinary six-character name. URL decoding is the web layer's job;
  a decoded ``..`` arrives here as ``..`` and is refused.
* Names starting with ``.datalab`` (any case) are reserved for the service's own files,
  such as the temporary file of an upload in progress.
"""

from __future__ import annotations

import re
import unicodedata

from datalab.errors import UsageError

__all__ = [
    "MAX_PATH_BYTES",
    "MAX_SEGMENT_BYTES",
    "RESERVED_PREFIX",
    "check_storage_user",
    "is_reserved_name",
    "join",
    "name_of",
    "parent_of",
    "parse_vos_path",
    "vos_uri",
]

MAX_SEGMENT_BYTES = 255
"""The longest name, in UTF-8 bytes: the limit of common Linux file systems."""

MAX_PATH_BYTES = 4096
"""The longest path below the user's root, in UTF-8 bytes (Linux's PATH_MAX)."""

RESERVED_PREFIX = ".datalab"
"""Names starting with this (case-insensitively) belong to the service, not to users."""

_SCHEME = re.compile(r"vos:", re.IGNORECASE)
_USER = re.compile(r"[a-z][a-z0-9_]{1,31}")


def _shown(value: str) -> str:
    """The value as it may appear in an error message: printable, and not too long."""
    text = value if len(value) <= 80 else value[:80] + "…"
    return repr(text)


def is_reserved_name(name: str) -> bool:
    """Whether a name belongs to the service (hidden from listings, refused from users)."""
    return name.lower().startswith(RESERVED_PREFIX)


def _check_segment(segment: str, value: str) -> None:
    if segment in (".", ".."):
        raise UsageError(f"the path {_shown(value)} has a {segment!r} segment; give the path "
                         "from your root (vos://…) without '.' or '..'")
    if "\\" in segment:
        raise UsageError(f"the path {_shown(value)} contains a backslash; separate names with '/'")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in segment):
        raise UsageError(f"the path {_shown(value)} contains a control character")
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise UsageError(
            f"the name {_shown(segment)} is longer than {MAX_SEGMENT_BYTES} bytes"
        )
    if is_reserved_name(segment):
        raise UsageError(
            f"names starting with {RESERVED_PREFIX!r} are reserved for the service: {_shown(value)}"
        )


def parse_vos_path(value: str) -> str:
    """The normal form (``"a/b"``, ``""`` for the root) of a vos:// URI or a relative path.

    UsageError when the path could reach outside the user's space or cannot be a file
    name: ``.``/``..`` segments, backslashes, control characters (NUL included), a name
    over 255 bytes, a path over 4096 bytes, a reserved ``.datalab…`` name.
    """
    if not isinstance(value, str):
        raise UsageError(f"a storage path must be text, not {type(value).__name__}")
    rest = value
    if _SCHEME.match(rest):
        rest = rest[4:]
    segments = [segment for segment in rest.split("/") if segment]
    for segment in segments:
        _check_segment(segment, value)
    path = "/".join(segments)
    if len(path.encode("utf-8")) > MAX_PATH_BYTES:
        raise UsageError(f"the path {_shown(value)} is longer than {MAX_PATH_BYTES} bytes")
    return path


def check_storage_user(user: str) -> str:
    """The user name if it can name a storage folder (``[a-z][a-z0-9_]{1,31}``).

    Account names are checked (and lower-cased) by ``datalab.accounts``; this second
    check keeps the storage safe on its own, whatever a caller passes.
    """
    if not isinstance(user, str) or not _USER.fullmatch(user):
        raise UsageError(f"{_shown(str(user))} is not a valid storage user name")
    return user


def vos_uri(path: str) -> str:
    """The vos:// URI of a normal path, as users see it in messages and link targets."""
    return f"vos://{path}"


def join(parent: str, name: str) -> str:
    """The normal path of ``name`` inside the container ``parent``."""
    return f"{parent}/{name}" if parent else name


def parent_of(path: str) -> str:
    """The normal path of the container holding ``path`` (``""`` for top-level nodes)."""
    return path.rpartition("/")[0]


def name_of(path: str) -> str:
    """The last segment of a normal path."""
    return path.rpartition("/")[2]

"""What a property (VOSpace) or tag (Data Lab) and a link target may be."""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from collections.abc import Mapping

from datalab.errors import UsageError
from datalab.storage.paths import parse_vos_path, vos_uri

__all__ = ["MAX_KEY", "MAX_VALUE", "check_link_target", "merge_properties"]

MAX_KEY = 1024
"""Characters in a property key: URIs such as ``ivo://ivoa.net/vospace/core#title``."""

MAX_VALUE = 65_536
"""Characters in a property value: room for a long description, not for data."""

_URL = re.compile(r"https?://", re.IGNORECASE)
_VOS = re.compile(r"vos:", re.IGNORECASE)


def _has_control(text: str, *, allow_newlines: bool) -> bool:
    allowed = "\t\n\r" if allow_newlines else ""
    return any(
        unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in text
    )


def merge_properties(
    current: Mapping[str, str], changes: Mapping[str, str | None]
) -> dict[str, str]:
    """``current`` with ``changes`` applied (None deletes); UsageError for a bad key or value."""
    merged = dict(current)
    for key, value in changes.items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY:
            raise UsageError(f"a property name must be 1 to {MAX_KEY} characters: {key!r:.80}")
        if _has_control(key, allow_newlines=False):
            raise UsageError(f"the property name {key!r:.80} contains a control character")
        if value is None:
            merged.pop(key, None)
            continue
        if not isinstance(value, str) or len(value) > MAX_VALUE:
            raise UsageError(
                f"the value of {key!r:.80} must be text of at most {MAX_VALUE} characters"
            )
        if _has_control(value, allow_newlines=True):
            raise UsageError(f"the value of {key!r:.80} contains a control character")
        merged[key] = value
    return merged


def check_link_target(target: str) -> str:
    """The normal form of a link target: ``vos://<path>`` in the same space, or an
    http(s) URL with a host.

    Anything else is refused, including bare paths (``/etc/passwd`` is almost
    certainly meant as a local file) and other schemes (``file:``…). A vos:// target
    is checked like any path, so ``vos://../other`` cannot be made; and since paths are
    relative to the owner's root, no target can name another user's node.
    """
    if not isinstance(target, str):
        raise UsageError("a link target must be text")
    if _VOS.match(target):
        return vos_uri(parse_vos_path(target))
    if _URL.match(target):
        if len(target) > 4096 or _has_control(target, allow_newlines=False) or " " in target:
            raise UsageError(f"the link target {target!r:.80} is not a valid URL")
        if not urllib.parse.urlsplit(target).hostname:
            raise UsageError(f"the link target {target!r:.80} has no host")
        return target
    raise UsageError(
        f"a link target must be a vos:// path in your space or an http(s) URL, not {target!r:.80}"
    )

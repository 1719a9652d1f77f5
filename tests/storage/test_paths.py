"""What parse_vos_path accepts, how it normalises, and what it refuses."""

from __future__ import annotations

import pytest

from datalab.errors import UsageError
from datalab.storage import check_storage_user, parse_vos_path


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("vos://a/b", "a/b"),
        ("vos:a/b", "a/b"),
        ("vos:///a/b", "a/b"),
        ("VOS://a/b", "a/b"),
        ("a/b", "a/b"),
        ("a//b/", "a/b"),
        ("", ""),
        ("vos://", ""),
        ("vos:", ""),
        ("/", ""),
        # A leading "/" is the user's root, never the machine's.
        ("/etc/passwd", "etc/passwd"),
        # Just characters: URL decoding is the web layer's job.
        ("%2e%2e", "%2e%2e"),
        ("vos://%2e%2e/x", "%2e%2e/x"),
        ("...", "..."),
        ("a..b/.hidden", "a..b/.hidden"),
        ("ünï cødé/名前.txt", "ünï cødé/名前.txt"),
        ("x" * 255, "x" * 255),
    ],
)
def test_normal_forms(given: str, expected: str) -> None:
    assert parse_vos_path(given) == expected


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("vos://../other", "'..'"),
        ("a/../../b", "'..'"),
        ("..", "'..'"),
        ("a/./b", "'.'"),
        ("vos://a/..", "'..'"),
        ("a\\..\\b", "backslash"),
        ("a\\b", "backslash"),
        ("a\x00b", "control character"),
        ("a\nb", "control character"),
        ("a\x7fb", "control character"),
        ("a\x85b", "control character"),
        ("a\ud800b", "control character"),
        ("x" * 256, "longer than 255 bytes"),
        ("é" * 128, "longer than 255 bytes"),
        ("/".join(["x" * 200] * 21), "longer than 4096 bytes"),
        (".datalab", "reserved"),
        ("a/.datalab-upload-1234", "reserved"),
        (".DataLab-anything", "reserved"),
    ],
)
def test_refused(given: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        parse_vos_path(given)


@pytest.mark.parametrize("name", ["alice", "a1", "bob_smith", "x" + "y" * 31])
def test_user_names(name: str) -> None:
    assert check_storage_user(name) == name


@pytest.mark.parametrize(
    "name", ["", "a", "Alice", "1abc", "../bob", "alice/x", "a" * 33, "al ice", "alice\x00"]
)
def test_bad_user_names(name: str) -> None:
    with pytest.raises(UsageError):
        check_storage_user(name)

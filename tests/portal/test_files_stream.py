"""``StreamedPart``: the file of a multipart body handed on as it arrives, in bounded
memory, whatever the chunking."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Iterator

import pytest

from datalab.errors import UsageError
from datalab.web.portal.files import StreamedPart

BOUNDARY = "b0und4ry"
KIND = f"multipart/form-data; boundary={BOUNDARY}"
MiB = 1 << 20


def body(filename: str, content: bytes, *, field_first: bool = True) -> bytes:
    parts = []
    if field_first:
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'.encode())
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n"
    )
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


def puller(data: bytes, size: int):  # type: ignore[no-untyped-def]
    pieces = iter([data[i:i + size] for i in range(0, len(data), size)])
    return lambda: next(pieces, None)


@pytest.mark.parametrize("chunk", [1, 7, 64 * 1024, 10 * MiB])
def test_any_chunking_gives_the_same_file(chunk: int) -> None:
    content = bytes(range(256)) * 40 + b"\r\n--b0und4r" + b"tail"  # a near-boundary inside
    part = StreamedPart(puller(body("data.bin", content), chunk), KIND)
    assert part.open() == "data.bin"
    assert b"".join(part.chunks()) == content


def test_names_come_through_as_utf8() -> None:
    part = StreamedPart(puller(body("résumé ü.txt", b"x"), 5), KIND)
    assert part.open() == "résumé ü.txt"


def _content(total: int) -> Iterator[bytes]:
    """``total`` bytes of file content, 64 KiB at a time, each piece different."""
    block = bytes(range(256)) * 256
    for start in range(0, total, len(block)):
        yield start.to_bytes(8, "little") + block[8 : min(len(block), total - start)]


def _generated(total: int) -> Iterator[bytes]:
    """A multipart body of ``total`` file bytes, made as it is read (never whole)."""
    yield (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
           'filename="big.bin"\r\n\r\n').encode()
    yield from _content(total)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def test_a_large_file_streams_in_bounded_memory() -> None:
    total = 64 * MiB
    source = _generated(total)
    part = StreamedPart(lambda: next(source, None), KIND)
    expected = hashlib.md5()
    for piece in _content(total):
        expected.update(piece)
    tracemalloc.start()
    try:
        assert part.open() == "big.bin"
        digest, size = hashlib.md5(), 0
        for piece in part.chunks():
            digest.update(piece)
            size += len(piece)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size == total and digest.hexdigest() == expected.hexdigest()
    assert peak < 4 * MiB, f"peak {peak} bytes while streaming {total}"


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        (body("a.txt", b"x" * 100)[:-30], KIND, "ended before the file was complete"),
        (b"nonsense", KIND, "could not be read"),
        (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--{BOUNDARY}--\r\n'.encode(),
         KIND, "holds no file"),
        (b"", "text/plain", "multipart/form-data"),
        (b"", "multipart/form-data", "multipart/form-data"),
    ],
)
def test_broken_bodies_are_usage_errors(data: bytes, kind: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        part = StreamedPart(puller(data, 16), kind)
        part.open()
        b"".join(part.chunks())

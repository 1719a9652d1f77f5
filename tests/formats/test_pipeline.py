"""The stream stages that overlap: a parallel map in order, and reading ahead in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from datalab.formats.pipeline import ordered_map, read_ahead


def test_ordered_map_keeps_the_order_of_the_items() -> None:
    def slow_for_small(n: int) -> int:
        time.sleep(0.001 * (10 - n % 10))  # earlier items finish later
        return n * n

    assert list(ordered_map(slow_for_small, range(40))) == [n * n for n in range(40)]


def test_ordered_map_reads_its_items_in_the_calling_thread_a_few_ahead() -> None:
    readers: set[int] = set()
    read = 0

    def items() -> Iterator[int]:
        nonlocal read
        for n in range(100):
            readers.add(threading.get_ident())
            read += 1
            yield n

    out = ordered_map(lambda n: n, items())
    assert next(out) == 0
    assert read <= 10, "a map that runs ahead without bound would hold the whole result"
    out.close()
    assert readers == {threading.get_ident()}


def test_ordered_map_raises_the_error_of_an_item_in_its_place() -> None:
    def fail_on_three(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        return n

    got = []
    with pytest.raises(ValueError, match="three"):
        for value in ordered_map(fail_on_three, range(10)):
            got.append(value)
    assert got == [0, 1, 2]


def test_read_ahead_gives_every_item_then_ends() -> None:
    assert list(read_ahead(iter(range(1000)), 4)) == list(range(1000))


def test_read_ahead_produces_in_another_thread_and_raises_errors_after_the_items() -> None:
    producers: set[int] = set()

    def source() -> Iterator[int]:
        producers.add(threading.get_ident())
        yield 1
        yield 2
        raise RuntimeError("engine failed")

    got = []
    with pytest.raises(RuntimeError, match="engine failed"):
        for item in read_ahead(source(), 2):
            got.append(item)
    assert got == [1, 2]
    assert threading.get_ident() not in producers


@pytest.mark.parametrize("wait", [True, False])
def test_read_ahead_stopped_early_closes_its_source_in_the_producing_thread(wait: bool) -> None:
    closed = threading.Event()
    closers: list[int] = []
    produced = 0

    def source() -> Iterator[int]:
        nonlocal produced
        try:
            while True:
                produced += 1
                yield produced
        finally:
            closers.append(threading.get_ident())
            closed.set()

    items = read_ahead(source(), 2, wait=wait)
    assert next(items) == 1
    items.close()
    if wait:
        assert closed.is_set(), "with wait, the source is closed when close() returns"
    assert closed.wait(5)
    assert closers != [threading.get_ident()]
    assert produced <= 5, "the producer stops soon after the consumer has gone"

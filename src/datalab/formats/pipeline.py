"""Overlapping the stages of a result stream: engine, encoder and sender.

A result flows engine → encoder → HTTP. Run one after the other, each stage waits for
the others: the encoder idles while a chunk is sent, and one core formats every cell
of a CSV while the other has nothing to do. Two helpers let the stages overlap while
keeping memory bounded (a fixed number of items in flight, whatever the result size):

* :func:`ordered_map` encodes several batches at once on a small shared thread pool
  and hands the outputs back in order. pyarrow's kernels (casts to text, the CSV
  writer) release the GIL, so this uses every core.
* :func:`read_ahead` runs a whole iterator in a thread of its own, a few items ahead
  of its consumer, so that producing the next chunk overlaps sending the last one.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent import futures
from typing import TypeVar

__all__ = ["ordered_map", "read_ahead"]

T = TypeVar("T")
R = TypeVar("R")

_WORKERS = max(1, min(os.cpu_count() or 1, 8))
_pool: futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _encoders() -> futures.ThreadPoolExecutor:
    """The process's encoding pool, made on first use.

    Shared by all streams, so that concurrent requests share the cores instead of each
    starting threads of its own.
    """
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = futures.ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="encode")
        return _pool


def ordered_map(
    func: Callable[[T], R],
    items: Iterable[T],
    *,
    small: Callable[[T], bool] | None = None,
) -> Iterator[R]:
    """``map(func, items)``, with up to one call per core running at a time.

    ``items`` is read in the calling thread only (a query result must not be read from
    two threads); at most ``workers + 1`` outputs exist at once, so memory stays
    bounded. An error raised by ``func`` is raised here, in order. When the consumer
    stops early the calls not yet started are dropped and running ones awaited, so no
    work outlives the stream. An item for which ``small`` is true is done in the
    calling thread when nothing is in flight: handing it to a worker would cost more
    than the work (a cone's few rows).
    """
    pool = _encoders()
    ahead = _WORKERS + 1
    pending: deque[futures.Future[R]] = deque()
    try:
        for item in items:
            if not pending and small is not None and small(item):
                yield func(item)
                continue
            pending.append(pool.submit(func, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        futures.wait(pending)


_DONE = object()
# How often a producer waiting for room in a full queue checks that it is still wanted.
_POLL_SECONDS = 0.1


def read_ahead(
    source: Iterator[T], depth: int, *, wait: bool = False
) -> Generator[T, None, None]:
    """The items of ``source``, produced by a thread of their own up to ``depth`` ahead.

    The thread does all the work of ``source``, its clean-up included: when the
    consumer stops early, the thread stops after the item it is producing and closes
    ``source`` itself (a generator's ``finally`` then runs there, never in two threads
    at once). With ``wait``, stopping early also waits for that, so that the caller
    may release what ``source`` reads from (a query's cursor) as soon as this
    returns; without, the consumer never blocks (an HTTP response dropped by the
    event loop). An exception raised by ``source`` is raised here after the items
    before it.
    """
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        """Queue ``item``, waiting for room; False once the consumer has gone."""
        while not stop.is_set():
            try:
                items.put(item, timeout=_POLL_SECONDS)
            except queue.Full:
                continue
            return not stop.is_set()
        return False

    def pump() -> None:
        try:
            for item in source:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            offer(_Failure(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=pump, name="read-ahead", daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not _DONE:
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        if wait:
            _drain(items)  # a producer blocked on a full queue sees the stop at once
            thread.join()


class _Failure:
    """An exception on its way from the producing thread to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _drain(items: queue.Queue[object]) -> None:
    """Take everything out of ``items`` without waiting."""
    while True:
        try:
            items.get_nowait()
        except queue.Empty:
            return

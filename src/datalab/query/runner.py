"""Running one compiled query on the catalog engine, streamed as Arrow record batches.

Why it is built this way (DuckDB 2.0 behaviours this module relies on, checked by
``tests/query``):

* ``cursor.sql(text, params=...)`` only binds a read statement; ``.to_arrow_reader(n)``
  runs it until its first rows are ready and returns a ``pyarrow.RecordBatchReader``
  that pulls further chunks from the engine as it is read. Nothing is materialised, so
  a 10-million-row result costs a few batches of memory. ``n`` is a target: batches
  come in varying sizes up to it. (``DuckDBPyConnection.fetch_record_batch`` is gone in
  2.0, and the cursor's own ``to_arrow_reader()`` warns that it copies every row.)
* While a reader is open its cursor refuses other statements, so a result owns its
  cursor until it is read out or closed; closing a reader mid-stream stops the query.
* ``cursor.interrupt()`` stops only that cursor's running statement (other cursors of
  the same connection carry on) and leaves the cursor usable. An interrupt that lands
  while no statement is running is lost, so the watchdog repeats it until the result
  is closed, and the reading side checks the deadline between batches as well.
* Errors raised while executing are ``duckdb.Error`` subclasses; the same errors
  raised while streaming arrive through the Arrow C stream as a plain ``OSError``
  whose text starts with DuckDB's ``"<Kind> Error: "`` prefix, so both are classified
  by that prefix.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from types import TracebackType
from typing import Self

import duckdb
import pyarrow as pa

from datalab.catalog import Engine
from datalab.errors import DataLabError, QueryError, QueryTimeoutError, TransientError

__all__ = ["QueryCancelledError", "QueryResult", "rows_result", "run_query"]

log = logging.getLogger("datalab.query")

# How often an expired query is interrupted again, in case an interrupt fell in a gap
# between two engine calls (where DuckDB drops it).
_REINTERRUPT_SECONDS = 0.1

# The longest engine message passed on to a user.
_MAX_MESSAGE = 300

# DuckDB error kinds (the "<Kind> Error: " prefix of its messages) caused by what the
# query asks: the same query fails again, so the user has to change it.
_QUERY_KINDS = frozenset(
    {
        "binder",
        "catalog",
        "constraint",
        "conversion",
        "decimal",
        "divide by zero",
        "expression",
        "invalid input",
        "invalid type",
        "mismatch type",
        "not implemented",
        "out of range",
        "parameter not allowed",
        "parameter not resolved",
        "parser",
        "permission",
        "syntax",
        "type mismatch",
    }
)


class QueryCancelledError(TransientError):
    """The query was stopped on purpose (its job was aborted) before it finished."""

    code = "query_cancelled"

    def __init__(self) -> None:
        super().__init__("the query was cancelled")


def run_query(
    engine: Engine,
    sql: str,
    *,
    params: Sequence[object] | None = None,
    timeout: float | None,
    batch_rows: int = 65536,
    max_rows: int | None = None,
    tables: Mapping[str, pa.Table] | None = None,
    on_cancel: Callable[[Callable[[], None]], None] | None = None,
) -> QueryResult:
    """Start ``sql`` on a cursor of ``engine`` and return its result, ready to stream.

    ``sql`` is compiled SQL (DESIGN.md, principle 4), never user text. The statement has
    run up to its first rows when this returns, so errors found while planning or
    computing them (and a timeout) raise here; later ones raise while iterating.
    ``timeout`` (seconds) covers execution and streaming together: a slow reader
    cannot hold a cursor past it either. ``timeout`` is keyword-only without a default
    so that every caller decides on a limit. With ``max_rows`` at most that many rows
    are delivered and ``QueryResult.overflow`` says whether more existed. ``tables``
    (engine name → Arrow table) are registered on this query's cursor only, for the
    tables a query brings with it (uploads); no other query sees them. ``on_cancel``
    is handed this query's cancel function before anything runs, so that an aborted
    job stops even a query that computes for a long time before its first row (an
    aggregate), which has no result to cancel until it is done.
    """
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be positive seconds or None, not {timeout!r}")
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, not {batch_rows!r}")
    if max_rows is not None and max_rows < 0:
        raise ValueError(f"max_rows must be at least 0 or None, not {max_rows!r}")

    execution = _Execution(engine, timeout)
    if on_cancel is not None:
        on_cancel(execution.cancel)
    try:
        for name, table in (tables or {}).items():
            execution.cursor.register(name, table)
        relation = execution.cursor.sql(sql, params=list(params) if params is not None else None)
        if relation is None:
            raise QueryError("the statement returned no result set")
        execution.check_deadline()
        execution.reader = relation.to_arrow_reader(batch_rows)
    except (duckdb.Error, OSError, pa.ArrowException) as exc:
        execution.release()
        raise execution.translate(exc) from None
    except BaseException:
        execution.release()
        raise
    assert execution.reader is not None
    return QueryResult(execution, max_rows, execution.reader.schema)


def rows_result(
    schema: pa.Schema, batches: Sequence[pa.RecordBatch], *, max_rows: int | None = None
) -> QueryResult:
    """A result over rows already computed without the engine (a cone search answered
    from a row copy), behaving like an engine result: MAXREC, overflow, cancel."""
    return QueryResult(_Rows(batches), max_rows, schema)


class QueryResult:
    """The rows of a running query: an iterator of ``pyarrow.RecordBatch`` owning a cursor.

    Read it once, in one thread, inside ``with`` (or call ``close()``): the cursor is
    returned to the engine when the rows run out, on any error, on ``close()``, or when
    the result is garbage-collected, whichever comes first.
    """

    def __init__(
        self, execution: _Execution | _Rows, max_rows: int | None, schema: pa.Schema
    ) -> None:
        self._execution = execution
        self._max_rows = max_rows
        self._rows = 0
        self._overflow = False
        self._finished = False
        self._schema = schema
        # Releases the cursor if the result is dropped unread; holds the execution, not
        # the result, so that dropping the result is what triggers it.
        self._finalizer = weakref.finalize(self, execution.release)

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of every batch, known before any row is read."""
        return self._schema

    @property
    def rows(self) -> int:
        """How many rows have been delivered so far."""
        return self._rows

    @property
    def overflow(self) -> bool:
        """True when ``max_rows`` rows were delivered and the query had more.

        Final once iteration has ended; False before that.
        """
        return self._overflow

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self

    def __next__(self) -> pa.RecordBatch:
        if self._finished:
            raise StopIteration
        try:
            if self._max_rows is not None and self._rows >= self._max_rows:
                # The limit is reached: one more row decides the overflow flag.
                self._overflow = self._execution.next_batch() is not None
                batch = None
            else:
                batch = self._execution.next_batch()
                if batch is not None and self._max_rows is not None:
                    room = self._max_rows - self._rows
                    if batch.num_rows > room:
                        batch = batch.slice(0, room)
                        self._overflow = True
        except BaseException:
            self.close()
            raise
        if batch is None:
            self.close()
            raise StopIteration
        self._rows += batch.num_rows
        if self._overflow:
            # The rest of the rows will never be read: give the cursor back now.
            self.close()
        return batch

    def cancel(self) -> None:
        """Stop the query from another thread (an aborted job); reading then raises."""
        self._execution.cancel()

    def close(self) -> None:
        """Stop the query (if still running) and give the cursor back. Idempotent."""
        self._finished = True
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Rows:
    """The rows of a result computed ahead, handed out as an engine's would be."""

    def __init__(self, batches: Sequence[pa.RecordBatch]) -> None:
        self._batches = list(batches)
        self._next = 0
        self.cancelled = False

    def next_batch(self) -> pa.RecordBatch | None:
        if self.cancelled:
            raise QueryCancelledError()
        while self._next < len(self._batches):
            batch = self._batches[self._next]
            self._next += 1
            if batch.num_rows:
                return batch
        return None

    def cancel(self) -> None:
        self.cancelled = True

    def release(self) -> None:
        self._batches = []


class _Execution:
    """The engine resources of one query: its cursor, its reader and its watchdog.

    Kept apart from ``QueryResult`` so that the watchdog thread and the finalizer refer
    to this object only, and a dropped result can be collected while its query runs.
    """

    def __init__(self, engine: Engine, timeout: float | None) -> None:
        self.timeout = timeout
        self.reader: pa.RecordBatchReader | None = None
        self._stack = ExitStack()
        self.cursor = self._stack.enter_context(engine.cursor())
        # Guards ``_closed`` against the watchdog: the cursor is never interrupted once
        # its release has begun (interrupting a closed cursor raises). Reentrant because
        # a finalizer may run release() on any thread at any allocation.
        self._lock = threading.RLock()
        self._closed = False
        self._done = threading.Event()
        self.expired = False
        self.cancelled = False
        if timeout is not None:
            threading.Thread(
                target=self._watch, args=(timeout,), name="query-watchdog", daemon=True
            ).start()

    def _watch(self, timeout: float) -> None:
        """Interrupt the cursor when the time is up, and keep at it until released."""
        if self._done.wait(timeout):
            return
        self.expired = True
        self._interrupt_until_released()

    def cancel(self) -> None:
        """Interrupt the cursor for good: the reading side stops at its next batch.

        Interrupts are repeated until the result is released, as the watchdog does,
        since one that lands between two engine calls is lost.
        """
        if self.cancelled:
            return
        self.cancelled = True
        threading.Thread(target=self._interrupt_until_released, name="query-cancel",
                         daemon=True).start()

    def _interrupt_until_released(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                try:
                    self.cursor.interrupt()
                except duckdb.Error:  # pragma: no cover - closed under our feet
                    return
            if self._done.wait(_REINTERRUPT_SECONDS):
                return

    def check_deadline(self) -> None:
        """Raise the timeout if it passed, whether or not an interrupt landed."""
        if self.cancelled:
            raise QueryCancelledError()
        if self.expired:
            assert self.timeout is not None
            raise QueryTimeoutError(self.timeout)

    def next_batch(self) -> pa.RecordBatch | None:
        """The next non-empty batch, or None at the end of the rows."""
        assert self.reader is not None
        while True:
            self.check_deadline()
            try:
                batch = self.reader.read_next_batch()
            except StopIteration:
                return None
            except (duckdb.Error, OSError, pa.ArrowException) as exc:
                raise self.translate(exc) from None
            if batch.num_rows:
                return batch

    def release(self) -> None:
        """Stop the watchdog, close the reader (which stops the query) and the cursor."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._done.set()
        try:
            if self.reader is not None:
                self.reader.close()
        finally:
            self.reader = None
            self._stack.close()

    def translate(self, exc: BaseException) -> DataLabError:
        """The project error for an engine failure, with a short message and no internals."""
        kind, text = _split_engine_message(str(exc))
        if isinstance(exc, duckdb.InterruptException) or kind == "interrupt":
            if self.cancelled:
                return QueryCancelledError()
            if self.expired and self.timeout is not None:
                return QueryTimeoutError(self.timeout)
            return TransientError("the query was interrupted; try again")
        if isinstance(exc, duckdb.OutOfMemoryException) or kind == "out of memory":
            return TransientError(
                "the query needs more memory than the server can give it now: "
                "ask for fewer rows or columns, or try again later",
                detail={"engine_error": "out of memory"},
            )
        if isinstance(exc, duckdb.IOException) or kind == "io":
            # May name the server's temporary or data files: say nothing of them.
            log.warning("engine I/O error while running a query: %s", exc)
            return TransientError(
                "the database engine could not read or write its files; try again later"
            )
        if kind in _QUERY_KINDS:
            return QueryError(f"the query failed: {text}", detail={"engine_error": kind})
        log.error("engine failure while running a query: %r", exc)
        return DataLabError(
            "the database engine failed while running the query; the server log has the details"
        )


def _split_engine_message(message: str) -> tuple[str, str]:
    """DuckDB's ``"<Kind> Error: <text>"`` as (lower-case kind, first line of text).

    Only the first line is kept: the following ones quote the generated SQL (positions
    that mean nothing in the user's query), list "Candidate bindings" or "Did you mean"
    names (which may be tables this user may not see) or suggest settings users cannot
    change.
    """
    head, sep, rest = message.partition(" Error: ")
    if not sep or "\n" in head:
        kind, rest = "", message
    else:
        kind = head.strip().lower()
    text = rest.strip().split("\n", 1)[0].strip()
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return kind, text or "unknown engine error"

"""run_query on a real catalog file: streaming, row and time limits, engine errors."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from datalab.catalog import Engine
from datalab.catalog.connection import connect
from datalab.errors import DataLabError, QueryError, QueryTimeoutError, UsageError
from datalab.query import QueryResult, run_query

ROWS = 5_000_000

# An aggregate over 10^12 row pairs: runs for far longer than any test waits.
ENDLESS = (
    "SELECT count(*) AS n FROM range(1000000) a, range(1000000) b WHERE (a.range + b.range) % 7 = 3"
)


class CountingEngine(Engine):
    """An Engine that knows how many of its cursors are out, to see results give them back."""

    def __init__(self, catalog: Path) -> None:
        super().__init__(catalog)
        self.open_cursors = 0
        self._count_lock = threading.Lock()

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().cursor() as cur:
            with self._count_lock:
                self.open_cursors += 1
            try:
                yield cur
            finally:
                with self._count_lock:
                    self.open_cursors -= 1


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("query") / "catalog.duckdb"
    con = connect(path, read_only=False)
    con.execute(
        f"CREATE TABLE t AS SELECT range AS id, range * 0.5 AS x, "
        f"'row' || (range % 1000)::VARCHAR AS s FROM range({ROWS})"
    )
    con.close()
    return path


@pytest.fixture(scope="module")
def engine(catalog: Path) -> Iterator[CountingEngine]:
    eng = CountingEngine(catalog)
    yield eng
    eng.close()


@pytest.fixture(autouse=True)
def _every_cursor_returned(engine: CountingEngine) -> Iterator[None]:
    yield
    assert engine.open_cursors == 0


def _count(engine: Engine) -> int:
    with run_query(engine, "SELECT count(*) AS n FROM t", timeout=30) as result:
        return sum(b.column(0)[0].as_py() for b in result)


def test_streams_every_row_in_bounded_batches(engine: CountingEngine) -> None:
    with run_query(engine, "SELECT id, x, s FROM t", timeout=60, batch_rows=65536) as result:
        assert result.schema.names == ["id", "x", "s"]
        assert result.schema.field("id").type == pa.int64()
        assert result.schema.field("s").type == pa.string()
        assert engine.open_cursors == 1
        batches = rows = total = 0
        for batch in result:
            assert isinstance(batch, pa.RecordBatch)
            assert batch.schema.equals(result.schema)
            assert 0 < batch.num_rows <= 65536
            batches += 1
            rows += batch.num_rows
            total += pc.sum(batch.column("id")).as_py()
    assert rows == ROWS == result.rows
    assert total == ROWS * (ROWS - 1) // 2
    assert batches >= ROWS // 65536
    assert not result.overflow


def test_parameters_are_bound(engine: CountingEngine) -> None:
    with run_query(
        engine, "SELECT id FROM t WHERE id < ? ORDER BY id", params=[3], timeout=30
    ) as result:
        assert [v for b in result for v in b.column("id").to_pylist()] == [0, 1, 2]


@pytest.mark.parametrize(
    ("where", "max_rows", "delivered", "overflow"),
    [
        ("", 100_000, 100_000, True),  # cut inside the second batch
        ("", 65536, 65536, True),  # cut at a batch edge: the next batch tells
        ("WHERE id < 10", 10, 10, False),  # exactly the limit: no overflow
        ("WHERE id < 10", 11, 10, False),
        ("", 0, 0, True),
        ("WHERE id < 0", 0, 0, False),
    ],
)
def test_max_rows_and_overflow(
    engine: CountingEngine, where: str, max_rows: int, delivered: int, overflow: bool
) -> None:
    sql = f"SELECT id FROM t {where} ORDER BY id"
    with run_query(engine, sql, timeout=30, batch_rows=65536, max_rows=max_rows) as result:
        ids = [v for b in result for v in b.column("id").to_pylist()]
        assert ids == list(range(delivered))
        assert result.rows == delivered
        assert result.overflow is overflow
        # The cursor is given back as soon as the limit is settled, before the ``with`` ends.
        assert engine.open_cursors == 0


def test_slow_query_times_out_and_engine_stays_usable(engine: CountingEngine) -> None:
    with pytest.raises(QueryTimeoutError, match=r"query exceeded the time limit of 0\.5 s") as err:
        run_query(engine, ENDLESS, timeout=0.5)
    assert err.value.code == "query_timeout"
    assert err.value.status_code == 400
    assert err.value.detail == {"timeout": 0.5}
    assert engine.open_cursors == 0
    assert _count(engine) == ROWS


def test_time_limit_covers_streaming(engine: CountingEngine) -> None:
    """A reader too slow to finish in time loses the rest of the rows, not the server."""
    with run_query(engine, "SELECT id FROM t", timeout=1, batch_rows=1000) as result:
        next(result)
        time.sleep(1.2)
        with pytest.raises(QueryTimeoutError):
            next(result)
        assert engine.open_cursors == 0
        assert list(result) == []
    assert _count(engine) == ROWS


def test_streaming_query_is_interrupted_in_the_engine(engine: CountingEngine) -> None:
    sql = (
        "SELECT a.range AS a, b.range AS b FROM range(1000000) a, range(1000000) b "
        "WHERE (a.range * 7 + b.range) % 1000003 = 0"
    )
    # The limit may be hit before the first rows (in run_query) or while streaming.
    with pytest.raises(QueryTimeoutError), run_query(engine, sql, timeout=0.5) as result:
        for _ in result:
            pass
    assert _count(engine) == ROWS


def test_timeout_of_one_query_spares_a_concurrent_one(engine: CountingEngine) -> None:
    outcomes: dict[str, object] = {}
    start = threading.Barrier(2)

    def endless() -> None:
        start.wait()
        try:
            run_query(engine, ENDLESS, timeout=0.5)
        except DataLabError as exc:
            outcomes["endless"] = exc

    def normal() -> None:
        start.wait()
        sql = "SELECT count(*) AS n, sum(id) AS total FROM t, range(3)"
        with run_query(engine, sql, timeout=60) as result:
            outcomes["normal"] = [row for b in result for row in b.to_pylist()]

    threads = [threading.Thread(target=endless), threading.Thread(target=normal)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert isinstance(outcomes["endless"], QueryTimeoutError)
    assert outcomes["normal"] == [{"n": 3 * ROWS, "total": 3 * (ROWS * (ROWS - 1) // 2)}]


def test_timeout_that_never_fires_changes_nothing(engine: CountingEngine) -> None:
    with run_query(engine, "SELECT 42 AS answer", timeout=0.5) as result:
        assert [b.to_pylist() for b in result] == [[{"answer": 42}]]
    time.sleep(0.6)  # the watchdog of the closed result must not touch the cursor's next user
    assert _count(engine) == ROWS


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT CAST('x' AS INTEGER) AS v", "the query failed: Could not convert string 'x'"),
        ("SELECT 1 // 0 AS v", "the query failed: Division by zero"),
        ("SELECT 9223372036854775807::BIGINT + 1 AS v", "the query failed: Overflow"),
        ("SELECT nope FROM t", 'the query failed: Referenced column "nope" not found'),
        ("SELECT * FROM nosuch", "the query failed: Table with name nosuch does not exist"),
    ],
)
def test_engine_errors_become_query_errors(engine: CountingEngine, sql: str, message: str) -> None:
    with pytest.raises(QueryError) as err:
        run_query(engine, sql, timeout=30)
    assert isinstance(err.value, UsageError)
    assert err.value.status_code == 400
    assert err.value.code == "query_error"
    assert err.value.message.startswith(message)
    # One line: no quoted SQL, no "Did you mean" hints naming other tables, no trace.
    assert "\n" not in err.value.message
    assert "LINE" not in err.value.message
    assert "Did you mean" not in err.value.message
    assert err.value.__cause__ is None
    assert engine.open_cursors == 0


def test_error_while_streaming_becomes_query_error(engine: CountingEngine) -> None:
    sql = "SELECT CASE WHEN id = 4000000 THEN 'x' ELSE id::VARCHAR END::INTEGER AS v FROM t"
    rows = 0
    with run_query(engine, sql, timeout=60) as result:
        with pytest.raises(QueryError, match=r"^the query failed: Could not convert string 'x'"):
            for batch in result:
                rows += batch.num_rows
        assert engine.open_cursors == 0
    assert 0 < rows < ROWS


def test_out_of_memory_is_transient(tmp_path: Path) -> None:
    # Its own file: DuckDB refuses a second configuration for a database already open.
    path = tmp_path / "small.duckdb"
    connect(path, read_only=False).close()
    small = Engine(path, memory_limit="50MB")
    try:
        with pytest.raises(DataLabError) as err:
            sql = "SELECT string_agg(range::VARCHAR, ',') AS s FROM range(10000000)"
            run_query(small, sql, timeout=60)
        assert err.value.status_code == 503
        assert "more memory" in err.value.message
        assert "SET" not in err.value.message  # DuckDB's advice is for administrators
    finally:
        small.close()


def test_close_mid_stream_gives_the_cursor_back(engine: CountingEngine) -> None:
    result = run_query(engine, "SELECT id FROM t", timeout=30, batch_rows=1000)
    assert isinstance(result, QueryResult)
    next(result)
    assert engine.open_cursors == 1
    result.close()
    assert engine.open_cursors == 0
    assert list(result) == []
    result.close()  # idempotent
    assert _count(engine) == ROWS


def test_exception_in_consumer_gives_the_cursor_back(engine: CountingEngine) -> None:
    with (
        pytest.raises(RuntimeError, match="consumer failed"),
        run_query(engine, "SELECT id FROM t", timeout=30) as result,
    ):
        next(result)
        raise RuntimeError("consumer failed")
    assert engine.open_cursors == 0


def test_dropped_result_gives_the_cursor_back(engine: CountingEngine) -> None:
    result = run_query(engine, "SELECT id FROM t", timeout=30, batch_rows=1000)
    next(result)
    assert engine.open_cursors == 1
    del result
    gc.collect()
    assert engine.open_cursors == 0


def test_bad_arguments_are_refused(engine: CountingEngine) -> None:
    with pytest.raises(ValueError, match="timeout"):
        run_query(engine, "SELECT 1", timeout=0)
    with pytest.raises(ValueError, match="batch_rows"):
        run_query(engine, "SELECT 1", timeout=None, batch_rows=0)
    with pytest.raises(ValueError, match="max_rows"):
        run_query(engine, "SELECT 1", timeout=None, max_rows=-1)
    assert engine.open_cursors == 0


# Runs in a fresh interpreter so that the peak RSS belongs to the query alone.
MEASURE = """
import json, resource, sys
from pathlib import Path
from datalab.catalog import Engine
from datalab.query import run_query

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

engine = Engine(Path(sys.argv[1]))
before = rss_mb()
rows = 0
sql = "SELECT range AS id, range * 1.5 AS x, range::VARCHAR AS s FROM range(10000000)"
with run_query(engine, sql, timeout=300) as result:
    for batch in result:
        rows += batch.num_rows
print(json.dumps({"rows": rows, "rss_growth_mb": rss_mb() - before}))
"""


@pytest.mark.slow
def test_ten_million_rows_stream_in_bounded_memory(catalog: Path) -> None:
    measured = json.loads(
        subprocess.run(
            [sys.executable, "-c", MEASURE, str(catalog)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert measured["rows"] == 10_000_000
    # Read whole, the result is ~380 MB of Arrow data; streamed, a few batches.
    assert measured["rss_growth_mb"] < 150, measured


def test_cancel_from_another_thread_stops_a_streaming_query(engine: CountingEngine) -> None:
    sql = "SELECT range FROM range(1000000000000) WHERE range % 1009 = 0"
    from datalab.query import QueryCancelledError

    with run_query(engine, sql, timeout=None, batch_rows=1) as result:
        threading.Timer(0.3, result.cancel).start()
        with pytest.raises(QueryCancelledError):
            for _ in result:
                pass
    assert engine.open_cursors == 0
    assert _count(engine) == ROWS


def test_cancel_stops_a_query_before_its_first_row(engine: CountingEngine) -> None:
    # An aggregate over a huge range computes for long before its one row: the cancel
    # function handed out before it runs must stop it there.
    from datalab.query import QueryCancelledError

    sql = "SELECT count(*) FROM range(1000000000000) WHERE range % 1009 = 0"
    handed: list[Callable[[], None]] = []
    timer = threading.Timer(0.3, lambda: handed[0]())
    timer.start()
    try:
        with pytest.raises(QueryCancelledError):
            run_query(engine, sql, timeout=None, on_cancel=handed.append)
    finally:
        timer.cancel()
    assert engine.open_cursors == 0
    assert _count(engine) == ROWS


def test_cancel_handed_out_after_an_abort_stops_the_query_at_once(engine: CountingEngine) -> None:
    from datalab.query import QueryCancelledError

    sql = "SELECT count(*) FROM range(1000000000000) WHERE range % 1009 = 0"
    with pytest.raises(QueryCancelledError):
        run_query(engine, sql, timeout=None, on_cancel=lambda cancel: cancel())
    assert engine.open_cursors == 0


def test_registered_tables_are_seen_by_that_query_only(engine: CountingEngine) -> None:
    mine = pa.table({"x": [1, 2, 3]})
    with run_query(engine, "SELECT sum(x) FROM mine_abc", timeout=10, tables={"mine_abc": mine}) as r:
        assert [b.to_pylist() for b in r] == [[{"sum(x)": 6}]]
    with pytest.raises(QueryError, match="mine_abc"):
        run_query(engine, "SELECT * FROM mine_abc", timeout=10)
    assert engine.open_cursors == 0

"""Pages of a stored result: filters, sort, row ids, selection, and a connection that
can read the one result file and nothing else."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datalab.errors import UsageError
from datalab.formats import FieldMeta, ResultInfo, encode_result, resolve_format
from datalab.query.paging import (
    MAX_PAGE_ROWS,
    Filter,
    PageRequest,
    StoredResult,
    json_ready,
    parse_filters,
)

N = 1000


def _table() -> pa.Table:
    ids = [66_000_000_000_000_000 + i for i in range(N)]  # beyond 2**53, like Gaia's
    return pa.table(
        {
            "source_id": pa.array(ids, pa.int64()),
            "mag": pa.array(
                [None if i % 10 == 0 else 10 + i / 100 for i in range(N)], pa.float32()
            ),
            "name": pa.array([f"star {i:04d}" if i % 7 else f"Pleiad {i}" for i in range(N)]),
            "seen": pa.array(
                [dt.datetime(2024, 1, 1) + dt.timedelta(days=i) for i in range(N)],
                pa.timestamp("us"),
            ),
            "pos": pa.array([[i * 0.1, -i * 0.1] for i in range(N)], pa.list_(pa.float64(), 2)),
            # Names that must never reach SQL as written.
            "file_row_number": pa.array([f"x{i}" for i in range(N)]),
            'we"ird; DROP': pa.array([i % 3 for i in range(N)], pa.int16()),
        }
    )


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> StoredResult:
    """A VO-Parquet result as a TAP job writes it, in a directory with a quote in its name."""
    folder = tmp_path_factory.mktemp("job") / "it's a job"
    folder.mkdir()
    table = _table()
    fields = [FieldMeta(name=n) for n in table.column_names]
    fields[1] = FieldMeta(
        name="mag", unit="mag", ucd="phot.mag;em.opt.G", description="G magnitude"
    )
    path = folder / "result.parquet"
    chunks = encode_result(
        resolve_format("parquet"),
        table.schema,
        fields,
        table.to_batches(max_chunksize=128),
        ResultInfo(query="SELECT ..."),
    )
    path.write_bytes(b"".join(chunks))
    return StoredResult(path)


def test_metadata_comes_from_the_vo_parquet_fields(stored: StoredResult) -> None:
    assert stored.num_rows == N
    mag = stored.column("mag")
    assert (mag.meta.unit, mag.meta.ucd, mag.meta.description) == (
        "mag",
        "phot.mag;em.opt.G",
        "G magnitude",
    )
    assert mag.numeric and mag.kind == "float"
    assert stored.column("NAME").name == "name"
    assert [c.sql for c in stored.columns][:2] == ["c0", "c1"]


def test_pages_in_stored_order_with_row_ids(stored: StoredResult) -> None:
    page = stored.page(PageRequest(offset=990, limit=50))
    assert page.row_ids == list(range(990, 1000))
    assert page.total == page.total_all == N
    assert page.rows[0][5] == "x990"  # the result's own file_row_number column


def test_sort_descending_puts_nulls_last_and_keeps_ids(stored: StoredResult) -> None:
    page = stored.page(PageRequest(limit=3, sort="mag", descending=True))
    assert page.row_ids == [999, 998, 997]
    tail = stored.page(PageRequest(offset=N - 3, limit=3, sort="mag"))
    assert [r[1] for r in tail.rows] == [None, None, None]


def test_filters_combine_and_count(stored: StoredResult) -> None:
    filters = (
        Filter("mag", ">=", "15"),
        Filter("name", "contains", "PLEIAD"),
        Filter('we"ird; DROP', "=", "1"),
    )
    page = stored.page(PageRequest(limit=MAX_PAGE_ROWS, filters=filters))
    expected = [i for i in range(N) if i % 10 and 10 + i / 100 >= 15 and i % 7 == 0 and i % 3 == 1]
    assert page.row_ids == expected
    assert page.total == len(expected)
    nulls = stored.page(PageRequest(filters=(Filter("mag", "is null"),)))
    assert nulls.total == N // 10
    started = stored.page(PageRequest(filters=(Filter("name", "starts with", "star 00"),)))
    assert started.total == len([i for i in range(100) if i % 7])
    when = stored.page(PageRequest(filters=(Filter("seen", "<", "2024-01-03"),)))
    assert when.row_ids == [0, 1]
    big = stored.page(PageRequest(filters=(Filter("source_id", "=", str(66_000_000_000_000_005)),)))
    assert big.row_ids == [5]


@pytest.mark.parametrize(
    "value",
    [
        "1; DROP TABLE result; --",
        "' OR 1=1 --",
        "x') UNION SELECT * FROM read_csv('/etc/passwd') --",
    ],
)
def test_hostile_values_are_data_not_sql(stored: StoredResult, value: str) -> None:
    text = stored.page(PageRequest(filters=(Filter("name", "=", value),)))
    assert text.total == 0
    with pytest.raises(UsageError, match="is not a number"):
        stored.page(PageRequest(filters=(Filter("mag", "<", value),)))


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (PageRequest(sort="mag) ; DROP TABLE result; --"), "no column"),
        (PageRequest(filters=(Filter("c0", "=", "1"),)), "no column 'c0'"),
        (PageRequest(filters=(Filter("_row", "=", "1"),)), "no column"),
        (PageRequest(filters=(Filter("mag", "LIKE", "1"),)), "unknown filter operator"),
        (PageRequest(filters=(Filter("mag", "<", ""),)), "needs a value"),
        (PageRequest(filters=(Filter("name", "=", "x" * 5000),)), "longer than"),
        (PageRequest(filters=(Filter("pos", "<", "3"),)), "cannot be compared"),
        (PageRequest(filters=(Filter("seen", ">", "yesterday"),)), "is not a timestamp"),
        (PageRequest(limit=0), "limit must be"),
        (PageRequest(limit=MAX_PAGE_ROWS + 1), "limit must be"),
        (PageRequest(offset=-1), "offset must be"),
    ],
)
def test_bad_requests_are_usage_errors(
    stored: StoredResult, request_: PageRequest, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        stored.page(request_)


def test_the_connection_reads_no_other_file(stored: StoredResult, tmp_path: Path) -> None:
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"secret": [42]}), other)
    con = stored._connect()
    try:
        assert con.execute("SELECT count(*) FROM result").fetchall() == [(N,)]
        for sql in (
            f"SELECT * FROM read_parquet('{other}')",
            "SELECT * FROM read_csv('/etc/passwd')",
            f"ATTACH '{tmp_path / 'x.duckdb'}'",
            f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
            "SET enable_external_access = true",
            "INSTALL httpfs",
        ):
            with pytest.raises(Exception, match=r"(?i)permission|cannot change|disabled"):
                con.execute(sql)
    finally:
        con.close()
    assert not (tmp_path / "out.csv").exists()


def test_selected_rows_stream_in_stored_order(stored: StoredResult) -> None:
    batches = list(stored.selected([999, 3, 500, 3, 0], chunk_rows=100))
    table = pa.Table.from_batches(batches, schema=stored.schema)
    assert table.column("file_row_number").to_pylist() == ["x0", "x3", "x500", "x999"]
    assert len(batches) == 3  # only the batches holding selected rows
    with pytest.raises(UsageError, match="not in the result"):
        list(stored.selected([N]))
    with pytest.raises(UsageError, match="no rows"):
        list(stored.selected([]))


def test_parse_filters_checks_the_shape() -> None:
    assert parse_filters(None) == ()
    assert parse_filters('[{"column": "ra", "op": ">", "value": 5}]') == (Filter("ra", ">", "5"),)
    for bad in (
        "{",
        '{"column": "ra"}',
        "[1]",
        '[{"column": 1, "op": "="}]',
        json.dumps([{"column": "a", "op": "=", "value": "1"}] * 51),
        '[{"column": "ra", "op": "=", "value": {"x": 1}}]',
    ):
        with pytest.raises(UsageError):
            parse_filters(bad)


def test_json_ready_values(stored: StoredResult) -> None:
    mag = stored.column("mag")
    assert json_ready(12.34000015258789, mag) == 12.34
    assert json_ready(float("nan")) == "NaN"
    assert json_ready(float("-inf")) == "-Infinity"
    assert json_ready(2**60) == str(2**60)
    assert json_ready(5) == 5
    assert json_ready(dt.datetime(2024, 1, 2, 3, 4)) == "2024-01-02T03:04:00"
    assert json_ready(b"\x01\xff") == "01ff"
    assert json_ready([1.0, float("nan")], stored.column("pos")) == [1.0, "NaN"]
    page = stored.page(PageRequest(limit=1, offset=1))
    assert [json_ready(v, c) for v, c in zip(page.rows[0], page.columns, strict=True)][:3] == [
        "66000000000000001",
        10.01,
        "star 0001",
    ]

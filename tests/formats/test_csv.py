"""CSV and TSV: types from the first block, absolute rows in errors, streaming."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pytest

from datalab.errors import IngestError
from datalab.formats import open_table


def read_all(path: Path, chunk_rows: int = 1000, **kwargs: object) -> pa.Table:
    with open_table(path, **kwargs) as reader:  # type: ignore[arg-type]
        batches = list(reader.batches(chunk_rows))
        assert all(b.num_rows <= chunk_rows for b in batches)
        assert all(b.schema == reader.schema for b in batches)
        return pa.Table.from_batches(batches, schema=reader.schema)


def write_rows(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_round_trip_of_types_and_nulls(tmp_path: Path) -> None:
    path = write_rows(
        tmp_path / "t.csv",
        "id,mag,name,flag,note",
        ["1,12.5,alpha,true,", "2,,beta,false,x", '3,NaN,"gamma, the third",,""', "4,-1e3,,true,"],
    )
    table = read_all(path)
    assert table.schema.types == [pa.int64(), pa.float64(), pa.string(), pa.bool_(), pa.string()]
    assert table.to_pydict() == {
        "id": [1, 2, 3, 4],
        "mag": [12.5, None, None, -1000.0],
        "name": ["alpha", "beta", "gamma, the third", None],
        "flag": [True, False, None, True],
        # unquoted empty is null, a quoted empty string stays a string
        "note": [None, "x", "", None],
    }


def test_fields_and_format(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "t.csv", "ra,dec", ["1,2"])
    with open_table(path) as reader:
        assert reader.format == "csv"
        assert [f.name for f in reader.fields] == ["ra", "dec"]
        assert reader.description is None
        assert reader.total_bytes == path.stat().st_size


def test_large_file_in_many_batches(tmp_path: Path) -> None:
    rows = [f"{i},{i * 0.5},name{i}" for i in range(20_000)]
    path = write_rows(tmp_path / "big.csv", "id,x,name", rows)
    with open_table(path, block_size=16_384) as reader:
        seen = []
        progress = []
        batches = []
        for batch in reader.batches(3000):
            batches.append(batch)
            seen.append(batch.num_rows)
            progress.append(reader.bytes_read)
        assert reader.bytes_read == reader.total_bytes
    assert max(seen) == 3000 and sum(seen) == 20_000 and len(seen) == 7
    assert progress == sorted(progress)
    table = pa.Table.from_batches(batches)
    assert table.column("id").to_pylist() == list(range(20_000))
    assert table.column("x").to_pylist() == [i * 0.5 for i in range(20_000)]
    assert table.column("name")[19_999].as_py() == "name19999"


def test_bad_value_in_a_later_block_names_absolute_row_and_column(tmp_path: Path) -> None:
    rows = [f"{i},{i}.25,obj{i}" for i in range(1, 10_001)]
    rows[8_765 - 1] = "8765,abc,obj8765"
    path = write_rows(tmp_path / "bad.csv", "id,mag,name", rows)
    with pytest.raises(IngestError) as info, open_table(path, block_size=8_192) as reader:
        for _ in reader.batches(500):
            pass
    err = info.value
    assert err.row == 8765
    assert err.column == "mag"
    assert err.path == str(path)
    assert "abc" in str(err) and str(path) in str(err)
    assert "line 8766" in str(err)  # the header is line 1


def test_bad_value_is_reported_before_later_rows(tmp_path: Path) -> None:
    rows = [f"{i},{i}" for i in range(1, 5001)]
    rows[3999] = "4000,1.5"  # an int64 column, inferred from the first block
    path = write_rows(tmp_path / "bad.csv", "a,b", rows)
    with pytest.raises(IngestError) as info:
        read_all(path, chunk_rows=100, block_size=4096)
    assert (info.value.row, info.value.column) == (4000, "b")


def test_wrong_field_count_names_row(tmp_path: Path) -> None:
    rows = [f"{i},{i},x" for i in range(1, 3001)]
    rows[2500 - 1] = "2500,1"
    path = write_rows(tmp_path / "short.csv", "a,b,c", rows)
    with pytest.raises(IngestError) as info:
        read_all(path, block_size=4096)
    assert info.value.row == 2500
    assert "2 fields" in str(info.value) and "3" in str(info.value)


def test_extra_field_in_first_block(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "long.csv", "a,b", ["1,2", "3,4,5"])
    with pytest.raises(IngestError) as info:
        read_all(path)
    assert info.value.row == 2


def test_quoted_newlines_and_blank_lines_keep_row_numbers(tmp_path: Path) -> None:
    rows = ['1,"two\nlines"', "", '2,"say ""hi"""'] + [f"{i},v" for i in range(3, 2000)]
    rows[-1] = "1999"  # too few fields
    path = write_rows(tmp_path / "q.csv", "n,text", rows)
    with pytest.raises(IngestError) as info:
        read_all(path, block_size=2048)
    assert info.value.row == 1999
    good = write_rows(tmp_path / "good.csv", "n,text", rows[:-1])
    table = read_all(good, block_size=2048)
    assert table.column("text").to_pylist()[:2] == ["two\nlines", 'say "hi"']
    assert table.num_rows == 1998


def test_tsv_has_no_quoting(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text('id\tlabel\n1\t12" telescope\n2\t\n')
    with open_table(path) as reader:
        assert reader.format == "tsv"
        table = pa.Table.from_batches(list(reader.batches(10)))
    assert table.column("label").to_pylist() == ['12" telescope', None]


def test_column_empty_in_first_block_is_text(tmp_path: Path) -> None:
    rows = ["1," for _ in range(500)] + ["2,later"]
    path = write_rows(tmp_path / "e.csv", "a,b", rows)
    table = read_all(path, block_size=1024)
    assert table.schema.field("b").type == pa.string()
    assert table.column("b").to_pylist()[-1] == "later"


def test_header_only_empty_and_duplicate_names(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b\n")
    assert read_all(path).num_rows == 0
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(IngestError, match="header row"):
        open_table(empty)
    dup = tmp_path / "dup.csv"
    dup.write_text("a,A\n1,2\n")
    with pytest.raises(IngestError, match="twice"):
        open_table(dup)


def test_gzipped_csv_streams(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(5000)))
    with open_table(path, block_size=4096) as reader:
        assert reader.format == "csv"
        table = pa.Table.from_batches(list(reader.batches(700)))
        assert reader.bytes_read == reader.total_bytes == path.stat().st_size
    assert table.column("b").to_pylist() == [2 * i for i in range(5000)]

"""FITS binary tables: the streaming reader and writer, checked against astropy.io.fits."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from astropy.io import fits

from datalab.errors import IngestError, UsageError
from datalab.formats import FieldMeta, FitsTableWriter, open_table


def read_all(path: Path, chunk_rows: int = 1000, **kwargs: object) -> pa.Table:
    with open_table(path, **kwargs) as reader:  # type: ignore[arg-type]
        batches = list(reader.batches(chunk_rows))
        assert all(b.num_rows <= chunk_rows and b.schema == reader.schema for b in batches)
        return pa.Table.from_batches(batches, schema=reader.schema)


def astropy_table(path: Path, n: int = 50) -> None:
    """A table written by astropy: unsigned ints via TZERO, TNULL, logicals, arrays."""
    idx = np.arange(n)
    columns = [
        fits.Column("id", "K", array=idx * 10**10),
        fits.Column("u16", "I", bzero=32768, array=(idx * 1000).astype(np.uint16)),
        fits.Column("u32", "J", bzero=2**31, array=(idx * 80_000_000).astype(np.uint32)),
        fits.Column("flux", "E", unit="Jy", array=np.where(idx % 4 == 0, np.nan, idx / 2)),
        fits.Column("count", "J", null=-999, array=np.where(idx % 5 == 0, -999, idx)),
        fits.Column("name", "8A", array=[f"star {i}" for i in idx]),
        fits.Column("ok", "L", array=idx % 2 == 0),
        fits.Column("pos", "3D", array=np.stack([idx, idx + 0.5, -idx], axis=1)),
        fits.Column("scaled", "I", array=idx.astype(np.int16)),
    ]
    hdu = fits.BinTableHDU.from_columns(columns, name="STARS")
    hdu.header["TSCAL9"], hdu.header["TZERO9"] = 0.5, 10.0  # stored 0, 1, ... mean 10, 10.5...
    hdu.header["TUCD4"] = "phot.flux.density"
    hdu.header["TCOMM4"] = "Flux density in the V band"
    hdu.header["TUTYP1"] = "src:Source.id"
    hdu.header["COMMENT"] = "Stars seen in the test field."
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 2))), hdu]).writeto(path)


def test_reads_astropy_types_nulls_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "stars.fits"
    astropy_table(path)
    table = read_all(path, chunk_rows=7)
    assert table.schema.types == [
        pa.int64(),
        pa.uint16(),
        pa.uint32(),
        pa.float32(),
        pa.int32(),
        pa.string(),
        pa.bool_(),
        pa.list_(pa.float64(), 3),
        pa.float64(),
    ]
    idx = np.arange(50)
    assert table.column("id").to_pylist() == list(idx * 10**10)
    assert table.column("u16").to_pylist() == list(idx * 1000)
    assert table.column("u32").to_pylist() == [int(i) * 80_000_000 for i in idx]
    assert table.column("flux").to_pylist() == [None if i % 4 == 0 else i / 2 for i in idx]
    assert table.column("count").to_pylist() == [None if i % 5 == 0 else int(i) for i in idx]
    assert table.column("name").to_pylist() == [f"star {i}" for i in idx]
    assert table.column("ok").to_pylist() == [i % 2 == 0 for i in idx]
    assert table.column("pos")[3].as_py() == [3.0, 3.5, -3.0]
    assert table.column("scaled").to_pylist() == [i * 0.5 + 10.0 for i in idx]
    with open_table(path) as reader:
        fields = {f.name: f for f in reader.fields}
        assert reader.description == "Stars seen in the test field."
        assert reader.extname == "STARS"  # type: ignore[attr-defined]
    assert fields["flux"].unit == "Jy"
    assert fields["flux"].ucd == "phot.flux.density"
    assert fields["flux"].description == "Flux density in the V band"
    assert fields["id"].utype == "src:Source.id"
    assert (fields["pos"].datatype, fields["pos"].arraysize) == ("double", "3")
    assert (fields["name"].datatype, fields["name"].arraysize) == ("char", "8*")


def test_hdu_choice(tmp_path: Path) -> None:
    path = tmp_path / "stars.fits"
    astropy_table(path, n=3)
    assert read_all(path, hdu="stars").num_rows == 3
    assert read_all(path, hdu=2).num_rows == 3
    with pytest.raises(IngestError, match="not a binary table"):
        open_table(path, hdu=1)
    with pytest.raises(IngestError, match="no HDU 'other'"):
        open_table(path, hdu="other")
    image = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((3, 3))).writeto(image)
    with pytest.raises(IngestError, match="no binary table"):
        open_table(image)


def test_truncated_file_names_file_and_first_incomplete_row(tmp_path: Path) -> None:
    path = tmp_path / "t.fits"
    with FitsTableWriter(path, pa.schema([("x", pa.float64()), ("n", pa.int32())])) as w:
        w.write_batch(
            pa.record_batch({"x": np.arange(1000.0), "n": np.arange(1000, dtype=np.int32)})
        )
    data = path.read_bytes()
    header_end = 2 * 2880  # primary header, then the one-block table header
    cut = tmp_path / "cut.fits"
    cut.write_bytes(data[: header_end + 12 * 700 + 5])  # 700 whole rows of 12 bytes
    with pytest.raises(IngestError) as info:
        open_table(cut)
    assert info.value.row == 701
    assert str(cut) in str(info.value) and "truncated" in str(info.value)


def test_truncated_gzip_stops_before_the_incomplete_chunk(tmp_path: Path) -> None:
    path = tmp_path / "t.fits"
    with FitsTableWriter(path, pa.schema([("x", pa.float64())])) as w:
        w.write_batch(pa.record_batch({"x": np.arange(1000.0)}))
    gz = tmp_path / "t.fits.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()[: 2 * 2880 + 8 * 450]))
    rows = 0
    with pytest.raises(IngestError) as info, open_table(gz) as reader:
        for batch in reader.batches(200):
            rows += batch.num_rows
    assert rows == 400 and info.value.row == 451


def test_gzipped_fits(tmp_path: Path) -> None:
    path = tmp_path / "stars.fits"
    astropy_table(path, n=20)
    gz = tmp_path / "stars.fits.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert read_all(gz).equals(read_all(path))


def batch_of_everything(n: int, start: int = 0) -> pa.RecordBatch:
    i = np.arange(start, start + n)
    return pa.record_batch(
        {
            "i8": pa.array(i % 200 - 100, pa.int8()),
            "u8": pa.array(i % 256, pa.uint8()),
            "i16": pa.array([None if k % 7 == 0 else k % 30000 for k in i], pa.int16()),
            "u16": pa.array(i % 65536, pa.uint16()),
            "i32": pa.array(i, pa.int32()),
            "u32": pa.array(i * 1_000_000 % 2**32, pa.uint32()),
            "i64": pa.array([None if k % 5 == 0 else k * 10**12 for k in i], pa.int64()),
            "u64": pa.array(i.astype(np.uint64) * 2**50, pa.uint64()),
            "f4": pa.array([None if k % 3 == 0 else k / 4 for k in i], pa.float32()),
            "f8": pa.array(i / 7.0),
            "name": pa.array([None if k % 4 == 0 else f"n{k}" for k in i], pa.string()),
            "flag": pa.array([None if k % 6 == 0 else k % 2 == 0 for k in i], pa.bool_()),
            "vec": pa.array([[k, k + 1, k + 2] for k in i], pa.list_(pa.float32(), 3)),
        }
    )


FIELDS = [
    FieldMeta("f8", unit="deg", ucd="pos.eq.ra;meta.main", description="Right ascension " * 12),
    FieldMeta("name", description="Name, with 'quotes'", utype="src:name"),
]


def test_writer_round_trip_through_own_reader(tmp_path: Path) -> None:
    path = tmp_path / "all.fits"
    schema = batch_of_everything(1).schema
    widths = {"name": 8}  # the first batch's longest name is shorter than later ones
    with FitsTableWriter(
        path, schema, FIELDS, description="All the types. " * 10, string_widths=widths
    ) as w:
        for start in range(0, 2500, 1000):
            w.write_batch(batch_of_everything(min(1000, 2500 - start), start))
        assert w.rows_written == 2500
    assert path.stat().st_size % 2880 == 0
    expected = pa.Table.from_batches([batch_of_everything(2500)])
    table = read_all(path, chunk_rows=600)
    assert table.schema == expected.schema
    assert table.equals(expected)
    with open_table(path) as reader:
        fields = {f.name: f for f in reader.fields}
        assert reader.description == ("All the types. " * 10).strip()
    assert fields["f8"].description == ("Right ascension " * 12).strip()  # CONTINUE cards
    assert (fields["f8"].unit, fields["f8"].ucd) == ("deg", "pos.eq.ra;meta.main")
    assert fields["name"].description == "Name, with 'quotes'"
    assert fields["name"].utype == "src:name"


def test_writer_round_trip_through_astropy(tmp_path: Path) -> None:
    path = tmp_path / "all.fits"
    batch = batch_of_everything(300)
    with FitsTableWriter(path, batch.schema, FIELDS, extname="ALL") as w:
        w.write_batch(batch)
    with fits.open(path, logical_as_bytes=True) as hdul:
        hdu = hdul["ALL"]
        data, header = hdu.data, hdu.header
        assert len(data) == 300
        assert header["TUNIT10"] == "deg" and header["TUCD10"] == "pos.eq.ra;meta.main"
        assert header["TCOMM10"] == ("Right ascension " * 12).strip()
        assert header["TNULL3"] == -32768 and header["TNULL7"] == -(2**63)
        assert list(data["u16"]) == list(range(300))
        assert list(data["u64"]) == [k * 2**50 for k in range(300)]
        assert list(data["i8"]) == [k % 200 - 100 for k in range(300)]
        assert data["i16"][0] == -32768 and data["i16"][1] == 1
        assert np.isnan(data["f4"][0]) and data["f4"][1] == 0.25
        assert data["name"][0] == "" and data["name"][1] == "n1"
        assert list(data["flag"][:3]) == [b"", b"F", b"T"]  # NUL is null (numpy strips it)
        assert list(data["vec"][2]) == [2, 3, 4]


def test_writer_string_widths(tmp_path: Path) -> None:
    schema = pa.schema([("a", pa.string()), ("b", pa.string()), ("c", pa.string())])
    path = tmp_path / "s.fits"
    first = pa.record_batch({"a": ["xy", "x"], "b": ["b", None], "c": ["c", "c"]}, schema=schema)
    fields = [FieldMeta("b", arraysize="10*")]
    with FitsTableWriter(path, schema, fields, string_widths={"c": 5}) as w:
        w.write_batch(first)
        w.write_batch(
            pa.record_batch({"a": ["ab"], "b": ["0123456789"], "c": ["12345"]}, schema=schema)
        )
        with pytest.raises(UsageError, match=r"column 'a' row 4"):
            w.write_batch(pa.record_batch({"a": ["abc"], "b": [""], "c": [""]}, schema=schema))
    with fits.open(path) as hdul:
        assert [hdul[1].header[f"TFORM{i}"] for i in (1, 2, 3)] == ["2A", "10A", "5A"]
    assert read_all(path).column("b").to_pylist() == ["b", None, "0123456789"]


def test_writer_null_marker_only_when_needed(tmp_path: Path) -> None:
    schema = pa.schema([("n", pa.int16())])
    path = tmp_path / "n.fits"
    with FitsTableWriter(path, schema) as w:  # the minimum is a value, not a null
        w.write_batch(pa.record_batch({"n": pa.array([-32768, 5], pa.int16())}))
    assert read_all(path).column("n").to_pylist() == [-32768, 5]
    with fits.open(path) as hdul:
        assert "TNULL1" not in hdul[1].header
    with (
        pytest.raises(UsageError, match="TNULL"),
        FitsTableWriter(tmp_path / "x.fits", schema) as w,
    ):
        w.write_batch(pa.record_batch({"n": pa.array([None, 1], pa.int16())}))
        w.write_batch(pa.record_batch({"n": pa.array([2, -32768], pa.int16())}))


def test_writer_refuses_what_fits_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot be written"):
        FitsTableWriter(tmp_path / "x.fits", pa.schema([("l", pa.list_(pa.int32()))]))
    with pytest.raises(UsageError, match="seekable"):
        FitsTableWriter(io.BufferedWriter(_Unseekable()), pa.schema([("a", pa.int32())]))


def test_writer_without_rows_and_dates(tmp_path: Path) -> None:
    path = tmp_path / "empty.fits"
    with FitsTableWriter(path, pa.schema([("a", pa.int32()), ("s", pa.string())])):
        pass
    with fits.open(path) as hdul:
        assert hdul[1].header["NAXIS2"] == 0
    assert read_all(path).num_rows == 0
    dates = tmp_path / "dates.fits"
    day = pa.array([0, 1], pa.date32())
    with FitsTableWriter(dates, pa.schema([("d", pa.date32())])) as w:
        w.write_batch(pa.record_batch({"d": day}))
    assert read_all(dates).column("d").to_pylist() == ["1970-01-01", "1970-01-02"]


class _Unseekable(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

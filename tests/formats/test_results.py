"""Streaming result writers: every format read back by a real reader, schemas, goldens.

Golden files under ``golden/`` pin the exact bytes of a small table in each text
format and of the error document; after a deliberate change, regenerate them with
``DATALAB_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/formats/test_results.py``.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning
from lxml import etree

from datalab.errors import UsageError
from datalab.formats import FieldMeta
from datalab.formats.parquet_reader import VO_PARQUET_KEY, ParquetReader, vo_metadata
from datalab.formats.results import (
    RESULT_FORMATS,
    ResultInfo,
    encode_result,
    resolve_format,
    votable_error_document,
)

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
XSD = HERE / "schemas" / "VOTable-1.5.xsd"
NS = "{http://www.ivoa.net/xml/VOTable/v1.3}"

TRICKY = 'a<b & "c">, d\'e'
UNICODE = "Ångström – 北京 ✓"
MULTILINE = 'line one\nline "two", end'

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("ra", pa.float64()),
        ("mag", pa.float32()),
        ("n", pa.int32()),
        ("small", pa.int8()),
        ("byte", pa.uint8()),
        ("flag", pa.bool_()),
        ("name", pa.string()),
        ("obs", pa.timestamp("ms")),
        ("pos", pa.list_(pa.float64(), 2)),
        ("circle", pa.list_(pa.float64())),
        ("poly", pa.list_(pa.float64())),
        ("blob", pa.binary()),
    ]
)
FIELDS = [
    FieldMeta("id", description="Source identifier", ucd="meta.id;meta.main"),
    FieldMeta("ra", description="Right ascension", unit="deg", ucd="pos.eq.ra;meta.main"),
    FieldMeta("mag", description="Magnitude <G>", unit="mag", ucd="phot.mag"),
    FieldMeta("n", description="A count", utype="demo:count"),
    FieldMeta("small", description="int8 widened to short"),
    FieldMeta("byte", description="an unsigned byte"),
    FieldMeta("flag", description="a flag"),
    FieldMeta("name", description="Name & alias"),
    FieldMeta("obs", description="Observation time", ucd="time.epoch"),
    FieldMeta("pos", description="Position", unit="deg", ucd="pos", xtype="point"),
    FieldMeta("circle", description="A circle", unit="deg", arraysize="3", xtype="circle"),
    FieldMeta("poly", description="A polygon", unit="deg", xtype="polygon"),
    FieldMeta("blob", description="raw bytes"),
]
T0 = datetime.datetime(2021, 3, 4, 5, 6, 7, 890000)

# Two batches; the second row of each batch has a null in every column.
COLUMNS_1 = {
    "id": [1, None, 3],
    "ra": [10.123456789012345, None, float("nan")],
    "mag": [12.5, None, 0.1],
    "n": [-5, None, 2147483647],
    "small": [-128, None, 127],
    "byte": [0, None, 200],
    "flag": [True, None, False],
    "name": [TRICKY, None, UNICODE],
    "obs": [T0, None, datetime.datetime(1999, 12, 31, 23, 59, 59)],
    "pos": [[10.0, -20.5], None, [359.999, 89.0]],
    "circle": [[1.0, 2.0, 0.5], None, [3.0, 4.0, 1e-10]],
    "poly": [[0.0, 0.0, 1.0, 0.0, 1.0, 1.0], None, [5.0, 5.0, 6.0, 5.0, 6.0, 6.0, 5.0, 6.0]],
    "blob": [b"\x00\x01\xff", None, b"xyz"],
}
COLUMNS_2 = {
    "id": [4, None, 6, 7],
    "ra": [-0.0, None, 1e300, 2.5e-300],
    "mag": [-1.25, None, 99.0, 3.0],
    "n": [0, None, -2147483647, 1],
    "small": [0, None, 1, 2],
    "byte": [1, None, 2, 3],
    "flag": [False, None, True, True],
    "name": [MULTILINE, None, "", "plain"],
    "obs": [T0, None, T0, T0],
    "pos": [[0.0, 0.0], None, [1.0, 1.0], [2.0, 2.0]],
    "circle": [[0.0, 0.0, 1.0], None, [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]],
    "poly": [[0.0, 0.0, 1.0, 0.0, 1.0, 1.0], None, [2.0, 2.0, 3.0, 2.0, 3.0, 3.0], []],
    "blob": [b"", None, b"\x7f", b"ab"],
}


def batches() -> list[pa.RecordBatch]:
    empty = pa.RecordBatch.from_pylist([], schema=SCHEMA)
    return [
        pa.RecordBatch.from_pydict(COLUMNS_1, schema=SCHEMA),
        empty,
        pa.RecordBatch.from_pydict(COLUMNS_2, schema=SCHEMA),
    ]


def expected(name: str) -> list[object]:
    return COLUMNS_1[name] + COLUMNS_2[name]


def encode(
    fmt: str,
    schema: pa.Schema = SCHEMA,
    fields: list[FieldMeta] | None = None,
    rows: list[pa.RecordBatch] | None = None,
    *,
    overflow: bool = False,
    **kwargs: object,
) -> bytes:
    info = ResultInfo(
        query="SELECT * FROM demo\nWHERE ra < 10", extra_infos=(("request", "doQuery"),)
    )
    chunks = encode_result(
        resolve_format(fmt),
        schema,
        FIELDS if fields is None else fields,
        batches() if rows is None else rows,
        info,
        overflow=lambda: overflow,
        **kwargs,  # type: ignore[arg-type]
    )
    return b"".join(chunks)


def subset(names: list[str]) -> tuple[pa.Schema, list[FieldMeta], list[pa.RecordBatch]]:
    schema = pa.schema([SCHEMA.field(n) for n in names])
    fields = [f for f in FIELDS if f.name in names]
    rows = [b.select(names) for b in batches()]
    return schema, fields, rows


def close(a: object, b: object, *, single: bool = False) -> bool:
    """Equal, NaN equal to NaN; ``single``: compared as float32 values."""
    if isinstance(a, float) and isinstance(b, float):
        if single:
            a, b = float(np.float32(a)), float(np.float32(b))
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


# -- VOTable -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xsd() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def assert_valid(xsd: etree.XMLSchema, document: bytes) -> None:
    tree = etree.fromstring(document)
    assert xsd.validate(tree), xsd.error_log


@pytest.mark.parametrize("fmt", ["votable", "votable/b", "votable/b2"])
def test_votable_reads_back_with_astropy(fmt: str) -> None:
    document = encode(fmt)
    votable = parse(io.BytesIO(document))
    resource = votable.resources[0]
    assert resource.type == "results"
    infos = {i.name: i.value for i in resource.infos}
    assert infos["QUERY_STATUS"] == "OK"
    assert infos["QUERY"] == "SELECT * FROM demo\nWHERE ra < 10"
    assert infos["request"] == "doQuery"
    table = votable.get_first_table()
    by_name = {f.name: f for f in table.fields}
    for meta in FIELDS:
        f = by_name[meta.name]
        assert f.description == meta.description
        assert (str(f.unit) if f.unit is not None else None) == meta.unit
        assert f.ucd == meta.ucd
        assert f.utype == meta.utype
    assert by_name["small"].datatype == "short"
    assert by_name["byte"].datatype == "unsignedByte"
    assert by_name["obs"].xtype == "timestamp"
    assert (by_name["pos"].arraysize, by_name["pos"].xtype) == ("2", "point")
    assert (by_name["circle"].arraysize, by_name["circle"].xtype) == ("3", "circle")
    assert (by_name["poly"].arraysize, by_name["poly"].xtype) == ("*", "polygon")
    binary2 = fmt == "votable/b2"
    expected_type = "char" if fmt == "votable" else "unicodeChar"
    assert by_name["name"].datatype == expected_type

    data = table.to_table()
    assert len(data) == 7
    nulls = [1, 4]
    for name in ("id", "ra", "mag", "n", "small", "flag", "byte"):
        column = data[name]
        mask = np.ma.getmaskarray(column)
        for i, value in enumerate(expected(name)):
            if value is None:
                assert mask[i], (name, i)
            elif isinstance(value, float) and math.isnan(value):
                assert mask[i] or math.isnan(column[i])
            else:
                got = column[i].item()
                assert not mask[i] and close(got, value, single=name == "mag"), (name, i, got)
    assert data["id"].dtype == np.int64 and data["small"].dtype == np.int16
    assert data["mag"].dtype == np.float32 and data["byte"].dtype == np.uint8
    # Strings: exact, including XML specials, quotes, line breaks and non-ASCII.
    names = [str(v) for v in data["name"].filled("")]
    for i, value in enumerate(expected("name")):
        if value is None:
            assert names[i] == "" or np.ma.getmaskarray(data["name"])[i]
        else:
            assert names[i] == value
    obs = list(data["obs"])
    assert obs[0] == "2021-03-04T05:06:07.890" and obs[2] == "1999-12-31T23:59:59.000"
    for name in ("pos", "circle", "poly"):
        for i, value in enumerate(expected(name)):
            cell = data[name][i]
            if value is None:
                if binary2 or name != "poly":
                    assert np.ma.getmaskarray(cell).all() or len(cell) == 0, (name, i)
                else:
                    assert len(cell) == 0
            else:
                assert list(np.ma.filled(cell, np.nan)) == value, (name, i)
    blobs = [bytes(np.asarray(data["blob"][i], np.uint8)) for i in (0, 2, 3, 5, 6)]
    assert blobs == [b"\x00\x01\xff", b"xyz", b"", b"\x7f", b"ab"]


@pytest.mark.parametrize("fmt", ["votable", "votable/b", "votable/b2"])
@pytest.mark.parametrize("overflow", [False, True])
def test_votable_is_valid_against_the_schema(
    xsd: etree.XMLSchema, fmt: str, overflow: bool
) -> None:
    document = encode(fmt, overflow=overflow)
    assert_valid(xsd, document)
    tree = etree.fromstring(document)
    assert tree.get("version") in ("1.4", "1.5")
    resource = tree.find(f"{NS}RESOURCE")
    statuses = [i.get("value") for i in resource.findall(f"{NS}INFO")]
    assert statuses[0] == "OK"
    assert ("OVERFLOW" in statuses) == overflow
    if overflow:  # after the TABLE (DALI 1.1 §4.4.1)
        last = list(resource)[-1]
        assert (last.tag, last.get("value")) == (f"{NS}INFO", "OVERFLOW")


@pytest.mark.parametrize("fmt", ["votable", "votable/b", "votable/b2"])
def test_empty_votable_is_valid_and_reads_back(xsd: etree.XMLSchema, fmt: str) -> None:
    document = encode(fmt, rows=[])
    assert_valid(xsd, document)
    table = parse(io.BytesIO(document)).get_first_table().to_table()
    assert len(table) == 0 and table.colnames == SCHEMA.names


def test_votable_drops_characters_xml_forbids(xsd: etree.XMLSchema) -> None:
    schema = pa.schema([("s", pa.string())])
    rows = [pa.record_batch([pa.array(["a\x00b\x1fc\ufffe", "cr\r\nlf"])], schema=schema)]
    document = encode("votable", schema, [FieldMeta("s", description="bad \x01 text")], rows)
    assert_valid(xsd, document)
    cells = [td.text for td in etree.fromstring(document).iter(f"{NS}TD")]
    assert cells == ["abc", "cr\r\nlf"]


def _stream_text(document: bytes) -> str:
    return etree.fromstring(document).find(f".//{NS}STREAM").text


@pytest.mark.parametrize("fmt", ["votable/b", "votable/b2"])
def test_base64_lines_stay_whole_across_batches(fmt: str) -> None:
    schema = pa.schema([("x", pa.int64()), ("s", pa.string())])
    rng = np.random.default_rng(3)
    rows = []
    for size in (1, 7, 100, 2, 5000):  # row sizes vary, so batches end mid-line
        strings = ["x" * int(k) for k in rng.integers(0, 9, size)]
        rows.append(pa.record_batch([pa.array(np.arange(size)), pa.array(strings)], schema=schema))
    document = encode(fmt, schema, [FieldMeta("x"), FieldMeta("s")], rows)
    lines = _stream_text(document).strip("\n").split("\n")
    assert all(len(line) == 76 for line in lines[:-1])
    assert 0 < len(lines[-1]) <= 76
    raw = base64.b64decode("".join(lines), validate=True)
    table = parse(io.BytesIO(document)).get_first_table().to_table()
    assert list(table["x"]) == [i for r in rows for i in r.column(0).to_pylist()]
    assert len(raw) > 5000


def test_binary_declares_integer_null_sentinels() -> None:
    tree = etree.fromstring(encode("votable/b"))
    nulls = {
        f.get("name"): f.find(f"{NS}VALUES").get("null")
        for f in tree.iter(f"{NS}FIELD")
        if f.find(f"{NS}VALUES") is not None
    }
    assert nulls == {
        "id": str(-(1 << 63)),
        "n": str(-(1 << 31)),
        "small": "-32768",
        "byte": "255",
    }
    assert not any(f.find(f"{NS}VALUES") is not None for f in etree.fromstring(
        encode("votable/b2")).iter(f"{NS}FIELD"))


def test_error_document_is_valid(xsd: etree.XMLSchema) -> None:
    document = votable_error_document("bad <query> & more", query="SELECT 1 <")
    assert_valid(xsd, document)
    resource = parse(io.BytesIO(document)).resources[0]
    info = {i.name: i for i in resource.infos}
    assert info["QUERY_STATUS"].value == "ERROR"
    assert info["QUERY_STATUS"].content == "bad <query> & more"
    assert info["QUERY"].value == "SELECT 1 <"


# -- text formats ------------------------------------------------------------------------


def test_csv_reads_back_with_astropy() -> None:
    document = encode("csv")
    assert document.startswith(b'id,ra,mag')
    table = Table.read(document.decode(), format="ascii.csv", fast_reader=False)
    assert table.colnames == SCHEMA.names
    assert len(table) == 7
    for name in ("id", "n", "small", "byte"):
        got = [None if v is np.ma.masked else int(v) for v in table[name]]
        assert got == expected(name)
    ra = np.ma.filled(table["ra"].astype(float), -1.0)
    assert ra[0] == 10.123456789012345 and ra[1] == -1.0 and math.isnan(ra[2])
    assert ra[5] == 1e300 and ra[6] == 2.5e-300
    names = list(np.ma.filled(table["name"], "<null>"))
    assert names == [TRICKY, "<null>", UNICODE, MULTILINE, "<null>", "<null>", "plain"]
    assert table["obs"][0] == "2021-03-04T05:06:07.890"
    assert table["poly"][0] == "0 0 1 0 1 1"


def test_csv_quotes_as_rfc4180_says() -> None:
    document = encode("csv").decode()
    assert '"a<b & ""c"">, d\'e"' in document
    assert '"line one\nline ""two"", end"' in document
    assert document.endswith("\r\n")


def test_tsv_has_one_line_per_row() -> None:
    lines = encode("tsv").decode().split("\n")
    assert lines[-1] == ""
    assert lines[0].split("\t") == SCHEMA.names
    rows = [line.split("\t") for line in lines[1:-1]]
    assert len(rows) == 7 and all(len(r) == len(SCHEMA) for r in rows)
    assert rows[0][7] == TRICKY and rows[2][7] == UNICODE
    assert rows[3][7] == MULTILINE.replace("\n", " ")
    assert rows[1] == [""] * len(SCHEMA)
    assert rows[0][:4] == ["1", repr(10.123456789012345), "12.5", "-5"]
    assert rows[2][1] == "NaN"


def test_json_matches_the_rows() -> None:
    document = json.loads(encode("json", overflow=True))
    assert document["overflow"] is True
    meta = {m["name"]: m for m in document["metadata"]}
    assert meta["ra"] == {
        "name": "ra",
        "datatype": "double",
        "arraysize": None,
        "xtype": None,
        "unit": "deg",
        "ucd": "pos.eq.ra;meta.main",
        "utype": None,
        "description": "Right ascension",
    }
    assert (meta["pos"]["arraysize"], meta["pos"]["xtype"]) == ("2", "point")
    data = document["data"]
    assert len(data) == 7
    columns = list(zip(*data, strict=True))
    for i, name in enumerate(SCHEMA.names):
        want = expected(name)
        if name == "ra":
            want = [None if v is None or math.isnan(v) else v for v in want]
        elif name == "mag":
            want = [None if v is None else float(np.float32(v)) for v in want]
            assert [None if v is None else float(np.float32(v)) for v in columns[i]] == want
            continue
        elif name == "obs":
            want = [None if v is None else v.isoformat(timespec="milliseconds") for v in want]
        elif name == "blob":
            want = [None if v is None else list(v) for v in want]
        assert list(columns[i]) == want, name
    assert json.loads(encode("json"))["overflow"] is False


def test_json_escapes_control_characters() -> None:
    schema = pa.schema([("s", pa.string())])
    rows = [pa.record_batch([pa.array(["tab\there", "bell\x07", 'q"\\'])], schema=schema)]
    document = json.loads(encode("json", schema, [FieldMeta("s")], rows))
    assert document["data"] == [["tab\there"], ["bell\x07"], ['q"\\']]


def test_json_turns_nan_and_infinity_into_null() -> None:
    schema = pa.schema([("x", pa.float64())])
    values = pa.array([float("nan"), float("inf"), -float("inf"), 1.0])
    rows = [pa.record_batch([values], schema=schema)]
    document = json.loads(encode("json", schema, [FieldMeta("x")], rows))
    assert document["data"] == [[None], [None], [None], [1.0]]


# -- FITS --------------------------------------------------------------------------------

FITS_COLUMNS = ["id", "ra", "mag", "n", "small", "byte", "flag", "name", "obs", "pos", "circle"]


def test_fits_reads_back_with_astropy(tmp_path: Path) -> None:
    schema, fields, rows = subset(FITS_COLUMNS)
    path = tmp_path / "result.fits"
    path.write_bytes(encode("fits", schema, fields, rows, tmp_dir=tmp_path))
    assert list(tmp_path.iterdir()) == [path]  # the temporary files are gone
    with pytest.warns(AstropyUserWarning, match="'flag' contains NULL"):
        # FITS logicals mark null with a zero byte; text is UTF-8 (see fits_writer), which
        # astropy decodes only when asked for bytes.
        table = Table.read(path, format="fits", character_as_bytes=True)
    assert len(table) == 7
    assert list(table["flag"]) == [True, False, False, False, False, True, True]
    assert str(table["ra"].unit) == "deg"
    for name in ("id", "n", "small"):
        got = [None if v is np.ma.masked else int(v) for v in table[name]]
        assert got == expected(name), name
    names = [str(v) for v in table["name"]]  # astropy decodes bytes items as UTF-8
    assert names[:4] == [TRICKY, "--", UNICODE, MULTILINE]  # an empty string is masked
    assert str(table["obs"][0]) == "2021-03-04T05:06:07.890"
    assert list(table["pos"][2]) == [359.999, 89.0]
    assert list(table["circle"][2]) == [3.0, 4.0, 1e-10]


def test_fits_refuses_variable_arrays_before_any_row() -> None:
    pulled = []

    def rows() -> Iterator[pa.RecordBatch]:
        pulled.append(1)
        yield from batches()

    with pytest.raises(UsageError, match="poly"):
        encode_result(resolve_format("fits"), SCHEMA, FIELDS, rows(), ResultInfo())
    assert pulled == []


def test_fits_string_width_covers_later_batches(tmp_path: Path) -> None:
    schema = pa.schema([("s", pa.string())])
    rows = [
        pa.record_batch([pa.array(["ab"])], schema=schema),
        pa.record_batch([pa.array(["a much longer value"])], schema=schema),
    ]
    path = tmp_path / "s.fits"
    path.write_bytes(encode("fits", schema, [FieldMeta("s")], rows))
    assert list(Table.read(path)["s"]) == ["ab", "a much longer value"]


# -- Parquet -----------------------------------------------------------------------------


@pytest.mark.parametrize("overflow", [False, True])
def test_parquet_round_trips_through_vo_parquet(tmp_path: Path, overflow: bool) -> None:
    path = tmp_path / "result.parquet"
    path.write_bytes(encode("parquet", overflow=overflow))
    metadata = pq.read_schema(path).metadata
    assert metadata[b"IVOA.VOTable-Parquet.version"] == b"1.0"
    document = metadata[VO_PARQUET_KEY]
    footer = pq.ParquetFile(path).metadata.metadata
    assert footer[VO_PARQUET_KEY] == document
    assert footer.get(b"datalab.query_status") == (b"OVERFLOW" if overflow else None)
    vo_fields, _ = vo_metadata(document)
    assert [f.name for f in vo_fields] == SCHEMA.names
    with ParquetReader(path) as reader:
        for got, want in zip(reader.fields, FIELDS, strict=True):
            assert (got.unit, got.ucd, got.utype, got.description) == (
                want.unit, want.ucd, want.utype, want.description
            )
        assert reader.fields[9].xtype == "point" and reader.fields[10].arraysize == "3"
        table = pa.Table.from_batches(list(reader.batches(1000)))
    assert table.num_rows == 7
    for name in SCHEMA.names:
        got = table.column(name).to_pylist()
        want = expected(name)
        single = name == "mag"
        assert all(close(g, w, single=single) for g, w in zip(got, want, strict=True)), name
    # the declared point/circle arrays are fixed-size in the file
    assert table.schema.field("circle").type == pa.list_(pa.float64(), 3)


# -- all formats -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [f.name for f in RESULT_FORMATS])
def test_empty_result_keeps_the_schema(tmp_path: Path, fmt: str) -> None:
    schema, fields, _ = subset(["id", "ra", "name", "pos"])
    document = encode(fmt, schema, fields, rows=[])
    if fmt.startswith("votable"):
        table = parse(io.BytesIO(document)).get_first_table().to_table()
    elif fmt == "json":
        parsed = json.loads(document)
        assert parsed["data"] == [] and len(parsed["metadata"]) == 4
        return
    elif fmt == "tsv":
        assert document == b"id\tra\tname\tpos\n"
        return
    elif fmt == "parquet":  # astropy needs pandas for Parquet, which is not installed
        path = tmp_path / "empty.parquet"
        path.write_bytes(document)
        table = Table(pq.read_table(path).to_pydict())
    else:
        path = tmp_path / f"empty.{fmt}"
        path.write_bytes(document)
        table = Table.read(path, format="ascii.csv" if fmt == "csv" else fmt)
    assert table.colnames == ["id", "ra", "name", "pos"] and len(table) == 0


@pytest.mark.parametrize("fmt", [f.name for f in RESULT_FORMATS])
def test_chunks_are_bounded_and_overflow_is_asked_last(fmt: str) -> None:
    schema = pa.schema([("id", pa.int64()), ("x", pa.float64()), ("s", pa.string())])
    state = {"exhausted": False, "asked": 0}

    def rows() -> Iterator[pa.RecordBatch]:
        for start in range(0, 300_000, 50_000):
            ids = np.arange(start, start + 50_000)
            yield pa.record_batch(
                [pa.array(ids), pa.array(ids * 0.5), pa.array(np.char.mod("s%d", ids))],
                schema=schema,
            )
        state["exhausted"] = True

    def overflow() -> bool:
        assert state["exhausted"]
        state["asked"] += 1
        return True

    fields = [FieldMeta("id"), FieldMeta("x"), FieldMeta("s")]
    sizes = [
        len(c)
        for c in encode_result(
            resolve_format(fmt), schema, fields, rows(), ResultInfo(), overflow=overflow
        )
    ]
    assert len(sizes) > 2
    assert max(sizes) <= 1 << 20
    assert min(sizes[:-1]) >= 64 << 10
    assert state["asked"] <= 1
    if fmt.startswith("votable") or fmt in ("json", "parquet"):
        assert state["asked"] == 1


def test_field_count_must_match_schema() -> None:
    with pytest.raises(ValueError):
        encode_result(resolve_format("csv"), SCHEMA, FIELDS[:2], [], ResultInfo())


# -- resolve_format ----------------------------------------------------------------------


def test_every_alias_resolves_to_its_format() -> None:
    seen: dict[str, str] = {}
    for fmt in RESULT_FORMATS:
        assert fmt.name in fmt.aliases
        for alias in fmt.aliases:
            assert resolve_format(alias) is fmt
            assert resolve_format(alias.upper()) is fmt
            assert resolve_format(f"  {alias.replace(';', ' ; ').replace('=', ' = ')} ") is fmt
            assert seen.setdefault(alias.lower(), fmt.name) == fmt.name


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "votable"),
        ("", "votable"),
        ("  ", "votable"),
        ("application/x-votable+xml", "votable"),
        ("text/xml", "votable"),
        ("votable/td", "votable"),
        ("application/x-votable+xml;serialization=TABLEDATA", "votable"),
        ("application/x-votable+xml; serialization=binary2", "votable/b2"),
        ("Application/X-VOTable+XML;Serialization=BINARY", "votable/b"),
        ("votable/b", "votable/b"),
        ("text/csv;header=present", "csv"),
        ("text/tab-separated-values", "tsv"),
        ("text/tsv", "tsv"),
        ("application/fits", "fits"),
        ("application/x-parquet", "parquet"),
        ("application/vnd.apache.parquet", "parquet"),
        ("application/json", "json"),
    ],
)
def test_resolve_format(value: str | None, name: str) -> None:
    assert resolve_format(value).name == name


def test_unknown_format_lists_the_names() -> None:
    with pytest.raises(UsageError) as caught:
        resolve_format("text/html")
    for fmt in RESULT_FORMATS:
        assert fmt.name in str(caught.value)


def test_formats_describe_themselves() -> None:
    assert RESULT_FORMATS[0].name == "votable"
    assert [f.name for f in RESULT_FORMATS] == [
        "votable", "votable/b", "votable/b2", "csv", "tsv", "fits", "parquet", "json"
    ]
    assert resolve_format("votable/b2").mime_type == (
        "application/x-votable+xml;serialization=BINARY2"
    )
    assert {f.extension for f in RESULT_FORMATS} == {"vot", "csv", "tsv", "fits", "parquet", "json"}


# -- golden files ------------------------------------------------------------------------

GOLDEN_FORMATS = {
    "votable": "tabledata.vot",
    "votable/b2": "binary2.vot",
    "csv": "result.csv",
    "tsv": "result.tsv",
    "json": "result.json",
}


def _check_golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("DATALAB_UPDATE_GOLDEN") == "1":
        path.write_bytes(data)
    assert path.exists(), f"no golden file {name}; set DATALAB_UPDATE_GOLDEN=1"
    assert data == path.read_bytes()


@pytest.mark.parametrize(("fmt", "name"), sorted(GOLDEN_FORMATS.items()))
def test_output_matches_golden_file(fmt: str, name: str) -> None:
    _check_golden(name, encode(fmt, overflow=True))


def test_error_document_matches_golden_file() -> None:
    _check_golden(
        "error.vot", votable_error_document("table 'x' does not exist", query="SELECT * FROM x")
    )


def test_golden_votables_are_valid(xsd: etree.XMLSchema) -> None:
    for name in (*GOLDEN_FORMATS.values(), "error.vot"):
        if name.endswith(".vot") and (GOLDEN / name).exists():
            assert_valid(xsd, (GOLDEN / name).read_bytes())
            assert re.search(rb'version="1\.[45]"', (GOLDEN / name).read_bytes())

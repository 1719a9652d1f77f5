"""VOTable: TABLEDATA, BINARY and BINARY2 streamed; errors name the row and column."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from astropy.io.votable import from_table, writeto
from astropy.io.votable.tree import Field, Resource, TableElement, VOTableFile
from astropy.table import MaskedColumn, Table

from datalab.errors import IngestError
from datalab.formats import open_table

N = 1000


def read_all(path: Path, chunk_rows: int = 300, **kwargs: object) -> pa.Table:
    with open_table(path, **kwargs) as reader:  # type: ignore[arg-type]
        batches = list(reader.batches(chunk_rows))
        assert all(b.num_rows <= chunk_rows and b.schema == reader.schema for b in batches)
        assert reader.bytes_read == reader.total_bytes
        return pa.Table.from_batches(batches, schema=reader.schema)


def write_astropy(path: Path, fmt: str) -> None:
    i = np.arange(N)
    t = Table()
    t["id"] = MaskedColumn(i.astype(np.int32), mask=i % 7 == 0)
    x = i / 3.0
    x[11] = np.nan
    t["x"] = MaskedColumn(x, mask=i % 5 == 0, unit="deg", description="An angle")
    t["f"] = (i * 0.5).astype(np.float32)
    t["name"] = MaskedColumn([f"obj {k}" for k in i], mask=i % 3 == 0)
    t["flag"] = i % 2 == 0
    t["vec"] = np.stack([i, i + 0.25, -i], axis=1).astype(np.float64)
    t["big"] = i.astype(np.int64) + 2**62
    t["small"] = (-i).astype(np.int16)
    t.meta["description"] = "Test objects"
    votable = from_table(t)
    table = votable.get_first_table()
    table.format = fmt
    table.fields[0].values.null = -999  # BINARY marks integer nulls with a value
    table.fields[0].ucd = "meta.id"
    writeto(votable, str(path))


def expected() -> dict[str, list[object]]:
    i = np.arange(N)
    return {
        "id": [None if k % 7 == 0 else int(k) for k in i],
        "x": [None if k % 5 == 0 or k == 11 else k / 3.0 for k in i],
        "f": [k * 0.5 for k in i],
        "name": [None if k % 3 == 0 else f"obj {k}" for k in i],
        "flag": [bool(k % 2 == 0) for k in i],
        "vec": [[float(k), k + 0.25, float(-k)] for k in i],
        "big": [int(k) + 2**62 for k in i],
        "small": [int(-k) for k in i],
    }


@pytest.mark.parametrize("fmt", ["tabledata", "binary", "binary2"])
@pytest.mark.parametrize("block_size", [97, 4096, None])
def test_serializations_read_what_astropy_wrote(tmp_path: Path, fmt: str, block_size: int) -> None:
    path = tmp_path / f"t.{fmt}.vot"
    write_astropy(path, fmt)
    table = read_all(path, block_size=block_size)
    assert table.num_rows == N
    assert table.schema.types == [
        pa.int32(),
        pa.float64(),
        pa.float32(),
        pa.string(),
        pa.bool_(),
        pa.list_(pa.float64(), 3),
        pa.int64(),
        pa.int16(),
    ]
    assert table.to_pydict() == expected()


def test_metadata(tmp_path: Path) -> None:
    path = tmp_path / "t.vot"
    write_astropy(path, "binary2")
    with open_table(path) as reader:
        assert reader.format == "votable"
        assert reader.description == "Test objects"
        fields = {f.name: f for f in reader.fields}
    assert (fields["x"].unit, fields["x"].description) == ("deg", "An angle")
    assert fields["id"].ucd == "meta.id" and fields["id"].datatype == "int"
    assert (fields["vec"].datatype, fields["vec"].arraysize) == ("double", "3")


def document(fields: str, rows: str, *, prefix: str = "", head: str = "") -> str:
    p = prefix
    ns = f' xmlns:{p[:-1]}="http://www.ivoa.net/xml/VOTable/v1.3"' if p else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{head}\n<{p}VOTABLE version="1.5"{ns}>'
        f"<{p}RESOURCE><{p}DESCRIPTION>The resource</{p}DESCRIPTION><{p}TABLE>"
        f"{fields}<{p}DATA><{p}TABLEDATA>\n{rows}\n</{p}TABLEDATA></{p}DATA></{p}TABLE>"
        f"</{p}RESOURCE></{p}VOTABLE>\n"
    )


HAND_FIELDS = """
<FIELD ID="c1" datatype="int"/>
<FIELD name="text" datatype="char" arraysize="*" ucd="meta.note" utype="x:y" xtype="note">
  <DESCRIPTION>Free text</DESCRIPTION></FIELD>
<FIELD name="ok" datatype="boolean"/>
<FIELD name="v" datatype="short" arraysize="2x*"/>
<FIELD name="u" datatype="unsignedByte"><VALUES null="255"/></FIELD>
"""


def test_tabledata_details(tmp_path: Path) -> None:
    rows = """
<TR><TD>0x1F</TD><TD>a &lt;b&gt; &amp; &#233;</TD><TD>true</TD><TD>1 2 3</TD><TD>1</TD></TR>
<TR ID="r2"><TD> +5 </TD><TD><![CDATA[x < y]]></TD><TD>?</TD><TD/><TD>255</TD></TR>
<!-- a comment between rows -->
<TR><TD></TD><TD>  spaced  </TD><TD>F</TD><TD>-4</TD><TD>0xff</TD></TR>"""
    path = tmp_path / "hand.vot"
    path.write_text(document(HAND_FIELDS.replace("2x*", "*"), rows))
    table = read_all(path)
    assert table.to_pydict() == {
        "c1": [31, 5, None],
        "text": ["a <b> & é", "x < y", "  spaced  "],
        "ok": [True, None, False],
        "v": [[1, 2, 3], None, [-4]],
        "u": [1, None, None],
    }
    with open_table(path) as reader:
        assert reader.description == "The resource"
        text = reader.fields[1]
    assert (text.ucd, text.utype, text.xtype, text.description) == (
        "meta.note",
        "x:y",
        "note",
        "Free text",
    )
    assert reader.fields[0].name == "c1"  # no name: the ID


def test_namespace_prefix_and_gzip(tmp_path: Path) -> None:
    fields = '<vot:FIELD name="a" datatype="double"/><vot:FIELD name="b" datatype="char"/>'
    rows = "\n".join(
        f"<vot:TR><vot:TD>{k}.5</vot:TD><vot:TD>z</vot:TD></vot:TR>" for k in range(500)
    )
    path = tmp_path / "ns.vot.gz"
    path.write_bytes(gzip.compress(document(fields, rows, prefix="vot:").encode()))
    table = read_all(path, chunk_rows=64, block_size=512)
    assert table.column("a").to_pylist() == [k + 0.5 for k in range(500)]
    assert table.column("b").to_pylist() == ["z"] * 500


def bad_rows(bad_row: int, cell: str, n: int = 3000) -> str:
    rows = [f"<TR><TD>{k}</TD><TD>{k}.5</TD></TR>" for k in range(1, n + 1)]
    rows[bad_row - 1] = f"<TR><TD>{bad_row}</TD>{cell}</TR>"
    return "\n".join(rows)


TWO_FIELDS = '<FIELD name="n" datatype="long"/><FIELD name="mag" datatype="float"/>'
VARIANTS = {
    "plain": ("", "UTF-8"),  # rows split from the bytes
    "latin1": ("", "ISO-8859-1"),  # every row through expat
    "comment": ("<!-- x -->", "UTF-8"),  # a block falls back to expat
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_bad_value_names_row_and_column(tmp_path: Path, variant: str) -> None:
    extra, encoding = VARIANTS[variant]
    rows = bad_rows(2345, f"<TD>abc</TD>{extra}")
    path = tmp_path / "bad.vot"
    path.write_bytes(document(TWO_FIELDS, rows).replace("UTF-8", encoding).encode(encoding))
    with pytest.raises(IngestError) as info:
        read_all(path, chunk_rows=500, block_size=8192)
    assert (info.value.row, info.value.column) == (2345, "mag")
    assert "abc" in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_wrong_number_of_cells_names_row(tmp_path: Path, variant: str) -> None:
    extra, encoding = VARIANTS[variant]
    rows = bad_rows(1777, f"<TD>1</TD><TD>2</TD>{extra}")
    path = tmp_path / "bad.vot"
    path.write_bytes(document(TWO_FIELDS, rows).replace("UTF-8", encoding).encode(encoding))
    with pytest.raises(IngestError) as info:
        read_all(path, chunk_rows=500, block_size=8192)
    assert info.value.row == 1777 and "3 TD" in str(info.value)


def test_malformed_xml_names_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.vot"
    path.write_text(document(TWO_FIELDS, bad_rows(1500, "<TD>1</TR>")))
    with pytest.raises(IngestError, match="malformed XML") as info:
        read_all(path, block_size=4096)
    assert info.value.row == 1500
    cut = tmp_path / "cut.vot"
    cut.write_text(document(TWO_FIELDS, bad_rows(1, "<TD>1</TD>"))[:20_000])
    with pytest.raises(IngestError):
        read_all(cut, block_size=4096)


def test_error_document(tmp_path: Path) -> None:
    path = tmp_path / "error.vot"
    path.write_text(
        '<?xml version="1.0"?><VOTABLE version="1.4"><RESOURCE type="results">'
        '<INFO name="QUERY_STATUS" value="ERROR">Table ivoa.nothing not found</INFO>'
        "</RESOURCE></VOTABLE>"
    )
    with pytest.raises(IngestError, match=r"Table ivoa\.nothing not found") as info:
        open_table(path)
    assert str(path) in str(info.value)
    late = tmp_path / "late.vot"
    text = document(TWO_FIELDS, bad_rows(1, "<TD>1</TD>", n=10))
    late.write_text(
        text.replace(
            "</RESOURCE>", '<INFO name="QUERY_STATUS" value="ERROR">timeout</INFO></RESOURCE>'
        )
    )
    with pytest.raises(IngestError, match="timeout"):
        read_all(late)


def test_unsupported_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "c.vot"
    path.write_text(document('<FIELD name="z" datatype="doubleComplex"/>', ""))
    with pytest.raises(IngestError, match="complex") as info:
        open_table(path)
    assert info.value.column == "z"
    empty = tmp_path / "none.vot"
    empty.write_text('<VOTABLE version="1.4"><RESOURCE/></VOTABLE>')
    with pytest.raises(IngestError, match="no TABLE"):
        open_table(empty)


def variable_table() -> VOTableFile:
    """Variable-size cells (length-prefixed in BINARY) next to fixed ones."""
    vot = VOTableFile()
    resource = Resource()
    vot.resources.append(resource)
    table = TableElement(vot)
    resource.tables.append(table)
    table.fields.extend(
        [
            Field(vot, name="s", datatype="char", arraysize="*"),
            Field(vot, name="v", datatype="int", arraysize="*"),
            Field(vot, name="u", datatype="unicodeChar", arraysize="*"),
            Field(vot, name="c", datatype="char", arraysize="4"),
            Field(vot, name="d", datatype="double", arraysize="2x2"),
            Field(vot, name="h", datatype="short"),
        ]
    )
    table.fields[5].values.null = -1
    table.create_arrays(N)
    for k in range(N):
        cells = np.arange(k % 4, dtype=np.int32)
        value = np.ma.array(cells, mask=np.zeros(len(cells), bool))
        square = np.full((2, 2), k, float)
        table.array[k] = (f"s{k}" * (k % 3), value, "λ" * (k % 2), "abcd"[: k % 5], square, k)
    table.array.mask[5]["h"] = True
    return vot


@pytest.mark.parametrize("fmt", ["tabledata", "binary", "binary2"])
def test_variable_size_cells(tmp_path: Path, fmt: str) -> None:
    vot = variable_table()
    vot.get_first_table().format = fmt
    path = tmp_path / f"var.{fmt}.vot"
    writeto(vot, str(path))
    table = read_all(path, chunk_rows=128, block_size=1024)
    k = np.arange(N)
    # Empty strings and arrays are null except in BINARY2, which flags nulls itself.
    empty = None if fmt != "binary2" else ""
    assert table.column("s").to_pylist() == [f"s{i}" * (i % 3) or empty for i in k]
    assert table.column("u").to_pylist() == ["λ" * (i % 2) or empty for i in k]
    assert table.column("c").to_pylist() == ["abcd"[: i % 5] or empty for i in k]
    arrays: list[list[int] | None] = [list(range(i % 4)) for i in k]
    if fmt == "tabledata":  # TABLEDATA cannot tell an empty array from a null one
        arrays = [a or None for a in arrays]
    assert table.column("v").to_pylist() == arrays
    assert table.column("d").to_pylist() == [[float(i)] * 4 for i in k]
    assert table.column("h").to_pylist() == [None if i == 5 else int(i) for i in k]


ONE_FIELD = '<FIELD name="a" datatype="int"/>'
TWO_TABLES = (
    f"<VOTABLE><RESOURCE><TABLE>{ONE_FIELD}<DATA><TABLEDATA><TR><TD>1</TD></TR></TABLEDATA>"
    f"</DATA></TABLE><TABLE>{ONE_FIELD}<DATA><TABLEDATA><TR><TD>2</TD></TR></TABLEDATA></DATA>"
    "</TABLE></RESOURCE></VOTABLE>"
)


@pytest.mark.parametrize(
    ("text", "values"),
    [
        (f"<VOTABLE><RESOURCE><TABLE>{ONE_FIELD}<DATA><TABLEDATA/></DATA></TABLE>"
         "</RESOURCE></VOTABLE>", []),
        (f"<VOTABLE><RESOURCE><TABLE>{ONE_FIELD}</TABLE></RESOURCE></VOTABLE>", []),
        (TWO_TABLES, [1]),  # the first table only
    ],
)  # fmt: skip
def test_empty_tables_and_the_first_of_two(tmp_path: Path, text: str, values: list[int]) -> None:
    path = tmp_path / "t.vot"
    path.write_text(text)
    assert read_all(path).column("a").to_pylist() == values


def test_utf16_document(tmp_path: Path) -> None:
    path = tmp_path / "t.vot"
    text = '<?xml version="1.0" encoding="UTF-16"?>' + TWO_TABLES.replace("<TD>1", "<TD>7")
    path.write_bytes(text.encode("utf-16"))
    assert read_all(path).column("a").to_pylist() == [7]

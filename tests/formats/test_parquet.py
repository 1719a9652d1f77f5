"""Parquet: batches across row groups, metadata from Arrow fields or VO-Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datalab.errors import IngestError
from datalab.formats import open_table

VO_KEY = b"IVOA.VOTable-Parquet.content"

VOTABLE_HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE version="1.5" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
  <RESOURCE type="results">
    <TABLE name="objects">
      <DESCRIPTION>Objects of the survey</DESCRIPTION>
      <FIELD name="id" datatype="long" ucd="meta.id;meta.main"/>
      <FIELD name="ra" datatype="double" unit="deg" ucd="pos.eq.ra;meta.main">
        <DESCRIPTION>Right ascension (ICRS)</DESCRIPTION>
      </FIELD>
      <FIELD name="name" datatype="char" arraysize="*" utype="src:name"/>
      <DATA><PARQUET type="Parquet-local-XML"/></DATA>
    </TABLE>
  </RESOURCE>
</VOTABLE>"""


def sample(n: int) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "ra": pa.array([None if i % 9 == 0 else i * 0.1 for i in range(n)], pa.float64()),
            "name": pa.array([None if i % 4 == 0 else f"obj{i}" for i in range(n)], pa.string()),
            "flag": pa.array([i % 3 == 0 for i in range(n)]),
        }
    )


def read_all(path: Path, chunk_rows: int) -> pa.Table:
    with open_table(path) as reader:
        batches = list(reader.batches(chunk_rows))
        assert all(b.num_rows <= chunk_rows and b.schema == reader.schema for b in batches)
        assert reader.bytes_read == reader.total_bytes
        return pa.Table.from_batches(batches, schema=reader.schema)


def test_round_trip_in_many_batches_with_arrow_metadata(tmp_path: Path) -> None:
    table = sample(10_000)
    schema = pa.schema(
        [
            table.schema.field("id"),
            table.schema.field("ra").with_metadata(
                {"unit": "deg", "ucd": "pos.eq.ra", "description": "Right ascension"}
            ),
            table.schema.field("name"),
            table.schema.field("flag"),
        ],
        metadata={"description": "A sample"},
    )
    path = tmp_path / "s.parquet"
    pq.write_table(table.cast(schema), path, row_group_size=3000)
    result = read_all(path, chunk_rows=1200)
    assert result.equals(table)
    with open_table(path) as reader:
        assert reader.format == "parquet"
        assert reader.description == "A sample"
        ra = reader.fields[1]
    assert (ra.unit, ra.ucd, ra.description) == ("deg", "pos.eq.ra", "Right ascension")


def test_vo_parquet_metadata(tmp_path: Path) -> None:
    table = sample(10).drop_columns(["flag"])
    path = tmp_path / "vo.parquet"
    pq.write_table(table.replace_schema_metadata({VO_KEY: VOTABLE_HEADER}), path)
    with open_table(path) as reader:
        fields = {f.name: f for f in reader.fields}
        assert reader.description == "Objects of the survey"
    assert fields["ra"].unit == "deg" and fields["ra"].description == "Right ascension (ICRS)"
    assert fields["id"].ucd == "meta.id;meta.main" and fields["id"].datatype == "long"
    assert fields["name"].utype == "src:name" and fields["name"].arraysize == "*"


def test_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(IngestError, match="Parquet") as info:
        open_table(path)
    assert str(path) in str(info.value)

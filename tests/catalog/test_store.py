"""CatalogStore: load aside and swap, metadata in TAP_SCHEMA, the HEALPix index."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datalab.catalog import HEALPIX_COLUMN, CatalogStore, TableSpec
from datalab.errors import ConflictError, NotFoundError, UsageError
from datalab.formats import FieldMeta
from datalab.sky import healpix_index


def _batches(n: int, chunk: int, seed: int = 1, start_id: int = 0) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(seed)
    for lo in range(0, n, chunk):
        size = min(chunk, n - lo)
        yield pa.record_batch(
            {
                "id": pa.array(np.arange(start_id + lo, start_id + lo + size, dtype=np.int64)),
                "ra": pa.array(rng.uniform(0, 360, size)),
                "dec": pa.array(np.degrees(np.arcsin(rng.uniform(-1, 1, size)))),
                "mag": pa.array(rng.uniform(10, 20, size).astype(np.float32)),
                "name": pa.array([f"obj{i}" for i in range(lo, lo + size)]),
            }
        )


SPEC = TableSpec(
    schema="survey",
    name="objects",
    description="Test objects",
    schema_description="A test survey",
    fields={"mag": FieldMeta("mag", unit="mag", ucd="phot.mag", description="Magnitude")},
    ra="ra",
    dec="dec",
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CatalogStore]:
    with CatalogStore.open(tmp_path / "catalog.duckdb") as s:
        yield s


def _rows(store: CatalogStore, table: str = "survey.objects") -> int:
    return store.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_load_adds_sorted_healpix_and_metadata(store: CatalogStore) -> None:
    info = store.load(SPEC, _batches(10_000, 3_000))
    assert info.nrows == 10_000
    assert [c.name for c in info.columns] == ["id", "ra", "dec", "mag", "name"]
    assert info.healpix_indexed, "the index is the engine's: flagged, not listed"
    data = store.con.execute(f"SELECT ra, dec, {HEALPIX_COLUMN} FROM survey.objects").fetchnumpy()
    assert np.all(np.diff(data[HEALPIX_COLUMN]) >= 0), "table must be sorted by the index"
    assert np.array_equal(data[HEALPIX_COLUMN], healpix_index(data["ra"], data["dec"]))

    described = store.table("survey.objects")
    assert described.description == "Test objects"
    assert described.ra_column == "ra" and described.dec_column == "dec"
    mag = described.column("mag")
    assert (mag.unit, mag.ucd, mag.description, mag.datatype) == (
        "mag",
        "phot.mag",
        "Magnitude",
        "float",
    )
    ra = described.column("ra")
    assert ra.ucd == "pos.eq.ra;meta.main" and ra.unit == "deg" and ra.indexed
    assert described.column("name").datatype == "char"
    assert described.column("name").arraysize == "*"
    assert described.healpix_indexed
    assert HEALPIX_COLUMN not in [c.name for c in described.columns]
    schemas = {s.name: s.description for s in store.schemas()}
    assert schemas["survey"] == "A test survey"
    assert "tap_schema" in schemas


def test_tap_schema_describes_itself(store: CatalogStore) -> None:
    rows = store.con.execute(
        "SELECT table_name FROM tap_schema.tables WHERE schema_name = 'tap_schema' ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in rows] == [
        "tap_schema.columns",
        "tap_schema.key_columns",
        "tap_schema.keys",
        "tap_schema.schemas",
        "tap_schema.tables",
    ]
    std = store.con.execute(
        "SELECT min(std) FROM tap_schema.columns WHERE table_name LIKE 'tap_schema.%'"
    ).fetchall()[0][0]
    assert std == 1


def test_create_refuses_existing_and_replace_swaps(store: CatalogStore) -> None:
    store.load(SPEC, _batches(1000, 1000))
    with pytest.raises(ConflictError, match="--replace"):
        store.load(SPEC, _batches(10, 10))
    store.load(SPEC, _batches(50, 20), mode="replace")
    assert _rows(store) == 50
    assert store.table("survey.objects").nrows == 50


def test_append_keeps_order_and_documentation(store: CatalogStore) -> None:
    store.load(SPEC, _batches(1000, 400))
    undocumented = TableSpec(schema="survey", name="objects", ra="ra", dec="dec")
    info = store.load(undocumented, _batches(500, 400, seed=2, start_id=1000), mode="append")
    assert info.nrows == 1500
    assert info.description == "Test objects"
    assert info.column("mag").unit == "mag"
    index = store.con.execute(f"SELECT {HEALPIX_COLUMN} FROM survey.objects").fetchnumpy()
    assert np.all(np.diff(index[HEALPIX_COLUMN]) >= 0)


def test_append_with_other_columns_is_refused_and_harmless(store: CatalogStore) -> None:
    store.load(SPEC, _batches(100, 100))
    other = pa.record_batch({"ra": [1.0], "dec": [2.0], "flux": [3.0]})
    with pytest.raises(UsageError, match="missing id, mag, name; unexpected flux"):
        store.load(SPEC, [other], mode="append")
    assert _rows(store) == 100
    with pytest.raises(NotFoundError):
        store.load(TableSpec(schema="survey", name="nothing"), [other], mode="append")


def test_failure_midway_leaves_previous_table(store: CatalogStore) -> None:
    store.load(SPEC, _batches(1000, 1000))
    before = store.table("survey.objects")

    def broken() -> Iterator[pa.RecordBatch]:
        yield from _batches(600, 300)
        raise UsageError("row 601: broken input")

    with pytest.raises(UsageError, match="row 601"):
        store.load(SPEC, broken(), mode="replace")
    assert _rows(store) == 1000
    assert store.table("survey.objects") == before
    leftovers = store.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = '_datalab' "
        "AND table_name LIKE '%load%'"
    ).fetchall()[0][0]
    assert leftovers == 0


def test_table_without_position(store: CatalogStore) -> None:
    spec = TableSpec(schema="survey", name="bands", description="Band list")
    info = store.load(spec, [pa.record_batch({"band": ["g", "r"], "wl": [475.0, 620.0]})])
    assert HEALPIX_COLUMN not in [c.name for c in info.columns]
    assert info.ra_column is None


def test_empty_input_makes_empty_table(store: CatalogStore) -> None:
    empty = pa.record_batch({"ra": pa.array([], pa.float64()), "dec": pa.array([], pa.float64())})
    info = store.load(TableSpec(schema="s", name="empty", ra="ra", dec="dec"), [empty])
    assert info.nrows == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (TableSpec(schema="tap_schema", name="x"), "reserved"),
        (TableSpec(schema="mydb", name="x"), "reserved"),
        (TableSpec(schema="bad name", name="x"), "invalid schema name"),
        (TableSpec(schema="s", name="x; drop table y"), "invalid table name"),
        (TableSpec(schema="s", name="1abc"), "invalid table name"),
        (TableSpec(schema="s", name="x" * 64), "invalid table name"),
        (TableSpec(schema="s", name="x", ra="ra"), "both the RA and the Dec"),
        (TableSpec(schema="s", name="x", ra="nope", dec="dec"), "'nope' is not in the data"),
        (TableSpec(schema="s", name="x", ra="label", dec="dec"), "must be numeric"),
    ],
)
def test_bad_specs_are_refused(store: CatalogStore, spec: TableSpec, message: str) -> None:
    batch = pa.record_batch({"ra": [1.0], "dec": [2.0], "label": ["a"]})
    with pytest.raises(UsageError, match=message):
        store.load(spec, [batch])
    assert store.tables() == [t for t in store.tables() if t.schema == "tap_schema"]


def test_duplicate_column_names_are_refused(store: CatalogStore) -> None:
    batch = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["A", "a"]).to_batches()[0]
    with pytest.raises(UsageError, match="two columns"):
        store.load(TableSpec(schema="s", name="x"), [batch])


def test_foreign_keys_and_drop(store: CatalogStore) -> None:
    store.load(TableSpec(schema="s", name="types"), [pa.record_batch({"t": ["a", "b"]})])
    store.load(TableSpec(schema="s", name="things"), [pa.record_batch({"t": ["a"], "v": [1]})])
    key = store.add_foreign_key("s.things", "s.types", [("t", "t")], "type of each thing")
    fk = store.table("s.things").foreign_keys
    assert fk[0].target_table == "s.types" and fk[0].columns == (("t", "t"),)
    with pytest.raises(UsageError, match="no column 'nope'"):
        store.add_foreign_key("s.things", "s.types", [("nope", "t")])
    store.drop("s.types")
    assert store.con.execute(
        "SELECT count(*) FROM tap_schema.keys WHERE key_id = ?", [key]
    ).fetchall()[0][0] == 0
    with pytest.raises(NotFoundError):
        store.table("s.types")


def test_second_writer_process_gets_a_clear_error(store: CatalogStore, tmp_path: Path) -> None:
    store.load(SPEC, _batches(10, 10))
    code = (
        "from pathlib import Path\n"
        "from datalab.catalog import CatalogStore\n"
        "from datalab.errors import ConflictError\n"
        "try:\n"
        f"    CatalogStore.open(Path({str(tmp_path / 'catalog.duckdb')!r}))\n"
        "except ConflictError as e:\n"
        "    print('CONFLICT', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("CONFLICT") and "in use by another process" in out.stdout


def test_float_columns_are_stored_for_scanning(store: CatalogStore) -> None:
    """Catalog floats are kept uncompressed (no ALP/ALP-RD): scans over them are the
    workload the catalog is written for; other columns keep the engine's choices."""
    store.load(SPEC, _batches(200_000, 50_000))
    store.con.execute("CHECKPOINT")
    stored = dict(
        store.con.execute(
            "SELECT column_name, string_agg(DISTINCT compression, ',')"
            " FROM pragma_storage_info('survey.objects')"
            " WHERE segment_type NOT IN ('VALIDITY') GROUP BY column_name"
        ).fetchall()
    )
    for column in ("ra", "dec", "mag"):
        assert not {"ALP", "ALPRD"} & set(stored[column].split(",")), stored
    assert stored["name"] != "Uncompressed", stored

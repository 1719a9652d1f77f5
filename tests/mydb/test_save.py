"""Saving query results: streamed, atomic, documented, and still there after a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from datalab.adql import TableCatalog, translate
from datalab.catalog import Engine
from datalab.errors import ConflictError, NotFoundError
from datalab.formats import FieldMeta
from datalab.mydb import MyDB
from datalab.query import run_query
from tests.conftest import copy_catalog
from tests.mydb.helpers import query_rows


def save_query(engine: Engine, mydb: MyDB, adql: str, name: str, **kwargs: object) -> int:
    """Run ``adql`` on the catalog and save its batches as ``name``; returns rows saved."""
    sql = translate(adql, TableCatalog(engine.tables())).sql
    with run_query(engine, sql, timeout=60, batch_rows=500) as result:
        table = mydb.save("alice", name, result.schema, result, **kwargs)  # type: ignore[arg-type]
    return table.rows


def staging_tables(engine: Engine) -> list[str]:
    with engine.cursor() as cur:
        rows = cur.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'mydb' "
            "AND table_name LIKE '\\_%' ESCAPE '\\'"
        ).fetchall()
    return [r[0] for r in rows]


def test_save_query_result(engine: Engine, mydb: MyDB) -> None:
    adql = "SELECT id, ra, dec, mag FROM demo.stars WHERE mag < 8"
    rows = save_query(engine, mydb, adql, "bright")
    expected = query_rows(engine, "SELECT COUNT(*) AS n FROM demo.stars WHERE mag < 8")[0]["n"]
    assert rows == expected > 500  # several batches
    table = mydb.table("alice", "mydb://bright")
    assert [c.name for c in table.columns] == ["id", "ra", "dec", "mag"]
    assert [c.datatype for c in table.columns] == ["long", "double", "double", "float"]
    assert table.created is not None
    assert not table.healpix_indexed
    got = query_rows(engine, "SELECT id, mag FROM mydb.bright ORDER BY id", mydb)
    want = query_rows(engine, "SELECT id, mag FROM demo.stars WHERE mag < 8 ORDER BY id")
    assert got == want


def test_conflict_then_replace(engine: Engine, mydb: MyDB) -> None:
    save_query(engine, mydb, "SELECT id FROM demo.stars WHERE mag < 6", "t")
    with pytest.raises(ConflictError, match="already have a myDB table named t"):
        save_query(engine, mydb, "SELECT id, mag FROM demo.stars", "t")
    assert [c.name for c in mydb.table("alice", "t").columns] == ["id"]
    rows = save_query(engine, mydb, "SELECT TOP 10 id, mag FROM demo.stars", "t", replace=True)
    assert rows == 10
    assert [c.name for c in mydb.table("alice", "t").columns] == ["id", "mag"]


def test_failure_midway_keeps_the_old_table(engine: Engine, mydb: MyDB) -> None:
    save_query(engine, mydb, "SELECT TOP 25 id, mag FROM demo.stars", "t",
               fields=[FieldMeta("mag", unit="mag")])
    schema = pa.schema([("id", pa.int64())])

    def failing() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"id": pa.array(range(1000), pa.int64())})
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        mydb.save("alice", "t", schema, failing(), replace=True)
    table = mydb.table("alice", "t")
    assert table.rows == 25
    assert [(c.name, c.unit) for c in table.columns] == [("id", None), ("mag", "mag")]
    assert staging_tables(engine) == []
    # a first save that fails leaves no table at all
    with pytest.raises(RuntimeError):
        mydb.save("alice", "fresh", schema, failing())
    with pytest.raises(NotFoundError):
        mydb.table("alice", "fresh")
    assert staging_tables(engine) == []


def test_bad_data_is_a_usage_error_and_changes_nothing(engine: Engine, mydb: MyDB) -> None:
    schema = pa.schema([("a", pa.int64()), ("A", pa.int64())])
    with pytest.raises(Exception, match="two columns are named"):
        mydb.save("alice", "t", schema, [])
    assert mydb.tables("alice") == []
    assert staging_tables(engine) == []


def test_metadata_is_kept_and_reaches_query_results(engine: Engine, mydb: MyDB) -> None:
    fields = [
        FieldMeta("mag", unit="mag", ucd="phot.mag;em.opt.V", description="V magnitude"),
        FieldMeta("RA", unit="deg", ucd="pos.eq.ra"),  # names match ignoring case
    ]
    save_query(engine, mydb, "SELECT TOP 5 id, ra, mag FROM demo.stars", "t", fields=fields)
    columns = {c.name: c for c in mydb.table("alice", "t").columns}
    assert (columns["mag"].unit, columns["mag"].ucd, columns["mag"].description) == (
        "mag", "phot.mag;em.opt.V", "V magnitude")
    assert (columns["ra"].unit, columns["ra"].ucd) == ("deg", "pos.eq.ra")
    tables, physical = mydb.tables_for("alice")
    translation = translate("SELECT mag FROM mydb.t", TableCatalog(tables, physical=physical))
    (result,) = translation.columns
    assert (result.unit, result.ucd, result.description) == (
        "mag", "phot.mag;em.opt.V", "V magnitude")


def test_empty_result_makes_an_empty_table(engine: Engine, mydb: MyDB) -> None:
    assert save_query(engine, mydb, "SELECT id, mag FROM demo.stars WHERE mag > 100", "none") == 0
    assert [c.name for c in mydb.table("alice", "none").columns] == ["id", "mag"]


def test_tables_survive_a_restart(home: Path) -> None:
    engine = Engine(home / "catalog.duckdb", mydb=home / "mydb.duckdb")
    mydb = MyDB(engine)
    save_query(engine, mydb, "SELECT TOP 100 id, ra, dec FROM demo.stars", "kept",
               fields=[FieldMeta("ra", unit="deg")])
    mydb.index("alice", "kept", ra="ra", dec="dec", column="id")
    engine.close()

    engine = Engine(home / "catalog.duckdb", mydb=home / "mydb.duckdb")
    try:
        mydb = MyDB(engine)
        table = mydb.table("alice", "kept")
        assert table.rows == 100 and table.healpix_indexed
        assert {c.name: (c.unit, c.indexed) for c in table.columns} == {
            "id": (None, True), "ra": ("deg", True), "dec": (None, True)}
        assert query_rows(engine, "SELECT COUNT(*) AS n FROM mydb.kept", mydb) == [{"n": 100}]
    finally:
        engine.close()


def test_staging_left_by_a_dead_process_is_removed(home: Path) -> None:
    engine = Engine(home / "catalog.duckdb", mydb=home / "mydb.duckdb")
    MyDB(engine)
    with engine.cursor() as cur:
        cur.execute("CREATE SCHEMA mydb.alice")
        cur.execute('CREATE TABLE mydb.alice."_stage_deadbeef_0123" AS SELECT 1 AS a')
    engine.close()
    engine = Engine(home / "catalog.duckdb", mydb=home / "mydb.duckdb")
    try:
        MyDB(engine)
        assert staging_tables(engine) == []
    finally:
        engine.close()


def test_save_from_a_demo_catalog(demo_home: Path, tmp_path: Path) -> None:
    """The real Hipparcos catalog, saved with the metadata its query result carries."""
    copy_catalog(demo_home, tmp_path)
    engine = Engine(tmp_path / "catalog.duckdb", mydb=tmp_path / "mydb.duckdb")
    try:
        mydb = MyDB(engine)
        adql = "SELECT hip, ra, dec, hpmag FROM hipparcos.hip2 WHERE hpmag < 6"
        translation = translate(adql, TableCatalog(engine.tables()))
        fields = [FieldMeta(c.name, unit=c.unit, ucd=c.ucd, description=c.description)
                  for c in translation.columns]
        with run_query(engine, translation.sql, timeout=60) as result:
            saved = mydb.save("alice", "hip_bright", result.schema, result, fields=fields)
        count = query_rows(engine, "SELECT COUNT(*) AS n FROM hipparcos.hip2 WHERE hpmag < 6")
        assert saved.rows == count[0]["n"] > 1000
        units = {c.name: c.unit for c in saved.columns}
        assert units["ra"] == "deg"
        assert units == {c.name: c.unit for c in translation.columns}
    finally:
        engine.close()

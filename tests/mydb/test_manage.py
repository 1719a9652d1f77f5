"""Listing, creating, importing, changing, indexing and removing a user's tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy import units as u
from astropy.table import MaskedColumn, QTable, Table

from datalab.adql import TableCatalog, translate
from datalab.catalog import Engine
from datalab.errors import ConflictError, NotFoundError, UsageError
from datalab.mydb import MyDB
from tests.mydb.helpers import compiled, query_rows, star_table


def small() -> pa.Table:
    return pa.table({"id": [1, 2, 3], "ra": [10.0, 20.0, 30.0], "dec": [-5.0, 0.0, 5.0]})


def test_tables_and_tables_for(engine: Engine, mydb: MyDB) -> None:
    assert mydb.tables("alice") == []
    mydb.import_table("alice", "b", small())
    mydb.import_table("alice", "a", small().slice(0, 2))
    assert [(t.name, t.rows) for t in mydb.tables("alice")] == [("a", 2), ("b", 3)]
    infos, physical = mydb.tables_for("alice")
    assert [(i.schema, i.name, i.nrows) for i in infos] == [("mydb", "a", 2), ("mydb", "b", 3)]
    assert physical == {"mydb.a": ("mydb", "alice", "a"), "mydb.b": ("mydb", "alice", "b")}
    catalog = TableCatalog(engine.tables() + infos, physical=physical)
    sql = translate("SELECT COUNT(*) FROM mydb.b", catalog).sql
    assert '"mydb"."alice"."b"' in sql
    assert query_rows(engine, "SELECT COUNT(*) AS n FROM mydb.b", mydb) == [{"n": 3}]
    # a join of a user table with a catalog table
    rows = query_rows(
        engine, "SELECT COUNT(*) AS n FROM mydb.b AS m JOIN demo.stars AS s ON s.id = m.id", mydb
    )
    assert rows == [{"n": 3}]
    with pytest.raises(NotFoundError, match="no myDB table named c"):
        mydb.table("alice", "c")


def test_engine_tables_stay_catalog_only(engine: Engine, mydb: MyDB) -> None:
    before = [t.qualified_name for t in engine.tables()]
    mydb.import_table("alice", "t", small())
    assert [t.qualified_name for t in engine.tables()] == before


def test_drop_rename_copy_truncate(engine: Engine, mydb: MyDB) -> None:
    mydb.import_table("alice", "t", small())
    mydb.index("alice", "t", column="id")
    mydb.rename("alice", "t", "mydb://u")
    assert [t.name for t in mydb.tables("alice")] == ["u"]
    assert mydb.table("alice", "u").columns[0].indexed
    mydb.copy("alice", "u", "v")
    mydb.truncate("alice", "u")
    assert [(t.name, t.rows) for t in mydb.tables("alice")] == [("u", 0), ("v", 3)]
    assert query_rows(engine, "SELECT id FROM mydb.v ORDER BY id", mydb) == [
        {"id": 1}, {"id": 2}, {"id": 3}]
    assert mydb.table("alice", "v").columns[0].indexed
    with pytest.raises(ConflictError):
        mydb.rename("alice", "u", "v")
    with pytest.raises(ConflictError):
        mydb.copy("alice", "u", "v")
    with pytest.raises(NotFoundError):
        mydb.copy("alice", "nothing", "w")
    mydb.drop("alice", "u")
    assert [t.name for t in mydb.tables("alice")] == ["v"]
    for call in (mydb.drop, mydb.truncate):
        with pytest.raises(NotFoundError):
            call("alice", "u")
    mydb.drop_user("alice")
    assert mydb.tables("alice") == []
    with engine.cursor() as cur:
        schemas = cur.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = 'mydb'"
        ).fetchall()
    assert ("alice",) not in schemas


def test_create_and_insert(engine: Engine, mydb: MyDB) -> None:
    created = mydb.create(
        "alice",
        "obs",
        [("id", "bigint"), ("name", "varchar(20)"), ("flux", "double precision"),
         ("ok", "boolean"), ("at", "timestamp")],
    )
    assert [(c.name, c.datatype) for c in created.columns] == [
        ("id", "long"), ("name", "char"), ("flux", "double"), ("ok", "boolean"),
        ("at", "char")]
    added = mydb.insert("alice", "obs", pa.table({"id": [1, 2], "name": ["a", "b"]}))
    assert added == 2
    added = mydb.insert("alice", "obs", Table({"flux": [1.5], "id": [3]}))
    assert added == 1
    rows = query_rows(engine, "SELECT id, name, flux FROM mydb.obs ORDER BY id", mydb)
    assert rows == [{"id": 1, "name": "a", "flux": None}, {"id": 2, "name": "b", "flux": None},
                    {"id": 3, "name": None, "flux": 1.5}]
    with pytest.raises(ConflictError):
        mydb.create("alice", "obs", [("a", "integer")])
    assert mydb.create("alice", "obs", [("a", "integer")], replace=True).rows == 0


def test_create_refuses_bad_definitions(mydb: MyDB) -> None:
    with pytest.raises(UsageError, match="unknown column type 'geometry'"):
        mydb.create("alice", "t", [("a", "geometry")])
    with pytest.raises(UsageError, match="invalid column name"):
        mydb.create("alice", "t", [('a" int); --', "integer")])
    with pytest.raises(UsageError, match="listed twice"):
        mydb.create("alice", "t", [("a", "integer"), ("A", "text")])
    with pytest.raises(UsageError, match="at least one column"):
        mydb.create("alice", "t", [])
    assert mydb.tables("alice") == []


def test_insert_is_all_or_nothing(mydb: MyDB) -> None:
    mydb.create("alice", "t", [("id", "integer")])
    with pytest.raises(UsageError, match="no column 'other'"):
        mydb.insert("alice", "t", pa.table({"id": [1], "other": [2]}))
    bad = pa.table({"id": ["1", "2", "not a number"]})
    with pytest.raises(UsageError, match="cannot insert into t"):
        mydb.insert("alice", "t", bad)
    assert mydb.table("alice", "t").rows == 0
    with pytest.raises(NotFoundError):
        mydb.insert("alice", "missing", small())


def write_files(folder: Path) -> dict[str, Path]:
    """The same three stars as CSV, Parquet, VOTable and FITS (the last two with units)."""
    table = Table({"id": [1, 2, 3], "ra": [10.0, 20.0, 30.0], "dec": [-5.0, 0.0, 5.0]})
    table["ra"].unit = u.deg
    table["ra"].description = "Right ascension"
    table["ra"].meta["ucd"] = "pos.eq.ra"
    paths = {
        "csv": folder / "t.csv",
        "parquet": folder / "t.parquet",
        "votable": folder / "t.vot",
        "fits": folder / "t.fits",
    }
    paths["csv"].write_text("id,ra,dec\n1,10.0,-5.0\n2,20.0,0.0\n3,30.0,5.0\n")
    pq.write_table(small(), paths["parquet"])
    table.write(paths["votable"], format="votable")
    table.write(paths["fits"], format="fits")
    return paths


@pytest.mark.parametrize("kind", ["csv", "parquet", "votable", "fits"])
def test_import_and_insert_files(tmp_path: Path, engine: Engine, mydb: MyDB, kind: str) -> None:
    path = write_files(tmp_path)[kind]
    table = mydb.import_table("alice", "f", path)
    assert table.rows == 3
    assert [c.name for c in table.columns] == ["id", "ra", "dec"]
    if kind in ("votable", "fits"):
        ra = table.columns[1]
        assert ra.unit == "deg"
    if kind == "votable":  # astropy writes no description or UCD to FITS
        assert table.columns[1].description == "Right ascension"
        assert table.columns[1].ucd == "pos.eq.ra"
    assert mydb.insert("alice", "f", path) == 3
    assert query_rows(engine, "SELECT SUM(id) AS s FROM mydb.f", mydb) == [{"s": 12}]
    with pytest.raises(ConflictError):
        mydb.import_table("alice", "f", path)
    assert mydb.import_table("alice", "f", path, replace=True).rows == 3


def test_import_astropy_tables(engine: Engine, mydb: MyDB) -> None:
    table = QTable()
    table["name"] = ["a", "b", "c"]
    table["flux"] = [1.0, 2.0, 3.0] * u.Jy
    table["flag"] = MaskedColumn([1, 2, 3], mask=[False, True, False])
    table["flux"].info.description = "Flux density"
    saved = mydb.import_table("alice", "ap", table)
    columns = {c.name: c for c in saved.columns}
    assert columns["flux"].unit == "Jy"
    assert columns["flux"].description == "Flux density"
    rows = query_rows(engine, "SELECT name, flux, flag FROM mydb.ap ORDER BY name", mydb)
    assert rows == [{"name": "a", "flux": 1.0, "flag": 1}, {"name": "b", "flux": 2.0, "flag": None},
                    {"name": "c", "flux": 3.0, "flag": 3}]
    with pytest.raises(UsageError, match="holds arrays"):
        mydb.import_table("alice", "arr", Table({"v": np.zeros((3, 2))}))
    with pytest.raises(UsageError, match="format can only be given for a file"):
        mydb.import_table("alice", "x", table, format="csv")
    with pytest.raises(UsageError, match="cannot load a dict"):
        mydb.import_table("alice", "x", {"a": [1]})


def test_import_pandas(engine: Engine, mydb: MyDB) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert mydb.import_table("alice", "pdt", frame).rows == 2
    assert mydb.insert("alice", "pdt", frame) == 2


def test_positional_index(engine: Engine, mydb: MyDB) -> None:
    stars = star_table(3000, seed=11)
    mydb.import_table("alice", "s", stars)
    circle = "1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 40, 20, 15))"
    adql = f"SELECT id FROM mydb.s WHERE {circle} ORDER BY id"
    assert "_healpix_29" not in compiled(engine, adql, mydb)
    before = query_rows(engine, adql, mydb)
    assert len(before) > 20

    table = mydb.index("alice", "s", ra="RA", dec="dec")
    assert table.healpix_indexed
    assert [c.name for c in table.columns] == ["id", "ra", "dec", "mag", "kind"]
    assert [c.name for c in table.columns if c.indexed] == ["ra", "dec"]
    assert "_healpix_29" in compiled(engine, adql, mydb)
    assert query_rows(engine, adql, mydb) == before
    with engine.cursor() as cur:
        cells = [r[0] for r in cur.execute('SELECT "_healpix_29" FROM mydb.alice.s').fetchall()]
    assert cells == sorted(cells) and len(cells) == 3000

    # rows inserted later get their index too
    mydb.insert("alice", "s", pa.table({"id": [99999], "ra": [40.0], "dec": [20.0]}))
    after = query_rows(engine, adql, mydb)
    assert after == [*before, {"id": 99999}]


def test_index_errors(mydb: MyDB) -> None:
    mydb.import_table("alice", "t", pa.table({"name": ["a"], "dec": [1.0]}))
    with pytest.raises(UsageError, match="both the RA and the Dec"):
        mydb.index("alice", "t", ra="name")
    with pytest.raises(UsageError, match="say what to index"):
        mydb.index("alice", "t")
    with pytest.raises(UsageError, match="no column 'nope'"):
        mydb.index("alice", "t", column="nope")
    with pytest.raises(UsageError, match="must be numeric"):
        mydb.index("alice", "t", ra="name", dec="dec")
    assert not mydb.table("alice", "t").healpix_indexed
    mydb.index("alice", "t", column="name")
    mydb.index("alice", "t", column="NAME")  # twice is harmless
    assert [c.indexed for c in mydb.table("alice", "t").columns] == [True, False]

"""One user's tables are out of every other user's reach; the catalog stays read-only."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from datalab.adql import ADQLError, TableCatalog, translate
from datalab.catalog import Engine
from datalab.errors import ConflictError, NotFoundError, UsageError
from datalab.mydb import MyDB
from tests.mydb.helpers import query_rows


@pytest.fixture
def with_alice(mydb: MyDB) -> MyDB:
    mydb.import_table("alice", "secret", pa.table({"x": [1, 2, 3]}))
    return mydb


def alice_state(mydb: MyDB) -> list[tuple[str, int]]:
    return [(t.name, t.rows) for t in mydb.tables("alice")]


def test_bob_cannot_see_or_read_alices_tables(engine: Engine, with_alice: MyDB) -> None:
    mydb = with_alice
    assert mydb.tables("bob") == []
    assert mydb.tables_for("bob") == ([], {})
    with pytest.raises(NotFoundError):
        mydb.table("bob", "secret")
    with pytest.raises(ADQLError):
        query_rows(engine, "SELECT * FROM mydb.secret", mydb, user="bob")
    # bob's own table of the same name maps to bob's schema, never alice's
    mydb.import_table("bob", "secret", pa.table({"x": [7]}))
    infos, physical = mydb.tables_for("bob")
    assert physical == {"mydb.secret": ("mydb", "bob", "secret")}
    assert query_rows(engine, "SELECT x FROM mydb.secret", mydb, user="bob") == [{"x": 7}]
    assert "alice" not in translate(
        "SELECT x FROM mydb.secret", TableCatalog(infos, physical=physical)
    ).sql


def test_bob_cannot_change_alices_tables(with_alice: MyDB) -> None:
    mydb = with_alice
    before = alice_state(mydb)
    for call in (
        lambda: mydb.drop("bob", "secret"),
        lambda: mydb.truncate("bob", "secret"),
        lambda: mydb.copy("bob", "secret", "mine"),
        lambda: mydb.rename("bob", "secret", "mine"),
        lambda: mydb.insert("bob", "secret", pa.table({"x": [9]})),
        lambda: mydb.index("bob", "secret", column="x"),
    ):
        with pytest.raises(NotFoundError):
            call()
    # names that try to reach another schema are refused before anything happens
    for name in ("alice.secret", "mydb.alice.secret", "../alice/secret", 'alice"."secret'):
        with pytest.raises(UsageError):
            mydb.drop("bob", name)
        with pytest.raises(UsageError):
            mydb.copy("bob", name, "mine")
    mydb.import_table("bob", "mine", pa.table({"x": [5]}))
    with pytest.raises(UsageError):
        mydb.rename("bob", "mine", "alice.secret")
    mydb.drop_user("bob")
    assert alice_state(mydb) == before
    assert query_rows(mydb._engine, "SELECT SUM(x) AS s FROM mydb.secret", mydb) == [{"s": 6}]


@pytest.mark.parametrize(
    "name", ['a"b', "a.b", "../x", "x" * 10_000, "select", "my table", "", "mydb://"]
)
def test_bad_names_change_nothing(with_alice: MyDB, name: str) -> None:
    mydb = with_alice
    before = alice_state(mydb)
    calls = [
        lambda: mydb.import_table("alice", name, pa.table({"x": [1]})),
        lambda: mydb.create("alice", name, [("x", "integer")]),
        lambda: mydb.rename("alice", "secret", name),
        lambda: mydb.copy("alice", "secret", name),
        lambda: mydb.drop("alice", name),
        lambda: mydb.table("alice", name),
    ]
    for call in calls:
        with pytest.raises(UsageError) as info:
            call()
        assert "table name" in info.value.message
    assert alice_state(mydb) == before


@pytest.mark.parametrize("user", ['alice"', "ALICE", "../alice", "a", "alice.x", "main.x"])
def test_bad_user_names_are_refused(with_alice: MyDB, user: str) -> None:
    with pytest.raises(UsageError, match="invalid user name"):
        with_alice.tables(user)
    with pytest.raises(UsageError, match="invalid user name"):
        with_alice.drop_user(user)
    assert alice_state(with_alice) == [("secret", 3)]


def test_catalog_stays_read_only(engine: Engine, with_alice: MyDB) -> None:
    with engine.cursor() as cur:
        with pytest.raises(duckdb.Error, match="read-only"):
            cur.execute("CREATE TABLE demo.evil AS SELECT 1 AS a")
        with pytest.raises(duckdb.Error, match="read-only"):
            cur.execute("DELETE FROM demo.stars")
        assert cur.execute("SELECT COUNT(*) FROM demo.stars").fetchall()[0][0] > 0


def test_no_attach_after_open(engine: Engine, home: Path) -> None:
    with engine.cursor() as cur:
        with pytest.raises(duckdb.Error, match="disabled"):
            cur.execute(f"ATTACH '{home / 'other.duckdb'}' AS other")
        with pytest.raises(duckdb.Error):
            cur.execute("SET enable_external_access = true")
    assert not (home / "other.duckdb").exists()


def test_engine_without_mydb(home: Path) -> None:
    engine = Engine(home / "catalog.duckdb")
    try:
        with pytest.raises(UsageError, match="no myDB"):
            MyDB(engine)
        with engine.cursor() as cur:
            names = [r[0] for r in cur.execute("SELECT database_name FROM duckdb_databases()")
                     .fetchall()]
        assert "mydb" not in names
    finally:
        engine.close()


def test_mydb_in_use_is_a_conflict(home: Path) -> None:
    """A second engine on the same myDB file (a second server) is refused clearly."""
    first = Engine(home / "catalog.duckdb", mydb=home / "mydb.duckdb")
    try:
        MyDB(first).import_table("alice", "t", pa.table({"x": [1]}))
        with pytest.raises(ConflictError, match="in use"):
            Engine(home / "catalog.duckdb", mydb=home / "mydb.duckdb")
        assert MyDB(first).table("alice", "t").rows == 1
    finally:
        first.close()

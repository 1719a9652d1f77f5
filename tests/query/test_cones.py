"""Cone searches answered from row copies (datalab.query.cones) against the engine.

The reference for every answer is the engine running the compiled SQL of the same
query: the row copy must give the same rows, in the same order, with the same
columns and types, whatever the position (poles, RA 0/360), radius and form of the
query. Cones the copy should not answer (too large) must fall back to the engine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datalab.adql import TableCatalog, Translation, translate
from datalab.catalog import CatalogStore, Engine, TableSpec
from datalab.query import QueryCancelledError, run_query
from datalab.query.cones import answer_cone
from datalab.query.execute import run_translation

TABLE = "ls_mock.tractor"


@pytest.fixture(scope="module")
def catalog(engine: Engine) -> TableCatalog:
    return TableCatalog(engine.tables())


def cone_query(select: str, ra: float, dec: float, radius: float, table: str = TABLE) -> str:
    return (
        f"SELECT {select} FROM {table} WHERE 1 = CONTAINS(POINT('ICRS', ra, dec),"
        f" CIRCLE('ICRS', {ra!r}, {dec!r}, {radius!r}))"
    )


def on_engine(engine: Engine, translation: Translation) -> pa.Table:
    with run_query(engine, translation.sql, timeout=60) as result:
        return pa.Table.from_batches(list(result), schema=result.schema)


def from_copy(engine: Engine, translation: Translation, max_rows: int | None = None) -> pa.Table:
    result = answer_cone(engine, translation, max_rows=max_rows)
    assert result is not None, "the cone was not answered from the row copy"
    with result:
        return pa.Table.from_batches(list(result), schema=result.schema)


def assert_engine_answers(engine: Engine, translation: Translation) -> None:
    """``run_translation`` (which found no copy to use) gives the engine's count."""
    with run_translation(engine, translation, timeout=60) as result:
        count = pa.Table.from_batches(list(result)).column(0)[0].as_py()
    assert count == on_engine(engine, translation).column(0)[0].as_py()


def test_the_mock_survey_has_a_row_copy(engine: Engine) -> None:
    copy = engine.row_copy(TABLE)
    assert copy is not None and copy.num_rows > 100_000


@pytest.mark.parametrize("select", ["*", "COUNT(*)", "TOP 3 objid, ra AS alpha", "ra, ra, dec"])
def test_random_cones_match_the_engine(
    engine: Engine, catalog: TableCatalog, select: str
) -> None:
    rng = np.random.default_rng(7)
    compared = 0
    for radius in (1 / 3600, 1 / 60, 0.1, 0.5):
        for _ in range(15):
            ra = float(rng.uniform(0, 360))
            dec = float(np.degrees(np.arcsin(rng.uniform(-1, 1))))
            translation = translate(cone_query(select, ra, dec, radius), catalog)
            assert translation.cone is not None
            assert from_copy(engine, translation).equals(on_engine(engine, translation))
            compared += 1
    assert compared == 60


@pytest.mark.parametrize(
    ("ra", "dec"),
    [(0.0, 0.0), (359.999, 10.0), (0.001, -10.0), (45.0, 41.8103149), (10.0, 90.0),
     (200.0, -90.0), (90.0, 0.0), (-10.0, 5.0), (370.0, 5.0)],
)
def test_awkward_centres_match_the_engine(
    engine: Engine, catalog: TableCatalog, ra: float, dec: float
) -> None:
    for radius in (0.05, 0.7):
        translation = translate(cone_query("*", ra, dec, radius), catalog)
        assert from_copy(engine, translation).equals(on_engine(engine, translation))


def test_dense_cone_has_rows(engine: Engine, catalog: TableCatalog) -> None:
    """A cone centred on a source finds it (so the comparisons above are not all empty)."""
    with engine.cursor() as cur:
        ra, dec = cur.execute(f"SELECT ra, dec FROM {TABLE} LIMIT 1 OFFSET 1234").fetchone()
    translation = translate(cone_query("objid, ra, dec", ra, dec, 0.5), catalog)
    found = from_copy(engine, translation)
    assert found.num_rows >= 1 and found.equals(on_engine(engine, translation))


def test_maxrec_overflow_and_cancel(engine: Engine, catalog: TableCatalog) -> None:
    with engine.cursor() as cur:
        ra, dec = cur.execute(f"SELECT ra, dec FROM {TABLE} LIMIT 1 OFFSET 99").fetchone()
    translation = translate(cone_query("objid", ra, dec, 1.0), catalog)
    total = on_engine(engine, translation).num_rows
    assert total > 3
    result = answer_cone(engine, translation, max_rows=3)
    assert result is not None
    rows = pa.Table.from_batches(list(result), schema=result.schema)
    assert rows.num_rows == 3 and result.overflow
    cancelled = answer_cone(engine, translation, max_rows=None)
    assert cancelled is not None
    cancelled.cancel()
    with pytest.raises(QueryCancelledError):
        list(cancelled)


def test_large_cones_go_to_the_engine(engine: Engine, catalog: TableCatalog) -> None:
    translation = translate(cone_query("COUNT(*)", 150.0, 20.0, 20.0), catalog)
    assert translation.cone is not None
    assert answer_cone(engine, translation, max_rows=None) is None
    assert_engine_answers(engine, translation)


def test_tables_without_a_copy_go_to_the_engine(demo_home: Path, tmp_path: Path) -> None:
    """A catalog whose row copies are missing answers every cone on the engine."""
    shutil.copy(demo_home / "catalog.duckdb", tmp_path / "catalog.duckdb")
    engine = Engine(tmp_path / "catalog.duckdb")
    try:
        assert engine.row_copy(TABLE) is None
        catalog = TableCatalog(engine.tables())
        translation = translate(cone_query("COUNT(*)", 10.0, 10.0, 0.5), catalog)
        assert translation.cone is not None
        assert answer_cone(engine, translation, max_rows=None) is None
        assert_engine_answers(engine, translation)
    finally:
        engine.close()


@pytest.mark.parametrize("position_type", ["float32", "decimal"])
def test_positions_of_other_types(tmp_path: Path, position_type: str) -> None:
    """Single-precision positions are tested in double precision as the engine does;
    positions of a type the copy cannot read as floats go to the engine."""
    rng = np.random.default_rng(3)
    n = 20_000
    ra, dec = rng.uniform(10, 11, n), rng.uniform(-0.5, 0.5, n)
    if position_type == "float32":
        columns = [pa.array(ra.astype(np.float32)), pa.array(dec.astype(np.float32))]
    else:
        kind = pa.decimal128(12, 8)
        columns = [pa.array(np.round(v, 8).tolist()).cast(kind) for v in (ra, dec)]
    batch = pa.record_batch([pa.array(np.arange(n)), *columns], names=["id", "ra", "dec"])
    with CatalogStore.open(tmp_path / "catalog.duckdb") as store:
        store.load(TableSpec(schema="s", name="t", ra="ra", dec="dec"), [batch])
    engine = Engine(tmp_path / "catalog.duckdb")
    try:
        assert engine.row_copy("s.t") is not None
        catalog = TableCatalog(engine.tables())
        for radius in (0.3 / 60, 3 / 60, 0.2):
            for _ in range(5):
                centre = (float(rng.uniform(10, 11)), float(rng.uniform(-0.5, 0.5)))
                query = cone_query("*", *centre, radius, table="s.t")
                translation = translate(query, catalog)
                assert translation.cone is not None
                if position_type == "float32":
                    assert from_copy(engine, translation).equals(on_engine(engine, translation))
                else:
                    assert answer_cone(engine, translation, max_rows=None) is None
    finally:
        engine.close()

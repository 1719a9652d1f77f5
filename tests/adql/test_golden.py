"""Golden translations: the engine SQL and result metadata of typical queries.

``cases/NAME.adql`` (ADQL) and ``cases/NAME.pgsql`` (Data Lab SQL) are compiled
against the demo catalog; the result must equal ``cases/NAME.expected``. A change to
the compiler that alters one shows up in review as a diff of that file. After a
deliberate change, regenerate with ``DATALAB_UPDATE_GOLDEN=1 ./scripts/test
tests/adql/test_golden.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
import sqlglot

from datalab.adql import TableCatalog, Translation, translate
from datalab.catalog.engine import Engine

CASES = Path(__file__).parent / "cases"
INPUTS = sorted([*CASES.glob("*.adql"), *CASES.glob("*.pgsql")])


@pytest.fixture(scope="module")
def engine(demo_home: Path):  # type: ignore[no-untyped-def]
    engine = Engine(demo_home / "catalog.duckdb", threads=1)
    yield engine
    engine.close()


def render(translation: Translation) -> str:
    lines = ["-- result columns:"]
    for column in translation.columns:
        described = [column.name, column.datatype or "?"]
        for key in ("arraysize", "xtype", "unit", "ucd"):
            value = getattr(column, key)
            if value:
                described.append(f"{key}={value}")
        lines.append("--   " + " ".join(described))
    lines.append(f"-- tables: {', '.join(translation.tables)}")
    pretty = sqlglot.transpile(translation.sql, read="duckdb", write="duckdb", pretty=True)[0]
    return "\n".join(lines) + "\n" + pretty + "\n"


@pytest.mark.parametrize("source", INPUTS, ids=[p.name for p in INPUTS])
def test_translation_matches_golden_file(engine: Engine, source: Path) -> None:
    language = "SQL" if source.suffix == ".pgsql" else "ADQL"
    translation = translate(source.read_text(), TableCatalog(engine.tables()), language=language)
    golden = source.with_suffix(".expected")
    text = render(translation)
    if os.environ.get("DATALAB_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden.name}; set DATALAB_UPDATE_GOLDEN=1"
    assert text == golden.read_text()
    # and the engine accepts what we generate
    with engine.cursor() as cur:
        try:
            cur.sql(f"EXPLAIN {translation.sql}").fetchall()
        except duckdb.Error as error:  # pragma: no cover - shown as the failure
            pytest.fail(f"engine refused the translation: {error}")

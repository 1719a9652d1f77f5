"""The demo catalogs: real data, complete, documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from datalab.catalog import HEALPIX_COLUMN, CatalogStore
from datalab.catalog.mock import PRODUCTS, injected_rows
from tests.conftest import TEST_MOCK_ROWS


@pytest.fixture(scope="module")
def demo(demo_home: Path):  # type: ignore[no-untyped-def]
    with CatalogStore.open(demo_home / "catalog.duckdb", read_only=True) as store:
        yield store


def _one(store: CatalogStore, sql: str) -> object:
    return store.con.execute(sql).fetchall()[0][0]


@pytest.mark.parametrize(
    ("table", "rows"),
    [
        ("gaia_dr3.gaia_source", 482_176),
        ("hipparcos.hip2", 117_955),
        ("openngc.objects", 14_033),
        ("openngc.object_types", 21),
        ("openngc.identifiers", 38_936),
        # The synthetic survey's field rows plus its injected dwarf-galaxy and RR Lyrae stars.
        ("ls_mock.tractor", TEST_MOCK_ROWS + injected_rows()),
        ("ls_mock.truth_objects", TEST_MOCK_ROWS + injected_rows()),
        ("ls_mock.truth_dwarfs", 4),
    ],
)
def test_demo_row_counts(demo: CatalogStore, table: str, rows: int) -> None:
    assert _one(demo, f"SELECT count(*) FROM {table}") == rows
    assert demo.table(table).nrows == rows


def test_every_demo_column_is_documented(demo: CatalogStore) -> None:
    for table in demo.tables():
        assert table.description, table.qualified_name
        for column in table.columns:
            assert column.description, f"{table.qualified_name}.{column.name}"


def test_positional_tables_are_indexed_and_sorted(demo: CatalogStore) -> None:
    for table in (
        "gaia_dr3.gaia_source",
        "hipparcos.hip2",
        "openngc.objects",
        "ls_mock.tractor",
        "ls_mock.measurements",
        "ls_mock.truth_dwarfs",
        "ls_mock.truth_rrlyrae",
    ):
        info = demo.table(table)
        assert info.ra_column == "ra" and info.dec_column == "dec"
        unsorted = _one(
            demo,
            f"SELECT count(*) FROM (SELECT {HEALPIX_COLUMN} - lag({HEALPIX_COLUMN}) OVER () AS d "
            f"FROM {table}) WHERE d < 0",
        )
        assert unsorted == 0, table


def test_gaia_fields_are_what_the_values_say(demo: CatalogStore) -> None:
    # BP is fainter and RP brighter than G for ordinary stars: medians near +0.5 / -0.7.
    bp_g, rp_g = demo.con.execute(
        "SELECT median(phot_bp_mean_mag - phot_g_mean_mag), "
        "median(phot_rp_mean_mag - phot_g_mean_mag) FROM gaia_dr3.gaia_source"
    ).fetchall()[0]
    assert 0.3 < bp_g < 0.7 and -0.9 < rp_g < -0.5
    assert _one(demo, "SELECT count(*) FROM gaia_dr3.gaia_source WHERE source_id < 0") == 70
    assert _one(demo, "SELECT count(*) FROM gaia_dr3.gaia_source WHERE phot_bp_mean_mag = 0") == 0
    assert (
        _one(demo, "SELECT count(*) FROM gaia_dr3.gaia_source WHERE phot_bp_mean_mag IS NULL") > 0
    )
    g = demo.table("gaia_dr3.gaia_source").column("phot_g_mean_mag")
    assert (g.unit, g.ucd) == ("mag", "phot.mag;em.opt")


def test_hipparcos_positions_in_degrees(demo: CatalogStore) -> None:
    # HIP 677 (alpha And): RA 0h08m23s, Dec +29d05m at J1991.25.
    ra, dec, hp = demo.con.execute(
        "SELECT ra, dec, hpmag FROM hipparcos.hip2 WHERE hip = 677"
    ).fetchall()[0]
    assert ra == pytest.approx(2.0965, abs=1e-3) and dec == pytest.approx(29.0904, abs=1e-3)
    assert hp == pytest.approx(2.0371, abs=1e-4)
    assert demo.table("hipparcos.hip2").column("uw").arraysize == "15"


def test_openngc_objects_and_keys(demo: CatalogStore) -> None:
    ra, dec, messier = demo.con.execute(
        "SELECT ra, dec, messier FROM openngc.objects WHERE name = 'NGC0224'"
    ).fetchall()[0]
    assert ra == pytest.approx(10.6847, abs=1e-3) and dec == pytest.approx(41.2689, abs=1e-3)
    assert messier == "031"
    assert _one(demo, "SELECT count(*) FROM openngc.objects WHERE hubble = ''") == 0
    keys = demo.table("openngc.objects").foreign_keys
    assert [k.target_table for k in keys] == ["openngc.object_types"]
    orphans = _one(
        demo,
        "SELECT count(*) FROM openngc.objects o LEFT JOIN openngc.object_types t "
        "USING (type) WHERE t.type IS NULL",
    )
    assert orphans == 0


def test_mock_is_described_as_synthetic(demo: CatalogStore) -> None:
    for name in PRODUCTS:
        info = demo.table(f"ls_mock.{name}")
        assert "synthetic" in (info.description or "").lower(), name
    schema = {s.name: s.description for s in demo.schemas()}["ls_mock"]
    assert "synthetic" in (schema or "").lower()


def test_mock_companion_tables_join_the_catalog(demo: CatalogStore) -> None:
    keys = {k.from_table: k for t in demo.tables() for k in t.foreign_keys}
    for name in ("measurements", "truth_objects", "truth_rrlyrae"):
        key = keys[f"ls_mock.{name}"]
        assert key.target_table == "ls_mock.tractor", name
        orphans = _one(
            demo,
            f"SELECT count(*) FROM ls_mock.{name} m ANTI JOIN ls_mock.tractor t USING (objid)",
        )
        assert orphans == 0, name
    assert demo.table("ls_mock.truth_objects").ra_column is None
    # Light curves for a few thousand objects, every RR Lyrae among them.
    objects = _one(demo, "SELECT count(DISTINCT objid) FROM ls_mock.measurements")
    assert 2000 < objects < 10_000
    missing = _one(
        demo,
        "SELECT count(*) FROM ls_mock.truth_rrlyrae r ANTI JOIN "
        "(SELECT DISTINCT objid FROM ls_mock.measurements) USING (objid)",
    )
    assert missing == 0

"""Names and coordinates for the sky viewer's "Go to", resolved from the demo catalogs
alone (no outside name service)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datalab.catalog import Engine
from datalab.catalog.names import looks_like_coordinates, parse_coordinates, resolve
from datalab.errors import NotFoundError, UsageError


@pytest.fixture(scope="module")
def engine(demo_home: Path) -> Iterator[Engine]:
    opened = Engine(demo_home / "catalog.duckdb")
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("text", "ra", "dec"),
    [
        ("56.75 +24.12", 56.75, 24.12),
        ("56.75, 24.12", 56.75, 24.12),
        ("56.75d -24.12d", 56.75, -24.12),
        ("03:47:00 +24:07:00", 56.75, 24.0 + 7 / 60),
        ("3h47m00s +24d07m00s", 56.75, 24.0 + 7 / 60),
        ("03 47 00.0 -24 07 00", 56.75, -(24.0 + 7 / 60)),
        ("-00:30:00 -0:30:00", None, None),
        ("360 90", 0.0, 90.0),
        ("56d45m00s +24d07m", 56.75, 24.0 + 7 / 60),
    ],
)
def test_coordinates_in_degrees_and_sexagesimal(text: str, ra: float | None, dec: float | None) -> None:
    if ra is None or dec is None:
        with pytest.raises(UsageError, match="right ascension in hours must be from 0 to 24"):
            parse_coordinates(text)
        return
    assert parse_coordinates(text) == pytest.approx((ra, dec))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("400 10", "right ascension 400 is outside 0 to 360 degrees"),
        ("10 -95", "declination -95 is outside -90 to \\+90 degrees"),
        ("25:00:00 +10:00:00", "right ascension in hours must be from 0 to 24"),
        ("03:61:00 +24:00:00", "61 minutes"),
        ("1 2 3", "found 3 values"),
        ("1..2 3", "not numbers"),
    ],
)
def test_bad_coordinates_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        parse_coordinates(text)


def test_names_are_not_mistaken_for_coordinates() -> None:
    assert looks_like_coordinates("03:47:00 +24:07:00")
    assert looks_like_coordinates("56.75 24.12")
    for name in ("M45", "m 31", "HIP 17702", "2MASX J03082795+0206308", "Pleiades", ""):
        assert not looks_like_coordinates(name), name


@pytest.mark.parametrize(
    ("text", "found", "source"),
    [
        ("M45", "Mel022 (Pleiades)", "openngc.objects"),
        ("messier 45", "Mel022 (Pleiades)", "openngc.objects"),
        ("pleiades", "Mel022 (Pleiades)", "openngc.objects"),
        ("NGC 224", "NGC0224 (Andromeda Galaxy)", "openngc.objects"),
        ("m31", "NGC0224 (Andromeda Galaxy)", "openngc.objects"),
        ("ngc1976", "NGC1976 (Great Orion Nebula)", "openngc.objects"),
        ("HIP 17702", "HIP 17702", "hipparcos.hip2"),
    ],
)
def test_names_from_the_catalogs(engine: Engine, text: str, found: str, source: str) -> None:
    place = resolve(engine, text)
    assert (place.name, place.source) == (found, source)
    assert place.fov is not None and 0 < place.fov <= 30


def test_the_pleiades_are_where_they_belong(engine: Engine) -> None:
    place = resolve(engine, "M45")
    assert place.ra == pytest.approx(56.87, abs=0.1)
    assert place.dec == pytest.approx(24.1, abs=0.1)
    star = resolve(engine, "HIP 17702")  # Alcyone, in the cluster
    assert abs(star.ra - place.ra) < 0.5 and abs(star.dec - place.dec) < 0.5


def test_a_gaia_source_by_its_id(engine: Engine) -> None:
    with engine.cursor() as cur:
        source_id, ra, dec = cur.execute(
            "SELECT source_id, ra, dec FROM gaia_dr3.gaia_source WHERE source_id > 0 "
            "ORDER BY source_id LIMIT 1"
        ).fetchone()
    place = resolve(engine, f"Gaia DR3 {source_id}")
    assert (place.ra, place.dec, place.source) == (ra, dec, "gaia_dr3.gaia_source")


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "x' OR '1'='1",
        "M45'; DROP TABLE openngc.objects; --",
        "M999",
        "HIP 0",
        "Gaia DR3 99999999999999999999",
    ],
)
def test_unknown_and_hostile_names_are_not_found(engine: Engine, text: str) -> None:
    with pytest.raises(NotFoundError, match="no object named"):
        resolve(engine, text)
    assert resolve(engine, "M45").source == "openngc.objects"  # nothing was harmed


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", "give a name"), ("   ", "give a name"), ("A" * 5000, "5,000 characters"),
     ("M45\x00", "control characters")],
)  # fmt: skip
def test_empty_huge_and_binary_text_is_refused(engine: Engine, text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        resolve(engine, text)

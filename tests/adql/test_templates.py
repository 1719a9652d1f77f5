"""Reused compilations: a query that differs only in its regions' numbers.

The reference is always a compilation with nothing to reuse (the cache emptied
first): whatever the numbers, the reused translation must equal it, and a refused
number must give the same error, pointing into the new text.
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datalab.adql import ADQLError, TableCatalog, translate
from datalab.adql import templates as tpl
from datalab.catalog.metadata import ColumnInfo, TableInfo

translation_module = sys.modules["datalab.adql.translate"]
CACHE: tpl.TemplateCache = translation_module._TEMPLATES


def table(schema: str, name: str, indexed: bool = True) -> TableInfo:
    return TableInfo(
        schema=schema,
        name=name,
        description="points",
        columns=(
            ColumnInfo("id", "long"),
            ColumnInfo("ra", "double", unit="deg", ucd="pos.eq.ra;meta.main"),
            ColumnInfo("dec", "double", unit="deg", ucd="pos.eq.dec;meta.main"),
            ColumnInfo("mag", "double", unit="mag"),
        ),
        ra_column="ra",
        dec_column="dec",
        healpix_indexed=indexed,
    )


CATALOG = TableCatalog([table("cat", "pts")])


def fresh(text: str, catalog: TableCatalog = CATALOG, language: str = "ADQL"):  # type: ignore[no-untyped-def]
    """The translation with nothing to reuse, or the error it raises."""
    CACHE.clear()
    try:
        return translate(text, catalog, language=language)  # type: ignore[arg-type]
    except ADQLError as error:
        return (error.message, error.line, error.column)


def reused(first: str, second: str, catalog: TableCatalog = CATALOG, language: str = "ADQL"):  # type: ignore[no-untyped-def]
    """The translation of ``second`` right after ``first`` compiled, and whether it reused."""
    CACHE.clear()
    try:
        translate(first, catalog, language=language)  # type: ignore[arg-type]
    except ADQLError:
        pass  # nothing kept to reuse
    hits = CACHE.hits
    try:
        result = translate(second, catalog, language=language)  # type: ignore[arg-type]
    except ADQLError as error:
        result = (error.message, error.line, error.column)
    return result, CACHE.hits > hits


@pytest.fixture(autouse=True)
def _compare_by_hand():  # type: ignore[no-untyped-def]
    """These tests compare reuse with full compilation themselves."""
    check, CACHE.check = CACHE.check, False
    yield
    CACHE.check = check
    CACHE.clear()


def cone(ra: str, dec: str, radius: str, select: str = "*", extra: str = "") -> str:
    return (
        f"SELECT {select} FROM cat.pts WHERE 1 = CONTAINS(POINT('ICRS', ra, dec),"
        f" CIRCLE('ICRS', {ra}, {dec}, {radius})){extra}"
    )


numbers = st.one_of(
    st.floats(-400, 400, allow_nan=False).map(lambda v: repr(round(v, 6))),
    st.integers(-400, 400).map(str),
    st.sampled_from(["0", "0.", ".5", "1e-3", "2.5E+1", "180", "-90", "90.0000001"]),
)


@settings(max_examples=60, deadline=None, database=None)
@given(
    first=st.tuples(numbers, numbers, numbers),
    second=st.tuples(numbers, numbers, numbers),
    shape=st.sampled_from(["circle", "box", "polygon", "q3c"]),
)
def test_reuse_equals_full_compilation(first, second, shape) -> None:  # type: ignore[no-untyped-def]
    def text(values: tuple[str, str, str]) -> tuple[str, str]:
        a, b, c = values
        if shape == "circle":
            return cone(a, b, c), "ADQL"
        if shape == "box":
            return (
                f"SELECT id FROM cat.pts WHERE CONTAINS(POINT('ICRS', ra, dec),"
                f" BOX('ICRS', {a}, {b}, {c}, 0.5)) = 1 AND mag < 20",
                "ADQL",
            )
        if shape == "polygon":
            return (
                f"SELECT COUNT(*) FROM cat.pts WHERE 1 = INTERSECTS(POLYGON('ICRS', {a}, {b},"
                f" {a} + 1, {b}, {a}, {b} + {c}), POINT('ICRS', ra, dec))",
                "ADQL",
            )
        return f"SELECT id FROM cat.pts WHERE q3c_radial_query(ra, dec, {a}, {b}, {c})", "SQL"

    first_text, language = text(first)
    second_text, _ = text(second)
    expected = fresh(second_text, language=language)
    got, _ = reused(first_text, second_text, language=language)
    assert got == expected


def test_a_cone_with_other_numbers_is_reused() -> None:
    got, hit = reused(cone("10", "-20", "1/6."), cone("250.25", "-61.5", "1/60."))
    assert hit
    assert got == fresh(cone("250.25", "-61.5", "1/60."))
    assert "250.25" in got.sql and "_healpix_29" in got.sql


def test_refused_numbers_get_the_error_of_the_new_text() -> None:
    bad = cone("10.123456", "95", "0.1")
    got, _ = reused(cone("1", "2", "0.1"), bad)
    expected = fresh(bad)
    assert isinstance(expected, tuple) and "dec" in expected[0].lower()
    assert got == expected


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (cone("1", "2", "0.1", "TOP 10 *"), cone("1", "2", "0.1", "TOP 20 *")),
        (cone("1", "2", "0.1", extra=" AND mag < 20"), cone("1", "2", "0.1", extra=" AND mag < 21")),
        (cone("1", "2", "0.1", extra=" AND 'a 1' = 'a 1'"), cone("1", "2", "0.1", extra=" AND 'a 2' = 'a 1'")),
        # A sign is text: -2 and 2 are different shapes.
        (cone("1", "2", "0.1"), cone("1", "-2", "0.1")),
    ],
)
def test_numbers_outside_regions_must_match(first: str, second: str) -> None:
    got, hit = reused(first, second)
    assert not hit
    assert got == fresh(second)


def test_the_compared_constant_is_rebuilt_too() -> None:
    """CONTAINS(...) = 2 is a value comparison, = 0 a negated region: both rebuilt."""
    for other in ("0", "2"):
        second = cone("1", "2", "0.1").replace("1 = CONTAINS", f"{other} = CONTAINS")
        got, _ = reused(cone("5", "6", "0.2"), second)
        assert got == fresh(second)


def test_numbers_in_names_strings_and_comments_are_text() -> None:
    first = cone("1", "2", "0.1", extra=" AND 'x 1' <> 'y' -- note 5\n")
    second = cone("3", "4", "0.2", extra=" AND 'x 1' <> 'y' -- note 5\n")
    got, hit = reused(first, second)
    assert hit and got == fresh(second)
    assert tpl.shape_key("a1 + 2 'b 3' \"c 4\" -- d 5", tpl.number_tokens("a1 + 2 'b 3' \"c 4\" -- d 5")) == (
        "a1 + # 'b 3' \"c 4\" -- d 5"
    )


def test_each_catalog_gets_its_own_translation() -> None:
    """Two users' tables of one name are never confused (myDB tables of each user)."""
    alice = TableCatalog([table("mydb", "pts")], physical={"mydb.pts": ("mydb", "alice", "pts")})
    bob = TableCatalog([table("mydb", "pts")], physical={"mydb.pts": ("mydb", "bob", "pts")})
    text = "SELECT id FROM mydb.pts WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {}, 2, 0.1))"
    CACHE.clear()
    translate(text.format(1), alice)
    for_bob = translate(text.format(5), bob)
    assert '"bob"' in for_bob.sql and '"alice"' not in for_bob.sql
    for_alice = translate(text.format(7), alice)
    assert '"alice"' in for_alice.sql and '"bob"' not in for_alice.sql


def test_long_numbers_are_compiled_in_full() -> None:
    long = "1." + "1" * 60
    got, hit = reused(cone("1", "2", "0.1"), cone(long, "2", "0.1"))
    assert not hit
    assert got == fresh(cone(long, "2", "0.1"))


def test_unindexed_and_joined_positions_still_compile() -> None:
    catalog = TableCatalog([table("cat", "pts"), table("cat", "other", indexed=False)])
    join = (
        "SELECT a.id FROM cat.pts AS a JOIN cat.other AS b ON 1 = CONTAINS(POINT('ICRS', a.ra,"
        " a.dec), CIRCLE('ICRS', b.ra, b.dec, {}))"
    )
    got, _ = reused(join.format("0.001"), join.format("0.002"), catalog)
    assert got == fresh(join.format("0.002"), catalog)
    plain = "SELECT id FROM cat.other WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {}, 2, 1))"
    got, hit = reused(plain.format(1), plain.format(3), catalog)
    assert hit and got == fresh(plain.format(3), catalog)


def test_a_query_without_regions_is_reused_only_as_it_is() -> None:
    aggregate = "SELECT COUNT(*), AVG(mag) FROM cat.pts WHERE mag < 20 AND id > 3"
    got, hit = reused(aggregate, aggregate)
    assert hit and got == fresh(aggregate)
    other = aggregate.replace("20", "21")
    got, hit = reused(aggregate, other)
    assert not hit and got == fresh(other) and "21" in got.sql
    plain = "SELECT id FROM cat.pts"
    got, hit = reused(plain, plain)
    assert hit and got == fresh(plain)

"""Which result columns a plot may use, what they are called on the axes, and which
rows have no value."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datalab.errors import UsageError
from datalab.plots import describe_result
from datalab.plots.columns import read_values
from tests.plots.conftest import WriteResult, column


def test_columns_carry_units_ucds_and_numeric_flags(result: WriteResult) -> None:
    path = result(
        column("objid", [1, 2], pa.int64(), ucd="meta.id;meta.main"),
        column("ra", [10.0, 20.0], unit="deg", ucd="pos.eq.ra;meta.main"),
        column("g_r", [0.5, 0.7], pa.float32(), unit="mag"),
        column("type", ["PSF", "EXP"]),
        column("flag", [True, False]),
    )
    info = describe_result(path)
    assert info.rows == 2 and not info.overflow
    by_name = {c.name: c for c in info.columns}
    assert [c.name for c in info.numeric] == ["objid", "ra", "g_r"]
    assert by_name["ra"].label == "ra [deg]" and by_name["objid"].label == "objid"
    assert by_name["g_r"].unit == "mag" and by_name["ra"].ucd == "pos.eq.ra;meta.main"
    assert not by_name["type"].numeric and by_name["type"].holds == "text"
    assert by_name["flag"].holds == "true/false values"


def test_overflow_is_read_from_the_footer(result: WriteResult) -> None:
    assert describe_result(result(column("a", [1.0]), overflow=True)).overflow


def test_sky_columns_found_by_ucd_before_name(result: WriteResult) -> None:
    path = result(
        column("ra", [1.0], unit="deg"),  # a name that looks right, but no UCD
        column("dec", [2.0], unit="deg"),
        column("alpha_fk5", [3.0], unit="deg", ucd="pos.eq.ra"),
        column("x_ra", [3.0], unit="deg", ucd="pos.eq.ra;meta.main"),
        column("x_dec", [4.0], unit="deg", ucd="POS.EQ.DEC;meta.main"),
    )
    ra, dec = describe_result(path).sky_pair()  # type: ignore[misc]
    assert (ra.name, dec.name) == ("x_ra", "x_dec")


def test_sky_columns_found_by_name_and_absent(result: WriteResult) -> None:
    by_name = describe_result(result(column("RAJ2000", [1.0]), column("DEJ2000", [2.0])))
    assert [c.name for c in by_name.sky_pair()] == ["RAJ2000", "DEJ2000"]  # type: ignore[union-attr]
    assert describe_result(result(column("mag", [1.0]))).sky_pair() is None
    textual = describe_result(result(column("ra", ["00h"]), column("dec", ["+1d"])))
    assert textual.sky_pair() is None


def test_find_names_the_choices(result: WriteResult) -> None:
    info = describe_result(result(
        column("mag_g", [1.0]), column("Mag_R", [2.0]), column("type", ["PSF"]),
    ))
    assert info.find("x", "mag_g").name == "mag_g"
    assert info.find("x", "mag_r").name == "Mag_R"  # the only case-insensitive match
    with pytest.raises(UsageError) as missing:
        info.find("y", "mag_z")
    assert missing.value.message == (
        "y: the result has no column 'mag_z'; its numeric columns are mag_g, Mag_R"
    )
    assert missing.value.detail == {"parameter": "y"}
    with pytest.raises(UsageError) as textual:
        info.find("x", "type")
    assert textual.value.message == (
        "x: column 'type' holds text, not numbers; choose one of mag_g, Mag_R"
    )


def test_rows_without_values_are_dropped_and_counted(result: WriteResult) -> None:
    path = result(
        column("x", [1.0, None, math.nan, 4.0, math.inf, 6.0]),
        column("y", pa.array([10, 20, 30, None, 50, 60], type=pa.int16())),
    )
    info = describe_result(path)
    both = read_values(path, info.find("x", "x"), info.find("y", "y"))
    assert both.total == 6 and both.missing == 4 and both.count == 2
    assert both.x.tolist() == [1.0, 6.0] and both.y is not None and both.y.tolist() == [10.0, 60.0]
    only_y = read_values(path, info.find("y", "y"))
    assert only_y.missing == 1 and only_y.x.dtype == np.float64


def test_a_repeated_name_means_its_first_column(tmp_path: Path) -> None:
    # A join can name two columns alike (t.ra and s.ra both come out as "ra").
    table = pa.table([pa.array([1.0, 2.0]), pa.array([5.0, 6.0]), pa.array(["a", "b"])],
                     names=["ra", "ra", "kind"])
    path = tmp_path / "twice.parquet"
    pq.write_table(table, path)
    info = describe_result(path)
    assert [c.name for c in info.columns] == ["ra", "ra", "kind"]
    assert [c.name for c in info.numeric] == ["ra"]
    values = read_values(path, info.find("x", "ra"))
    assert values.x.tolist() == [1.0, 2.0]

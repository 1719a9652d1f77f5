"""The region and interval parsers every image service shares: good values and bad."""

from __future__ import annotations

import math

import pytest

from datalab.errors import UsageError
from datalab.sky import Circle, Polygon
from datalab.web.image_params import (
    parse_circle,
    parse_interval,
    parse_polygon,
    parse_pos,
    parse_sia1_pos,
    parse_sia1_size,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500e-9 550e-9", (500e-9, 550e-9)),
        ("0.21", (0.21, 0.21)),
        ("300 +Inf", (300.0, math.inf)),
        ("-Inf 0.21", (-math.inf, 0.21)),
        ("  -inf   +inf ", (-math.inf, math.inf)),
    ],
)
def test_intervals(text: str, expected: tuple[float, float]) -> None:
    assert parse_interval("BAND", text) == expected


@pytest.mark.parametrize(
    "text", ["", "abc", "1 2 3", "NaN", "1 NaN", "5 1", "+Inf", "1e999x", "+Inf 1"]
)
def test_bad_intervals(text: str) -> None:
    with pytest.raises(UsageError, match="BAND="):
        parse_interval("BAND", text)


def test_pos_shapes() -> None:
    circle = parse_pos("CIRCLE 12 34 0.5")
    assert isinstance(circle, Circle) and (circle.ra, circle.dec, circle.radius) == (12, 34, 0.5)
    assert isinstance(parse_pos("polygon 12 34 14 35 14 36 12 35"), Polygon)
    wrap = parse_pos("RANGE 359.5 0.5 -1 1")
    assert wrap is not None and bool(wrap.contains(0.0, 0.0)) and not bool(wrap.contains(180, 0))
    cap = parse_pos("RANGE 0 360 89 +Inf")
    assert isinstance(cap, Circle) and cap.dec == 90.0 and math.isclose(cap.radius, 1.0)
    assert parse_pos("RANGE -Inf +Inf -Inf +Inf") is None


@pytest.mark.parametrize(
    "text",
    [
        "CIRCLE 12 34",
        "CIRCLE 12 34 0.5 1",
        "CIRCLE 12 95 0.5",
        "CIRCLE 12 NaN 0.5",
        "CIRCLE x 34 0.5",
        "CIRCLE 12 34 -1",
        "CIRCLE 400 34 1",
        "RANGE 1 2 40 30",
        "RANGE 1 2 3",
        "RANGE 1 2 -91 3",
        "RANGE 0 360 -2 2",
        "POLYGON 1 2 3 4",
        "POLYGON 1 2 3 4 5",
        "POLYGON 1 2 1 2 1 2",
        "BOX 1 2 3 4",
        "",
    ],
)
def test_bad_pos(text: str) -> None:
    with pytest.raises(UsageError):
        parse_pos(text)


def test_dali_circle_and_polygon() -> None:
    assert parse_circle("10 20 0.1") == Circle(10, 20, 0.1)
    assert isinstance(parse_polygon("10 20 11 20 11 21"), Polygon)
    for bad in ("10 20", "10 20 0", "10 -100 1", "inf 1 1"):
        with pytest.raises(UsageError, match="CIRCLE="):
            parse_circle(bad)


def test_sia1_pos_and_size() -> None:
    assert parse_sia1_pos("56.75,24.1") == (56.75, 24.1)
    assert parse_sia1_size("0.2") == (0.2, 0.2)
    assert parse_sia1_size("0.2,0.1") == (0.2, 0.1)
    for bad in ("56.75", "56.75,24.1,3", "a,b", "10,91", "nan,0"):
        with pytest.raises(UsageError, match="POS="):
            parse_sia1_pos(bad)
    for bad in ("-1", "1,2,3", "x", "200"):
        with pytest.raises(UsageError, match="SIZE="):
            parse_sia1_size(bad)

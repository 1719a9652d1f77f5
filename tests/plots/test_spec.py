"""Plot parameters as text: defaults, and a precise refusal for every bad value."""

from __future__ import annotations

import pytest

from datalab.errors import UsageError
from datalab.plots import PlotFormat, PlotKind, PlotSpec, Projection, parse_spec


def test_defaults_and_kind_dependent_log() -> None:
    spec = parse_spec({})
    assert spec == PlotSpec()
    assert spec.kind is PlotKind.HEXBIN and spec.log_counts
    assert not parse_spec({"kind": "histogram"}).log_counts
    assert parse_spec({"kind": "histogram", "log": "1"}).log_counts
    assert not parse_spec({"kind": "hexbin", "log": "0"}).log_counts


def test_every_parameter_parsed() -> None:
    spec = parse_spec({
        "kind": "SKY", "x": " ra ", "y": "dec", "bins": "20", "gridsize": "40", "log": "yes",
        "trim": "on", "yflip": "true", "projection": "Mollweide", "xmin": "-1.5",
        "xmax": "2e1", "ymin": "", "ymax": "3", "format": "svg", "download": "1",
    })
    assert spec == PlotSpec(
        kind=PlotKind.SKY, x="ra", y="dec", bins=20, gridsize=40, log=True, trim=True,
        yflip=True, projection=Projection.MOLLWEIDE, xmin=-1.5, xmax=20.0, ymin=None,
        ymax=3.0, format=PlotFormat.SVG,
    )
    assert spec.format.media_type == "image/svg+xml"


def test_keys_differ_for_different_plots() -> None:
    assert parse_spec({"bins": "10"}).key() != parse_spec({"bins": "11"}).key()
    assert parse_spec({"format": "png"}).key() != parse_spec({"format": "svg"}).key()
    assert parse_spec({"x": "a"}).key() == parse_spec({"x": "a"}).key()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kind": "pie"}, "kind must be one of histogram, scatter, hexbin, sky, not 'pie'"),
        ({"projection": "mercator"}, "projection must be one of aitoff, mollweide"),
        ({"format": "gif"}, "format must be one of png, svg"),
        ({"bins": "0"}, "bins must be from 1 to 1000, not 0"),
        ({"bins": "1001"}, "bins must be from 1 to 1000, not 1001"),
        ({"bins": "ten"}, "bins must be a whole number from 1 to 1000, not 'ten'"),
        ({"gridsize": "4"}, "gridsize must be from 5 to 300, not 4"),
        ({"log": "maybe"}, "log must be 1 or 0, not 'maybe'"),
        ({"xmin": "low"}, "xmin must be a number, not 'low'"),
        ({"xmin": "nan"}, "xmin must be a finite number"),
        ({"ymax": "inf"}, "ymax must be a finite number"),
        ({"xmin": "2", "xmax": "1"}, "xmin must be smaller than xmax (2 ≥ 1)"),
        ({"ymin": "1", "ymax": "1"}, "ymin must be smaller than ymax"),
        ({"x": "a" * 300}, "x names a column and is at most 256 characters long"),
        ({"colour": "red"}, "unknown parameter 'colour'; plots take"),
    ],
)
def test_bad_values_are_refused_precisely(params: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_spec(params)
    assert message in caught.value.message
    assert caught.value.status_code == 400


def test_hostile_values_are_quoted_and_cut_short() -> None:
    hostile = "<script>alert(1)</script>" * 100
    with pytest.raises(UsageError) as caught:
        parse_spec({"kind": hostile})
    assert len(caught.value.message) < 200
    assert caught.value.message.count("<script>") <= 2  # 40 characters at most

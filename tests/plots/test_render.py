"""From a result file to image bytes: formats, defaults, refusals, the cache, and
several drawings at once."""

from __future__ import annotations

import io
import os
import struct
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datalab.errors import UsageError
from datalab.plots import PlotCache, PlotKind, PlotSpec, choose_axes, describe_result, parse_spec, plot_result
from tests.plots.conftest import WriteResult, column

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def survey(result: WriteResult) -> Path:
    rng = np.random.default_rng(7)
    n = 20_000
    g_r = rng.normal(0.7, 0.3, n)
    g_r[::500] = np.nan
    return result(
        column("objid", list(range(n)), ucd="meta.id;meta.main"),
        column("ra", rng.uniform(0, 360, n).tolist(), unit="deg", ucd="pos.eq.ra;meta.main"),
        column("dec", np.degrees(np.arcsin(rng.uniform(-1, 1, n))).tolist(), unit="deg",
               ucd="pos.eq.dec;meta.main"),
        column("g_r", g_r.tolist(), unit="mag"),
        column("r_z", rng.normal(0.5, 0.3, n).tolist(), unit="mag"),
        column("type", ["PSF"] * n),
        column(HOSTILE, [1.0] * n, unit=HOSTILE),
    )


def png_size(content: bytes) -> tuple[int, int]:
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", content[16:24])
    return width, height


def test_png_is_a_1200_by_900_image(survey: Path) -> None:
    plot = plot_result(survey, parse_spec({"kind": "hexbin", "x": "r_z", "y": "g_r"}))
    assert plot.media_type == "image/png"
    assert png_size(plot.content) == (1200, 900)
    assert plot.caption == "19,960 rows plotted; 40 without values; 60 cells across"
    assert (plot.x, plot.y) == ("r_z", "g_r")


@pytest.mark.parametrize("kind", list(PlotKind))
def test_svg_is_well_formed_and_carries_no_markup_from_the_data(survey: Path, kind: str) -> None:
    params = {"kind": kind, "format": "svg", "x": HOSTILE}
    if kind == "sky":
        params = {"kind": kind, "format": "svg"}
    plot = plot_result(survey, parse_spec(params))
    assert plot.media_type == "image/svg+xml"
    root = ET.fromstring(plot.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # Text is drawn as outlines; matplotlib notes the text in comments, escaped.
    assert b"<script" not in plot.content
    if kind != "sky":
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in plot.content
    assert not any(e.tag.endswith("script") or e.tag.endswith("foreignObject") for e in root.iter())


def test_defaults_avoid_the_position_and_sky_finds_it(survey: Path) -> None:
    info = describe_result(survey)
    x, y = choose_axes(info, PlotSpec(kind=PlotKind.SCATTER))
    assert (x.name, y.name) == ("objid", "g_r")  # type: ignore[union-attr]
    x, y = choose_axes(info, PlotSpec(kind=PlotKind.HISTOGRAM))
    assert x.name == "objid" and y is None
    ra, dec = choose_axes(info, PlotSpec(kind=PlotKind.SKY))
    assert (ra.name, dec.name) == ("ra", "dec")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"x": "nope"}, "x: the result has no column 'nope'; its numeric columns are objid, ra, dec, g_r, r_z"),
        ({"kind": "scatter", "x": "g_r", "y": "type"}, "y: column 'type' holds text, not numbers"),
        ({"kind": "histogram", "x": "type"}, "x: column 'type' holds text, not numbers"),
        ({"kind": "sky", "x": "type"}, "x: column 'type' holds text"),
    ],
)
def test_bad_columns_are_refused(survey: Path, params: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        plot_result(survey, parse_spec(params))
    assert message in caught.value.message


def test_results_that_cannot_be_plotted(result: WriteResult, tmp_path: Path) -> None:
    empty = result(column("a", [None, None], pa.float64(), unit="mag"), column("b", [1.0, 2.0]))
    with pytest.raises(UsageError, match="nothing to plot: none of the 2 rows has a value in a and b"):
        plot_result(empty, parse_spec({"kind": "scatter", "x": "a", "y": "b"}))
    words = result(column("name", ["Vega"]))
    with pytest.raises(UsageError, match="the result has no numeric columns to plot"):
        plot_result(words, PlotSpec())
    flat = result(column("mag", [1.0]), column("colour", [2.0]))
    with pytest.raises(UsageError, match="no RA and Dec columns found"):
        plot_result(flat, PlotSpec(kind=PlotKind.SKY))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(UsageError) as caught:
        plot_result(broken, PlotSpec())
    assert caught.value.message == "the query's result file cannot be read"
    assert str(tmp_path) not in caught.value.message


def test_cache_keeps_renderings_and_notices_a_changed_result(survey: Path, tmp_path: Path) -> None:
    folder = tmp_path / "plots"
    cache = PlotCache(folder, survey, limit=2)
    spec = parse_spec({"kind": "histogram", "x": "g_r", "bins": "20"})
    first = cache.plot(spec)
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".png"]
    # A kept rendering is served as kept: mark it, and the mark comes back.
    image = next(folder.glob("*.png"))
    image.write_bytes(first.content + b"kept")
    again = PlotCache(folder, survey).plot(spec)
    assert again.content == first.content + b"kept" and again.caption == first.caption
    # The result changes: its old pictures no longer answer.
    stat = survey.stat()
    os.utime(survey, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert cache.plot(spec).content == first.content
    # At most ``limit`` renderings stay, the oldest going first.
    for bins in ("21", "22", "23"):
        cache.plot(parse_spec({"kind": "histogram", "x": "g_r", "bins": bins}))
    assert len(list(folder.glob("*.json"))) == 2 and len(list(folder.glob("*.png"))) == 2
    assert not list(folder.glob(".part-*"))


def test_drawings_on_several_threads_match_one_at_a_time(survey: Path) -> None:
    specs = [
        parse_spec({"kind": kind, "x": "r_z", "y": "g_r"} if kind != "sky" else {"kind": kind})
        for kind in ("hexbin", "scatter", "sky", "histogram")
    ]
    alone = [plot_result(survey, spec).content for spec in specs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda spec: plot_result(survey, spec).content, specs * 2))
    assert together == alone * 2
    assert all(png_size(content) == (1200, 900) for content in together)
    assert len(set(alone)) == 4


def test_png_decodes(survey: Path) -> None:
    from matplotlib.image import imread

    plot = plot_result(survey, parse_spec({"kind": "sky", "projection": "mollweide"}))
    pixels = imread(io.BytesIO(plot.content), format="png")
    assert pixels.shape[:2] == (900, 1200)
    assert pixels[..., :3].min() < 0.5  # something dark is drawn on the white page

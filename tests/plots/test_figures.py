"""What the figures show: every valid row counted once, points where the sky puts them,
samples that are fixed, labels taken literally."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure

from datalab.errors import UsageError
from datalab.plots import PlotKind, PlotSpec, Projection
from datalab.plots.columns import ColumnInfo, PlotValues
from datalab.plots.figures import SCATTER_CAP, draw, sample_indices

G_R = ColumnInfo("g_r", "float", True, unit="mag")
R_Z = ColumnInfo("r_z", "float", True, unit="mag")
RA = ColumnInfo("ra", "double", True, unit="deg", ucd="pos.eq.ra")
DEC = ColumnInfo("dec", "double", True, unit="deg", ucd="pos.eq.dec")


def colours(n: int, seed: int = 1) -> PlotValues:
    """A colour-colour cloud with a long tail of wild values, as faint sources give."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.6, 0.3, n)
    y = 0.9 * x + rng.normal(0.1, 0.2, n)
    x[: n // 100] = rng.uniform(-9, 9, n // 100)
    return PlotValues(x=x, y=y, total=n + 17, missing=17)


def hexbin_total(figure: Figure) -> float:
    cells = next(c for c in figure.axes[0].collections if isinstance(c, PolyCollection))
    return float(cells.get_array().sum())


def test_hexbin_counts_every_valid_row_once() -> None:
    values = colours(50_000)
    drawing = draw(PlotSpec(kind=PlotKind.HEXBIN, gridsize=40), R_Z, G_R, values)
    assert hexbin_total(drawing.figure) == values.count == drawing.drawn
    assert drawing.caption == "50,000 rows plotted; 17 without values; 40 cells across"
    assert drawing.title == "Density of g_r against r_z"
    axes = drawing.figure.axes[0]
    assert axes.get_xlabel() == "r_z [mag]" and axes.get_ylabel() == "g_r [mag]"
    bar = drawing.figure.axes[1]
    assert bar.get_ylabel() == "Rows per cell (logarithmic)"
    assert bar.get_yscale() == "log"


def test_trimmed_hexbin_counts_the_rows_outside() -> None:
    values = colours(50_000)
    drawing = draw(PlotSpec(kind=PlotKind.HEXBIN, trim=True, log=False), R_Z, G_R, values)
    outside = values.count - drawing.drawn
    assert 0 < outside < values.count * 0.01
    assert hexbin_total(drawing.figure) == drawing.drawn
    assert f"{outside:,} outside the axes" in drawing.caption
    assert drawing.figure.axes[1].get_yscale() == "linear"
    low, high = drawing.figure.axes[0].get_xlim()
    assert -9 < low and high < 9  # the wild tail no longer sets the range


def test_explicit_limits_and_reversed_y() -> None:
    values = colours(10_000)
    spec = PlotSpec(kind=PlotKind.HEXBIN, xmin=0.0, xmax=1.0, ymin=-1.0, ymax=2.0, yflip=True)
    drawing = draw(spec, R_Z, G_R, values)
    inside = ((values.x >= 0) & (values.x <= 1) & (values.y >= -1) & (values.y <= 2)).sum()
    assert hexbin_total(drawing.figure) == inside == drawing.drawn
    assert drawing.figure.axes[0].get_ylim() == (2.0, -1.0)


def test_histogram_counts_and_log_axis() -> None:
    values = PlotValues(x=np.arange(1000, dtype=float) / 10, y=None, total=1003, missing=3)
    drawing = draw(PlotSpec(kind=PlotKind.HISTOGRAM, bins=10, log=True), G_R, None, values)
    axes = drawing.figure.axes[0]
    assert axes.get_yscale() == "log" and axes.get_ylabel() == "Rows per bin"
    assert drawing.drawn == 1000
    assert drawing.caption == "1,000 rows plotted; 3 without values; bin width 9.99 mag"
    assert axes.get_ylim()[0] == 50  # half the power of ten of the smallest bin (100 rows)
    narrow = draw(PlotSpec(kind=PlotKind.HISTOGRAM, bins=5, xmin=0, xmax=50), G_R, None, values)
    assert narrow.drawn == 501 and "499 outside the axes" in narrow.caption


def test_scatter_samples_above_the_cap_and_shrinks_points() -> None:
    many = colours(SCATTER_CAP + 50_000)
    drawing = draw(PlotSpec(kind=PlotKind.SCATTER), R_Z, G_R, many)
    points = next(c for c in drawing.figure.axes[0].collections if isinstance(c, PathCollection))
    assert len(points.get_offsets()) == SCATTER_CAP == drawing.drawn
    assert drawing.caption.startswith(f"{SCATTER_CAP:,} of {many.count:,} rows drawn (a fixed random sample)")
    few = draw(PlotSpec(kind=PlotKind.SCATTER), R_Z, G_R, colours(100))
    big = next(c for c in few.figure.axes[0].collections if isinstance(c, PathCollection))
    assert big.get_sizes()[0] > points.get_sizes()[0]
    assert big.get_alpha() > points.get_alpha()
    assert "sample" not in few.caption


def test_samples_are_fixed() -> None:
    first = sample_indices(1_000_000, 1000)
    assert first is not None and len(np.unique(first)) == 1000
    assert np.array_equal(first, sample_indices(1_000_000, 1000))  # type: ignore[arg-type]
    assert np.all(np.diff(first) > 0)
    assert sample_indices(1000, 1000) is None


def display_position(figure: Figure, lon: float, lat: float) -> tuple[float, float]:
    axes = figure.axes[0]
    x, y = axes.transData.transform((lon, lat))
    box = axes.bbox
    return (x - box.x0) / box.width, (y - box.y0) / box.height


@pytest.mark.parametrize("projection", list(Projection))
def test_sky_puts_ra_zero_at_the_centre_and_ra_increasing_to_the_left(projection: Projection) -> None:
    ra = np.array([0.0, 90.0, 270.0, 359.0, 179.0, 181.0, -90.0])
    dec = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 95.0])  # the last is no sky position
    values = PlotValues(x=ra, y=dec, total=7, missing=0)
    drawing = draw(PlotSpec(kind=PlotKind.SKY, projection=projection), RA, DEC, values)
    FigureCanvasAgg(drawing.figure).draw()
    assert drawing.drawn == 6 and drawing.caption == "6 rows plotted; 1 outside the axes"
    points = next(c for c in drawing.figure.axes[0].collections if isinstance(c, PathCollection))
    where = [display_position(drawing.figure, *p) for p in points.get_offsets()]
    centre, ra90, ra270, ra359, ra179, ra181 = where
    assert centre == pytest.approx((0.5, 0.5), abs=1e-6)
    assert ra90[0] < 0.5 < ra270[0]  # east is left
    assert ra90[0] == pytest.approx(0.25, abs=1e-6) and ra270[0] == pytest.approx(0.75, abs=1e-6)
    assert 0.5 < ra359[0] < 0.51
    assert ra179[0] < 0.01 and ra181[0] > 0.99  # the map wraps at RA 180
    labels = [t.get_text() for t in drawing.figure.axes[0].get_xticklabels()]
    assert labels[:3] == ["150°", "120°", "90°"] and "0°" in labels and labels[-1] == "210°"
    name = "Aitoff" if projection is Projection.AITOFF else "Mollweide"
    assert drawing.title == f"Sky positions ({name} projection)"
    assert drawing.figure.axes[0].name == projection.value


def test_labels_are_taken_literally_and_degenerate_data_still_draws() -> None:
    odd = ColumnInfo("price_$x$_<b>", "double", True, unit="$")
    values = PlotValues(x=np.array([5.0]), y=np.array([5.0]), total=1, missing=0)
    for kind in PlotKind:
        drawing = draw(PlotSpec(kind=kind), odd, odd, values)
        FigureCanvasAgg(drawing.figure).draw()  # no warning, no error, for one lone point
        assert drawing.drawn == 1
    scatter = draw(PlotSpec(kind=PlotKind.SCATTER), odd, odd, values)
    assert scatter.figure.axes[0].get_xlabel() == "price_$x$_<b> [$]"


def test_one_sided_limits_keep_what_was_given() -> None:
    values = PlotValues(x=np.array([1.0, 2.0, 3.0]), y=np.array([1.0, 2.0, 3.0]), total=3, missing=0)
    low = draw(PlotSpec(kind=PlotKind.SCATTER, xmin=2.5), G_R, R_Z, values)
    assert low.figure.axes[0].get_xlim()[0] == 2.5 and low.drawn == 1
    high = draw(PlotSpec(kind=PlotKind.HISTOGRAM, xmax=1.5), G_R, None, values)
    assert high.figure.axes[0].get_xlim()[1] == 1.5 and high.drawn == 1


@pytest.mark.parametrize("kind", [PlotKind.HISTOGRAM, PlotKind.SCATTER, PlotKind.HEXBIN])
def test_limits_that_leave_nothing_are_refused(kind: PlotKind) -> None:
    values = PlotValues(x=np.array([1.0, 2.0]), y=np.array([1.0, 2.0]), total=2, missing=0)
    with pytest.raises(UsageError, match="none of the 2 rows with values lies inside the axis limits"):
        draw(PlotSpec(kind=kind, xmin=10.0), G_R, R_Z, values)
    nowhere = PlotValues(x=np.array([1.0]), y=np.array([91.0]), total=1, missing=0)
    with pytest.raises(UsageError, match="declination from -90 to 90"):
        draw(PlotSpec(kind=PlotKind.SKY), RA, DEC, nowhere)

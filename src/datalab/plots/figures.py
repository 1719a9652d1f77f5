"""The four kinds of plot, drawn on a matplotlib :class:`Figure` of their own.

pyplot is never used: it keeps a process-wide list of open figures and a current
backend, which requests served on several threads would share. A bare ``Figure`` is
private to the request that made it and is saved through the Agg (PNG) or SVG canvas
without selecting a backend for anyone else.

Text that comes from a result (column names, units) is drawn with ``parse_math=False``
so that a ``$`` in a name is shown as itself, not read as a formula.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator

from datalab.errors import UsageError
from datalab.plots.columns import ColumnInfo, PlotValues
from datalab.plots.spec import PlotKind, PlotSpec, Projection

__all__ = ["FIGURE_INCHES", "SCATTER_CAP", "Drawing", "draw", "sample_indices"]

FIGURE_INCHES = (8.0, 6.0)
# Above this many points a scatter plot shows a fixed random sample: more points than
# that only overplot each other, and drawing them costs time and memory.
SCATTER_CAP = 200_000
# Above this many marks, the marks of an SVG are embedded as one raster image (the axes
# and text stay vectors), so that the file stays small enough to open.
_VECTOR_MARKS = 5_000
# Central fraction of the values that trimmed automatic limits span (0.1% cut each side).
_TRIM_PERCENTILES = (0.1, 99.9)
_TRIM_REACH = 0.1
_POINT_COLOUR = "#1f4e9c"
_SAMPLE_SEED = 20240101


@dataclass
class Drawing:
    """A finished figure with the words that describe it: ``title`` (what is plotted,
    also the image's alternative text) and ``caption`` (how many rows it shows)."""

    figure: Figure
    title: str
    caption: str
    drawn: int  # rows shown (after dropping those outside the axes, and sampling)


def sample_indices(count: int, cap: int) -> np.ndarray | None:
    """Indices of a fixed random sample of ``cap`` out of ``count`` rows, in row order;
    None when all rows fit. The same inputs always give the same sample."""
    if count <= cap:
        return None
    generator = np.random.default_rng(_SAMPLE_SEED)
    return np.sort(generator.choice(count, size=cap, replace=False))


def _marker(count: int) -> tuple[float, float]:
    """Point area (pt²) and opacity for a scatter of ``count`` points: large and solid
    for a few, small and translucent for many, so that dense regions still show."""
    root = float(np.sqrt(max(count, 1)))
    size = float(np.clip(400.0 / root, 1.0, 20.0))
    alpha = float(np.clip(40.0 / root, 0.2, 0.9))
    return size, alpha


def _auto_limits(values: np.ndarray, trim: bool) -> tuple[float, float]:
    """The data's range; trimmed, the central 99.8% widened by a tenth of its span on
    each side, so that only values far from the bulk are left out (a small sample's
    extremes, near the rest, stay in)."""
    low, high = float(values.min()), float(values.max())
    if trim and values.size > 1:
        central_low, central_high = (float(v) for v in np.percentile(values, _TRIM_PERCENTILES))
        reach = (central_high - central_low) * _TRIM_REACH
        low, high = max(low, central_low - reach), min(high, central_high + reach)
    return low, high


def _limits(
    values: np.ndarray, low: float | None, high: float | None, trim: bool, pad: bool
) -> tuple[float, float]:
    """The axis range: the given limits, the rest from the data (padded for scatter
    plots so that the extreme points are not cut by the frame)."""
    if low is not None and high is not None:
        return low, high  # parse_spec has checked that low < high
    auto_low, auto_high = _auto_limits(values, trim)
    if pad:
        margin = (auto_high - auto_low) * 0.02
        auto_low, auto_high = auto_low - margin, auto_high + margin
    chosen_low = auto_low if low is None else low
    chosen_high = auto_high if high is None else high
    if chosen_high <= chosen_low:
        # All values equal, or the one limit given lies beyond all the data: keep what
        # was given and open a small range on the other side.
        spread = max(abs(chosen_low), abs(chosen_high)) * 0.05 or 0.5
        if low is not None:
            chosen_high = low + spread
        elif high is not None:
            chosen_low = high - spread
        else:
            chosen_low, chosen_high = chosen_low - spread, chosen_high + spread
    return chosen_low, chosen_high


def _none_inside(shown: int, values: PlotValues) -> None:
    """Refuse an empty picture: every row with values lies outside the limits given."""
    if shown == 0:
        raise UsageError(
            f"none of the {values.count:,} rows with values lies inside the axis limits; "
            "widen or clear them"
        )


def _inside(values: np.ndarray, low: float, high: float) -> np.ndarray:
    return (values >= low) & (values <= high)


def _count(n: int, word: str = "row") -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _caption(values: PlotValues, shown: int, outside: int, sampled: int | None,
             overflow: bool) -> str:
    parts = []
    if sampled is not None:
        parts.append(f"{sampled:,} of {_count(shown)} drawn (a fixed random sample)")
    else:
        parts.append(f"{_count(shown)} plotted")
    if values.missing:
        parts.append(f"{values.missing:,} without values")
    if outside:
        parts.append(f"{outside:,} outside the axes")
    if overflow:
        parts.append("the query's result was cut at its row limit")
    return "; ".join(parts)


def _new_figure(title: str) -> Figure:
    figure = Figure(figsize=FIGURE_INCHES, layout="constrained")
    figure.suptitle(title, fontsize=13, parse_math=False)
    return figure


def _caption_on(axes: Axes, caption: str, pad: float = 6.0) -> None:
    axes.set_title(caption, fontsize=9, color="#444444", parse_math=False, pad=pad)


def _histogram(spec: PlotSpec, x: ColumnInfo, values: PlotValues, overflow: bool) -> Drawing:
    low, high = _limits(values.x, spec.xmin, spec.xmax, spec.trim, pad=False)
    counts, edges = np.histogram(values.x, bins=spec.bins, range=(low, high))
    shown = int(counts.sum())
    _none_inside(shown, values)
    outside = values.count - shown
    title = f"Histogram of {x.name}"
    caption = _caption(values, shown, outside, None, overflow)
    width = (high - low) / spec.bins
    caption += f"; bin width {width:.4g}" + (f" {x.unit}" if x.unit else "")
    # A logarithmic axis starts at half the power of ten at or below the smallest
    # non-empty bin (0.5 when a bin holds one row): no empty decades at the bottom.
    positive = counts[counts > 0]
    floor = 0.5 * 10.0 ** np.floor(np.log10(positive.min())) if positive.size else 0.5
    baseline = floor if spec.log_counts else 0.0
    figure = _new_figure(title)
    axes = figure.add_subplot()
    axes.stairs(counts, edges, fill=True, color=_POINT_COLOUR, alpha=0.35, baseline=baseline)
    axes.stairs(counts, edges, color=_POINT_COLOUR, linewidth=1.2, baseline=baseline)
    axes.set_xlim(low, high)
    if spec.log_counts:
        axes.set_yscale("log")
        axes.set_ylim(floor, max(float(counts.max()), 1.0) * 2)
    else:
        axes.set_ylim(0, max(float(counts.max()), 1.0) * 1.05)
    axes.set_xlabel(x.label, parse_math=False)
    axes.set_ylabel("Rows per bin")
    axes.grid(True, alpha=0.3)
    _caption_on(axes, caption)
    return Drawing(figure, title, caption, shown)


def _scatter(spec: PlotSpec, x: ColumnInfo, y: ColumnInfo, values: PlotValues,
             overflow: bool) -> Drawing:
    assert values.y is not None
    xlow, xhigh = _limits(values.x, spec.xmin, spec.xmax, spec.trim, pad=True)
    ylow, yhigh = _limits(values.y, spec.ymin, spec.ymax, spec.trim, pad=True)
    keep = _inside(values.x, xlow, xhigh) & _inside(values.y, ylow, yhigh)
    xs, ys = values.x[keep], values.y[keep]
    shown = int(xs.size)
    _none_inside(shown, values)
    picked = sample_indices(shown, SCATTER_CAP)
    if picked is not None:
        xs, ys = xs[picked], ys[picked]
    size, alpha = _marker(int(xs.size))
    title = f"{y.name} against {x.name}"
    caption = _caption(values, shown, values.count - shown,
                       None if picked is None else int(picked.size), overflow)
    figure = _new_figure(title)
    axes = figure.add_subplot()
    axes.scatter(xs, ys, s=size, alpha=alpha, color=_POINT_COLOUR, linewidths=0,
                 rasterized=xs.size > _VECTOR_MARKS)
    axes.set_xlim(xlow, xhigh)
    axes.set_ylim((yhigh, ylow) if spec.yflip else (ylow, yhigh))
    axes.set_xlabel(x.label, parse_math=False)
    axes.set_ylabel(y.label, parse_math=False)
    axes.grid(True, alpha=0.3)
    _caption_on(axes, caption)
    return Drawing(figure, title, caption, int(xs.size))


def _hexbin(spec: PlotSpec, x: ColumnInfo, y: ColumnInfo, values: PlotValues,
            overflow: bool) -> Drawing:
    assert values.y is not None
    xlow, xhigh = _limits(values.x, spec.xmin, spec.xmax, spec.trim, pad=False)
    ylow, yhigh = _limits(values.y, spec.ymin, spec.ymax, spec.trim, pad=False)
    keep = _inside(values.x, xlow, xhigh) & _inside(values.y, ylow, yhigh)
    xs, ys = values.x[keep], values.y[keep]
    shown = int(xs.size)
    _none_inside(shown, values)
    title = f"Density of {y.name} against {x.name}"
    caption = _caption(values, shown, values.count - shown, None, overflow)
    caption += f"; {spec.gridsize} cells across"
    figure = _new_figure(title)
    axes = figure.add_subplot()
    cells = axes.hexbin(
        xs, ys, gridsize=spec.gridsize, extent=(xlow, xhigh, ylow, yhigh), mincnt=1,
        cmap="viridis", linewidths=0.15, edgecolors="face",
    )
    counts = cells.get_array()
    top = float(counts.max()) if counts is not None and counts.size else 1.0
    if spec.log_counts:
        cells.set_norm(LogNorm(vmin=1.0, vmax=max(top, 10.0)))
    else:
        cells.set_norm(Normalize(vmin=0.0, vmax=max(top, 1.0)))
    cells.set_rasterized(counts is not None and counts.size > _VECTOR_MARKS)
    bar = figure.colorbar(cells, ax=axes)
    bar.set_label("Rows per cell" + (" (logarithmic)" if spec.log_counts else ""))
    axes.set_xlim(xlow, xhigh)
    axes.set_ylim((yhigh, ylow) if spec.yflip else (ylow, yhigh))
    axes.set_xlabel(x.label, parse_math=False)
    axes.set_ylabel(y.label, parse_math=False)
    _caption_on(axes, caption)
    return Drawing(figure, title, caption, shown)


def sky_xy(ra_degrees: np.ndarray, dec_degrees: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projection-plane longitude and latitude (radians) for RA/Dec in degrees: RA
    wrapped to −180..180 and mirrored, so that RA grows to the left as on the sky."""
    wrapped = np.mod(ra_degrees + 180.0, 360.0) - 180.0
    return np.radians(-wrapped), np.radians(dec_degrees)


def _ra_tick_labels(longitudes: np.ndarray) -> list[str]:
    return [f"{int(round(np.mod(-lon, 360.0)))}°" for lon in longitudes]


def _sky(spec: PlotSpec, ra: ColumnInfo, dec: ColumnInfo, values: PlotValues,
         overflow: bool) -> Drawing:
    assert values.y is not None
    keep = _inside(values.y, -90.0, 90.0)
    ras, decs = values.x[keep], values.y[keep]
    shown = int(ras.size)
    if shown == 0:
        raise UsageError(f"none of the {values.count:,} rows has a declination from -90 to 90")
    picked = sample_indices(shown, SCATTER_CAP)
    if picked is not None:
        ras, decs = ras[picked], decs[picked]
    size, alpha = _marker(int(ras.size))
    name = "Aitoff" if spec.projection is Projection.AITOFF else "Mollweide"
    title = f"Sky positions ({name} projection)"
    caption = _caption(values, shown, values.count - shown,
                       None if picked is None else int(picked.size), overflow)
    figure = _new_figure(title)
    axes = figure.add_subplot(projection=spec.projection.value)
    lon, lat = sky_xy(ras, decs)
    axes.scatter(lon, lat, s=size, alpha=alpha, color=_POINT_COLOUR, linewidths=0,
                 rasterized=lon.size > _VECTOR_MARKS)
    # Meridians every 30° labelled with the RA they stand for; parallels every 30°, so
    # that no label crowds the poles where the title and axis label sit.
    ticks = np.radians(np.arange(-150.0, 151.0, 30.0))
    axes.xaxis.set_major_locator(FixedLocator(ticks))
    axes.set_xticklabels(_ra_tick_labels(np.degrees(ticks)), fontsize=9, color="#333333")
    axes.set_latitude_grid(30)
    axes.tick_params(axis="y", labelsize=9)
    axes.grid(True, alpha=0.4)
    axes.set_xlabel(f"{ra.label}, increasing to the left", parse_math=False, labelpad=10)
    axes.set_ylabel(dec.label, parse_math=False)
    _caption_on(axes, caption, pad=14.0)
    return Drawing(figure, title, caption, int(lon.size))


def draw(spec: PlotSpec, x: ColumnInfo, y: ColumnInfo | None, values: PlotValues,
         overflow: bool = False) -> Drawing:
    """The figure for ``spec`` from ``values`` (already read, unusable rows dropped)."""
    if spec.kind is PlotKind.HISTOGRAM:
        return _histogram(spec, x, values, overflow)
    assert y is not None
    if spec.kind is PlotKind.SCATTER:
        return _scatter(spec, x, y, values, overflow)
    if spec.kind is PlotKind.HEXBIN:
        return _hexbin(spec, x, y, values, overflow)
    return _sky(spec, x, y, values, overflow)

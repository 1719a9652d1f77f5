"""From a result file and a :class:`PlotSpec` to the bytes of a PNG or SVG image."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from datalab.errors import UsageError
from datalab.plots.columns import ColumnInfo, ResultColumns, describe_result, read_values
from datalab.plots.figures import Drawing, draw
from datalab.plots.spec import PlotFormat, PlotKind, PlotSpec

__all__ = ["DPI", "Plot", "choose_axes", "encode", "plot_result"]

# 8 × 6 inches at 150 dots per inch: 1200 × 900 pixels, sharp on high-density screens
# when shown at 800 × 600.
DPI = 150

# matplotlib keeps shared caches (fonts, text layout) that are not safe to use from two
# threads at once; drawings are short, so one at a time per process costs little.
_DRAWING = threading.Lock()


@dataclass(frozen=True)
class Plot:
    """A rendered plot: the image, its type, and the words that go with it. ``x`` and
    ``y`` are the columns actually drawn (the defaults filled in)."""

    content: bytes
    media_type: str
    title: str
    caption: str
    x: str
    y: str | None


def _position_columns(info: ResultColumns) -> set[str]:
    pair = info.sky_pair()
    return {pair[0].name, pair[1].name} if pair else set()


def choose_axes(info: ResultColumns, spec: PlotSpec) -> tuple[ColumnInfo, ColumnInfo | None]:
    """The columns to draw: those the spec names (checked against the file), the rest
    by default. A sky plot defaults to the RA/Dec pair found by UCD or name; other plots
    to the first numeric columns that are not the position."""
    if not info.numeric:
        raise UsageError("the result has no numeric columns to plot")
    if spec.kind is PlotKind.SKY:
        pair = info.sky_pair()
        ra = info.find("x", spec.x) if spec.x else (pair[0] if pair else None)
        dec = info.find("y", spec.y) if spec.y else (pair[1] if pair else None)
        if ra is None or dec is None:
            raise UsageError(
                "no RA and Dec columns found (by UCD pos.eq.ra / pos.eq.dec, or by name); "
                "choose them as x and y"
            )
        return ra, dec
    position = _position_columns(info)
    preferred = [c for c in info.numeric if c.name not in position] or list(info.numeric)
    x = info.find("x", spec.x) if spec.x else preferred[0]
    if not spec.uses_y:
        return x, None
    if spec.y:
        return x, info.find("y", spec.y)
    others = [c for c in preferred if c.name != x.name]
    return x, (others[0] if others else x)


def encode(figure: Figure, format: PlotFormat) -> bytes:
    """The figure as PNG or SVG bytes (no time stamp, so equal plots are equal files)."""
    out = io.BytesIO()
    if format is PlotFormat.PNG:
        FigureCanvasAgg(figure)  # attaches itself: the figure draws with Agg
        figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    else:
        figure.savefig(out, format="svg", dpi=DPI, metadata={"Date": None})
    return out.getvalue()


def plot_result(path: Path, spec: PlotSpec) -> Plot:
    """Draw ``spec`` from the VO-Parquet result at ``path``."""
    info = describe_result(path)
    x, y = choose_axes(info, spec)
    values = read_values(path, x, y)
    if values.count == 0:
        needed = x.name if y is None else f"{x.name} and {y.name}"
        raise UsageError(
            f"nothing to plot: none of the {values.total:,} rows has a value in {needed}"
        )
    spec = replace(spec, x=x.name, y=y.name if y is not None else None)
    with _DRAWING:
        drawing: Drawing = draw(spec, x, y, values, overflow=info.overflow)
        content = encode(drawing.figure, spec.format)
    return Plot(content, spec.format.media_type, drawing.title, drawing.caption, x.name,
                y.name if y is not None else None)

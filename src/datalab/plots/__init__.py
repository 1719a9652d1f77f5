"""Plots of query results: histograms, scatter and density plots, and sky maps.

HTTP-free: given a result file (VO-Parquet, as portal queries keep them) and a
:class:`PlotSpec`, :func:`plot_result` returns PNG or SVG bytes with a title and a
caption saying how many rows the picture shows and how many were left out.
"""

from datalab.plots.cache import PlotCache
from datalab.plots.columns import ColumnInfo, ResultColumns, describe_result
from datalab.plots.render import Plot, choose_axes, plot_result
from datalab.plots.spec import (
    BINS_RANGE,
    GRIDSIZE_RANGE,
    PlotFormat,
    PlotKind,
    PlotSpec,
    Projection,
    parse_spec,
)

__all__ = [
    "BINS_RANGE",
    "GRIDSIZE_RANGE",
    "ColumnInfo",
    "Plot",
    "PlotCache",
    "PlotFormat",
    "PlotKind",
    "PlotSpec",
    "Projection",
    "ResultColumns",
    "choose_axes",
    "describe_result",
    "parse_spec",
    "plot_result",
]

"""What a plot request asks for, checked once so that drawing code can trust it.

Parameters arrive as text (a query string from the portal, a notebook's keywords) and
are turned into a frozen :class:`PlotSpec`; every refusal is a :class:`UsageError`
naming the parameter and what would be accepted. Column names are checked later,
against the result file's own schema (:mod:`datalab.plots.columns`).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TypeVar

from datalab.errors import UsageError

__all__ = [
    "BINS_RANGE",
    "GRIDSIZE_RANGE",
    "PLOT_PARAMETERS",
    "PlotFormat",
    "PlotKind",
    "PlotSpec",
    "Projection",
    "parse_spec",
]


class PlotKind(enum.StrEnum):
    """The kinds of plot, spelled as in the ``kind`` parameter."""

    HISTOGRAM = "histogram"
    SCATTER = "scatter"
    HEXBIN = "hexbin"
    SKY = "sky"


class Projection(enum.StrEnum):
    """Whole-sky equal-area-ish projections that matplotlib draws natively."""

    AITOFF = "aitoff"
    MOLLWEIDE = "mollweide"


class PlotFormat(enum.StrEnum):
    PNG = "png"
    SVG = "svg"

    @property
    def media_type(self) -> str:
        return "image/png" if self is PlotFormat.PNG else "image/svg+xml"


# Inclusive bounds: fewer bins say nothing, more than a plot has pixels for say noise.
BINS_RANGE = (1, 1000)
GRIDSIZE_RANGE = (5, 300)
DEFAULT_BINS = 50
DEFAULT_GRIDSIZE = 60
# Longest column name accepted; result columns are identifiers, far shorter than this.
MAX_NAME = 256

# Every parameter a request may carry (the portal adds ``download`` for the links).
PLOT_PARAMETERS = frozenset(
    {"kind", "x", "y", "bins", "gridsize", "log", "trim", "yflip", "projection",
     "xmin", "xmax", "ymin", "ymax", "format", "download"}
)
Choice = TypeVar("Choice", bound=enum.StrEnum)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


@dataclass(frozen=True)
class PlotSpec:
    """One plot, fully specified.

    ``x``/``y`` name result columns (``y`` is unused by histograms; for sky plots they
    are the RA and Dec columns, None meaning "find them by UCD or name"). ``log`` means
    logarithmic counts: the histogram's y axis, the hexbin's colour scale (None: the
    kind's usual choice, linear for histograms and logarithmic for hexbins). ``trim``
    fits automatic axis limits to the central 99.8% of the values (widened a little)
    instead of all of them, so that a few wild values do not squeeze the bulk into one
    corner; explicit
    limits (``xmin`` …) win over it. Values outside the limits are counted, not drawn.
    """

    kind: PlotKind = PlotKind.HEXBIN
    x: str | None = None
    y: str | None = None
    bins: int = DEFAULT_BINS
    gridsize: int = DEFAULT_GRIDSIZE
    log: bool | None = None
    trim: bool = False
    yflip: bool = False
    projection: Projection = Projection.AITOFF
    xmin: float | None = None
    xmax: float | None = None
    ymin: float | None = None
    ymax: float | None = None
    format: PlotFormat = PlotFormat.PNG

    def key(self) -> str:
        """A canonical text of everything that changes the picture (for caching)."""
        return "&".join(f"{k}={v}" for k, v in sorted(asdict(self).items()))

    @property
    def uses_y(self) -> bool:
        return self.kind is not PlotKind.HISTOGRAM

    @property
    def log_counts(self) -> bool:
        return self.log if self.log is not None else self.kind is PlotKind.HEXBIN


def _shown(value: str, limit: int = 40) -> str:
    """A user's value quoted for an error message, cut short."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _choice(name: str, value: str, kinds: type[Choice]) -> Choice:
    try:
        return kinds(value.strip().lower())
    except ValueError:
        allowed = ", ".join(k.value for k in kinds)
        raise UsageError(
            f"{name} must be one of {allowed}, not {_shown(value)}", detail={"parameter": name}
        ) from None


def _integer(name: str, value: str, bounds: tuple[int, int]) -> int:
    low, high = bounds
    try:
        number = int(value.strip())
    except ValueError:
        raise UsageError(
            f"{name} must be a whole number from {low} to {high}, not {_shown(value)}",
            detail={"parameter": name},
        ) from None
    if not low <= number <= high:
        raise UsageError(
            f"{name} must be from {low} to {high}, not {number}", detail={"parameter": name}
        )
    return number


def _flag(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"{name} must be 1 or 0, not {_shown(value)}", detail={"parameter": name})


def _limit(name: str, value: str) -> float | None:
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise UsageError(
            f"{name} must be a number, not {_shown(value)}", detail={"parameter": name}
        ) from None
    if not math.isfinite(number):
        raise UsageError(f"{name} must be a finite number", detail={"parameter": name})
    return number


def _column(name: str, value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_NAME:
        raise UsageError(
            f"{name} names a column and is at most {MAX_NAME} characters long",
            detail={"parameter": name},
        )
    return text


def parse_spec(params: Mapping[str, str]) -> PlotSpec:
    """A :class:`PlotSpec` from text parameters; absent ones take their defaults.

    Unknown parameters are refused rather than ignored, so that a misspelt option
    does not silently draw something else.
    """
    unknown = sorted(set(params) - PLOT_PARAMETERS)
    if unknown:
        raise UsageError(
            f"unknown parameter {_shown(unknown[0])}; plots take "
            + ", ".join(sorted(PLOT_PARAMETERS - {"download"})),
            detail={"parameter": unknown[0][:40]},
        )
    kind = _choice("kind", params["kind"], PlotKind) if "kind" in params else PlotKind.HEXBIN
    values: dict[str, object] = {"kind": kind}
    if "x" in params:
        values["x"] = _column("x", params["x"])
    if "y" in params:
        values["y"] = _column("y", params["y"])
    if "bins" in params:
        values["bins"] = _integer("bins", params["bins"], BINS_RANGE)
    if "gridsize" in params:
        values["gridsize"] = _integer("gridsize", params["gridsize"], GRIDSIZE_RANGE)
    for name in ("log", "trim", "yflip"):
        if name in params:
            values[name] = _flag(name, params[name])
    if "projection" in params:
        values["projection"] = _choice("projection", params["projection"], Projection)
    for name in ("xmin", "xmax", "ymin", "ymax"):
        if name in params:
            values[name] = _limit(name, params[name])
    if "format" in params:
        values["format"] = _choice("format", params["format"], PlotFormat)
    spec = PlotSpec(**values)  # type: ignore[arg-type]
    for axis in ("x", "y"):
        low, high = getattr(spec, f"{axis}min"), getattr(spec, f"{axis}max")
        if low is not None and high is not None and low >= high:
            raise UsageError(
                f"{axis}min must be smaller than {axis}max ({low:g} ≥ {high:g})",
                detail={"parameter": f"{axis}min"},
            )
    return spec

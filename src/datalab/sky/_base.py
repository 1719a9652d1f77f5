"""What every sky shape provides, and the cover engine they share.

A cover is a set of HEALPix cells, none deeper than a chosen depth, that together
contain every point of the shape, turned into order-29 index ranges. It is built
top-down from the 12 base cells using each cell's *bounding cap* (a circle around
the cell centre containing the whole cell): cells whose cap misses the shape are
dropped, cells whose cap lies inside it are kept whole, the rest are split into
their 4 children, down to the chosen depth where they are kept. Each shape only
classifies caps, and only one answer must be conservative: "misses" must never be
said of a cap that touches the shape (that would lose rows); a wrong "inside"
just keeps a cell whole that could have been trimmed.

Why not cdshealpix's ``cone_search`` / ``polygon_search`` / ``box_search``: with
cdshealpix 0.9.0, ``cone_search`` misses cells that plainly intersect the cone
(e.g. cone (124.82, -20.601) radius 10.0185 deg at depth 7 omits cell 157695, whose
centre is 9.79 deg from the cone centre), also misses cells of cones wider than
~140 deg, and ``polygon_search`` chooses by its own rule which of the two regions
a polygon bounds. A miss is a wrong query answer, so this package relies only on
cdshealpix's cell geometry (centres, vertices), which the tests check directly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from cdshealpix import nested

try:  # astropy-healpix's C ufunc (see _centres_and_corners)
    from astropy_healpix._core import healpix_nested_to_lonlat as _nested_to_lonlat
except ImportError:  # pragma: no cover - an astropy-healpix without it
    _nested_to_lonlat = None
from numpy.typing import ArrayLike, NDArray

from datalab.sky.distance import angular_distance
from datalab.sky.healpix import cells_to_ranges, depth_for_radius, limit_ranges, merge_ranges

if TYPE_CHECKING:
    from datalab.sky.shapes import Circle

__all__ = ["COVER_MARGIN_DEG", "Cover", "Shape", "points"]

COVER_MARGIN_DEG = 1e-8
"""Extra reach (36 micro-arcsec) added to every "may this cap touch the shape" test.

It absorbs rounding between the cell geometry and a shape's exact test, so a
point the exact test accepts can never fall in a cell judged just out of reach.
"""

# Bounding caps are grown by this factor over the farthest cell vertex. Measured
# with cdshealpix at depths 0-29 (dense sampling of edges and interiors), no point
# of a cell is farther from its centre than its farthest vertex; 1% is headroom.
_CAP_SLACK = 1.01

# Stop refining a cover once it would need more ranges than this (see Shape._cover).
_TARGET_RANGES = 32

# A cell's four corners in its own (dx, dy) coordinates: south, east, north, west.
_CORNER_DX = np.array([[0.0, 1.0, 1.0, 0.0]])
_CORNER_DY = np.array([[0.0, 0.0, 1.0, 1.0]])
# Levels descended per step on the way to a cover's starting depth (see Cover.deepen).
_DESCENT_STEP = 3

Classify = Callable[
    [NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    tuple[NDArray[np.bool_], NDArray[np.bool_]],
]


def points(ra: ArrayLike, dec: ArrayLike) -> tuple[NDArray, NDArray, NDArray[np.bool_]]:
    """Broadcast query coordinates to float arrays, plus a mask of the usable ones.

    ``contains`` answers False (rather than raising) for NaN, infinite RA or a dec
    outside [-90, 90]: such values come from data rows, and a row without a valid
    position is simply not inside any region.
    """
    ra_arr, dec_arr = np.broadcast_arrays(
        np.asarray(ra, dtype=np.float64), np.asarray(dec, dtype=np.float64)
    )
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(ra_arr) & (np.abs(dec_arr) <= 90.0)
    return ra_arr, dec_arr, usable


def _centres_and_corners(cells: NDArray[np.uint64], depth: int) -> tuple[NDArray, ...]:
    """Cell centres (n,) and corners (n, 4), in degrees.

    A query's compile time is spent largely here, on a few tens of cells per call.
    astropy-healpix's C ufunc does that in microseconds; cdshealpix's public
    functions wrap their results in astropy angles and its compiled core starts a
    thread pool per call, each costing far more than the computation itself.
    """
    if _nested_to_lonlat is not None:
        nside = np.intc(1 << depth)
        index = cells.astype(np.int64)
        lon, lat = _nested_to_lonlat(index, nside, 0.5, 0.5)
        corner_lon, corner_lat = _nested_to_lonlat(index[:, None], nside, _CORNER_DX, _CORNER_DY)
        return tuple(np.degrees(a) for a in (lon, lat, corner_lon, corner_lat))
    lon_q, lat_q = nested.healpix_to_lonlat(cells, depth)
    corner_lon_q, corner_lat_q = nested.vertices(cells, depth)
    return lon_q.deg, lat_q.deg, corner_lon_q.deg, corner_lat_q.deg


def _caps(cells: NDArray[np.uint64], depth: int) -> tuple[NDArray, NDArray, NDArray]:
    """Centre (ra, dec) and radius in degrees of a cap containing each cell."""
    ra, dec, corner_ra, corner_dec = _centres_and_corners(cells, depth)
    reach = angular_distance(ra[:, None], dec[:, None], corner_ra, corner_dec)
    return ra, dec, reach.max(axis=1) * _CAP_SLACK


class Cover:
    """A cover of a shape built level by level, refinable one depth at a time.

    ``classify(ra, dec, radius)`` gets cap centres and radii (degrees) and returns
    ``(touches, inside)``: ``touches`` must be True for every cap that intersects
    the shape (extra Trues are allowed); ``inside`` may be True only where the whole
    cap is in the shape (it is only an optimisation). A cell containing a point of
    the shape has a cap containing that point, so it and its ancestors are always
    kept or split, never dropped: the cover cannot miss a point.
    """

    def __init__(self, classify: Classify) -> None:
        self._classify = classify
        self._whole: list[NDArray[np.int64]] = []  # ranges of cells kept whole
        self._cells = np.arange(12, dtype=np.uint64)  # undecided cells at self.depth
        self.depth = -1
        self._refine(0)

    def _refine(self, depth: int) -> None:
        """Classify the undecided cells at ``depth`` (their parents' depth + 1)."""
        self.depth = depth
        if len(self._cells) == 0:
            return
        ra, dec, radius = _caps(self._cells, depth)
        touches, inside = self._classify(ra, dec, radius)
        touches = np.asarray(touches, dtype=bool)
        whole = touches & np.asarray(inside, dtype=bool)
        self._whole.append(cells_to_ranges(self._cells[whole].astype(np.int64), depth))
        self._cells = self._cells[touches & ~whole]

    def deepen(self, levels: int = 1) -> None:
        """Replace the undecided cells by their descendants ``levels`` deeper, classified.

        Skipping the classification of intermediate levels is safe (nothing is
        dropped that the skipped tests would have kept); it trades a few more cells
        per call for fewer calls, which is what costs time here.
        """
        children = np.arange(4**levels, dtype=np.uint64)
        self._cells = ((self._cells[:, None] << np.uint64(2 * levels)) | children).ravel()
        self._refine(self.depth + levels)

    def ranges(self) -> NDArray[np.int64]:
        """The cover at the current depth: cells kept whole plus undecided cells."""
        undecided = cells_to_ranges(self._cells.astype(np.int64), self.depth)
        return merge_ranges(np.concatenate([*self._whole, undecided]))


class Shape(ABC):
    """A region of the sky: an exact membership test plus an index cover.

    ``contains`` is the exact predicate; ``ranges`` is a cheap pre-filter whose union
    is guaranteed to include every point ``contains`` accepts (it may include more).
    """

    @abstractmethod
    def contains(self, ra: ArrayLike, dec: ArrayLike) -> NDArray[np.bool_]:
        """Whether each (ra, dec) in degrees lies in the shape (boundary included)."""

    @abstractmethod
    def bounding_circle(self) -> Circle:
        """A circle that contains the whole shape (not necessarily the smallest)."""

    @abstractmethod
    def _classify(
        self, ra: NDArray, dec: NDArray, radius: NDArray
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """For caps (centre, radius in degrees): (may touch the shape, lies inside it).

        "May touch" must be True for every cap that does (within COVER_MARGIN_DEG)
        and may be True for some that do not; "inside" must be True only for caps
        wholly inside the shape, and may be False for some of them. See :class:`Cover`.
        """

    def _finest_radius(self) -> float:
        """Radius (degrees) of the shape's smallest feature: never refine beyond it."""
        return self.bounding_circle().radius

    def _cover(self) -> NDArray[np.int64]:
        """Pick the depth, then build the cover.

        The starting depth comes from the bounding circle, which keeps compact shapes
        to a few tens of ranges. Elongated shapes (a thin box, a sliver polygon) would
        be covered very loosely at that depth, so the cover is refined one depth at a
        time, down to the scale of the shape's narrowest dimension, for as long as it
        stays within ``_TARGET_RANGES`` ranges.
        """
        start = depth_for_radius(self.bounding_circle().radius)
        finest = depth_for_radius(self._finest_radius())
        cover = Cover(self._classify)
        while cover.depth < start:
            cover.deepen(min(_DESCENT_STEP, start - cover.depth))
        best = cover.ranges()
        while cover.depth < finest:
            cover.deepen()
            candidate = cover.ranges()
            if len(candidate) > _TARGET_RANGES:
                break
            best = candidate
        return best

    def ranges(self, max_ranges: int | None = None) -> NDArray[np.int64]:
        """Order-29 ``_healpix_29`` ranges covering the shape.

        Returns an int64 array of shape (n, 2) of half-open ``[start, end)``
        intervals, sorted and merged (no two overlap or touch). Every point for
        which :meth:`contains` is true has its order-29 index inside one of them.
        ``max_ranges``, if given, coarsens the list (closing the smallest gaps)
        until it has at most that many ranges; the cover only grows.
        """
        cover_ranges = self._cover()
        if max_ranges is not None:
            cover_ranges = limit_ranges(cover_ranges, max_ranges)
        return cover_ranges

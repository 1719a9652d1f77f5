"""Spherical geometry and HEALPix helpers for positional queries.

Catalog tables carry ``_healpix_29`` (NESTED HEALPix index at order 29 of ra/dec,
the HATS convention) and are sorted by it. A region query is answered in two
steps built from this package: :meth:`Shape.ranges` gives a short list of
``_healpix_29`` intervals that certainly contain every match (a cheap, sorted-range
pre-filter), and :meth:`Shape.contains` is the exact test applied to what remains.
For cones up to a degree, :func:`small_circle_ranges` gives such a list in tens of
microseconds instead of the descent's millisecond or two.

All angles are in degrees. Shapes follow the ADQL definitions of CIRCLE, BOX and
POLYGON; see each class for the exact reading of the standard.
"""

from datalab.sky._base import Shape
from datalab.sky.distance import angular_distance
from datalab.sky.healpix import (
    HEALPIX_ORDER,
    N_INDICES,
    cells_to_ranges,
    complement_ranges,
    depth_for_radius,
    healpix_index,
    healpix_index_arrow,
    limit_ranges,
    merge_ranges,
    ranges_contain,
)
from datalab.sky.local_cover import SMALL_CIRCLE_MAX_RADIUS, small_circle_ranges
from datalab.sky.polygon import Polygon
from datalab.sky.regions import (
    TOUCH_RAD,
    Region,
    boundary,
    boundary_vertices,
    contains,
    intersects,
)
from datalab.sky.shapes import Box, Circle

__all__ = [
    "HEALPIX_ORDER",
    "N_INDICES",
    "SMALL_CIRCLE_MAX_RADIUS",
    "TOUCH_RAD",
    "Box",
    "Circle",
    "Polygon",
    "Region",
    "Shape",
    "angular_distance",
    "boundary",
    "boundary_vertices",
    "cells_to_ranges",
    "complement_ranges",
    "contains",
    "depth_for_radius",
    "healpix_index",
    "healpix_index_arrow",
    "intersects",
    "limit_ranges",
    "merge_ranges",
    "ranges_contain",
    "small_circle_ranges",
]

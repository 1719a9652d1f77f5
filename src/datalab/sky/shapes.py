"""CIRCLE and BOX regions with ADQL semantics (angles in degrees)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from datalab.errors import UsageError
from datalab.sky._base import COVER_MARGIN_DEG, Shape, points
from datalab.sky._validation import check_dec, check_finite, check_ra
from datalab.sky._vectors import local_coords
from datalab.sky.distance import angular_distance

__all__ = ["Box", "Circle"]


def _angle(parameter: str, value: object, *, low: float, allow_low: bool) -> float:
    """A size in degrees in (low, 180] or [low, 180]."""
    number = check_finite(parameter, value)
    too_small = number < low if allow_low else number <= low
    if too_small or number > 180.0:
        bracket = "[" if allow_low else "("
        raise UsageError(
            f"{parameter} must be in {bracket}{low:g}, 180] degrees; got {value!r}",
            detail={"parameter": parameter, "value": repr(value)},
        )
    return number


@dataclass(frozen=True)
class Circle(Shape):
    """All points within ``radius`` degrees (great-circle distance) of (ra, dec).

    This is ADQL's CIRCLE (IVOA ADQL 2.1, section 4.2.11; ADQL 2.0, section 2.4.5):
    "a circular region on the sky (a cone in space)" given by a centre and a radius
    in degrees. The boundary is included. ``ra`` is stored reduced to [0, 360);
    ``radius`` must be in [0, 180] (180 is the whole sky, 0 the centre alone).
    """

    ra: float
    dec: float
    radius: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "ra", check_ra("ra", self.ra))
        object.__setattr__(self, "dec", check_dec("dec", self.dec))
        radius = _angle("radius", self.radius, low=0.0, allow_low=True)
        object.__setattr__(self, "radius", radius)

    def contains(self, ra: ArrayLike, dec: ArrayLike) -> NDArray[np.bool_]:
        ra_arr, dec_arr, usable = points(ra, dec)
        with np.errstate(invalid="ignore"):
            near = angular_distance(self.ra, self.dec, ra_arr, dec_arr) <= self.radius
        return usable & near

    def bounding_circle(self) -> Circle:
        return self

    def _classify(
        self, ra: NDArray, dec: NDArray, radius: NDArray
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        distance = angular_distance(self.ra, self.dec, ra, dec)
        touches = distance <= self.radius + radius + COVER_MARGIN_DEG
        return touches, distance + radius <= self.radius


@dataclass(frozen=True)
class Box(Shape):
    """ADQL's BOX: a spherical rectangle centred on (ra, dec), sides on great circles.

    Definition implemented (IVOA ADQL 2.1, section 4.2.9 "BOX"; identical wording in
    ADQL 2.0, section 2.4.3, both deferring to the STC Box, STC 1.33 section
    4.5.1.5): "specified by a center position and size (in both axes) defining a
    cross centered on the center position and with arms extending, parallel to the
    coordinate axes at the center position, for half the respective sizes on either
    side. The box's sides are line segments or great circles intersecting the arms
    of the cross in its end points at right angles with the arms."

    Reading of that text used here:

    * The arms are great-circle arcs through the centre, one heading east (the
      direction of increasing RA at the centre) and one heading north, of angular
      length ``width / 2`` and ``height / 2`` on each side. The RA arm is therefore
      *not* the parallel of declination (a small circle): a BOX is not an RA/dec
      range, and its top and bottom sides are great circles, not parallels.
    * Each side is the great circle through an arm's end point, perpendicular to
      that arm. Equivalently, in the gnomonic (tangent-plane) projection centred on
      the box centre, the box is the rectangle ``|x| <= tan(width/2)``,
      ``|y| <= tan(height/2)`` with x to the east and y to the north; this is the
      same box cdshealpix's ``box_search`` builds.
    * ``width`` and ``height`` are in (0, 180] degrees. At 180 the two sides of that
      axis merge into the great circle 90 degrees from the centre, so a 180 x 180 box
      is the hemisphere around the centre; a box never exceeds it.
    * At a pole east and north are taken as their limits along the meridian ``ra``,
      so a box centred on a pole is oriented by the RA it is given.

    The boundary is included. ``ra`` is stored reduced to [0, 360).
    """

    ra: float
    dec: float
    width: float
    height: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "ra", check_ra("ra", self.ra))
        object.__setattr__(self, "dec", check_dec("dec", self.dec))
        object.__setattr__(self, "width", _angle("width", self.width, low=0.0, allow_low=False))
        object.__setattr__(self, "height", _angle("height", self.height, low=0.0, allow_low=False))

    def contains(self, ra: ArrayLike, dec: ArrayLike) -> NDArray[np.bool_]:
        ra_arr, dec_arr, usable = points(ra, dec)
        # Components along the centre, east and north directions; computed from
        # coordinate differences, so tiny boxes keep full precision and RA wrap at
        # 0/360 needs no care.
        local = local_coords(ra_arr, dec_arr, self.ra, self.dec)
        along, east, north = local[..., 0], local[..., 1], local[..., 2]
        # The side beyond the east arm end is the plane with normal
        # sin(w/2) centre - cos(w/2) east; inside means on the centre's side of it
        # (and likewise for the other three sides). Written this way, rather than as
        # |east| <= tan(w/2) along, a 180-degree side needs no special case.
        half_w, half_h = math.radians(self.width / 2.0), math.radians(self.height / 2.0)
        with np.errstate(invalid="ignore"):
            inside_w = math.sin(half_w) * along - math.cos(half_w) * np.abs(east) >= 0.0
            inside_h = math.sin(half_h) * along - math.cos(half_h) * np.abs(north) >= 0.0
        return usable & inside_w & inside_h

    def bounding_circle(self) -> Circle:
        half_w, half_h = self.width / 2.0, self.height / 2.0
        if half_w >= 90.0 or half_h >= 90.0:
            return Circle(self.ra, self.dec, 90.0)
        # The corners are the points farthest from the centre: their tangent-plane
        # distance is the largest, and angular distance grows with it.
        corner = math.hypot(math.tan(math.radians(half_w)), math.tan(math.radians(half_h)))
        return Circle(self.ra, self.dec, min(math.degrees(math.atan(corner)), 90.0))

    def _finest_radius(self) -> float:
        return min(self.width, self.height) / 2.0

    def _classify(
        self, ra: NDArray, dec: NDArray, radius: NDArray
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Caps against the four side hemispheres whose intersection is the box.

        A cap of radius R reaches the hemisphere with unit normal n iff its centre x
        has ``n . x >= -sin(R)``, and lies inside it iff ``n . x >= sin(R)``. A cap
        touching the box reaches all four hemispheres, so requiring that is
        conservative (near a corner a cap may reach two sides' hemispheres without
        touching the box), and needs no special case for 180-degree sides.
        """
        local = local_coords(ra, dec, self.ra, self.dec)
        along, east, north = local[..., 0], local[..., 1], local[..., 2]
        half_w, half_h = math.radians(self.width / 2.0), math.radians(self.height / 2.0)
        # Signed sine of the distance into the box from the nearer side of each pair.
        depth_w = math.sin(half_w) * along - math.cos(half_w) * np.abs(east)
        depth_h = math.sin(half_h) * along - math.cos(half_h) * np.abs(north)
        reach = np.sin(np.radians(np.minimum(radius + COVER_MARGIN_DEG, 90.0)))
        touches = (depth_w >= -reach) & (depth_h >= -reach)
        margin = np.where(radius < 90.0, np.sin(np.radians(np.minimum(radius, 90.0))), np.inf)
        return touches, (depth_w >= margin) & (depth_h >= margin)

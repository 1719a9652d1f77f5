"""Exact predicates between two regions: whether they intersect, whether one contains the other.

ADQL's INTERSECTS and CONTAINS (IVOA ADQL 2.1, sections 4.2.14 and 4.2.3) are defined
for any two of CIRCLE, BOX and POLYGON. Here a circle is a *cap* (centre, radius) and
a box or polygon is a *loop*: unit vectors joined by minor great-circle arcs, ordered
so that the region lies left of every edge (a BOX's sides are great circles, see
:class:`~datalab.sky.Box`, so its corners make an exact loop). Boundaries are part of
the regions; distances within ``TOUCH_RAD`` (about 2e-8 arcsec) count as touching, so
that regions meeting only along their boundaries are not lost to rounding.

The reasoning, for closed regions bounded by simple closed curves:

* cap and cap intersect iff the centres are at most ``r1 + r2`` apart;
* a cap meets a region R iff its centre's distance to R is at most its radius, where
  that distance is 0 inside R and the distance to R's boundary outside;
* two loops intersect iff an edge of one meets an edge of the other, or a vertex of
  one lies in the other (boundaries that do not meet are each wholly inside or wholly
  outside the other region);
* a cap lies in R iff its centre does and the boundary of R is at least ``r`` away;
* R lies in the cap (c, r) iff no point of R is more than r from c, i.e. iff R keeps
  at least ``180 - r`` from the antipode of c: valid for every radius;
* a loop B lies in a loop A iff B's boundary does (B and A are at most a hemisphere,
  so B cannot instead hold A's outside unless both are exactly hemispheres, which is
  refused). Each edge of B is cut at the points where it meets A's boundary; each
  piece between cuts is wholly inside or wholly outside A, so its midpoint decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from datalab.errors import UsageError
from datalab.sky._vectors import local_coords, local_frame, normalize, to_radec, unit_vectors
from datalab.sky.polygon import Polygon
from datalab.sky.shapes import Box, Circle

__all__ = ["TOUCH_RAD", "Region", "boundary", "boundary_vertices", "contains", "intersects"]

Region = Circle | Box | Polygon

TOUCH_RAD = 1e-13
"""Angular slack (radians) within which two boundaries count as touching."""


def boundary(region: Box | Polygon) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The region's boundary: vertices (n, 2) as (ra, dec) in degrees, ordered with the
    region on the left, and the unit normals (n, 3) of the edges (vertex i to i + 1,
    the minor arc), pointing into the region's side.

    A BOX gives its four corners; a BOX of 180 degrees in one axis (a lune, whose
    corners merge) or both (a hemisphere) gives the ends and midpoints of its sides
    instead. The normals are computed in the region's own frame and only then turned
    to ICRS, so they keep full precision for regions of any size (the cross product of
    two nearby ICRS unit vectors would lose it).
    """
    if isinstance(region, Polygon):
        frame = local_frame(*region._frame)
        local, normals = region._xyz, region._normals
    elif isinstance(region, Box):
        frame = local_frame(region.ra, region.dec)
        local = _box_corners(region)
        normals = normalize(np.cross(local, np.roll(local, -1, axis=0)))
    else:
        raise TypeError(f"not a BOX or POLYGON: {region!r}")
    ra, dec = to_radec(normalize(local @ frame))
    return np.column_stack([ra, dec]), normalize(normals @ frame)


def boundary_vertices(region: Box | Polygon) -> NDArray[np.float64]:
    """ICRS unit vectors (n, 3) of the boundary's vertices, in the order of :func:`boundary`."""
    radec, _ = boundary(region)
    return unit_vectors(radec[:, 0], radec[:, 1])


def _box_corners(box: Box) -> NDArray[np.float64]:
    """Vertices of a box in its own frame (centre, east, north), region on the left."""
    half_w, half_h = math.radians(box.width / 2.0), math.radians(box.height / 2.0)
    sw, cw, sh, ch = math.sin(half_w), math.cos(half_w), math.sin(half_h), math.cos(half_h)
    # A corner is where the side planes sin(w/2) a = cos(w/2) |x| and
    # sin(h/2) a = cos(h/2) |y| meet.
    if box.width < 180.0 and box.height < 180.0:
        local = [
            (cw * ch, sw * ch, -cw * sh),
            (cw * ch, sw * ch, cw * sh),
            (cw * ch, -sw * ch, cw * sh),
            (cw * ch, -sw * ch, -cw * sh),
        ]
    elif box.height < 180.0:  # a lune from east to west, through the north and south arms
        local = [(0.0, 1.0, 0.0), (ch, 0.0, sh), (0.0, -1.0, 0.0), (ch, 0.0, -sh)]
    elif box.width < 180.0:
        local = [(cw, sw, 0.0), (0.0, 0.0, 1.0), (cw, -sw, 0.0), (0.0, 0.0, -1.0)]
    else:  # the hemisphere around the centre
        local = [(0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0)]
    return normalize(np.array(local, dtype=np.float64))


@dataclass(frozen=True)
class _Cap:
    centre: NDArray[np.float64]
    radius: float  # radians


class _Loop:
    """A box or polygon as vertices, edge normals and its own membership test.

    Vectors are in a frame shared with the other region of the question (see
    :func:`local_coords`), so that two nearby small regions keep their precision.
    """

    def __init__(self, region: Box | Polygon, frame: tuple[float, float]) -> None:
        self.region = region
        self.frame = local_frame(*frame)
        radec, normals = boundary(region)
        self.xyz = local_coords(radec[:, 0], radec[:, 1], *frame)
        self.ends = np.roll(self.xyz, -1, axis=0)
        self.normals = normalize(normals @ self.frame.T)

    def area(self) -> float:
        """Area (steradians) by Gauss-Bonnet: 2 pi minus the turning angles."""
        arriving = np.cross(np.roll(self.normals, 1, axis=0), self.xyz)
        leaving = np.cross(self.normals, self.xyz)
        turns = np.arctan2(
            np.einsum("ij,ij->i", np.cross(arriving, leaving), self.xyz),
            np.einsum("ij,ij->i", arriving, leaving),
        )
        return float(2.0 * math.pi - turns.sum())

    def boundary_distance(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        """Angular distance (radians) from each point (m, 3) to the nearest edge."""
        return arc_distances(p, self.xyz, self.ends, self.normals).min(axis=1)

    def _inside(self, p: NDArray[np.float64]) -> NDArray[np.bool_]:
        ra, dec = to_radec(normalize(np.atleast_2d(p) @ self.frame))
        return np.asarray(self.region.contains(ra, dec), dtype=bool)

    def holds(self, p: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Whether points (m, 3) are in the region, boundary (within TOUCH_RAD) included."""
        return self._inside(p) | (self.boundary_distance(p) <= TOUCH_RAD)

    def distance(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        """Distance (radians) from each point to the region: 0 inside."""
        return np.where(self._inside(p), 0.0, self.boundary_distance(p))


def arc_distances(
    p: NDArray[np.float64], start: NDArray, end: NDArray, normals: NDArray
) -> NDArray[np.float64]:
    """Angular distance (radians) from points (m, 3) to minor arcs start -> end, (m, k).

    The nearest point of the arc's great circle is the foot of the perpendicular; it
    is on the arc iff it comes after the start and before the end in the direction of
    travel, and then the distance is atan2(|p . n|, |n x p|). Otherwise the nearest
    point of the arc is one of its ends.
    """
    p = np.atleast_2d(p)
    off = p @ normals.T
    after_start = np.einsum("mc,kc->mk", p, np.cross(normals, start)) >= 0.0
    before_end = np.einsum("mc,kc->mk", p, np.cross(end, normals)) >= 0.0
    across = np.linalg.norm(np.cross(p[:, None, :], normals[None, :, :]), axis=-1)
    to_circle = np.arctan2(np.abs(off), across)

    def to_point(q: NDArray) -> NDArray:
        return np.arctan2(np.linalg.norm(np.cross(p[:, None, :], q[None]), axis=-1), p @ q.T)

    to_end = np.minimum(to_point(start), to_point(end))
    return np.where(after_start & before_end, np.minimum(to_circle, to_end), to_end)


def _on_arc(x: NDArray, a: NDArray, b: NDArray, n: NDArray) -> NDArray[np.bool_]:
    """Whether points x, lying on the great circle of the arc a -> b (normal n), are on it."""
    after_a = np.einsum("...c,...c->...", np.cross(a, x), n) >= -TOUCH_RAD
    before_b = np.einsum("...c,...c->...", np.cross(x, b), n) >= -TOUCH_RAD
    near = np.einsum("...c,...c->...", x, a + b) > 0.0  # not the antipodal stretch
    return after_a & before_b & near


def _arcs_meet(first: _Loop, second: _Loop) -> bool:
    """Whether any edge of ``first`` crosses or touches any edge of ``second``."""
    a, b, na = (v[:, None, :] for v in (first.xyz, first.ends, first.normals))
    c, d, nc = (v[None, :, :] for v in (second.xyz, second.ends, second.normals))
    side_c = np.einsum("ikc,ikc->ik", *np.broadcast_arrays(na, c))
    side_d = np.einsum("ikc,ikc->ik", *np.broadcast_arrays(na, d))
    side_a = np.einsum("ikc,ikc->ik", *np.broadcast_arrays(nc, a))
    side_b = np.einsum("ikc,ikc->ik", *np.broadcast_arrays(nc, b))
    # Minor arcs a-b and c-d cross iff c, d are on opposite sides of a-b's circle,
    # a, b on opposite sides of c-d's, and a, c, b, d go round consistently
    # (otherwise the two circles meet at the antipodes of the arcs). An end within
    # TOUCH_RAD of the other circle is on neither side: the sign of a side that small
    # is rounding noise (two edges on one great circle, as adjacent boxes of equal
    # width have), and whether such an end touches the other arc is decided below.
    sc, sd, sa, sb = (_side_sign(s) for s in (side_c, side_d, side_a, side_b))
    crossing = (sc * sd < 0) & (sa * sb < 0) & (sd == sa)
    if crossing.any():
        return True
    shape = side_c.shape

    def touch(side: NDArray, x: NDArray, s: NDArray, e: NDArray, n: NDArray) -> NDArray:
        x, s, e, n = (np.broadcast_to(v, (*shape, 3)) for v in (x, s, e, n))
        return (np.abs(side) <= TOUCH_RAD) & _on_arc(x, s, e, n)

    return bool(
        (
            touch(side_c, c, a, b, na)
            | touch(side_d, d, a, b, na)
            | touch(side_a, a, c, d, nc)
            | touch(side_b, b, c, d, nc)
        ).any()
    )


def _side_sign(side: NDArray) -> NDArray:
    """-1, 0 or 1: which side of a great circle, 0 within TOUCH_RAD of it."""
    return np.where(np.abs(side) <= TOUCH_RAD, 0, np.sign(side))


def _cuts(a: NDArray, b: NDArray, n: NDArray, other: _Loop) -> NDArray[np.float64]:
    """Points of arc a -> b where it meets ``other``'s boundary, as angles from a."""
    points = []
    # Proper crossings with each edge: on both great circles, i.e. along n x n'.
    direction = np.cross(n, other.normals)
    length = np.linalg.norm(direction, axis=1)
    ok = length > TOUCH_RAD
    for sign in (1.0, -1.0):
        x = sign * direction[ok] / length[ok, None]
        on_both = _on_arc(x, a, b, n) & _on_arc(
            x, other.xyz[ok], other.ends[ok], other.normals[ok]
        )
        points.append(x[on_both])
    # The other boundary's vertices lying on the arc (touching, overlapping edges).
    on_circle = np.abs(other.xyz @ n) <= TOUCH_RAD
    v = other.xyz[on_circle]
    points.append(v[_on_arc(v, a, b, n)])
    x = np.concatenate(points)
    return np.arctan2(np.cross(a, x) @ n, x @ a)


def _boundary_within(inner: _Loop, outer: _Loop) -> bool:
    """Whether every point of ``inner``'s boundary is in ``outer`` (boundary included)."""
    if not outer.holds(inner.xyz).all():
        return False
    for a, b, n in zip(inner.xyz, inner.ends, inner.normals, strict=True):
        length = math.atan2(float(np.linalg.norm(np.cross(a, b))), float(a @ b))
        cuts = np.clip(_cuts(a, b, n, outer), 0.0, length)
        stops = np.unique(np.concatenate([[0.0, length], cuts]))
        middles = (stops[:-1] + stops[1:]) / 2.0
        # Points along the arc: a rotated towards b by each angle, in the arc's plane.
        towards = np.cross(n, a)
        pieces = np.cos(middles)[:, None] * a + np.sin(middles)[:, None] * towards
        if len(pieces) and not outer.holds(pieces).all():
            return False
    return True


def _cap(circle: Circle, frame: tuple[float, float]) -> _Cap:
    return _Cap(local_coords(circle.ra, circle.dec, *frame), math.radians(circle.radius))


def _frame(region: Region) -> tuple[float, float]:
    """A frame centred on the region, shared by both regions of a question."""
    bound = region.bounding_circle()
    return (bound.ra, bound.dec)


def _angle(p: NDArray, q: NDArray) -> float:
    return math.atan2(float(np.linalg.norm(np.cross(p, q))), float(p @ q))


def _check(region: object, argument: str) -> Region:
    if not isinstance(region, (Circle, Box, Polygon)):
        raise TypeError(f"{argument} must be a Circle, Box or Polygon; got {region!r}")
    return region


def intersects(a: Region, b: Region) -> bool:
    """Whether the two regions share at least one point (boundaries included)."""
    a, b = _check(a, "a"), _check(b, "b")
    frame = _frame(a)
    if isinstance(a, Circle) and isinstance(b, Circle):
        first_cap, second_cap = _cap(a, frame), _cap(b, frame)
        gap = _angle(first_cap.centre, second_cap.centre)
        return gap <= first_cap.radius + second_cap.radius + TOUCH_RAD
    if isinstance(b, Circle):
        a, b = b, a
    if isinstance(a, Circle):
        cap, loop = _cap(a, frame), _Loop(b, frame)  # type: ignore[arg-type]
        return bool(loop.distance(cap.centre[None])[0] <= cap.radius + TOUCH_RAD)
    first, second = _Loop(a, frame), _Loop(b, frame)  # type: ignore[arg-type]
    return bool(
        second.holds(first.xyz).any() or first.holds(second.xyz).any() or _arcs_meet(first, second)
    )


def contains(outer: Region, inner: Region) -> bool:
    """Whether every point of ``inner`` is in ``outer`` (boundaries included).

    ADQL's ``CONTAINS(inner, outer)`` takes its arguments the other way round.

    Raises :class:`UsageError` for the one undecidable case: a box or polygon bounding
    exactly half the sky inside another one (either could be the other's outside).
    """
    outer, inner = _check(outer, "outer"), _check(inner, "inner")
    if isinstance(outer, Circle) and outer.radius >= 180.0:
        return True
    frame = _frame(inner)
    if isinstance(outer, Circle) and isinstance(inner, Circle):
        big, small = _cap(outer, frame), _cap(inner, frame)
        return _angle(big.centre, small.centre) + small.radius <= big.radius + TOUCH_RAD
    if isinstance(inner, Circle):
        cap, loop = _cap(inner, frame), _Loop(outer, frame)  # type: ignore[arg-type]
        if not loop.holds(cap.centre[None])[0]:
            return False
        return bool(loop.boundary_distance(cap.centre[None])[0] + TOUCH_RAD >= cap.radius)
    if isinstance(outer, Circle):
        cap, loop = _cap(outer, frame), _Loop(inner, frame)
        # No point of the loop's region farther than r from c: all of it at least
        # 180 - r from the antipode of c.
        return bool(loop.distance(-cap.centre[None])[0] + TOUCH_RAD >= math.pi - cap.radius)
    big_loop, small_loop = _Loop(outer, frame), _Loop(inner, frame)
    if not _boundary_within(small_loop, big_loop):
        return False
    if big_loop.area() + small_loop.area() >= 4.0 * math.pi - 1e-9:
        raise UsageError(
            "cannot decide whether a BOX or POLYGON bounding half the sky contains another"
            " one bounding half the sky; use smaller regions",
            detail={"parameter": "region", "value": repr(outer)},
        )
    return True

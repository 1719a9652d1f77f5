"""POLYGON regions: great-circle edges bounding the smaller of the two regions."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from datalab.errors import UsageError
from datalab.sky._base import COVER_MARGIN_DEG, Shape, points
from datalab.sky._validation import check_dec, check_ra
from datalab.sky._vectors import local_coords, normalize, to_radec, unit_vectors
from datalab.sky.distance import angular_distance
from datalab.sky.shapes import Circle

__all__ = ["Polygon"]

# Consecutive vertices closer than this (degrees, 3.6e-8 arcsec) are "repeated":
# the edge between them has no usable direction.
_REPEATED_DEG = 1e-11
# Consecutive vertices closer than this to antipodal (degrees) are refused: the great
# circle through two (nearly) antipodal points is not determined by them.
_ANTIPODAL_DEG = 1e-8
# A turn within this (radians) of 180 degrees means the boundary doubles back on itself.
_FOLD_RAD = 1e-12
# Distances (sine of the angle, radians) below this count as "on the great circle"
# when looking for edges that touch: about 2e-8 arcsec, far above rounding noise.
_TOUCH = 1e-13
# Cap on points x edges handled at once by ``contains`` (bounds temporary memory).
_CHUNK_CELLS = 4_000_000


def _sign(values: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Orientation as a boolean, zero counted as positive.

    Counting an exact zero always on the same side is a consistent symbolic
    perturbation: a test arc passing exactly through a vertex sees that vertex
    nudged to one side for *both* edges sharing it, so it crosses exactly one or
    neither of them, and the parity stays right.
    """
    return values >= 0.0


def _edges(xyz: NDArray[np.float64]) -> tuple[NDArray, NDArray, NDArray]:
    """Unit normals (pointing left of travel), sines and cosines of each edge i -> i+1."""
    nxt = np.roll(xyz, -1, axis=0)
    cross = np.cross(xyz, nxt)
    sines = np.linalg.norm(cross, axis=1)
    cosines = np.einsum("ij,ij->i", xyz, nxt)
    with np.errstate(invalid="ignore", divide="ignore"):
        normals = cross / sines[:, None]
    return normals, sines, cosines


def _on_arc(x: NDArray, a: NDArray, b: NDArray, normal: NDArray) -> NDArray[np.bool_]:
    """Whether points x, lying on the great circle of the minor arc a -> b, are on it."""
    after_a = np.einsum("ij,ij->i", np.cross(a, x), normal) >= -_TOUCH
    before_b = np.einsum("ij,ij->i", np.cross(x, b), normal) >= -_TOUCH
    return after_a & before_b


def _edges_meet(
    xyz: NDArray[np.float64], normals: NDArray[np.float64], i: NDArray, j: NDArray
) -> NDArray[np.bool_]:
    """Whether edges i and j (pairwise, i -> i+1 and j -> j+1) cross or touch."""
    n = len(xyz)
    a, b, na = xyz[i], xyz[(i + 1) % n], normals[i]
    c, d, nc = xyz[j], xyz[(j + 1) % n], normals[j]
    side_c = np.einsum("ij,ij->i", na, c)
    side_d = np.einsum("ij,ij->i", na, d)
    side_a = np.einsum("ij,ij->i", nc, a)
    side_b = np.einsum("ij,ij->i", nc, b)
    clear = np.minimum.reduce([np.abs(s) for s in (side_c, side_d, side_a, side_b)]) >= _TOUCH
    # Minor arcs a-b and c-d cross iff c, d are on opposite sides of a-b's circle,
    # a, b on opposite sides of c-d's, and the quadrilateral a, c, b, d is
    # consistently oriented (otherwise the circles meet at the antipodal point).
    crossing = (
        clear
        & ((side_c > 0) != (side_d > 0))
        & ((side_a > 0) != (side_b > 0))
        & ((side_d > 0) == (side_a > 0))
    )
    touching = (
        ((np.abs(side_c) < _TOUCH) & _on_arc(c, a, b, na))
        | ((np.abs(side_d) < _TOUCH) & _on_arc(d, a, b, na))
        | ((np.abs(side_a) < _TOUCH) & _on_arc(a, c, d, nc))
        | ((np.abs(side_b) < _TOUCH) & _on_arc(b, c, d, nc))
    )
    return crossing | touching


class Polygon(Shape):
    """ADQL's POLYGON: vertices joined by great-circle arcs, last vertex to the first.

    Definition (IVOA ADQL 2.1, section 4.2.19 "POLYGON"; ADQL 2.0, section 2.4.13;
    the STC Polygon, STC 1.33 section 4.5.1.4): "a list of vertices in a single
    coordinate system, with each vertex connected to the next along a great circle
    and the last vertex implicitly connected to the first vertex", three or more
    vertices, coordinates in degrees.

    The standard leaves two things open, decided here:

    * Which arc of the great circle: the shorter one (so every edge is under 180
      degrees, and consecutive vertices may not be antipodal).
    * Which of the two regions the closed boundary separates: the smaller one, by
      area. So vertices may be listed clockwise or counter-clockwise with the same
      result, and a polygon can never be bigger than a hemisphere. If both regions
      have exactly half the sky (vertices all on one great circle, going round it)
      the region to the left of the vertices in the given order is used.

    Refused with :class:`UsageError`: fewer than 3 vertices, non-finite numbers or
    a dec outside [-90, 90], repeated or antipodal consecutive vertices, edges that
    cross or touch, and a boundary that doubles back on itself (a 180-degree turn).
    The boundary is part of the region.
    """

    def __init__(self, vertices: Sequence[Sequence[float]]) -> None:
        given = list(vertices)
        if len(given) < 3:
            raise UsageError(
                f"a polygon needs at least 3 vertices; got {len(given)}",
                detail={"parameter": "vertices", "value": repr(given)},
            )
        checked = []
        for i, vertex in enumerate(given):
            if len(vertex) != 2:
                raise UsageError(
                    f"polygon vertex {i} must be an (ra, dec) pair; got {vertex!r}",
                    detail={"parameter": f"vertices[{i}]", "value": repr(vertex)},
                )
            checked.append(
                (check_ra(f"vertex {i} ra", vertex[0]), check_dec(f"vertex {i} dec", vertex[1]))
            )
        self._vertices: tuple[tuple[float, float], ...] = tuple(checked)
        ra, dec = np.array(checked).T

        centre = unit_vectors(ra, dec).sum(axis=0)
        if np.linalg.norm(centre) < 1e-9:
            centre = unit_vectors(ra[0], dec[0])
        centre_ra, centre_dec = to_radec(normalize(centre))
        # All vector work happens in a frame centred on the polygon (see local_coords).
        self._frame = (float(centre_ra), float(centre_dec))
        xyz = local_coords(ra, dec, *self._frame)

        # Checked in the given order, so that error messages number vertices and
        # edges as the caller did.
        self._check_edges(xyz)
        normals, _, _ = _edges(xyz)
        self._check_simple(xyz, normals)
        left_area = self._left_area(xyz, normals)
        if left_area > 2.0 * math.pi + 1e-12:
            xyz = xyz[::-1].copy()
            normals, _, _ = _edges(xyz)
            left_area = 4.0 * math.pi - left_area
        self._xyz = xyz
        self._normals = normals
        self._mids = normalize(xyz + np.roll(xyz, -1, axis=0))
        # Side of every edge's great circle each edge midpoint is on (see contains).
        self._mid_sides = self._mids @ normals.T

        distances = angular_distance(centre_ra, centre_dec, ra, dec)
        radius = float(distances.max()) * (1.0 + 1e-12) + 1e-12
        # Edges between points of a cap narrower than a hemisphere stay in the cap, so
        # the boundary does, and the smaller region is then the inside of the cap.
        within_cap = radius < 90.0
        self._bounding = Circle(
            float(centre_ra), float(centre_dec), radius if within_cap else 180.0
        )
        # Gauss-Bonnet subtracts nearly equal numbers for small polygons (its error is
        # ~1e-15 sr whatever the size); when the polygon lies in a cap around the
        # frame centre, summing the triangles it makes with that centre is exact to
        # rounding at any size.
        self._area_sr = self._fan_area(xyz) if within_cap else left_area

    @staticmethod
    def _check_edges(xyz: NDArray[np.float64]) -> None:
        _, sines, cosines = _edges(xyz)
        separation = np.degrees(np.arctan2(sines, cosines))
        n = len(xyz)
        for i in range(n):
            if separation[i] < _REPEATED_DEG:
                raise UsageError(
                    f"polygon vertices {i} and {(i + 1) % n} are the same point",
                    detail={"parameter": "vertices", "value": i},
                )
            if separation[i] > 180.0 - _ANTIPODAL_DEG:
                raise UsageError(
                    f"polygon vertices {i} and {(i + 1) % n} are antipodal, so the "
                    "great circle joining them is undefined; add a vertex between them",
                    detail={"parameter": "vertices", "value": i},
                )

    @staticmethod
    def _left_area(xyz: NDArray[np.float64], normals: NDArray[np.float64]) -> float:
        """Area (steradians) of the region left of the boundary, by Gauss-Bonnet.

        For a simple closed curve made of great-circle arcs the region on its left
        has area ``2 pi - sum(turning angles)``, left turns counted positive.
        """
        arriving = np.cross(np.roll(normals, 1, axis=0), xyz)
        leaving = np.cross(normals, xyz)
        turns = np.arctan2(
            np.einsum("ij,ij->i", np.cross(arriving, leaving), xyz),
            np.einsum("ij,ij->i", arriving, leaving),
        )
        folds = np.flatnonzero(np.abs(np.abs(turns) - math.pi) < _FOLD_RAD)
        if len(folds):
            raise UsageError(
                f"polygon boundary doubles back on itself at vertex {int(folds[0])}",
                detail={"parameter": "vertices", "value": int(folds[0])},
            )
        return float(2.0 * math.pi - turns.sum())

    @staticmethod
    def _fan_area(xyz: NDArray[np.float64]) -> float:
        """Area (sr) as the sum of the triangles (frame centre, vertex i, vertex i+1).

        Each triangle's signed solid angle comes from the Oosterom-Strackee formula
        tan(omega/2) = a . (b x c) / (1 + a.b + b.c + c.a), with a = (1, 0, 0), the
        frame centre, in local coordinates.
        """
        b, c = xyz, np.roll(xyz, -1, axis=0)
        triple = b[:, 1] * c[:, 2] - b[:, 2] * c[:, 1]
        denominator = 1.0 + b[:, 0] + c[:, 0] + np.einsum("ij,ij->i", b, c)
        return abs(float((2.0 * np.arctan2(triple, denominator)).sum()))

    @staticmethod
    def _check_simple(xyz: NDArray[np.float64], normals: NDArray[np.float64]) -> None:
        """Refuse polygons whose non-adjacent edges cross or touch.

        Self-intersecting boundaries do not split the sky into two regions, so
        "the smaller region" would be meaningless.
        """
        n = len(xyz)
        first, second = np.triu_indices(n, k=2)
        keep = ~((first == 0) & (second == n - 1))  # edges n-1 and 0 are adjacent
        first, second = first[keep], second[keep]
        for start in range(0, len(first), _CHUNK_CELLS // 16):
            i = first[start : start + _CHUNK_CELLS // 16]
            j = second[start : start + _CHUNK_CELLS // 16]
            bad = np.flatnonzero(_edges_meet(xyz, normals, i, j))
            if len(bad):
                e1, e2 = int(i[bad[0]]), int(j[bad[0]])
                raise UsageError(
                    f"polygon edges {e1}-{(e1 + 1) % n} and {e2}-{(e2 + 1) % n} cross or "
                    "touch; the boundary must not intersect itself",
                    detail={"parameter": "vertices", "value": [e1, e2]},
                )

    @property
    def vertices(self) -> tuple[tuple[float, float], ...]:
        """The vertices as given (ra reduced to [0, 360)), in the given order."""
        return self._vertices

    @property
    def area(self) -> float:
        """Area of the region in square degrees."""
        return self._area_sr * (180.0 / math.pi) ** 2

    def __repr__(self) -> str:
        return f"Polygon({list(self._vertices)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Polygon) and other._vertices == self._vertices

    def __hash__(self) -> int:
        return hash(self._vertices)

    def contains(self, ra: ArrayLike, dec: ArrayLike) -> NDArray[np.bool_]:
        """Whether each point is in the polygon, by counting boundary crossings.

        For each point p a reference edge k is chosen whose great circle is as far
        from p as possible. Walking the short arc from p to the midpoint m of edge k,
        the arc ends on edge k from p's side of it, so just before m the walker is
        inside exactly when p is left of edge k (the region lies left of every edge
        once the vertices are oriented). Each crossing of another edge on the way
        flips inside/outside, so p is inside iff (p left of k) XOR (odd crossings).
        Choosing the farthest edge keeps p away from the degenerate arc to -m.
        """
        ra_arr, dec_arr, usable = points(ra, dec)
        result = np.zeros(ra_arr.shape, dtype=bool)
        flat = np.flatnonzero(usable)
        chunk = max(1, _CHUNK_CELLS // len(self._xyz))
        for start in range(0, len(flat), chunk):
            sel = flat[start : start + chunk]
            p = local_coords(ra_arr.flat[sel], dec_arr.flat[sel], *self._frame)
            result.flat[sel] = self._inside(p)
        return result

    def _inside(self, p: NDArray[np.float64]) -> NDArray[np.bool_]:
        sides = p @ self._normals.T  # (points, edges): > 0 means left of the edge
        ref = np.argmax(np.abs(sides), axis=1)
        rows = np.arange(len(p))
        left_of_ref = sides[rows, ref] > 0.0
        # Orientation of (p, m, vertex) for every vertex: which side of the arc p->m.
        arc_sides = np.cross(p, self._mids[ref]) @ self._xyz.T
        start_side = _sign(arc_sides)
        end_side = np.roll(start_side, -1, axis=1)
        mid_side = self._mid_sides[ref]  # side of each edge's circle that m is on
        # Edges whose great circle passes through m (edge k itself, or edges in line
        # with it) can only meet the arc at m, which is on none of them.
        usable_edge = np.abs(mid_side) > 1e-12
        usable_edge[rows, ref] = False
        m_side = _sign(mid_side)
        crosses = (
            usable_edge
            & (_sign(sides) != m_side)
            & (start_side != end_side)
            & (m_side == start_side)
        )
        odd = (np.count_nonzero(crosses, axis=1) % 2).astype(bool)
        return left_of_ref ^ odd

    def bounding_circle(self) -> Circle:
        return self._bounding

    def _finest_radius(self) -> float:
        # Radius of the circle of equal area: the scale of the polygon's bulk.
        return math.degrees(math.sqrt(max(self._area_sr, 0.0) / math.pi))

    def _classify(
        self, ra: NDArray, dec: NDArray, radius: NDArray
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """A cap touches the polygon iff its centre is inside or it reaches an edge;
        it is inside iff its centre is inside and it reaches no edge."""
        to_edge = np.empty(len(ra), dtype=np.float64)
        chunk = max(1, _CHUNK_CELLS // len(self._xyz))
        for start in range(0, len(ra), chunk):
            part = slice(start, start + chunk)
            p = local_coords(ra[part], dec[part], *self._frame)
            to_edge[part] = self._boundary_distance(p)
        centre_in = self.contains(ra, dec)
        reach = np.radians(radius)
        touches = centre_in | (to_edge <= reach + math.radians(COVER_MARGIN_DEG))
        return touches, centre_in & (to_edge > reach)

    def _boundary_distance(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        """Angular distance (radians) from each point to the nearest edge (minor arc)."""
        start, end, normals = self._xyz, np.roll(self._xyz, -1, axis=0), self._normals
        off_circle = p @ normals.T  # sine of the distance to each edge's great circle
        # Foot of the perpendicular on each great circle: on the arc iff it lies
        # after the start and before the end vertex in the direction of travel.
        foot = p[:, None, :] - off_circle[..., None] * normals[None, :, :]
        after_start = np.einsum("ekc,kc->ek", np.cross(start[None], foot), normals) >= 0.0
        before_end = np.einsum("ekc,kc->ek", np.cross(foot, end[None]), normals) >= 0.0
        to_circle = np.arcsin(np.clip(np.abs(off_circle), 0.0, 1.0))
        to_vertex = np.arctan2(
            np.linalg.norm(np.cross(p[:, None, :], start[None]), axis=-1), p @ start.T
        )
        # The nearest point of an arc whose foot is off the arc is one of its ends;
        # checking every vertex covers both ends of every edge.
        nearest_vertex = to_vertex.min(axis=1)
        on_arc = np.where(after_start & before_end, to_circle, np.inf).min(axis=1)
        return np.minimum(on_arc, nearest_vertex)

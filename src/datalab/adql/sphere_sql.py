"""Spherical geometry as engine SQL expressions (trees), in degrees.

Everything here builds sqlglot expressions from expressions, so a column, a constant
or any computed value can stand for a coordinate. Constant shapes are turned into
constants in Python first (normals, projected vertices) so that the engine only does
per-row arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sqlglot import exp

from datalab.adql.trees import copy_tree
from datalab.sky import Box, Polygon, boundary

__all__ = [
    "boundary_distance",
    "cone_test",
    "haversine_limit",
    "distance",
    "healpix_ranges_predicate",
    "polygon_test",
    "unit_vector",
]


def num(value: float) -> exp.Expr:
    """A numeric literal that keeps full double precision."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    text = repr(abs(float(value)))
    literal = exp.Literal.number(text if "e" in text else text + "e0")
    return exp.Neg(this=literal) if value < 0 else literal


def _f(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=[copy_tree(a) for a in args])


def _rad(value: exp.Expr) -> exp.Expr:
    return _f("RADIANS", value)


def _mul(*terms: exp.Expr) -> exp.Expr:
    result = copy_tree(terms[0])
    for term in terms[1:]:
        result = exp.Mul(this=result, expression=copy_tree(term))
    return result


def _add(*terms: exp.Expr) -> exp.Expr:
    result = copy_tree(terms[0])
    for term in terms[1:]:
        result = exp.Add(this=result, expression=copy_tree(term))
    return result


def _paren(value: exp.Expr) -> exp.Expr:
    return exp.Paren(this=value)


def _sq(value: exp.Expr) -> exp.Expr:
    return exp.Pow(this=_paren(value), expression=exp.Literal.number(2))


def _haversine(ra1: exp.Expr, dec1: exp.Expr, ra2: exp.Expr, dec2: exp.Expr) -> exp.Expr:
    """hav(d) = sin²(Δδ/2) + cos δ1 cos δ2 sin²(Δα/2): monotone in the distance d."""
    half = exp.Literal.number(2)
    d_dec = exp.Div(this=_paren(exp.Sub(this=_rad(dec2), expression=_rad(dec1))), expression=half)
    d_ra = exp.Div(this=_paren(exp.Sub(this=_rad(ra2), expression=_rad(ra1))), expression=half)
    return _add(
        _sq(_f("SIN", d_dec)),
        _mul(_f("COS", _rad(dec1)), _f("COS", _rad(dec2)), _sq(_f("SIN", d_ra))),
    )


def distance(ra1: exp.Expr, dec1: exp.Expr, ra2: exp.Expr, dec2: exp.Expr) -> exp.Expr:
    """Great-circle distance in degrees, accurate at every separation (Vincenty's form)."""
    r1, d1, r2, d2 = _rad(ra1), _rad(dec1), _rad(ra2), _rad(dec2)
    d_ra = _paren(exp.Sub(this=r2, expression=r1))
    y = _f(
        "SQRT",
        _add(
            _sq(_mul(_f("COS", d2), _f("SIN", d_ra))),
            _sq(
                exp.Sub(
                    this=_mul(_f("COS", d1), _f("SIN", d2)),
                    expression=_mul(_f("SIN", d1), _f("COS", d2), _f("COS", d_ra)),
                )
            ),
        ),
    )
    x = _add(
        _mul(_f("SIN", d1), _f("SIN", d2)), _mul(_f("COS", d1), _f("COS", d2), _f("COS", d_ra))
    )
    return _f("DEGREES", _f("ATAN2", y, x))


def haversine_limit(radius: float) -> float:
    """The haversine of ``radius`` degrees: the bound a cone's exact test compares with.

    With a hair of slack so that points exactly on the circle (radius = separation as
    computed in double precision) stay in, as the boundary belongs to the circle. The
    row-copy path (:mod:`datalab.query.cones`) compares with the same bound.
    """
    return math.sin(math.radians(max(radius, 0.0)) / 2.0) ** 2 * (1 + 1e-12)


def cone_test(
    ra: exp.Expr, dec: exp.Expr, ra0: exp.Expr, dec0: exp.Expr, radius: exp.Expr
) -> exp.Expr:
    """Whether (ra, dec) is within ``radius`` degrees of (ra0, dec0), boundary included.

    A constant radius is compared through the haversine (no inverse trigonometry per
    row); a computed one through :func:`distance`.
    """
    if isinstance(radius, exp.Literal) or (
        isinstance(radius, exp.Neg) and isinstance(radius.this, exp.Literal)
    ):
        r = float(radius.this if isinstance(radius, exp.Literal) else -float(radius.this.this))
        if r >= 180.0:
            return exp.and_(
                exp.Not(this=exp.Is(this=copy_tree(ra), expression=exp.Null())),
                exp.Not(this=exp.Is(this=copy_tree(dec), expression=exp.Null())),
            )
        test = exp.LTE(
            this=_haversine(ra0, dec0, ra, dec), expression=num(haversine_limit(r))
        )
        return test if r >= 0 else exp.false()
    return exp.LTE(this=distance(ra0, dec0, ra, dec), expression=copy_tree(radius))


def unit_vector(ra: exp.Expr, dec: exp.Expr) -> tuple[exp.Expr, exp.Expr, exp.Expr]:
    cos_dec = _f("COS", _rad(dec))
    return (
        _mul(cos_dec, _f("COS", _rad(ra))),
        _mul(cos_dec, _f("SIN", _rad(ra))),
        _f("SIN", _rad(dec)),
    )


def _dot(normal: Sequence[float], vec: tuple[exp.Expr, exp.Expr, exp.Expr]) -> exp.Expr:
    return _add(*(_mul(num(float(c)), v) for c, v in zip(normal, vec, strict=True)))


def polygon_test(ra: exp.Expr, dec: exp.Expr, polygon: Polygon) -> exp.Expr:
    """Whether (ra, dec) is inside a constant polygon (great-circle edges, boundary in).

    A convex polygon is the intersection of the hemispheres left of its edges: one
    dot product per edge. Otherwise the gnomonic projection about the polygon's
    centre, which maps great circles to straight lines, turns the question into the
    planar crossing-number test, exact for the hemisphere around the centre.
    """
    xyz = _oriented_vertices(polygon)
    normals = np.cross(xyz, np.roll(xyz, -1, axis=0))
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    vec = unit_vector(ra, dec)
    slack = 1e-13
    if np.all(xyz @ normals.T >= -1e-12):
        return exp.and_(
            *(exp.GTE(this=_dot(n, vec), expression=num(-slack)) for n in normals), copy=False
        )
    centre_ra, centre_dec = polygon.bounding_circle().ra, polygon.bounding_circle().dec
    if polygon.bounding_circle().radius >= 89.0:
        raise ValueError("a non-convex polygon wider than a hemisphere")
    c = _unit(centre_ra, centre_dec)
    e1 = np.cross([0.0, 0.0, 1.0], c)
    if np.linalg.norm(e1) < 1e-9:
        e1 = np.array([1.0, 0.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(c, e1)
    # With D = p·c > 0, the projected point is (p·e1 / D, p·e2 / D); every planar test
    # below is multiplied through by D, so each becomes the sign of p·w for a constant w.
    vx = (xyz @ e1) / (xyz @ c)
    vy = (xyz @ e2) / (xyz @ c)
    crossings = []
    n = len(vx)
    for i in range(n):
        j = (i + 1) % n
        xi, yi, xj, yj = vx[i], vy[i], vx[j], vy[j]
        if yi == yj:
            continue
        # (yi > py) != (yj > py)
        straddles = exp.NEQ(
            this=_paren(exp.GT(this=_dot(yi * c - e2, vec), expression=num(0.0))),
            expression=_paren(exp.GT(this=_dot(yj * c - e2, vec), expression=num(0.0))),
        )
        # px < xi + slope (py - yi)
        slope = (xj - xi) / (yj - yi)
        left = exp.LT(this=_dot(e1 - slope * e2 + (slope * yi - xi) * c, vec), expression=num(0.0))
        crossings.append(
            exp.Case(
                ifs=[
                    exp.If(this=exp.and_(straddles, left, copy=False), true=exp.Literal.number(1))
                ],
                default=exp.Literal.number(0),
            )
        )
    odd = exp.EQ(
        this=exp.Mod(this=_paren(_add(*crossings)), expression=exp.Literal.number(2)),
        expression=exp.Literal.number(1),
    )
    return exp.and_(exp.GT(this=_dot(c, vec), expression=num(0.0)), odd, copy=False)


def _unit(ra: float, dec: float) -> np.ndarray:
    r, d = math.radians(ra), math.radians(dec)
    return np.array([math.cos(d) * math.cos(r), math.cos(d) * math.sin(r), math.sin(d)])


def _oriented_vertices(polygon: Polygon) -> np.ndarray:
    """Vertex unit vectors ordered so that the polygon's region lies left of each edge."""
    xyz = np.array([_unit(ra, dec) for ra, dec in polygon.vertices])
    normals = np.cross(xyz, np.roll(xyz, -1, axis=0))
    # Signed area by the fan around the centre: positive when counter-clockwise seen
    # from outside, i.e. the region on the left.
    centre = _unit(polygon.bounding_circle().ra, polygon.bounding_circle().dec)
    turning = float(np.sum(normals @ centre))
    return xyz if turning >= 0 else xyz[::-1].copy()


def boundary_distance(ra: exp.Expr, dec: exp.Expr, region: Box | Polygon) -> exp.Expr:
    """Great-circle distance in degrees from (ra, dec) to a constant region's boundary.

    The boundary is made of minor great-circle arcs (:func:`datalab.sky.boundary`).
    For each arc with unit normal n the foot of the perpendicular from the point p
    lies on the arc iff p . (n x start) >= 0 and p . (end x n) >= 0; the distance is
    then atan2(|p . n|, |n x p|) (accurate at every distance). Otherwise the nearest
    point of that arc is an end, so the distances to every vertex are among the
    candidates; the answer is the least of them all.
    """
    radec, normals = boundary(region)
    xyz = np.array([_unit(float(r), float(d)) for r, d in radec])
    ends = np.roll(xyz, -1, axis=0)
    vec = unit_vector(ra, dec)
    candidates = []
    for start, end, n in zip(xyz, ends, normals, strict=True):
        on_arc = exp.and_(
            exp.GTE(this=_dot(np.cross(n, start), vec), expression=num(0.0)),
            exp.GTE(this=_dot(np.cross(end, n), vec), expression=num(0.0)),
            copy=False,
        )
        # The components of n x p are linear in p: the rows of n's cross-product matrix.
        cross_rows = [(0.0, -n[2], n[1]), (n[2], 0.0, -n[0]), (-n[1], n[0], 0.0)]
        across = _f("SQRT", _add(*(_sq(_dot(row, vec)) for row in cross_rows)))
        to_circle = _f("DEGREES", _f("ATAN2", _f("ABS", _dot(n, vec)), across))
        candidates.append(
            exp.Case(ifs=[exp.If(this=on_arc, true=to_circle)], default=num(180.0))
        )
    for ra_v, dec_v in radec:
        candidates.append(distance(ra, dec, num(float(ra_v)), num(float(dec_v))))
    return _f("LEAST", *candidates)


def healpix_ranges_predicate(column: exp.Expr, ranges: np.ndarray) -> exp.Expr:
    """``column`` within the half-open ``[lo, hi)`` ranges, with an outer hull first.

    The hull lets the engine prune row groups by their min/max statistics at once;
    the disjunction of BETWEENs then prunes the gaps between ranges.
    """
    if len(ranges) == 0:
        return exp.false()

    def between(lo: int, hi: int) -> exp.Expr:
        return exp.Between(
            this=copy_tree(column),
            low=exp.Literal.number(int(lo)),
            high=exp.Literal.number(int(hi) - 1),
        )

    hull = between(ranges[0][0], ranges[-1][1])
    if len(ranges) == 1:
        return hull
    parts = [between(lo, hi) for lo, hi in ranges]
    return exp.and_(hull, exp.Paren(this=exp.or_(*parts, copy=False)), copy=False)


def frame(ra: float, dec: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors of the centre, east and north at (ra, dec)."""
    r, d = math.radians(ra), math.radians(dec)
    centre = _unit(ra, dec)
    east = np.array([-math.sin(r), math.cos(r), 0.0])
    north = np.array([-math.sin(d) * math.cos(r), -math.sin(d) * math.sin(r), math.cos(d)])
    return centre, east, north


def box_test(ra: exp.Expr, dec: exp.Expr, box: Box) -> exp.Expr:
    """ADQL BOX (see :class:`datalab.sky.Box`): four great-circle sides, boundary in.

    Each side is a plane through the sphere's centre; inside is on the centre's side
    of all four, i.e. ``sin(w/2) centre ∓ cos(w/2) east`` (and north) dotted with the
    point is not negative.
    """
    centre, east, north = frame(box.ra, box.dec)
    vec = unit_vector(ra, dec)
    tests = []
    for half, axis in ((box.width / 2.0, east), (box.height / 2.0, north)):
        s, c = math.sin(math.radians(half)), math.cos(math.radians(half))
        for sign in (1.0, -1.0):
            normal = s * centre - sign * c * axis
            tests.append(exp.GTE(this=_dot(normal, vec), expression=num(-1e-13)))
    return exp.and_(*tests, copy=False)


def _local(ra: exp.Expr, dec: exp.Expr, ra0: float, dec0: float) -> tuple[exp.Expr, ...]:
    centre, east, north = frame(ra0, dec0)
    vec = unit_vector(ra, dec)
    return _dot(centre, vec), _dot(east, vec), _dot(north, vec)


def ellipse_test(
    ra: exp.Expr,
    dec: exp.Expr,
    ra0: float,
    dec0: float,
    major: float,
    ratio: float,
    angle: float,
) -> exp.Expr:
    """q3c's ellipse: semi-major axis ``major`` (degrees), axis ratio, position angle
    (degrees east of north), as an ellipse in the tangent plane at its centre."""
    along, east, north = _local(ra, dec, ra0, dec0)
    pa = math.radians(angle)
    a = math.tan(math.radians(major))
    b = math.tan(math.radians(major * ratio))
    # Coordinates along the axes, still multiplied by ``along`` (the projection's
    # denominator), so the test needs no division.
    u = _add(_mul(num(math.sin(pa) / a), east), _mul(num(math.cos(pa) / a), north))
    v = _add(_mul(num(math.cos(pa) / b), east), _mul(num(-math.sin(pa) / b), north))
    return exp.and_(
        exp.GT(this=copy_tree(along), expression=num(0.0)),
        exp.LTE(this=_add(_sq(u), _sq(v)), expression=_sq(along)),
    )


def propagate(
    ra: exp.Expr,
    dec: exp.Expr,
    pmra: exp.Expr,
    pmdec: exp.Expr,
    ref_epoch: exp.Expr,
    out_epoch: exp.Expr,
) -> object:
    """Position at ``out_epoch`` moving along a great circle with the proper motion.

    The displacement ``dt·(pmra·east + pmdec·north)`` is added in the tangent plane and
    the result put back on the sphere: the direction of motion is exact, the angle
    moved is atan(θ) for θ, an error of θ³/3 (0.1 mas for 200 arcseconds moved).
    Returns a :class:`datalab.adql.lower.PointV`.
    """
    from datalab.adql.lower import PointV

    k = _mul(
        exp.Paren(this=exp.Sub(this=copy_tree(out_epoch), expression=copy_tree(ref_epoch))),
        num(math.pi / 180.0 / 3.6e6),
    )
    r, d = _rad(ra), _rad(dec)
    sin_r, cos_r, sin_d, cos_d = _f("SIN", r), _f("COS", r), _f("SIN", d), _f("COS", d)
    east = (exp.Neg(this=sin_r), cos_r, exp.Literal.number(0))
    north = (exp.Neg(this=_mul(sin_d, cos_r)), exp.Neg(this=_mul(sin_d, sin_r)), cos_d)
    base = (_mul(cos_d, cos_r), _mul(cos_d, sin_r), sin_d)
    q = [
        _add(b, _mul(k, _paren(_add(_mul(pmra, e), _mul(pmdec, n)))))
        for b, e, n in zip(base, east, north, strict=True)
    ]
    new_ra = exp.Mod(
        this=_paren(_add(_f("DEGREES", _f("ATAN2", q[1], q[0])), num(360.0))),
        expression=num(360.0),
    )
    new_dec = _f("DEGREES", _f("ATAN2", q[2], _f("SQRT", _add(_sq(q[0]), _sq(q[1])))))
    return PointV(new_ra, new_dec)

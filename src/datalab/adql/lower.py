"""Lowering: ADQL functions and geometry to engine SQL, with the HEALPix index pushdown.

Geometry constructors do not exist in the engine. While lowering, a POINT, CIRCLE,
BOX or POLYGON is a Python value (:class:`PointV`…) holding the expressions of its
coordinates; the function that consumes it (CONTAINS, DISTANCE, COORD1…) turns it
into arithmetic. A geometry value that reaches the select list becomes a DALI array
(``[ra, dec]``, ``[ra, dec, radius]``, ``[ra1, dec1, …]``).

When CONTAINS/INTERSECTS test a table's own position columns against a constant
shape, the exact test is preceded by the shape's ``_healpix_29`` ranges, so the
engine reads only the row groups that can hold matches.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from sqlglot import exp

from datalab import sky
from datalab.adql import sphere_sql, units
from datalab.adql.errors import ADQLError
from datalab.adql.functions import FunctionSpec
from datalab.adql.gate import position_of
from datalab.catalog.metadata import HEALPIX_COLUMN, ColumnInfo, TableInfo
from datalab.errors import UsageError

__all__ = ["SOURCE_META", "ColumnSource", "Lowerer"]

SOURCE_META = "datalab_source"


class ColumnSource(NamedTuple):
    """What a column reference reads (under ``meta[SOURCE_META]``): correlation name,
    catalog table, catalog column."""

    alias: str
    table: TableInfo
    column: ColumnInfo

    def __deepcopy__(self, memo: dict[int, object]) -> ColumnSource:
        # Immutable; the lowering copies column references often, metadata included.
        return self

# At most this many ranges per shape: enough to skip the row groups between the parts
# of a shape's cover, few enough that the engine's planning of the BETWEENs does not
# outweigh the exact test it saves (measured: 4 ranges beat 16 and 64 on cones of
# 1' to 2 degrees).
MAX_RANGES = 4
_ICRS = ("", "ICRS", "ICRS GEOCENTER", "ICRS BARYCENTER", "ICRS TOPOCENTER", "UNKNOWNFRAME")


@dataclass
class PointV:
    ra: exp.Expr
    dec: exp.Expr


@dataclass
class CircleV:
    center: PointV
    radius: exp.Expr


@dataclass
class BoxV:
    center: PointV
    width: exp.Expr
    height: exp.Expr


@dataclass
class PolygonV:
    vertices: list[PointV]


Geometry = PointV | CircleV | BoxV | PolygonV
Value = exp.Expr | Geometry
_SHAPE_NAMES = {PointV: "POINT", CircleV: "CIRCLE", BoxV: "BOX", PolygonV: "POLYGON"}


def fail(node: exp.Expr, message: str) -> ADQLError:
    where = position_of(node) or (None, None)
    return ADQLError(message, line=where[0], column=where[1])


def constant(node: exp.Expr) -> float | None:
    """The value of a constant numeric expression, or None when it depends on rows."""
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return float(node.this)
        except ValueError:
            return None
    if isinstance(node, exp.Paren):
        return constant(node.this)
    if isinstance(node, exp.Neg):
        inner = constant(node.this)
        return None if inner is None else -inner
    operations: dict[type, Callable[[float, float], float]] = {
        exp.Add: lambda a, b: a + b,
        exp.Sub: lambda a, b: a - b,
        exp.Mul: lambda a, b: a * b,
        exp.Div: lambda a, b: a / b,
    }
    operation = operations.get(type(node))
    if operation is not None:
        left, right = constant(node.this), constant(node.expression)
        if left is None or right is None:
            return None
        try:
            value = operation(left, right)
        except ZeroDivisionError:
            return None
        return value if math.isfinite(value) else None
    return None


@functools.lru_cache(maxsize=4096)
def index_ranges(shape: sky.Shape) -> np.ndarray:
    """The shape's ``_healpix_29`` ranges, remembered: clients repeat their shapes
    (paging through a cone, a TAP client asking for the count and then the rows)."""
    ranges = shape.ranges(max_ranges=MAX_RANGES)
    ranges.setflags(write=False)
    return ranges


def column_source(node: exp.Expr) -> tuple[str, TableInfo, ColumnInfo] | None:
    """(correlation name, table, column) of a column reference to a catalog table."""
    if isinstance(node, exp.Column):
        source = node.meta.get(SOURCE_META)
        if source is not None:
            return source
    return None


class Lowerer:
    """Rewrites one query tree in place into engine SQL."""

    def __init__(self, functions: dict[str, FunctionSpec]) -> None:
        self.functions = functions

    # -- walking -----------------------------------------------------------------

    def lower(self, node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Connector):
            operands = [self.lower(part) for part in node.flatten()]
            combine = exp.and_ if isinstance(node, exp.And) else exp.or_
            return combine(*operands, copy=False)
        if isinstance(node, (exp.EQ, exp.NEQ)):
            predicate = self._predicate_comparison(node)
            if predicate is not None:
                return predicate
        if isinstance(node, exp.Anonymous):
            return self.as_expression(self.value(node), node)
        if isinstance(node, exp.HexString):
            return exp.Literal.number(int(node.this, 16))
        if isinstance(node, exp.Literal) and not node.is_string:
            # ADQL's 1.5 is a double; the engine would read it as an exact DECIMAL.
            text = node.this
            if "." in text and "e" not in text.lower():
                return exp.Literal.number(text + "e0")
            return node
        for key, child in list(node.args.items()):
            if isinstance(child, exp.Expr):
                node.set(key, self.lower(child))
            elif isinstance(child, list):
                node.set(key, [self.lower(c) if isinstance(c, exp.Expr) else c for c in child])
        return node

    def value(self, node: exp.Expr) -> Value:
        """Lower ``node`` into an expression or, for geometry, a geometry value."""
        if not isinstance(node, exp.Anonymous):
            return self.lower(node)
        name = node.name.upper()
        handler = getattr(self, f"_f_{name.lower()}", None)
        if handler is not None:
            return handler(node, list(node.expressions))
        spec = self.functions[name]
        assert spec.build is not None, name
        args = [self.as_expression(self.value(arg), arg) for arg in node.expressions]
        return spec.build(args)

    def as_expression(self, value: Value, node: exp.Expr) -> exp.Expr:
        """A value in a place that needs a plain expression: geometry becomes a DALI array."""
        if isinstance(value, exp.Expr):
            return value
        if isinstance(value, PointV):
            return exp.Anonymous(this="LIST_VALUE", expressions=[value.ra, value.dec])
        if isinstance(value, CircleV):
            return exp.Anonymous(
                this="LIST_VALUE", expressions=[value.center.ra, value.center.dec, value.radius]
            )
        polygon = self._polygon_shape(value, node)
        flat: list[exp.Expr] = []
        for ra, dec in polygon.vertices:
            flat += [sphere_sql.num(ra), sphere_sql.num(dec)]
        return exp.Anonymous(this="LIST_VALUE", expressions=flat)

    # -- helpers -----------------------------------------------------------------

    def _expr(self, node: exp.Expr) -> exp.Expr:
        value = self.value(node)
        if not isinstance(value, exp.Expr):
            raise fail(node, f"a {_SHAPE_NAMES[type(value)]} is used where a number is expected")
        return value

    def _geometry(self, node: exp.Expr, *kinds: type) -> Geometry:
        value = self.value(node)
        if isinstance(value, exp.Expr):
            source = column_source(value)
            if source is not None and source[2].xtype:
                raise fail(
                    node,
                    f"geometry columns ({source[2].name}) cannot be used in geometric"
                    " functions yet",
                )
            raise fail(node, "a geometry (POINT, CIRCLE, BOX or POLYGON) is expected here")
        if kinds and not isinstance(value, kinds):
            wanted = " or ".join(_SHAPE_NAMES[k] for k in kinds)
            raise fail(node, f"a {wanted} is expected here, not a {_SHAPE_NAMES[type(value)]}")
        return value

    def _coordsys(self, node: exp.Expr) -> None:
        if isinstance(node, exp.Null):
            return
        if not (isinstance(node, exp.Literal) and node.is_string):
            raise fail(node, "the coordinate system must be a string such as 'ICRS'")
        if node.this.strip().upper() not in _ICRS:
            raise fail(
                node,
                f"coordinate system '{node.this}' is not supported; positions"
                " here are ICRS (give 'ICRS' or '')",
            )

    def _split_coordsys(self, args: list[exp.Expr], plain: int) -> list[exp.Expr]:
        """Drop the optional leading coordinate-system argument."""
        if len(args) > plain or (args and isinstance(args[0], exp.Literal) and args[0].is_string):
            self._coordsys(args[0])
            return args[1:]
        return args

    def _const(self, node: exp.Expr, what: str) -> float:
        value = constant(node)
        if value is None:
            raise fail(node, f"{what} must be a constant here")
        return value

    def _shape(self, value: Geometry, node: exp.Expr) -> sky.Shape | None:
        """The constant shape of ``value``, or None when it depends on the rows."""
        try:
            if isinstance(value, CircleV):
                parts = [constant(e) for e in (value.center.ra, value.center.dec, value.radius)]
                if any(p is None for p in parts):
                    return None
                return sky.Circle(*parts)  # type: ignore[arg-type]
            if isinstance(value, BoxV):
                parts = [
                    constant(e)
                    for e in (value.center.ra, value.center.dec, value.width, value.height)
                ]
                if any(p is None for p in parts):
                    return None
                return sky.Box(*parts)  # type: ignore[arg-type]
            if isinstance(value, PolygonV):
                return self._polygon_shape(value, node)
        except UsageError as error:
            raise fail(node, error.message) from None
        return None

    def _polygon_shape(self, value: Geometry, node: exp.Expr) -> sky.Polygon:
        if isinstance(value, BoxV):
            box = self._shape(value, node)
            if box is None:
                raise fail(node, "a BOX used as a value needs constant arguments")
            return _box_polygon(box, node)  # type: ignore[arg-type]
        if not isinstance(value, PolygonV):
            raise fail(node, "a POLYGON is expected here")
        vertices = []
        for vertex in value.vertices:
            ra, dec = constant(vertex.ra), constant(vertex.dec)
            if ra is None or dec is None:
                raise fail(node, "POLYGON vertices must be constants")
            vertices.append((ra, dec))
        try:
            return sky.Polygon(vertices)
        except UsageError as error:
            raise fail(node, error.message) from None

    # -- geometry constructors ---------------------------------------------------

    def _f_point(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        args = self._split_coordsys(args, 2)
        if len(args) != 2:
            raise fail(node, "POINT takes a coordinate system (optional), ra and dec")
        return PointV(self._expr(args[0]), self._expr(args[1]))

    def _centre(self, args: list[exp.Expr], scalars: int, node: exp.Expr) -> tuple[PointV, list]:
        """Centre given either as ra, dec or as a POINT, followed by ``scalars`` numbers."""
        args = self._split_coordsys(args, scalars + 2)
        if len(args) == scalars + 1:
            centre = self._geometry(args[0], PointV)
            rest = args[1:]
        elif len(args) == scalars + 2:
            centre = PointV(self._expr(args[0]), self._expr(args[1]))
            rest = args[2:]
        else:
            raise fail(node, f"{node.name.upper()} has the wrong number of arguments")
        assert isinstance(centre, PointV)
        return centre, [self._expr(a) for a in rest]

    def _f_circle(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        centre, (radius,) = self._centre(args, 1, node)
        return CircleV(centre, radius)

    def _f_box(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        centre, (width, height) = self._centre(args, 2, node)
        return BoxV(centre, width, height)

    def _f_polygon(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        if args and isinstance(args[0], exp.Literal) and args[0].is_string:
            self._coordsys(args[0])
            args = args[1:]
        values = [self.value(a) for a in args]
        if all(isinstance(v, PointV) for v in values):
            points = [v for v in values if isinstance(v, PointV)]
        elif all(isinstance(v, exp.Expr) for v in values) and len(values) % 2 == 0:
            exprs = [v for v in values if isinstance(v, exp.Expr)]
            points = [PointV(exprs[i], exprs[i + 1]) for i in range(0, len(exprs), 2)]
        else:
            raise fail(node, "POLYGON takes pairs of coordinates or POINTs")
        if len(points) < 3:
            raise fail(node, "a POLYGON needs at least 3 vertices")
        return PolygonV(points)

    def _f_centroid(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        value = self._geometry(args[0])
        if isinstance(value, PointV):
            return value
        if isinstance(value, (CircleV, BoxV)):
            return value.center
        polygon = self._polygon_shape(value, node)
        centre = polygon.bounding_circle()
        return PointV(sphere_sql.num(centre.ra), sphere_sql.num(centre.dec))

    # -- geometry functions ------------------------------------------------------

    def _f_coord1(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        point = self._geometry(args[0], PointV)
        assert isinstance(point, PointV)
        return point.ra

    def _f_coord2(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        point = self._geometry(args[0], PointV)
        assert isinstance(point, PointV)
        return point.dec

    def _f_coordsys(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        self._geometry(args[0])
        return exp.Literal.string("ICRS")

    def _f_distance(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        if len(args) == 4:
            p1 = PointV(self._expr(args[0]), self._expr(args[1]))
            p2 = PointV(self._expr(args[2]), self._expr(args[3]))
        elif len(args) == 2:
            p1 = self._geometry(args[0], PointV)  # type: ignore[assignment]
            p2 = self._geometry(args[1], PointV)  # type: ignore[assignment]
        else:
            raise fail(node, "DISTANCE takes two POINTs or four coordinates")
        return sphere_sql.distance(p1.ra, p1.dec, p2.ra, p2.dec)

    def _f_area(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        value = self._geometry(args[0])
        if isinstance(value, PointV):
            return exp.Literal.number(0)
        if isinstance(value, CircleV):
            r = constant(value.radius)
            if r is not None:
                return sphere_sql.num(_cap_area(min(max(r, 0.0), 180.0)))
            factor = sphere_sql.num(2.0 * math.pi * (180.0 / math.pi) ** 2)
            return exp.Mul(
                this=factor,
                expression=exp.Paren(
                    this=exp.Sub(
                        this=exp.Literal.number(1),
                        expression=exp.Anonymous(
                            this="COS",
                            expressions=[exp.Anonymous(this="RADIANS", expressions=[value.radius])],
                        ),
                    )
                ),
            )
        return sphere_sql.num(self._polygon_shape(value, node).area)

    def _f_contains(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        return _as_int(self._contains(node, args))

    def _f_intersects(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        return _as_int(self._intersects(node, args))

    def _contains(self, node: exp.Expr, args: list[exp.Expr]) -> exp.Expr:
        inner = self._geometry(args[0])
        outer = self._geometry(args[1])
        if isinstance(inner, PointV):
            return self._point_in(inner, outer, args[1])
        if isinstance(outer, PointV):
            raise fail(
                node,
                f"CONTAINS({_SHAPE_NAMES[type(inner)]}, POINT) is not supported: a POINT"
                " holds no region; the second argument must be a CIRCLE, BOX or POLYGON",
            )
        return self._regions(node, "CONTAINS", inner, outer, args)

    def _intersects(self, node: exp.Expr, args: list[exp.Expr]) -> exp.Expr:
        first = self._geometry(args[0])
        second = self._geometry(args[1])
        if isinstance(first, PointV):
            return self._point_in(first, second, args[1])
        if isinstance(second, PointV):
            return self._point_in(second, first, args[0])
        return self._regions(node, "INTERSECTS", first, second, args)

    def _regions(
        self, node: exp.Expr, name: str, first: Geometry, second: Geometry, args: list[exp.Expr]
    ) -> exp.Expr:
        """CONTAINS(first, second) (first inside second) or INTERSECTS of two regions.

        Two constant regions are decided here, exactly, by :mod:`datalab.sky`; two
        circles, or a circle (computed centre and radius allowed) and a constant BOX or
        POLYGON, become a per-row test.
        """
        shapes = [self._constant_shape(first, args[0]), self._constant_shape(second, args[1])]
        if shapes[0] is not None and shapes[1] is not None:
            try:
                if name == "CONTAINS":
                    answer = sky.contains(shapes[1], shapes[0])
                else:
                    answer = sky.intersects(shapes[0], shapes[1])
            except UsageError as error:
                raise fail(node, error.message) from None
            return exp.true() if answer else exp.false()
        if isinstance(first, CircleV) and isinstance(second, CircleV):
            gap = sphere_sql.distance(
                first.center.ra, first.center.dec, second.center.ra, second.center.dec
            )
            if name == "CONTAINS":
                return exp.LTE(
                    this=exp.Add(this=gap, expression=first.radius), expression=second.radius
                )
            return exp.LTE(
                this=gap, expression=exp.Add(this=first.radius, expression=second.radius)
            )
        for circle, region, circle_first in ((first, shapes[1], True), (second, shapes[0], False)):
            if isinstance(circle, CircleV) and isinstance(region, (sky.Box, sky.Polygon)):
                return self._circle_and_region(node, name, circle, region, circle_first)
        raise fail(
            node,
            f"{name}({_SHAPE_NAMES[type(first)]}, {_SHAPE_NAMES[type(second)]}) with"
            " computed coordinates is not supported; between two regions, a CIRCLE's"
            " centre and radius may be computed from columns, a BOX or POLYGON must be"
            " constant (or both arguments may be CIRCLEs)",
        )

    def _circle_and_region(
        self,
        node: exp.Expr,
        name: str,
        circle: CircleV,
        region: sky.Box | sky.Polygon,
        circle_first: bool,
    ) -> exp.Expr:
        """A row-dependent circle against a constant BOX or POLYGON.

        INTERSECTS: the centre is in the region or an edge is within the radius.
        CONTAINS(circle, region): the centre is in the region and no edge is nearer
        than the radius. CONTAINS(region, circle): the region keeps at least
        180 - radius degrees from the antipode of the centre (it is not inside and its
        boundary is that far).
        """
        ra, dec, radius = circle.center.ra, circle.center.dec, circle.radius
        slack = sphere_sql.num(math.degrees(sky.TOUCH_RAD))

        def inside(ra: exp.Expr, dec: exp.Expr) -> exp.Expr:
            if isinstance(region, sky.Box):
                return sphere_sql.box_test(ra, dec, region)
            try:
                return sphere_sql.polygon_test(ra, dec, region)
            except ValueError:
                raise fail(
                    node, "non-convex polygons wider than a hemisphere are not supported"
                ) from None

        def nonnegative(value: exp.Expr) -> exp.Expr:
            return exp.GTE(this=value.copy(), expression=sphere_sql.num(0.0))

        if name == "CONTAINS" and not circle_first:  # the region inside the circle
            far_ra = exp.Add(this=ra.copy(), expression=sphere_sql.num(180.0))
            far_dec = exp.Neg(this=exp.Paren(this=dec.copy()))
            reach = exp.Add(
                this=sphere_sql.boundary_distance(far_ra, far_dec, region), expression=slack
            )
            keeps_away = exp.and_(
                exp.Not(this=exp.Paren(this=inside(far_ra, far_dec))),
                exp.GTE(
                    this=reach,
                    expression=exp.Sub(
                        this=sphere_sql.num(180.0), expression=exp.Paren(this=radius.copy())
                    ),
                ),
                copy=False,
            )
            exact = exp.or_(
                exp.GTE(this=radius.copy(), expression=sphere_sql.num(180.0)),
                exp.Paren(this=keeps_away),
                copy=False,
            )
        else:
            to_edge = sphere_sql.boundary_distance(ra, dec, region)
            if name == "CONTAINS":  # the circle inside the region
                test = exp.and_(
                    inside(ra, dec),
                    exp.GTE(this=exp.Add(this=to_edge, expression=slack), expression=radius),
                    copy=False,
                )
            else:
                test = exp.or_(
                    inside(ra, dec),
                    exp.LTE(
                        this=to_edge,
                        expression=exp.Add(this=radius.copy(), expression=slack),
                    ),
                    copy=False,
                )
            exact = exp.and_(nonnegative(radius), exp.Paren(this=test), copy=False)
        index = _healpix_column(circle.center)
        r = constant(radius)
        if index is None or r is None or r < 0:
            return exp.Paren(this=exact)
        if name == "CONTAINS" and circle_first:
            cover: sky.Shape = region  # the centre is in the region
        else:  # the centre is within r of the region (of every point of it, for CONTAINS)
            bound = region.bounding_circle()
            cover = sky.Circle(bound.ra, bound.dec, min(bound.radius + r, 180.0))
        ranges = index_ranges(cover)
        return exp.Paren(
            this=exp.and_(
                sphere_sql.healpix_ranges_predicate(index, ranges), exp.Paren(this=exact), copy=False
            )
        )

    def _constant_shape(self, value: Geometry, node: exp.Expr) -> sky.Shape | None:
        """The constant shape of a region, or None when any coordinate is computed."""
        if isinstance(value, PolygonV):
            for vertex in value.vertices:
                if constant(vertex.ra) is None or constant(vertex.dec) is None:
                    return None
        return self._shape(value, node)

    def _point_in(self, point: PointV, region: Geometry, node: exp.Expr) -> exp.Expr:
        if isinstance(region, PointV):
            raise fail(node, "a POINT contains no other point; use DISTANCE(…) = 0")
        shape = self._shape(region, node)
        if isinstance(region, CircleV):
            exact = sphere_sql.cone_test(
                point.ra, point.dec, region.center.ra, region.center.dec, region.radius
            )
        elif shape is None:
            raise fail(
                node,
                f"a {_SHAPE_NAMES[type(region)]} with computed corners is not"
                " supported; give constants",
            )
        elif isinstance(shape, sky.Box):
            exact = sphere_sql.box_test(point.ra, point.dec, shape)
        else:
            assert isinstance(shape, sky.Polygon)
            try:
                exact = sphere_sql.polygon_test(point.ra, point.dec, shape)
            except ValueError:
                raise fail(
                    node, "non-convex polygons wider than a hemisphere are not supported"
                ) from None
        if shape is None:
            return exact
        index = _healpix_column(point)
        if index is None:
            return exact
        ranges = index_ranges(shape)
        return exp.Paren(
            this=exp.and_(sphere_sql.healpix_ranges_predicate(index, ranges), exact, copy=False)
        )

    def _predicate_comparison(self, node: exp.EQ | exp.NEQ) -> exp.Expr | None:
        """``CONTAINS(…) = 1`` and friends as a plain predicate the planner can push down."""
        for func, other in ((node.this, node.expression), (node.expression, node.this)):
            if not (
                isinstance(func, exp.Anonymous) and func.name.upper() in ("CONTAINS", "INTERSECTS")
            ):
                continue
            value = constant(other)
            if value not in (0.0, 1.0):
                continue
            args = list(func.expressions)
            predicate = (
                self._contains(func, args)
                if func.name.upper() == "CONTAINS"
                else self._intersects(func, args)
            )
            wanted = (value == 1.0) == isinstance(node, exp.EQ)
            return predicate if wanted else exp.Not(this=exp.Paren(this=predicate))
        return None

    # -- other functions ---------------------------------------------------------

    def _f_in_unit(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        target = args[1]
        if not (isinstance(target, exp.Literal) and target.is_string):
            raise fail(node, "IN_UNIT takes the target unit as a string literal")

        def unit_of(column: exp.Expr) -> str | None:
            source = column_source(column)
            return source[2].unit if source else None

        try:
            factor = units.conversion_factor(args[0], target.this, unit_of)
        except ADQLError as error:
            raise fail(node, error.reason) from None
        return exp.Mul(this=exp.Paren(this=self._expr(args[0])), expression=sphere_sql.num(factor))

    def _f_ivo_healpix_index(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        order = constant(args[0])
        if order is None or order != int(order) or not 0 <= order <= sky.HEALPIX_ORDER:
            raise fail(node, "the HEALPix order must be a whole number from 0 to 29")
        point = (
            self._geometry(args[1], PointV)
            if len(args) == 2
            else PointV(self._expr(args[1]), self._expr(args[2]))
        )
        assert isinstance(point, PointV)
        index = _healpix_column(point)
        if index is None:
            raise fail(node, "ivo_healpix_index works on a catalog table's own position columns")
        shift = 2 * (sky.HEALPIX_ORDER - int(order))
        return exp.Paren(
            this=exp.BitwiseRightShift(this=index, expression=exp.Literal.number(shift))
        )

    def _f_ivo_epoch_prop_pos(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        ra, dec, _plx, pmra, pmdec, _rv, ref_epoch, out_epoch = (self._expr(a) for a in args)
        return sphere_sql.propagate(ra, dec, pmra, pmdec, ref_epoch, out_epoch)

    # Data Lab SQL's q3c functions, answered from our own index.

    def _f_q3c_dist(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        a = [self._expr(x) for x in args]
        return sphere_sql.distance(*a)

    def _f_q3c_radial_query(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        a = [self._expr(x) for x in args]
        return self._point_in(PointV(a[0], a[1]), CircleV(PointV(a[2], a[3]), a[4]), node)

    def _f_q3c_join(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        a = [self._expr(x) for x in args]
        return sphere_sql.cone_test(a[2], a[3], a[0], a[1], a[4])

    def _f_q3c_poly_query(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        ra, dec = self._expr(args[0]), self._expr(args[1])
        coords = _number_list(args[2])
        if coords is None or len(coords) < 6 or len(coords) % 2:
            raise fail(
                node,
                "q3c_poly_query takes the polygon as ARRAY[ra1, dec1, ra2, dec2,"
                " …] or '{ra1, dec1, …}' with at least 3 vertices",
            )
        vertices = [
            PointV(sphere_sql.num(coords[i]), sphere_sql.num(coords[i + 1]))
            for i in range(0, len(coords), 2)
        ]
        return self._point_in(PointV(ra, dec), PolygonV(vertices), node)

    def _f_q3c_ellipse_query(self, node: exp.Anonymous, args: list[exp.Expr]) -> Value:
        ra, dec = self._expr(args[0]), self._expr(args[1])
        ra0, dec0, major, ratio, angle = (self._const(a, "the ellipse") for a in args[2:])
        if not (0 < ratio <= 1) or not (0 < major < 90):
            raise fail(
                node, "q3c_ellipse_query needs 0 < semi-major axis < 90 and 0 < axis ratio <= 1"
            )
        exact = sphere_sql.ellipse_test(ra, dec, ra0, dec0, major, ratio, angle)
        index = _healpix_column(PointV(ra, dec))
        if index is None:
            return exact
        try:
            ranges = index_ranges(sky.Circle(ra0, dec0, major))
        except UsageError as error:
            raise fail(node, error.message) from None
        return exp.Paren(
            this=exp.and_(sphere_sql.healpix_ranges_predicate(index, ranges), exact, copy=False)
        )


def _as_int(predicate: exp.Expr) -> exp.Expr:
    if isinstance(predicate, exp.Boolean):  # decided while compiling
        return exp.Literal.number(1 if predicate.this else 0)
    return exp.Cast(this=exp.Paren(this=predicate), to=exp.DataType.build("INTEGER"))


def _cap_area(radius: float) -> float:
    return 2.0 * math.pi * (1.0 - math.cos(math.radians(radius))) * (180.0 / math.pi) ** 2


def _healpix_column(point: PointV) -> exp.Expr | None:
    """``alias._healpix_29`` when the point is exactly a table's indexed position."""
    ra, dec = column_source(point.ra), column_source(point.dec)
    if ra is None or dec is None or ra[0] != dec[0]:
        return None
    alias, table, _ = ra
    if ra[2].name != table.ra_column or dec[2].name != table.dec_column:
        return None
    if not table.healpix_indexed:
        return None
    return exp.column(HEALPIX_COLUMN, table=alias, quoted=True)


def _number_list(node: exp.Expr) -> list[float] | None:
    if isinstance(node, exp.Array):
        values = [constant(e) for e in node.expressions]
    elif isinstance(node, exp.Literal) and node.is_string:
        text = node.this.strip().strip("{}()")
        try:
            values = [float(part) for part in text.replace("(", "").replace(")", "").split(",")]
        except ValueError:
            return None
    else:
        return None
    if any(v is None for v in values):
        return None
    return [float(v) for v in values if v is not None]


def _box_polygon(box: sky.Box, node: exp.Expr) -> sky.Polygon:
    if box.width >= 180.0 or box.height >= 180.0:
        raise fail(node, "a BOX of 180 degrees or more cannot be written as a polygon")
    tx, ty = math.tan(math.radians(box.width / 2)), math.tan(math.radians(box.height / 2))
    c, east, north = sphere_sql.frame(box.ra, box.dec)
    corners = []
    for x, y in ((-tx, -ty), (tx, -ty), (tx, ty), (-tx, ty)):
        v = c + x * east + y * north
        v = v / math.sqrt(float(v @ v))
        corners.append(
            (
                math.degrees(math.atan2(v[1], v[0])) % 360.0,
                math.degrees(math.asin(max(-1.0, min(1.0, float(v[2]))))),
            )
        )
    return sky.Polygon(corners)

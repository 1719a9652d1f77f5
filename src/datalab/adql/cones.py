"""Cone searches recognised by the compiler, so that they can skip the SQL engine.

The most common query a catalog service receives is a plain cone search: some
columns (or a count) of one table, for the rows within a radius of a position,
perhaps the first N of them. For such a query the compiler describes what it asks in
a :class:`ConeSearch`, besides the engine SQL, and the query layer may answer it from
the table's row copy (:mod:`datalab.catalog.rowcopy`) in a fraction of the time the
engine needs just to start a statement.

Recognised, with ``t`` a catalog table that has positions and ``ra``, ``dec`` its
position columns, and numbers standing alone (optionally negated) for the circle::

    SELECT [TOP n] <columns of t, or COUNT(*)> FROM t
      WHERE 1 = CONTAINS(POINT(['ICRS',] ra, dec), CIRCLE(['ICRS',] ra0, dec0, r))

and the same with ``CONTAINS(…) = 1``, ``CIRCLE(POINT(…), r)``, or Data Lab SQL's
``q3c_radial_query(ra, dec, ra0, dec0, r)``. Anything else (another condition, an
ORDER BY, an expression in the output) is left to the engine.

A shape is found once per compiled template; every reuse binds the new numbers of
its text to it (:meth:`ConeShape.bind`), which costs microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from sqlglot import exp

from datalab import sky
from datalab.adql.lower import SOURCE_META
from datalab.catalog.metadata import TableInfo

__all__ = ["ConeSearch", "ConeShape", "find_cone"]


@dataclass(frozen=True)
class ConeSearch:
    """What a recognised cone search asks: ready for the row-copy path.

    ``columns`` pairs each output column with the stored column it shows, in output
    order; when ``count`` is set the query asks only for the number of rows, under
    that output name. ``limit`` is the query's TOP (or LIMIT).
    """

    table: str
    ra_column: str
    dec_column: str
    columns: tuple[tuple[str, str], ...]
    count: str | None
    limit: int | None
    ra: float
    dec: float
    radius: float

    @cached_property
    def circle(self) -> sky.Circle:
        """The circle, checked as the compiler checks it (raises UsageError)."""
        return sky.Circle(self.ra, self.dec, self.radius)


@dataclass(frozen=True)
class Hole:
    """Where one number of the circle is in the query text, and its sign there."""

    start: int
    negated: bool


@dataclass(frozen=True)
class ConeShape:
    """A cone search without its numbers: the part a template keeps."""

    search: ConeSearch  # what the query asks, its circle's numbers not yet known (NaN)
    circle: tuple[Hole, Hole, Hole]  # centre ra, centre dec, radius
    flag: int | None  # text offset of the ``1`` in ``1 = CONTAINS(…)``

    def bind(self, texts: dict[int, str]) -> ConeSearch | None:
        """The cone search for these number texts (by text offset), or None when
        the comparison no longer asks for the inside of the circle or a number is not
        finite (then the full compile decides what the query means)."""
        if self.flag is not None and _number(texts, Hole(self.flag, False)) != 1.0:
            return None
        ra, dec, radius = (_number(texts, hole) for hole in self.circle)
        if ra is None or dec is None or radius is None:
            return None
        if not (math.isfinite(ra) and math.isfinite(dec) and math.isfinite(radius)):
            return None
        s = self.search
        return ConeSearch(
            s.table, s.ra_column, s.dec_column, s.columns, s.count, s.limit, ra, dec, radius
        )


def _number(texts: dict[int, str], hole: Hole) -> float | None:
    text = texts.get(hole.start)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return -value if hole.negated else value


def find_cone(
    tree: exp.Expr,
    region: exp.Expr,
    marker: str,
    physical: Callable[[TableInfo], tuple[str, ...]],
) -> ConeShape | None:
    """The cone shape of a query whose only condition is ``region`` (cut out of
    ``tree`` and left as the column ``marker``), or None if it is not a plain cone
    search. ``physical`` gives a table's engine name: a table the request maps
    elsewhere (a user's table, an upload) has no row copy."""
    if not isinstance(tree, exp.Select) or not _plain_select(tree):
        return None
    where = tree.args.get("where")
    if not (isinstance(where, exp.Where) and isinstance(where.this, exp.Column)):
        return None
    if where.this.name != marker:
        return None
    table_node = tree.args["from_"].this
    info: TableInfo | None = table_node.meta.get("datalab_table")
    if info is None or not info.healpix_indexed or info.ra_column is None:
        return None
    if physical(info) != (info.schema, info.name):
        return None
    limit = _limit(tree)
    if limit is False:
        return None
    outputs = _outputs(tree, info)
    if outputs is None:
        return None
    columns, count = outputs
    found = _circle_predicate(region, info)
    if found is None:
        return None
    circle, flag = found
    search = ConeSearch(
        table=info.qualified_name,
        ra_column=info.ra_column,
        dec_column=info.dec_column or "",
        columns=columns,
        count=count,
        limit=limit,
        ra=math.nan,
        dec=math.nan,
        radius=math.nan,
    )
    return ConeShape(search, circle, flag)


# Arguments of a SELECT that a plain cone search may have set.
_ALLOWED = frozenset({"expressions", "from_", "where", "limit", "kind"})


def _plain_select(tree: exp.Select) -> bool:
    for name, value in tree.args.items():
        if value in (None, [], False) or name in _ALLOWED:
            continue
        return False
    from_ = tree.args.get("from_")
    return isinstance(from_, exp.From) and isinstance(from_.this, exp.Table)


def _limit(tree: exp.Select) -> int | None | bool:
    """TOP n as an int, None without one, False when it is not a plain count."""
    node = tree.args.get("limit")
    if node is None:
        return None
    if not isinstance(node, exp.Limit) or node.args.get("offset") is not None:
        return False
    value = node.expression
    if not (isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()):
        return False
    return int(value.this)


def _outputs(
    tree: exp.Select, info: TableInfo
) -> tuple[tuple[tuple[str, str], ...], str | None] | None:
    """(output name, stored column) pairs, or a COUNT(*)'s output name."""
    columns: list[tuple[str, str]] = []
    expressions = tree.expressions
    if len(expressions) == 1:
        only = expressions[0]
        inner = only.this if isinstance(only, exp.Alias) else only
        if isinstance(inner, exp.Count) and isinstance(inner.this, exp.Star):
            if inner.args.get("distinct"):
                return None
            return (), only.alias_or_name
    for node in expressions:
        inner = node.this if isinstance(node, exp.Alias) else node
        if not isinstance(inner, exp.Column):
            return None
        source = inner.meta.get(SOURCE_META)
        if source is None or source[1] is not info:
            return None
        columns.append((node.alias_or_name, source[2].name))
    return tuple(columns), None


def _circle_predicate(
    region: exp.Expr, info: TableInfo
) -> tuple[tuple[Hole, Hole, Hole], int | None] | None:
    """The circle's number holes and the comparison's ``1`` of a region predicate."""
    flag: int | None = None
    if isinstance(region, exp.Anonymous):  # q3c_radial_query(ra, dec, ra0, dec0, r)
        args = list(region.expressions)
        if len(args) != 5 or not _position(args[0], args[1], info):
            return None
        holes = [_hole(a) for a in args[2:]]
    else:
        if not isinstance(region, exp.EQ):
            return None
        pair = (region.this, region.expression)
        call = next((p for p in pair if isinstance(p, exp.Anonymous)), None)
        other = pair[1] if call is pair[0] else pair[0]
        if call is None or call.name.upper() != "CONTAINS":
            return None
        one = _hole(other)
        if one is None or one.negated:
            return None
        flag = one.start
        args = list(call.expressions)
        if len(args) != 2:
            return None
        point = _call_args(args[0], "POINT")
        circle = _call_args(args[1], "CIRCLE")
        if point is None or circle is None or len(point) != 2:
            return None
        if not _position(point[0], point[1], info):
            return None
        if len(circle) == 2:  # CIRCLE(POINT(ra0, dec0), r)
            centre = _call_args(circle[0], "POINT")
            if centre is None or len(centre) != 2:
                return None
            circle = [*centre, circle[1]]
        if len(circle) != 3:
            return None
        holes = [_hole(a) for a in circle]
    if any(h is None for h in holes):
        return None
    ra, dec, radius = holes
    assert ra is not None and dec is not None and radius is not None
    return (ra, dec, radius), flag


def _call_args(node: exp.Expr, name: str) -> list[exp.Expr] | None:
    """The arguments of a geometry call, without its leading coordinate-system string."""
    if not (isinstance(node, exp.Anonymous) and node.name.upper() == name):
        return None
    args = list(node.expressions)
    if args and isinstance(args[0], exp.Literal) and args[0].is_string:
        args = args[1:]
    return args


def _position(ra: exp.Expr, dec: exp.Expr, info: TableInfo) -> bool:
    """Whether the two arguments are the table's own position columns, in order."""
    names = []
    for node in (ra, dec):
        source = node.meta.get(SOURCE_META) if isinstance(node, exp.Column) else None
        if source is None or source[1] is not info:
            return False
        names.append(source[2].name)
    return names == [info.ra_column, info.dec_column]


def _hole(node: exp.Expr) -> Hole | None:
    """A number standing alone (or negated) in the text, with its text offset."""
    negated = False
    if isinstance(node, exp.Neg):
        node, negated = node.this, True
    if not isinstance(node, exp.Literal) or node.is_string:
        return None
    start = node.meta.get("start")
    if not isinstance(start, int):
        return None
    return Hole(start, negated)

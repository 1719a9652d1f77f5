"""Positional joins as equi-joins on sky cells, then the exact test.

A crossmatch condition between two tables — ``DISTANCE(POINT(a…), POINT(b…)) < r``,
``CONTAINS(POINT(a…), CIRCLE(b…, r)) = 1`` or ``q3c_join(…, r)`` with a constant r —
would make the engine compare every pair. Instead the sky is cut into cells: zones of
declination of height s (a few r), each zone cut in RA into n(z) equal cells at least
s / cos(dec) wide, n depending on the zone only. Every row of the larger table gets
the number of its cell (one computed column); every row of the smaller table is
repeated once for each cell that comes within r of it — its own, and a neighbour in
Dec and/or RA only where it lies within r of that side, about 2.25 copies with s = 4r
— and the two are joined on equality of cell numbers: a hash join on one number
whose few candidates are then checked by the exact condition, which stays in the
query. Each pair appears once (the copies of a row have distinct cell numbers and
the partner has exactly one), so the rewritten query returns exactly the rows of the
naive one, also for outer joins, where only the side that is not preserved is
repeated.

Why a neighbour cell in the same zone suffices: a partner within r of a row at
declination d differs from it in RA by at most w(d) = 2 asin(sin(r/2) / cos(|d| + r));
cells of zone z are at least s / cos(D) wide, D bounding |d| + r for every row
copied into z, and s >= 2r > (pi/2) r makes that at least w. Zones near a pole where
fewer than three cells fit become one cell (or two, of which the copy takes both
when it needs a neighbour).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlglot import exp

from datalab.adql.lower import SOURCE_META, constant
from datalab.catalog.metadata import TableInfo

__all__ = ["NEAR_META", "NEAR_TABLE", "NearJoin", "NearMark", "rewrite_positional_joins"]

CELL_COLUMN = "_dl_cell"
# Cell size in radii. Larger cells mean fewer copies of the repeated table but more
# candidates per copy: 4 (about 2.25 copies) measured best against a 2-million-row
# catalog with 100,000 and 1,000,000 probes at 1". At least 2 (see the module's text).
CELL_RADII = 4.0
# Smallest cell (degrees), so that cell numbers of tiny radii stay below 2**53: the
# keys are doubles, which a NaN coordinate cannot make fail as a cast to BIGINT would.
MIN_CELL = 1e-5


# Meta key of the catalog table of a crossmatch whose other side is a plain table: the
# query layer may run the query on just that table's rows near the other side's rows
# (``datalab.query.near_join``).
NEAR_META = "datalab_near"


@dataclass(frozen=True)
class NearMark:
    """A positional join of a positional catalog table (keyed by cell) with another
    plain table (repeated): every row of the catalog table in the query's answer
    lies within ``radius`` degrees of a row of the other, at its (``ra``, ``dec``)."""

    table: TableInfo  # the catalog table, joined on its own position columns
    alias: str  # its correlation name in the query
    other: TableInfo  # the repeated side
    ra: str  # the repeated side's position columns, as stored
    dec: str
    radius: float


# The name the restricted rows of a near join's catalog table are read under.
NEAR_TABLE = "_dl_near_rows"


@dataclass(frozen=True)
class NearJoin:
    """A compiled query's positional join that may run on only part of its catalog
    table: ``sql`` is the query with that table read as ``NEAR_TABLE`` instead, to
    be given the table's rows that lie within ``radius`` degrees of some row of the
    per-query table ``other`` (an upload), whose position columns are ``ra``, ``dec``.
    The answer is the same: no other row of the table can be in it. With so few rows
    the join needs no sky cells: ``sql`` tests the pairs directly."""

    table: str  # schema.table in the catalog
    other: str  # the engine name of the per-query table
    ra: str
    dec: str
    radius: float
    sql: str = field(repr=False)
    limited: bool  # LIMIT/OFFSET anywhere: which rows come back may vary


@dataclass
class _Match:
    condition: exp.Expr
    left: tuple[exp.Column, exp.Column]
    right: tuple[exp.Column, exp.Column]
    radius: float
    radius_node: exp.Expr | None = None  # where the radius is written, to fold it


def rewrite_positional_joins(tree: exp.Expr, *, defer_near: bool = False) -> exp.Expr:
    """Rewrite the positional joins of ``tree`` as equi-joins on sky cells.

    With ``defer_near``, a join whose catalog table could be restricted to the rows
    near the other side's (see :class:`NearMark`) is left as written instead, its
    table marked (``meta[NEAR_META]``): on those few rows the cells are not needed.
    """
    for select in list(tree.find_all(exp.Select)):
        _rewrite_select(select, defer_near)
    return tree


def _conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    if isinstance(node, exp.And):
        return list(node.flatten())
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    return [node]


def _rewrite_select(select: exp.Select, defer_near: bool) -> None:
    tables = _tables_by_alias(select)
    if len(tables) < 2:
        return
    done: set[str] = set()
    places: list[tuple[exp.Expr, str | None]] = []
    where = select.args.get("where")
    if where is not None:
        places.append((where.this, None))
    for join in select.args.get("joins") or []:
        if join.args.get("on") is not None:
            places.append((join.args["on"], join.alias_or_name))
    for condition, _ in places:
        for conjunct in _conjuncts(condition):
            match = _match(conjunct)
            if match is None:
                continue
            a_alias, b_alias = match.left[0].table, match.right[0].table
            if a_alias == b_alias or a_alias not in tables or b_alias not in tables:
                continue
            if a_alias in done or b_alias in done:
                continue
            wrapped = _choose_side(select, tables, a_alias, b_alias)
            if wrapped is None:
                continue
            other = a_alias if wrapped == b_alias else b_alias
            wrapped_pos = match.right if wrapped == b_alias else match.left
            other_pos = match.left if wrapped == b_alias else match.right
            reach = match.radius * (1 + 1e-9) + 1e-12
            size = max(CELL_RADII * match.radius, MIN_CELL)
            _fold_radius(match)
            if defer_near:
                near = _near_mark(
                    select, tables, other, other_pos, wrapped, wrapped_pos, match.radius
                ) or _near_mark(
                    select, tables, wrapped, wrapped_pos, other, other_pos, match.radius
                )
                if near is not None:
                    tables[near.alias].meta[NEAR_META] = near
                    done.update({wrapped, other})
                    continue
            _wrap_copies(tables[wrapped], wrapped_pos, size, reach, match.radius)
            _wrap_keyed(tables[other], other_pos, size, reach)
            key = exp.EQ(
                this=exp.column(CELL_COLUMN, table=other),
                expression=exp.column(CELL_COLUMN, table=wrapped),
            )
            _add_condition(conjunct, key)
            done.update({wrapped, other})


def _near_mark(
    select: exp.Select,
    tables: dict[str, exp.Table],
    keyed: str,
    keyed_pos: tuple[exp.Column, exp.Column],
    repeated: str,
    repeated_pos: tuple[exp.Column, exp.Column],
    radius: float,
) -> NearMark | None:
    """What the query layer needs to restrict the table ``keyed`` to rows near those
    of ``repeated``, when that keeps the answer: ``keyed`` is not on the preserved
    side of an outer join (its rows that match nothing would be lost), and its
    position is the one its HEALPix index is computed from."""
    if _side_of(select, keyed) != "plain":
        return None
    info: TableInfo = tables[keyed].meta["datalab_table"]
    other: TableInfo = tables[repeated].meta["datalab_table"]
    if not info.healpix_indexed or info.ra_column is None or info.dec_column is None:
        return None
    sources = [column.meta[SOURCE_META].column.name for column in keyed_pos]
    if [s.lower() for s in sources] != [info.ra_column.lower(), info.dec_column.lower()]:
        return None
    ra, dec = (column.meta[SOURCE_META].column.name for column in repeated_pos)
    return NearMark(table=info, alias=keyed, other=other, ra=ra, dec=dec, radius=radius)


def _tables_by_alias(select: exp.Select) -> dict[str, exp.Table]:
    result: dict[str, exp.Table] = {}
    from_ = select.args.get("from_")
    candidates = [from_.this] if from_ is not None else []
    candidates += [j.this for j in select.args.get("joins") or []]
    for node in candidates:
        if isinstance(node, exp.Table) and node.meta.get("datalab_table") is not None:
            result[node.alias_or_name] = node
    return result


def _side_of(select: exp.Select, alias: str) -> str:
    """'preserved' if an outer join keeps all of this table's rows, else 'plain'."""
    joins = select.args.get("joins") or []
    for index, join in enumerate(joins):
        side = (join.args.get("side") or "").upper()
        if not side:
            continue
        if side == "FULL":
            return "preserved"
        this_alias = join.this.alias_or_name
        if side == "LEFT" and this_alias != alias:
            # Everything joined before a LEFT JOIN is on its preserved side.
            earlier = [select.args["from_"].this.alias_or_name] + [
                j.this.alias_or_name for j in joins[:index]
            ]
            if alias in earlier:
                return "preserved"
        if side == "RIGHT" and this_alias == alias:
            return "preserved"
    return "plain"


def _choose_side(select: exp.Select, tables: dict[str, exp.Table], a: str, b: str) -> str | None:
    options = [alias for alias in (a, b) if _side_of(select, alias) == "plain"]
    if not options:
        return None

    def rows(alias: str) -> int:
        info = tables[alias].meta["datalab_table"]
        return info.nrows if info.nrows is not None else 1 << 62

    return min(options, key=rows)


def _ra_width(dec: exp.Expr, radius: float) -> exp.Expr:
    """The largest RA difference (degrees) two points within ``radius`` can have when
    one of them is at ``dec``: from the haversine formula, with the partner's |dec| at
    most |dec| + radius, sin(dRA/2) <= sin(radius/2) / cos(|dec| + radius); 180 (no
    limit) where that reaches a pole. Padded against rounding, like the reach."""
    reach = exp.Add(this=exp.Abs(this=dec), expression=_number(radius))
    sin_half = _number(math.sin(math.radians(radius) / 2))
    cos_reach = exp.Cos(this=exp.Anonymous(this="RADIANS", expressions=[reach]))
    width = exp.Anonymous(
        this="DEGREES",
        expressions=[exp.Mul(this=_number(2.0), expression=exp.Anonymous(
            this="ASIN", expressions=[exp.Div(this=sin_half, expression=cos_reach.copy())]))],
    )
    padded = exp.Add(this=exp.Mul(this=width, expression=_number(1 + 1e-9)),
                     expression=_number(1e-12))
    near_pole = exp.or_(
        exp.GTE(this=reach.copy(), expression=_number(90.0)),
        exp.LTE(this=cos_reach.copy(), expression=sin_half.copy()),
    )
    return exp.Case(ifs=[exp.If(this=near_pole, true=_number(180.0))], default=padded)


def _number(value: float) -> exp.Expr:
    return exp.Literal.number(repr(float(value)) + ("" if "e" in repr(float(value)) else "e0"))


def _fold_radius(match: _Match) -> None:
    """Write a computed constant radius (``1/3600.``) as its value, so that the exact
    test is compiled as for a literal radius: through the haversine, without inverse
    trigonometry per candidate pair."""
    node = match.radius_node
    if node is not None and not isinstance(node, exp.Literal):
        node.replace(_number(match.radius))


def _p(node: exp.Expr) -> exp.Expr:
    return exp.Paren(this=node) if isinstance(node, exp.Binary) else node


def _add(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.Add(this=_p(a), expression=_p(b))


def _sub(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.Sub(this=_p(a), expression=_p(b))


def _mul(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.Mul(this=_p(a), expression=_p(b))


def _div(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.Div(this=_p(a), expression=_p(b))


def _le(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.LTE(this=a, expression=b)


def _eq(a: exp.Expr, value: int) -> exp.Expr:
    return exp.EQ(this=a, expression=exp.Literal.number(value))


def _zone_of(dec: exp.Expr, size: float) -> exp.Expr:
    """The declination zone, a whole number (a double, as every cell quantity here)."""
    return exp.Floor(this=_div(_add(dec, _number(90.0)), _number(size)))


def _cells_of(zone: exp.Expr, size: float, reach: float) -> exp.Expr:
    """How many RA cells zone ``zone`` has: floor(360 cos(D) / s), at least 1, where
    D = (largest |dec| of the zone) + 2 reach bounds |d| + r of every row copied into
    it. The largest |dec| of [z s - 90, (z + 1) s - 90] is |z s + s/2 - 90| + s/2."""
    angle = _add(
        exp.Abs(this=_add(_mul(zone, _number(math.radians(size))),
                          _number(math.radians(size / 2 - 90.0)))),
        _number(math.radians(size / 2 + 2 * reach)),
    )
    count = exp.Floor(this=_mul(exp.Cos(this=angle), _number(360.0 / (size * (1 + 1e-9)))))
    # ignore_nulls: the engine's own GREATEST, not the NULL-propagating form.
    return exp.Greatest(this=count, expressions=[_number(1.0)], ignore_nulls=True)


def _ra_step(ra: exp.Expr, cells: exp.Expr) -> exp.Expr:
    """The RA cell's number before wrapping (any whole number)."""
    return exp.Floor(this=_div(_mul(ra, cells), _number(360.0)))


def _cell_key(zone: exp.Expr, step: exp.Expr, cells: exp.Expr, size: float) -> exp.Expr:
    """One number per cell: zone * stride + (step mod cells), taken into [0, cells).

    The modulo is step - cells * floor(step / cells): all are whole numbers far below
    2**53 and the quotient is never within rounding of the next whole number (for any
    RA below 1e10 degrees), so this is exact, and cheaper than the engine's fmod."""
    wrapped = _sub(step, _mul(cells, exp.Floor(this=_div(step.copy(), cells.copy()))))
    stride = float(math.floor(360.0 / size) + 1)  # more than any zone's cell count
    return _add(_mul(zone, _number(stride)), wrapped)


def _subquery(select: exp.Select, alias: str) -> exp.Subquery:
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _offsets(name: str) -> exp.Values:
    return exp.Values(
        expressions=[exp.Tuple(expressions=[exp.Literal.number(n)]) for n in (-1, 0, 1)],
        alias=exp.TableAlias(this=exp.to_identifier(name), columns=[exp.to_identifier("d")]),
    )


def _inner_table(table: exp.Table) -> exp.Table:
    inner = table.copy()
    inner.meta.update(table.meta)
    return inner


def _wrap_keyed(
    table: exp.Table, pos: tuple[exp.Column, exp.Column], size: float, reach: float
) -> None:
    """Replace ``table AS t`` with ``(SELECT t.*, <its cell> AS _dl_cell …) AS t``."""
    alias = table.alias_or_name

    def col(name: str) -> exp.Column:
        return exp.column(name, table=alias)

    star = exp.Column(this=exp.Star(), table=exp.to_identifier(alias))
    zoned = (
        exp.select(star.copy())
        .select(exp.alias_(_zone_of(col(pos[1].name), size), "_dl_z"))
        .from_(_inner_table(table))
    )
    counted = (
        exp.select(star.copy())
        .select(exp.alias_(_cells_of(col("_dl_z"), size, reach), "_dl_n"))
        .from_(_subquery(zoned, alias))
    )
    keyed = (
        exp.select(star.copy())
        .select(exp.alias_(
            _cell_key(col("_dl_z"), _ra_step(col(pos[0].name), col("_dl_n")), col("_dl_n"), size),
            CELL_COLUMN,
        ))
        .from_(_subquery(counted, alias))
    )
    table.replace(_subquery(keyed, alias))


def _wrap_copies(
    table: exp.Table,
    pos: tuple[exp.Column, exp.Column],
    size: float,
    reach: float,
    radius: float,
) -> None:
    """Replace ``table AS t`` with its copies, one per cell within ``reach`` of a row:
    ``(SELECT t.*, <cell> AS _dl_cell FROM … ) AS t``."""
    alias = table.alias_or_name

    def col(name: str) -> exp.Column:
        return exp.column(name, table=alias)

    ra, dec = pos[0].name, pos[1].name
    star = exp.Column(this=exp.Star(), table=exp.to_identifier(alias))
    # Per row: its zone and how far in RA a partner can be.
    base = (
        exp.select(star.copy())
        .select(exp.alias_(_zone_of(col(dec), size), "_dl_z0"))
        .select(exp.alias_(_ra_width(col(dec), radius), "_dl_w"))
        .from_(_inner_table(table))
    )
    # Its own zone, and the zone below/above where the row is within reach of it.
    dz = exp.column("d", table="_dl_dz")
    shifted = _add(col(dec), _number(90.0))
    zones = (
        exp.select(star.copy())
        .select(exp.alias_(_add(col("_dl_z0"), dz.copy()), "_dl_z"))
        .select(exp.alias_(_cells_of(_add(col("_dl_z0"), dz.copy()), size, reach), "_dl_n"))
        .from_(_subquery(base, alias))
        .join(_offsets("_dl_dz"), join_type="CROSS")
        .where(exp.or_(
            _eq(dz.copy(), 0),
            exp.and_(_eq(dz.copy(), -1),
                     _le(_sub(shifted.copy(), _mul(col("_dl_z0"), _number(size))),
                         _number(reach))),
            exp.and_(_eq(dz.copy(), 1),
                     _le(_sub(_mul(_add(col("_dl_z0"), exp.Literal.number(1)), _number(size)),
                              shifted.copy()),
                         _number(reach))),
        ))
    )
    stepped = (
        exp.select(star.copy())
        .select(exp.alias_(_ra_step(col(ra), col("_dl_n")), "_dl_x"))
        .from_(_subquery(zones, alias))
    )
    # Its own RA cell, and the one left/right where the row is within reach of it
    # (with two cells the other one, once; with one cell nothing more).
    dc = exp.column("d", table="_dl_dc")
    width = _div(_number(360.0), col("_dl_n"))
    left = _le(_sub(col(ra), _mul(col("_dl_x"), width.copy())), col("_dl_w"))
    right = _le(
        _sub(_mul(_add(col("_dl_x"), exp.Literal.number(1)), width.copy()), col(ra)),
        col("_dl_w"),
    )
    three = exp.GTE(this=col("_dl_n"), expression=exp.Literal.number(3))
    copies = (
        exp.select(star.copy())
        .select(exp.alias_(
            _cell_key(col("_dl_z"), _add(col("_dl_x"), dc.copy()), col("_dl_n"), size),
            CELL_COLUMN,
        ))
        .from_(_subquery(stepped, alias))
        .join(_offsets("_dl_dc"), join_type="CROSS")
        .where(exp.or_(
            _eq(dc.copy(), 0),
            exp.and_(_eq(dc.copy(), -1), three.copy(), left.copy()),
            exp.and_(
                _eq(dc.copy(), 1),
                exp.Paren(this=exp.or_(
                    exp.and_(three.copy(), right.copy()),
                    exp.and_(_eq(col("_dl_n"), 2), exp.Paren(this=exp.or_(left, right))),
                )),
            ),
        ))
    )
    table.replace(_subquery(copies, alias))

def _add_condition(conjunct: exp.Expr, key: exp.Expr) -> None:
    conjunct.replace(exp.Paren(this=exp.and_(key, conjunct.copy())))


def _point_columns(node: exp.Expr) -> tuple[exp.Column, exp.Column] | None:
    if isinstance(node, exp.Anonymous) and node.name.upper() == "POINT":
        args = list(node.expressions)
        if len(args) == 3:
            args = args[1:]
        if len(args) == 2 and all(_is_catalog_column(a) for a in args):
            return args[0], args[1]  # type: ignore[return-value]
    return None


def _is_catalog_column(node: exp.Expr) -> bool:
    return (
        isinstance(node, exp.Column) and node.meta.get(SOURCE_META) is not None and bool(node.table)
    )


def _same_table(pair: tuple[exp.Column, exp.Column]) -> bool:
    return pair[0].table == pair[1].table


def _match(node: exp.Expr) -> _Match | None:
    """Recognise the crossmatch condition forms listed in the module docstring."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Anonymous) and node.name.upper() == "Q3C_JOIN":
        args = list(node.expressions)
        radius = constant(args[4]) if len(args) == 5 else None
        if radius is None or radius < 0 or not all(_is_catalog_column(a) for a in args[:4]):
            return None
        left = (args[0], args[1])
        right = (args[2], args[3])
        if _same_table(left) and _same_table(right):  # type: ignore[arg-type]
            return _Match(node, left, right, radius, args[4])  # type: ignore[arg-type]
        return None
    if isinstance(node, (exp.LT, exp.LTE, exp.GT, exp.GTE)):
        if isinstance(node, (exp.LT, exp.LTE)):
            func, bound = node.this, node.expression
        else:
            func, bound = node.expression, node.this
        radius = constant(bound)
        if radius is None or radius < 0:
            return None
        if not (isinstance(func, exp.Anonymous) and func.name.upper() == "DISTANCE"):
            return None
        args = list(func.expressions)
        if len(args) == 2:
            left, right = _point_columns(args[0]), _point_columns(args[1])
        elif len(args) == 4 and all(_is_catalog_column(a) for a in args):
            left, right = (args[0], args[1]), (args[2], args[3])  # type: ignore[assignment]
        else:
            return None
        if left and right and _same_table(left) and _same_table(right):
            return _Match(node, left, right, radius)
        return None
    if isinstance(node, exp.EQ):
        for func, other in ((node.this, node.expression), (node.expression, node.this)):
            if constant(other) != 1.0:
                continue
            if not (
                isinstance(func, exp.Anonymous) and func.name.upper() in ("CONTAINS", "INTERSECTS")
            ):
                continue
            args = list(func.expressions)
            if len(args) != 2:
                continue
            point = _point_columns(args[0])
            circle = args[1]
            if point is None or not (
                isinstance(circle, exp.Anonymous) and circle.name.upper() == "CIRCLE"
            ):
                continue
            cargs = list(circle.expressions)
            if len(cargs) == 4:
                cargs = cargs[1:]
            if len(cargs) == 3 and all(_is_catalog_column(a) for a in cargs[:2]):
                centre = (cargs[0], cargs[1])
                radius = constant(cargs[2])
                if (
                    radius is not None
                    and radius >= 0
                    and _same_table(point)
                    and _same_table(
                        centre  # type: ignore[arg-type]
                    )
                ):
                    return _Match(node, point, centre, radius, cargs[2])  # type: ignore[arg-type]
    return None

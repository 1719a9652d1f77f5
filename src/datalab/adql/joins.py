"""Positional joins as equi-joins on declination zones, then the exact test.

A crossmatch condition between two tables — ``DISTANCE(POINT(a…), POINT(b…)) < r``,
``CONTAINS(POINT(a…), CIRCLE(b…, r)) = 1`` or ``q3c_join(…, r)`` with a constant r —
would make the engine compare every pair. Cutting the sky into declination zones of
height h >= r, every matching pair lies in the same or adjacent zones. The smaller
table is repeated three times, once for its own zone and once for each neighbour,
and joined to the other on equality of zone numbers: a hash join whose candidates
are then checked by the exact condition, which stays in the query. Each pair
appears once (exactly one copy of a row has the partner's zone number), so the
rewritten query returns exactly the rows of the naive one, also for outer joins,
where only the side that is not preserved is repeated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlglot import exp

from datalab.adql.lower import SOURCE_META, constant

__all__ = ["rewrite_positional_joins"]

ZONE_COLUMN = "_dl_zone"
RA_WIDTH_COLUMN = "_dl_ra_width"


@dataclass
class _Match:
    condition: exp.Expr
    left: tuple[exp.Column, exp.Column]
    right: tuple[exp.Column, exp.Column]
    radius: float


def rewrite_positional_joins(tree: exp.Expr) -> exp.Expr:
    for select in list(tree.find_all(exp.Select)):
        _rewrite_select(select)
    return tree


def _conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    if isinstance(node, exp.And):
        return list(node.flatten())
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    return [node]


def _rewrite_select(select: exp.Select) -> None:
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
            height = match.radius * (1 + 1e-9) + 1e-12
            _wrap_table(tables[wrapped], wrapped_pos[1].name, height, match.radius)
            key = exp.EQ(
                this=_zone(other_pos[1].copy(), height),
                expression=exp.column(ZONE_COLUMN, table=wrapped),
            )
            window = exp.LTE(
                this=_ra_separation(other_pos[0].copy(), exp.column(wrapped_pos[0].name,
                                                                   table=wrapped)),
                expression=exp.column(RA_WIDTH_COLUMN, table=wrapped),
            )
            _add_condition(conjunct, exp.and_(key, window))
            done.update({wrapped, other})


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


def _zone(dec: exp.Expr, height: float) -> exp.Expr:
    shifted = exp.Paren(this=exp.Add(this=dec, expression=exp.Literal.number(90)))
    return exp.Cast(
        this=exp.Floor(this=exp.Div(this=shifted, expression=exp.Literal.number(repr(height)))),
        to=exp.DataType.build("BIGINT"),
    )


def _ra_width(dec: exp.Expr, radius: float) -> exp.Expr:
    """The largest RA difference (degrees) two points within ``radius`` can have when
    one of them is at ``dec``: from the haversine formula, with the partner's |dec| at
    most |dec| + radius, sin(dRA/2) <= sin(radius/2) / cos(|dec| + radius); 180 (no
    limit) where that reaches a pole. Padded against rounding, like the zone height."""
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


def _ra_separation(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    """|a - b| in RA, wrapped into [0, 180]: arithmetic only, cheap per candidate pair."""
    shifted = exp.Mod(
        this=exp.Paren(this=exp.Add(this=exp.Sub(this=a, expression=b), expression=_number(540.0))),
        expression=_number(360.0),
    )
    return exp.Abs(this=exp.Sub(this=exp.Paren(this=shifted), expression=_number(180.0)))


def _number(value: float) -> exp.Expr:
    return exp.Literal.number(repr(float(value)) + ("" if "e" in repr(float(value)) else "e0"))


def _wrap_table(table: exp.Table, dec_column: str, height: float, radius: float) -> None:
    """Replace ``table AS t`` with ``(SELECT t.*, zone + dz, ra width … ) AS t`` in place."""
    alias = table.alias_or_name
    inner = table.copy()
    inner.meta.update(table.meta)
    offsets = exp.Values(
        expressions=[exp.Tuple(expressions=[exp.Literal.number(n)]) for n in (-1, 0, 1)],
        alias=exp.TableAlias(this=exp.to_identifier("_dl_dz"), columns=[exp.to_identifier("dz")]),
    )
    zone = exp.Add(
        this=_zone(exp.column(dec_column, table=alias), height),
        expression=exp.column("dz", table="_dl_dz"),
    )
    subquery = (
        exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(alias)))
        .select(exp.alias_(zone, ZONE_COLUMN))
        .select(exp.alias_(_ra_width(exp.column(dec_column, table=alias), radius), RA_WIDTH_COLUMN))
        .from_(inner)
        .join(offsets, join_type="CROSS")
    )
    table.replace(exp.Subquery(this=subquery, alias=exp.TableAlias(this=exp.to_identifier(alias))))


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
            return _Match(node, left, right, radius)  # type: ignore[arg-type]
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
                    return _Match(node, point, centre, radius)  # type: ignore[arg-type]
    return None

"""The allow-list of functions: which names exist, their arity, what they become in DuckDB.

A function call that is not in this table is refused by the gate, whatever the
engine could do with it: DuckDB's own functions include file readers and settings,
so nothing reaches it by name unless it is listed here. Geometry functions and the
user-defined functions with special lowering (``IN_UNIT``, HEALPix, epoch
propagation, q3c) are listed with ``build=None``; :mod:`datalab.adql.lower` handles
them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlglot import exp

__all__ = ["ADQL_FUNCTIONS", "SQL_FUNCTIONS", "UDF_DESCRIPTIONS", "FunctionSpec", "lookup"]

Builder = Callable[[Sequence[exp.Expr]], exp.Expr]


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    min_args: int
    max_args: int | None
    build: Builder | None = None
    aggregate: bool = False

    def arity_text(self) -> str:
        if self.max_args == self.min_args:
            n = self.min_args
            return f"{n} argument" + ("" if n == 1 else "s")
        if self.max_args is None:
            return f"at least {self.min_args} arguments"
        return f"{self.min_args} to {self.max_args} arguments"


def _call(name: str) -> Builder:
    return lambda args: exp.Anonymous(this=name, expressions=list(args))


def _operand(arg: exp.Expr) -> exp.Expr:
    """``arg`` as the operand of an operator: SQL generated from a tree prints binary
    nodes without parentheses, so ``MOD(a + b, n)`` would otherwise become ``a + b % n``."""
    return exp.Paren(this=arg) if isinstance(arg, (exp.Binary, exp.Unary)) else arg


def _cls(cls: type[exp.Func], *keys: str) -> Builder:
    wrap = _operand if issubclass(cls, exp.Binary) else (lambda arg: arg)

    def build(args: Sequence[exp.Expr]) -> exp.Expr:
        return cls(**{key: wrap(arg) for key, arg in zip(keys, args, strict=False)})

    return build


def _truncate(args: Sequence[exp.Expr]) -> exp.Expr:
    if len(args) == 1:
        return exp.Anonymous(this="TRUNC", expressions=[args[0]])
    scale = exp.Paren(
        this=exp.Pow(this=exp.Literal.number(10), expression=_operand(args[1].copy()))
    )
    return exp.Div(
        this=exp.Anonymous(
            this="TRUNC", expressions=[exp.Mul(this=_operand(args[0]), expression=scale)]
        ),
        expression=scale.copy(),
    )


def _log(args: Sequence[exp.Expr]) -> exp.Expr:
    return exp.Ln(this=args[0])


def _round(args: Sequence[exp.Expr]) -> exp.Expr:
    return exp.Round(this=args[0], decimals=args[1] if len(args) > 1 else None)


def _spec(name: str, lo: int, hi: int | None, build: Builder | None = None) -> FunctionSpec:
    return FunctionSpec(name, lo, hi, build)


_MATH = [
    _spec("ABS", 1, 1, _cls(exp.Abs, "this")),
    _spec("CEILING", 1, 1, _cls(exp.Ceil, "this")),
    _spec("DEGREES", 1, 1, _call("DEGREES")),
    _spec("EXP", 1, 1, _cls(exp.Exp, "this")),
    _spec("FLOOR", 1, 1, _cls(exp.Floor, "this")),
    _spec("LOG", 1, 1, _log),
    _spec("LOG10", 1, 1, _call("LOG10")),
    _spec("MOD", 2, 2, _cls(exp.Mod, "this", "expression")),
    _spec("PI", 0, 0, _call("PI")),
    _spec("POWER", 2, 2, _cls(exp.Pow, "this", "expression")),
    _spec("RADIANS", 1, 1, _call("RADIANS")),
    _spec("RAND", 0, 0, _call("RANDOM")),
    _spec("ROUND", 1, 2, _round),
    _spec("SQRT", 1, 1, _cls(exp.Sqrt, "this")),
    _spec("TRUNCATE", 1, 2, _truncate),
    _spec("ACOS", 1, 1, _call("ACOS")),
    _spec("ASIN", 1, 1, _call("ASIN")),
    _spec("ATAN", 1, 1, _call("ATAN")),
    _spec("ATAN2", 2, 2, _call("ATAN2")),
    _spec("COS", 1, 1, _call("COS")),
    _spec("COT", 1, 1, _call("COT")),
    _spec("SIN", 1, 1, _call("SIN")),
    _spec("TAN", 1, 1, _call("TAN")),
]

_STRING_AND_MISC = [
    _spec("LOWER", 1, 1, _cls(exp.Lower, "this")),
    _spec("UPPER", 1, 1, _cls(exp.Upper, "this")),
    _spec("COALESCE", 1, None, lambda a: exp.Coalesce(this=a[0], expressions=list(a[1:]))),
    _spec("GREATEST", 1, None, lambda a: exp.Greatest(this=a[0], expressions=list(a[1:]))),
    _spec("LEAST", 1, None, lambda a: exp.Least(this=a[0], expressions=list(a[1:]))),
]

# Lowered by datalab.adql.lower, which knows about shapes, units and positions.
_SPECIAL = [
    _spec("IN_UNIT", 2, 2),
    _spec("POINT", 2, 3),
    _spec("CIRCLE", 2, 4),
    _spec("BOX", 3, 5),
    _spec("POLYGON", 3, None),
    _spec("CENTROID", 1, 1),
    _spec("CONTAINS", 2, 2),
    _spec("INTERSECTS", 2, 2),
    _spec("DISTANCE", 2, 4),
    _spec("AREA", 1, 1),
    _spec("COORD1", 1, 1),
    _spec("COORD2", 1, 1),
    _spec("COORDSYS", 1, 1),
    _spec("REGION", 1, 1),
    _spec("IVO_HEALPIX_INDEX", 2, 3),
    _spec("IVO_EPOCH_PROP_POS", 8, 8),
]

UDF_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "ivo_healpix_index": (
        "ivo_healpix_index(order INTEGER, ra DOUBLE, dec DOUBLE) -> BIGINT",
        "The NESTED HEALPix index at the given order (0 to 29) of a catalog table's"
        " position columns; also accepts ivo_healpix_index(order, POINT(ra, dec)).",
    ),
    "ivo_epoch_prop_pos": (
        "ivo_epoch_prop_pos(ra DOUBLE, dec DOUBLE, parallax DOUBLE, pmra DOUBLE,"
        " pmdec DOUBLE, radial_velocity DOUBLE, ref_epoch DOUBLE, out_epoch DOUBLE) -> POINT",
        "The position at out_epoch (Julian years) of a star at (ra, dec) at ref_epoch moving"
        " with proper motion (pmra = mu_alpha* and pmdec in mas/yr) along a great circle;"
        " parallax and radial velocity are accepted and ignored (no perspective acceleration).",
    ),
}

ADQL_FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec for spec in (*_MATH, *_STRING_AND_MISC, *_SPECIAL)
}

# Data Lab SQL: the ADQL functions plus PostgreSQL and q3c names users write.
_SQL_EXTRA = [
    _spec("LN", 1, 1, _cls(exp.Ln, "this")),
    _spec("CEIL", 1, 1, _cls(exp.Ceil, "this")),
    _spec("POW", 2, 2, _cls(exp.Pow, "this", "expression")),
    _spec("TRUNC", 1, 2, _truncate),
    _spec("SIGN", 1, 1, _call("SIGN")),
    _spec("CBRT", 1, 1, _call("CBRT")),
    _spec("RANDOM", 0, 0, _call("RANDOM")),
    _spec("LENGTH", 1, 1, _call("LENGTH")),
    _spec("CHAR_LENGTH", 1, 1, _call("LENGTH")),
    _spec("SUBSTR", 2, 3, _call("SUBSTR")),
    _spec("CONCAT", 1, None, _call("CONCAT")),
    _spec("REPLACE", 3, 3, _call("REPLACE")),
    _spec("NULLIF", 2, 2, _call("NULLIF")),
    _spec("STDDEV", 1, 1, _call("STDDEV_SAMP")),
    _spec("STDDEV_SAMP", 1, 1, _call("STDDEV_SAMP")),
    _spec("STDDEV_POP", 1, 1, _call("STDDEV_POP")),
    _spec("VARIANCE", 1, 1, _call("VAR_SAMP")),
    _spec("VAR_SAMP", 1, 1, _call("VAR_SAMP")),
    _spec("VAR_POP", 1, 1, _call("VAR_POP")),
    _spec("MEDIAN", 1, 1, _call("MEDIAN")),
    _spec("Q3C_DIST", 4, 4),
    _spec("Q3C_RADIAL_QUERY", 5, 5),
    _spec("Q3C_JOIN", 5, 5),
    _spec("Q3C_POLY_QUERY", 3, 3),
    _spec("Q3C_ELLIPSE_QUERY", 7, 7),
]

SQL_FUNCTIONS: dict[str, FunctionSpec] = {**ADQL_FUNCTIONS, **{s.name: s for s in _SQL_EXTRA}}


def lookup(name: str, table: dict[str, FunctionSpec]) -> FunctionSpec | None:
    return table.get(name.upper())

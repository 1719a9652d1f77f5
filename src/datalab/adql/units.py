"""Unit inference for IN_UNIT (ADQL 2.1 §4.9, the optional "advanced" mechanism).

The unit of a column comes from the catalog metadata. Sums and differences keep the
unit of their operands (a bare number takes its partner's unit, as ``ra + 10`` reads),
products and quotients combine them, ``SQRT`` and ``POWER`` with a constant exponent
raise them, and sign- and rounding-type functions keep them. Anything else has no
known unit, and IN_UNIT refuses it as the standard requires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from datalab.adql.errors import ADQLError

if TYPE_CHECKING:
    from astropy.units import UnitBase

__all__ = ["infer_unit", "parse_unit"]

# Functions whose result has the unit of their (first) argument.
_SAME_UNIT = {"ABS", "ROUND", "FLOOR", "CEILING", "TRUNCATE", "GREATEST", "LEAST", "COALESCE"}

# A bare number: it takes the unit of what it is added to.
_NUMBER = object()


def parse_unit(text: str) -> UnitBase:
    """A VOUnit string as astropy reads it; ValueError if it is not one."""
    from astropy import units as u

    return u.Unit(text, format="vounit", parse_strict="raise")


def infer_unit(node: exp.Expr, unit_of_column) -> UnitBase | None:  # type: ignore[no-untyped-def]
    """The unit of ``node``, or None when it cannot be known.

    ``unit_of_column`` maps a column node to its unit text (or None).
    """
    found = _infer(node, unit_of_column)
    return None if found is _NUMBER else found  # type: ignore[return-value]


def _infer(node: exp.Expr, unit_of_column):  # type: ignore[no-untyped-def]
    from astropy import units as u

    if isinstance(node, exp.Paren):
        return _infer(node.this, unit_of_column)
    if isinstance(node, exp.Column):
        text = unit_of_column(node)
        if not text:
            return None
        try:
            return parse_unit(text)
        except ValueError:
            return None
    if isinstance(node, exp.Literal) and not node.is_string:
        return _NUMBER
    if isinstance(node, exp.Neg):
        return _infer(node.this, unit_of_column)
    if isinstance(node, (exp.Add, exp.Sub)):
        left = _infer(node.this, unit_of_column)
        right = _infer(node.expression, unit_of_column)
        if left is _NUMBER:
            return right
        if right is _NUMBER or left is None or right is None:
            return left if right is _NUMBER else None
        return left if left == right else None
    if isinstance(node, (exp.Mul, exp.Div)):
        left = _infer(node.this, unit_of_column)
        right = _infer(node.expression, unit_of_column)
        if left is None or right is None:
            return None
        left = u.dimensionless_unscaled if left is _NUMBER else left
        right = u.dimensionless_unscaled if right is _NUMBER else right
        result = left * right if isinstance(node, exp.Mul) else left / right
        return None if result == u.dimensionless_unscaled else result
    if isinstance(node, exp.Anonymous) and node.expressions:
        name = node.name.upper()
        inner = _infer(node.expressions[0], unit_of_column)
        if name in _SAME_UNIT:
            return inner
        if inner is None or inner is _NUMBER:
            return None
        if name == "SQRT":
            return inner**0.5
        power = node.expressions[-1]
        if name in ("POWER", "POW") and isinstance(power, exp.Literal) and not power.is_string:
            return inner ** float(power.this)
    return None


def conversion_factor(node: exp.Expr, target: str, unit_of_column) -> float:  # type: ignore[no-untyped-def]
    """The factor taking ``node`` to ``target``; ADQLError (located by caller) if none."""
    from astropy import units as u

    source = infer_unit(node, unit_of_column)
    if source is None:
        raise ADQLError("IN_UNIT needs a value whose unit is known (a column with a unit, or "
                        "an expression of such columns)")
    try:
        return float(source.to(parse_unit(target)))
    except (ValueError, u.UnitsError) as error:
        raise ADQLError(
            f"cannot convert {source.to_string('vounit')} to '{target}': "
            f"{str(error).splitlines()[0]}"
        ) from None

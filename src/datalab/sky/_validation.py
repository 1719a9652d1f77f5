"""Checks on user-supplied geometry parameters.

Every shape and index function funnels its scalar inputs through these helpers so
that a bad value always produces the same kind of error: a
:class:`~datalab.errors.UsageError` whose message names the parameter and repeats
the offending value, and whose ``detail`` carries both for programmatic use.
"""

from __future__ import annotations

import math
import numbers

from datalab.errors import UsageError

__all__ = ["check_dec", "check_finite", "check_order", "check_ra"]


def _fail(parameter: str, value: object, requirement: str) -> UsageError:
    return UsageError(
        f"{parameter} {requirement}; got {value!r}",
        detail={"parameter": parameter, "value": repr(value)},
    )


def check_finite(parameter: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number.

    Booleans are refused even though Python treats them as integers: ``True`` as a
    coordinate is almost certainly a mistake upstream, not a request for 1 degree.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(parameter, value, "must be a real number in degrees")
    number = float(value)
    if not math.isfinite(number):
        raise _fail(parameter, value, "must be a finite number")
    return number


def check_ra(parameter: str, value: object) -> float:
    """Return a right ascension reduced to [0, 360).

    RA is periodic, so any finite value is accepted (-10 and 350 name the same
    meridian); only non-numbers and non-finite values are errors.
    """
    ra = check_finite(parameter, value) % 360.0
    # ``%`` can round a tiny negative value up to exactly 360.0.
    return 0.0 if ra >= 360.0 else ra


def check_dec(parameter: str, value: object) -> float:
    """Return a declination, which must lie in [-90, 90] degrees."""
    dec = check_finite(parameter, value)
    if not -90.0 <= dec <= 90.0:
        raise _fail(parameter, value, "must be between -90 and 90 degrees")
    return dec


def check_order(value: object) -> int:
    """Return a HEALPix order (depth), which must be an integer in [0, 29]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _fail("order", value, "must be an integer between 0 and 29")
    order = int(value)
    if not 0 <= order <= 29:
        raise _fail("order", value, "must be an integer between 0 and 29")
    return order

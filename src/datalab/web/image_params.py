"""Parsing the region and interval parameters of SIA 1.0, SIA 2.0 and SODA.

Every value a client sends is checked here, once, before any image is touched: a
malformed value raises :class:`~datalab.errors.UsageError` naming the parameter and
repeating the value. The forms read:

* DALI 1.1 §3.3 intervals (``BAND``, ``TIME``, ``FOV``, ``EXPTIME``, ``SPATRES``...):
  one number, or two separated by blanks, ``-Inf``/``+Inf`` as open ends; NaN and a
  lower bound above the upper bound are refused;
* SIA 2.0 §2.1.1 / SODA 1.0 §3.3.2 ``POS``: ``CIRCLE ra dec r``, ``RANGE ra1 ra2 dec1
  dec2`` (``ra1 > ra2`` crosses RA 0; open ends allowed) and ``POLYGON ra dec ...``;
* DALI ``circle`` and ``polygon`` values (SODA ``CIRCLE`` and ``POLYGON``);
* SIA 1.0 ``POS=ra,dec`` and ``SIZE=w[,h]`` (degrees).

Coordinates are ICRS degrees: RA in [0, 360], Dec in [-90, 90].
"""

from __future__ import annotations

import math
import re

from fastapi import Request
from starlette.requests import ClientDisconnect

from datalab.errors import UsageError
from datalab.images.cutout import pos_range
from datalab.sky import Circle, Polygon, Shape

__all__ = [
    "Interval",
    "parse_circle",
    "parse_interval",
    "parse_polygon",
    "parse_pos",
    "parse_sia1_pos",
    "parse_sia1_size",
    "read_multi",
]

Interval = tuple[float, float]

_SPACES = re.compile(r"[\s]+")
_MAX_FIELDS = 1000
_MAX_FIELD_BYTES = 1 << 20
_MAX_VERTICES = 1000
_MAX_TEXT = 20_000


def _fail(name: str, value: str, why: str) -> UsageError:
    shown = value if len(value) <= 200 else value[:200] + "…"
    return UsageError(f"{name}={shown!r}: {why}", detail={"parameter": name, "value": shown})


def _words(name: str, value: str) -> list[str]:
    if len(value) > _MAX_TEXT:
        raise _fail(name, value, f"longer than {_MAX_TEXT} characters")
    return [w for w in _SPACES.split(value.strip()) if w]


def _number(name: str, value: str, word: str, *, infinite: bool = False) -> float:
    """A float from ``word``; +-Inf only when ``infinite``; never NaN."""
    try:
        number = float(word)
    except ValueError:
        raise _fail(name, value, f"{word!r} is not a number") from None
    if math.isnan(number):
        raise _fail(name, value, "NaN is not a usable value")
    if math.isinf(number) and not infinite:
        raise _fail(name, value, f"{word!r} must be finite here")
    return number


def _ra(name: str, value: str, word: str) -> float:
    ra = _number(name, value, word)
    if not 0.0 <= ra <= 360.0:
        raise _fail(name, value, f"right ascension {word} is outside [0, 360] degrees")
    return ra % 360.0 if ra < 360.0 else 360.0


def _dec(name: str, value: str, word: str) -> float:
    dec = _number(name, value, word)
    if not -90.0 <= dec <= 90.0:
        raise _fail(name, value, f"declination {word} is outside [-90, 90] degrees")
    return dec


def _radius(name: str, value: str, word: str) -> float:
    radius = _number(name, value, word)
    if not 0.0 < radius <= 180.0:
        raise _fail(name, value, f"radius {word} must be in (0, 180] degrees")
    return radius


def parse_interval(name: str, value: str) -> Interval:
    """A DALI interval: ``x`` (the interval [x, x]) or ``lo hi`` with ±Inf as open ends."""
    words = _words(name, value)
    if len(words) not in (1, 2):
        raise _fail(name, value, "give one number or two (a lower and an upper bound)")
    numbers = [_number(name, value, w, infinite=True) for w in words]
    lo, hi = (numbers[0], numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[1])
    if len(numbers) == 1 and math.isinf(lo):
        raise _fail(name, value, "a single value must be finite")
    if lo > hi:
        raise _fail(name, value, "the lower bound is above the upper bound")
    return lo, hi


def _circle(name: str, value: str, words: list[str]) -> Circle:
    if len(words) != 3:
        raise _fail(name, value, "a circle is: ra dec radius (degrees)")
    ra, dec = _ra(name, value, words[0]), _dec(name, value, words[1])
    return Circle(ra % 360.0, dec, _radius(name, value, words[2]))


def _polygon(name: str, value: str, words: list[str]) -> Polygon:
    if len(words) < 6 or len(words) % 2:
        raise _fail(name, value, "a polygon is at least 3 pairs of ra dec (degrees)")
    if len(words) > 2 * _MAX_VERTICES:
        raise _fail(name, value, f"a polygon may have at most {_MAX_VERTICES} vertices")
    vertices = [
        (_ra(name, value, words[i]) % 360.0, _dec(name, value, words[i + 1]))
        for i in range(0, len(words), 2)
    ]
    try:
        return Polygon(vertices)
    except UsageError as exc:
        raise _fail(name, value, exc.message) from None


def _range(name: str, value: str, words: list[str]) -> Shape | None:
    """RANGE ra1 ra2 dec1 dec2; None means the whole sky (no constraint)."""
    if len(words) != 4:
        raise _fail(name, value, "a range is: ra1 ra2 dec1 dec2 (degrees)")
    ra1, ra2, dec1, dec2 = (_number(name, value, w, infinite=True) for w in words)
    for ra in (ra1, ra2):
        if math.isfinite(ra) and not 0.0 <= ra <= 360.0:
            raise _fail(name, value, f"right ascension {ra:g} is outside [0, 360] degrees")
    for dec in (dec1, dec2):
        if math.isfinite(dec) and not -90.0 <= dec <= 90.0:
            raise _fail(name, value, f"declination {dec:g} is outside [-90, 90] degrees")
    if ra1 == math.inf or ra2 == -math.inf:
        raise _fail(name, value, "+Inf can only close a range above, -Inf below")
    if dec1 == math.inf or dec2 == -math.inf:
        raise _fail(name, value, "+Inf can only close a range above, -Inf below")
    dec_lo, dec_hi = max(dec1, -90.0), min(dec2, 90.0)
    if dec_lo > dec_hi:
        raise _fail(name, value, "the lower declination is above the upper one")
    ra_lo = 0.0 if ra1 == -math.inf else ra1
    ra_hi = 360.0 if ra2 == math.inf else ra2
    whole_ra = ra_hi - ra_lo >= 360.0
    if whole_ra:
        # All longitudes: the whole sky, a polar cap, or a band (left to pos_range).
        if dec_lo <= -90.0 and dec_hi >= 90.0:
            return None
        if dec_hi >= 90.0:
            return Circle(0.0, 90.0, 90.0 - dec_lo)
        if dec_lo <= -90.0:
            return Circle(0.0, -90.0, dec_hi + 90.0)
    if ra_lo == ra_hi or dec_lo == dec_hi:
        raise _fail(name, value, "the range has no area")
    try:
        return pos_range(ra_lo % 360.0, ra_hi % 360.0 if ra_hi < 360.0 else 360.0, dec_lo, dec_hi)
    except UsageError as exc:
        raise _fail(name, value, exc.message) from None


def parse_pos(value: str, name: str = "POS") -> Shape | None:
    """A POS value (SIA 2.0 §2.1.1, SODA §3.3.2); None for a RANGE over the whole sky."""
    words = _words(name, value)
    if not words:
        raise _fail(name, value, "empty; give CIRCLE, RANGE or POLYGON followed by numbers")
    kind, rest = words[0].upper(), words[1:]
    if kind == "CIRCLE":
        return _circle(name, value, rest)
    if kind == "RANGE":
        return _range(name, value, rest)
    if kind == "POLYGON":
        return _polygon(name, value, rest)
    raise _fail(name, value, "the shape must be CIRCLE, RANGE or POLYGON")


def parse_circle(value: str, name: str = "CIRCLE") -> Circle:
    """A DALI circle value: ``ra dec radius``."""
    return _circle(name, value, _words(name, value))


def parse_polygon(value: str, name: str = "POLYGON") -> Polygon:
    """A DALI polygon value: ``ra1 dec1 ra2 dec2 ra3 dec3 ...``."""
    return _polygon(name, value, _words(name, value))


def parse_sia1_pos(value: str) -> tuple[float, float]:
    """SIA 1.0 POS: ``ra,dec`` in ICRS degrees."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 2:
        raise _fail("POS", value, "give ra,dec in degrees")
    ra = _number("POS", value, parts[0])
    if not 0.0 <= ra <= 360.0:  # SIA 1.0 allows any RA, but a wrong unit is likelier
        raise _fail("POS", value, f"right ascension {parts[0]} is outside [0, 360] degrees")
    return ra % 360.0, _dec("POS", value, parts[1])


def parse_sia1_size(value: str) -> tuple[float, float]:
    """SIA 1.0 SIZE: ``w`` or ``w,h`` in degrees (0 finds images containing POS)."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) not in (1, 2):
        raise _fail("SIZE", value, "give one size or two (width,height) in degrees")
    sizes = [_number("SIZE", value, p) for p in parts]
    for size in sizes:
        if not 0.0 <= size <= 180.0:
            raise _fail("SIZE", value, "sizes must be in [0, 180] degrees")
    return (sizes[0], sizes[0]) if len(sizes) == 1 else (sizes[0], sizes[1])


async def read_multi(request: Request) -> dict[str, list[str]]:
    """Every value of every parameter, by lower-cased name (DALI 1.1 §3.1), from the
    query string and a form-encoded POST body; SIA 2.0 §2.1 ORs repeated values."""
    values: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        values.setdefault(name.lower(), []).append(value)
    if request.method != "POST":
        return values
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if content_type and await request.body():
            raise UsageError(f"a POST must be form-encoded, not {content_type}")
        return values
    try:
        form = await request.form(
            max_files=0, max_fields=_MAX_FIELDS, max_part_size=_MAX_FIELD_BYTES
        )
    except ClientDisconnect:
        raise UsageError("the request ended before its body was complete") from None
    except Exception as exc:  # starlette's form errors carry a readable reason
        detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
        raise UsageError(f"the request's form could not be read: {detail}") from None
    for name, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(name.lower(), []).append(value)
    return values

"""What a "go to" text means: sky coordinates, or the name of an object in the catalogs.

A sky viewer on an air-gapped site cannot ask Sesame or SIMBAD where M45 is, so names
are looked up in the server's own catalogs: OpenNGC (NGC/IC numbers, Messier numbers,
common names such as "Pleiades", and every cross-identifier it lists), Hipparcos
(``HIP 17702``) and Gaia DR3 (``Gaia DR3 66507969391355392``). A catalog the server
does not hold is passed over. Names only ever reach the engine as bound parameters.

Coordinates are ICRS, either decimal degrees (``56.75 +24.12``, ``56.75, 24.12``) or
sexagesimal with right ascension in hours (``03:47:00 +24:07:00``,
``3h47m00s +24d07m00s``, ``03 47 00 +24 07 00``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from datalab.catalog.engine import Engine
from datalab.errors import NotFoundError, UsageError

__all__ = ["MAX_TEXT", "Place", "looks_like_coordinates", "parse_coordinates", "resolve"]

MAX_TEXT = 100
"""The longest name or coordinate text accepted: no object name is longer."""

# Field of view (degrees) suggested around an object with no size of its own.
_STAR_FOV = 0.25
_MIN_FOV, _MAX_FOV = 0.05, 30.0

_COORD_CHARS = re.compile(r"^[0-9+\-.:,\s°'\"′″hmsdHMSD]+$")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_LETTERED = re.compile(
    rf"^(?P<sign>[+-]?)(?P<a>\d+(?:\.\d*)?)[hHdD°](?:(?P<b>\d+(?:\.\d*)?)[mM'′])?"
    rf"(?:(?P<c>\d+(?:\.\d*)?)[sS\"″]?)?$"
)

_MESSIER = re.compile(r"^(?:M|MESSIER)\s*0*(\d{1,3})$", re.IGNORECASE)
_NGC_IC = re.compile(r"^(NGC|IC)\s*0*(\d{1,4})\s*([A-Z]?)$", re.IGNORECASE)
_HIP = re.compile(r"^HIP\s*0*(\d{1,6})$", re.IGNORECASE)
_GAIA = re.compile(r"^GAIA\s*DR3\s*(\d{1,19})$", re.IGNORECASE)


@dataclass(frozen=True)
class Place:
    """Where a text points: a position (ICRS degrees), what it was found as, and a
    field of view that shows the object (None: keep the viewer's)."""

    ra: float
    dec: float
    name: str
    source: str
    fov: float | None = None


# -- coordinates ----------------------------------------------------------------------------


def looks_like_coordinates(text: str) -> bool:
    """Whether ``text`` is written as coordinates rather than a name: it starts with a
    number and holds only digits, signs, separators and the unit letters h, m, s, d
    (names such as M45 or 2MASX J0308... hold other letters or start with one)."""
    stripped = text.strip()
    return bool(stripped[:1]) and stripped[0] in "0123456789+-." and bool(
        _COORD_CHARS.match(stripped)
    )


def _fail(text: str, problem: str) -> UsageError:
    return UsageError(
        f"cannot read {_shown(text)} as coordinates: {problem}; give degrees "
        "(56.75 +24.12) or h:m:s ±d:m:s (03:47:00 +24:07:00)",
        detail={"text": text[:MAX_TEXT]},
    )


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _sexagesimal(text: str, token: str, parts: Sequence[str], what: str) -> tuple[float, bool]:
    """The value of degrees-or-hours, minutes, seconds, and whether it had a minus."""
    negative = parts[0].startswith("-")
    numbers: list[float] = []
    for i, part in enumerate(parts):
        body = part.lstrip("+-") if i == 0 else part
        if not re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", body):
            raise _fail(text, f"{token!r} is not a number for the {what}")
        numbers.append(float(body))
    for number, unit in zip(numbers[1:], ("minutes", "seconds"), strict=False):
        if number >= 60:
            raise _fail(text, f"the {what} has {number:g} {unit}; there are 60 to the next unit")
    value = numbers[0] + sum(n / 60**k for k, n in enumerate(numbers[1:], start=1))
    return value, negative


def _split_token(token: str) -> tuple[list[str], bool] | None:
    """The parts of one sexagesimal token (``03:47:00``, ``3h47m00s``, ``24d07m``) and
    whether its first part is in degrees (a ``d``) rather than unstated or hours; None
    for a plain number."""
    if ":" in token:
        return token.split(":"), False
    found = _LETTERED.match(token)
    if found is None:
        return None
    parts = [found.group("sign") + found.group("a")]
    parts += [v for v in (found.group("b"), found.group("c")) if v is not None]
    in_degrees = token[len(parts[0])] in "dD°"
    return parts, in_degrees


def parse_coordinates(text: str) -> tuple[float, float]:
    """``(ra, dec)`` in degrees from decimal degrees or sexagesimal text; UsageError
    naming the problem otherwise."""
    if len(text) > MAX_TEXT:
        raise UsageError(f"the text is {len(text):,} characters long; the limit is {MAX_TEXT}")
    tokens = [t for t in re.split(r"[\s,]+", text.strip()) if t]
    ra_in_degrees = False
    if len(tokens) == 6:
        ra_parts, dec_parts = tokens[:3], tokens[3:]
        sexagesimal = True
    elif len(tokens) == 2:
        split_ra, split_dec = _split_token(tokens[0]), _split_token(tokens[1])
        single_ra = split_ra is not None and split_ra[1] and len(split_ra[0]) == 1
        single_dec = split_dec is None or len(split_dec[0]) == 1
        # "56.75d -24.12d" is decimal degrees; any minutes or a colon make it sexagesimal.
        sexagesimal = not ((split_ra is None or single_ra) and single_dec)
        ra_parts = split_ra[0] if split_ra else [tokens[0]]
        dec_parts = split_dec[0] if split_dec else [tokens[1]]
        ra_in_degrees = bool(split_ra and split_ra[1])
    else:
        raise _fail(text, f"found {len(tokens)} values where 2 (or 6, h m s d m s) belong")
    if any(len(p) > 3 or not p for p in (ra_parts, dec_parts)):
        raise _fail(text, "write at most hours (or degrees), minutes and seconds")
    if sexagesimal:
        value, ra_negative = _sexagesimal(text, tokens[0], ra_parts, "right ascension")
        if ra_in_degrees:
            if ra_negative or value > 360:
                raise _fail(text, "right ascension in degrees must be from 0 to 360")
            ra = value
        else:
            if ra_negative or value >= 24:
                raise _fail(text, "right ascension in hours must be from 0 to 24")
            ra = value * 15.0
        degrees, negative = _sexagesimal(text, tokens[-1], dec_parts, "declination")
        dec = -degrees if negative else degrees
    else:
        ra_text, dec_text = ra_parts[0], dec_parts[0]
        if not re.fullmatch(_NUMBER, ra_text) or not re.fullmatch(_NUMBER, dec_text):
            raise _fail(text, "the values are not numbers")
        ra, dec = float(ra_text), float(dec_text)
        if not 0.0 <= ra <= 360.0:
            raise _fail(text, f"right ascension {ra:g} is outside 0 to 360 degrees")
    if not -90.0 <= dec <= 90.0:
        raise _fail(text, f"declination {dec:g} is outside -90 to +90 degrees")
    return ra % 360.0, dec


# -- names ----------------------------------------------------------------------------------


Lookup = Callable[[duckdb.DuckDBPyConnection, str], Place | None]


def _object_fov(majax: Any) -> float:
    """A field twice the object's major axis (arcmin), within sensible bounds."""
    if majax is None or not math.isfinite(majax) or majax <= 0:
        return _STAR_FOV
    return min(max(2.0 * float(majax) / 60.0, _MIN_FOV), _MAX_FOV)


def _openngc_place(row: Sequence[Any] | None, text: str) -> Place | None:
    if row is None or row[1] is None or row[2] is None:
        return None
    name, ra, dec, majax, common = row
    label = name if not common else f"{name} ({str(common).split(',')[0].strip()})"
    return Place(float(ra), float(dec), label, "openngc.objects", _object_fov(majax))


_OPENNGC_COLUMNS = "o.name, o.ra, o.dec, o.majax, o.commonnames"


def _messier(cur: duckdb.DuckDBPyConnection, text: str) -> Place | None:
    found = _MESSIER.match(text)
    if found is None:
        return None
    row = cur.execute(
        f"SELECT {_OPENNGC_COLUMNS} FROM openngc.objects AS o WHERE o.messier = ? "
        "ORDER BY o.name LIMIT 1",
        [f"{int(found.group(1)):03d}"],
    ).fetchone()
    return _openngc_place(row, text)


def _ngc_ic(cur: duckdb.DuckDBPyConnection, text: str) -> Place | None:
    found = _NGC_IC.match(text)
    if found is None:
        return None
    name = f"{found.group(1).upper()}{int(found.group(2)):04d}{found.group(3).upper()}"
    row = cur.execute(
        f"SELECT {_OPENNGC_COLUMNS} FROM openngc.objects AS o WHERE o.name = ?", [name]
    ).fetchone()
    return _openngc_place(row, text)


def _hipparcos(cur: duckdb.DuckDBPyConnection, text: str) -> Place | None:
    found = _HIP.match(text)
    if found is None:
        return None
    row = cur.execute("SELECT hip, ra, dec FROM hipparcos.hip2 WHERE hip = ?",
                      [int(found.group(1))]).fetchone()  # fmt: skip
    if row is None or row[1] is None:
        return None
    return Place(float(row[1]), float(row[2]), f"HIP {row[0]}", "hipparcos.hip2", _STAR_FOV)


def _gaia(cur: duckdb.DuckDBPyConnection, text: str) -> Place | None:
    found = _GAIA.match(text)
    if found is None or int(found.group(1)) >= 2**63:
        return None
    row = cur.execute(
        "SELECT source_id, ra, dec FROM gaia_dr3.gaia_source WHERE source_id = ?",
        [int(found.group(1))],
    ).fetchone()
    if row is None or row[1] is None:
        return None
    return Place(float(row[1]), float(row[2]), f"Gaia DR3 {row[0]}", "gaia_dr3.gaia_source",
                 _STAR_FOV)  # fmt: skip


def _openngc_any(cur: duckdb.DuckDBPyConnection, text: str) -> Place | None:
    """Any OpenNGC name, cross-identifier or common name, ignoring case and spaces."""
    compact = re.sub(r"\s+", "", text).upper()
    row = cur.execute(
        f"SELECT {_OPENNGC_COLUMNS} FROM openngc.objects AS o WHERE upper(o.name) = ? "
        f"UNION ALL SELECT {_OPENNGC_COLUMNS} FROM openngc.identifiers AS i "
        "JOIN openngc.objects AS o ON o.name = i.name "
        "WHERE upper(replace(i.identifier, ' ', '')) = ? LIMIT 1",
        [compact, compact],
    ).fetchone()
    if row is None:
        row = cur.execute(
            f"SELECT {_OPENNGC_COLUMNS} FROM openngc.objects AS o "
            "WHERE o.commonnames IS NOT NULL AND list_contains(string_split("
            "lower(trim(regexp_replace(o.commonnames, '\\s*,\\s*', ',', 'g'))), ','), ?) "
            "ORDER BY o.name LIMIT 1",
            [" ".join(text.lower().split())],
        ).fetchone()
    return _openngc_place(row, text)


_LOOKUPS: tuple[Lookup, ...] = (_messier, _ngc_ic, _hipparcos, _gaia, _openngc_any)


def _lookup(engine: Engine, text: str) -> Place | None:
    with engine.cursor() as cur:
        for lookup in _LOOKUPS:
            try:
                place = lookup(cur, text)
            except duckdb.CatalogException:
                continue  # this server does not hold that catalog
            if place is not None:
                return place
    return None


def resolve(engine: Engine, text: str) -> Place:
    """Where ``text`` points: coordinates when it is written as coordinates, else the
    object of that name in the catalogs. UsageError for unreadable or oversized text,
    NotFoundError for a name no catalog knows."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError("give a name (M45, NGC 1976, HIP 17702) or coordinates (56.75 +24.12)")
    if len(text) > MAX_TEXT:
        raise UsageError(
            f"the text is {len(text):,} characters long; the limit is {MAX_TEXT}",
            detail={"limit": MAX_TEXT},
        )
    if any(ord(ch) < 0x20 for ch in text):
        raise UsageError("the text holds control characters; give a name or coordinates")
    clean = " ".join(text.split())
    if looks_like_coordinates(clean):
        ra, dec = parse_coordinates(clean)
        return Place(ra, dec, clean, "coordinates")
    place = _lookup(engine, clean)
    if place is None:
        raise NotFoundError(
            f"no object named {_shown(clean)} in this server's catalogs (OpenNGC, Hipparcos, "
            "Gaia DR3); try M45, NGC 1976, HIP 17702 or coordinates",
            detail={"name": clean[:MAX_TEXT]},
        )
    return place

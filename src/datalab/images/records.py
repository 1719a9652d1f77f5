"""One indexed image: a row of ``ivoa.obscore``, and the stable id URLs are built from.

The record carries IVOA ObsCore 1.1 names for what ObsCore defines, plus what Data
Lab's SIA 1 service returns beside them (``band``, ``proctype``, ``prodtype``) and
what we need to find the pixels again (``path`` relative to the images directory,
``hdu``). Columns ObsCore derives from these (``t_xel``, ``em_res_power``...) are
computed when the table is written, not stored twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

from datalab.sky import Polygon

__all__ = [
    "FITS_SUFFIXES",
    "OBSCORE_TABLE",
    "PUBLISHER_DID_PREFIX",
    "ImageRecord",
    "image_id_for",
    "strip_fits_suffix",
]

OBSCORE_TABLE = "ivoa.obscore"

PUBLISHER_DID_PREFIX = "ivo://datalab.local/images?"
"""``obs_publisher_did`` is this prefix followed by the image id (ObsCore 1.1 §4.4)."""

# File name endings taken for FITS when walking a directory (longest first, so that
# ``.fits.fz`` is stripped whole from an image id).
FITS_SUFFIXES = (".fits.gz", ".fits.fz", ".fit.gz", ".fits", ".fit", ".fts", ".fz")

_SAFE_PART = re.compile(r"^[A-Za-z0-9_-]+$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_MAX_BASE = 100


@dataclass(frozen=True)
class ImageRecord:
    """One image HDU as the image services and ``ivoa.obscore`` describe it.

    Angles in degrees except ``s_resolution`` (arcsec); times in MJD (``t_min``,
    ``t_max``) and seconds (``t_exptime``); wavelengths in metres; ``access_estsize``
    in kilobytes (ObsCore's units).
    """

    image_id: str
    path: str
    hdu: int
    obs_id: str
    obs_collection: str
    facility_name: str
    instrument_name: str
    target_name: str | None
    dataproduct_type: str
    calib_level: int
    s_ra: float
    s_dec: float
    s_fov: float
    s_region: tuple[tuple[float, float], ...]
    s_resolution: float | None
    s_xel1: int
    s_xel2: int
    t_min: float | None
    t_max: float | None
    t_exptime: float | None
    em_min: float | None
    em_max: float | None
    band: str | None
    proctype: str
    prodtype: str
    pol_states: str | None
    access_format: str
    access_estsize: int

    @property
    def obs_publisher_did(self) -> str:
        """The IVOA identifier of the image: stable as long as its path is."""
        return PUBLISHER_DID_PREFIX + self.image_id

    @cached_property
    def footprint(self) -> Polygon:
        """``s_region`` as a sky polygon, for exact spatial tests (built once)."""
        return Polygon(self.s_region)


def strip_fits_suffix(path: str) -> tuple[str, bool]:
    """``path`` without its FITS suffix, and whether it had one."""
    lower = path.lower()
    for suffix in FITS_SUFFIXES:
        if lower.endswith(suffix) and len(path) > len(suffix):
            return path[: -len(suffix)], True
    return path, False


def image_id_for(path: str, hdu: int) -> str:
    """A URL-safe id (``[A-Za-z0-9._-]+``) for HDU ``hdu`` of the file at ``path``.

    Readable where possible: ``field/pleiades_g_stack.fits`` becomes
    ``field.pleiades_g_stack``. Whenever that spelling could belong to another file
    or HDU (characters replaced, dots in names, a suffix other than ``.fits``, an
    extension HDU, a very long path) a short hash of the exact path and HDU is appended, so that two
    images never share an id and an image keeps its id across re-indexing.
    """
    stem, had_suffix = strip_fits_suffix(path)
    parts = stem.split("/")
    base = ".".join(_UNSAFE.sub("_", p).strip("_") or "_" for p in parts)
    plain = had_suffix and path.endswith(".fits")  # other suffixes would share the stem
    exact = plain and hdu == 0 and all(_SAFE_PART.match(p) for p in parts)
    if exact and len(base) <= _MAX_BASE:
        return base
    digest = hashlib.sha1(f"{path}#{hdu}".encode()).hexdigest()[:8]
    suffix = f"-h{hdu}" if hdu else ""
    return f"{base[:_MAX_BASE]}{suffix}-{digest}"

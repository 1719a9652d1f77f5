"""Wavelength ranges of common broad-band filters, for ObsCore's ``em_min``/``em_max``.

FITS headers name the filter, not its wavelengths; SIA's BAND parameter searches by
wavelength. The limits are rounded half-power points of the usual filter systems
(SDSS/DECam-like ugrizY, Johnson-Cousins UBVRI, Gaia G), in metres: good enough to
tell the bands apart, which is all a BAND query asks.
"""

from __future__ import annotations

__all__ = ["BAND_LIMITS", "band_limits", "band_name"]

BAND_LIMITS: dict[str, tuple[float, float]] = {
    "u": (3.05e-7, 4.03e-7),
    "g": (3.98e-7, 5.48e-7),
    "r": (5.62e-7, 7.18e-7),
    "i": (6.99e-7, 8.56e-7),
    "z": (8.38e-7, 1.030e-6),
    "Y": (9.38e-7, 1.076e-6),
    "U": (3.20e-7, 4.00e-7),
    "B": (3.90e-7, 4.90e-7),
    "V": (5.00e-7, 5.90e-7),
    "R": (5.70e-7, 7.20e-7),
    "I": (7.10e-7, 8.90e-7),
    "G": (3.30e-7, 1.050e-6),
}


def band_name(value: str | None) -> str | None:
    """The filter's short name: the first word of a FILTER value.

    Instrument headers often write more than the band (DECam:
    ``'g DECam SDSS c0001 4720.0 1520.0'``); SIA 1's ``obs_bandpass`` wants ``g``.
    """
    if value is None:
        return None
    words = str(value).split()
    return words[0] if words else None


def band_limits(band: str | None) -> tuple[float | None, float | None]:
    """(em_min, em_max) in metres for a known band; (None, None) otherwise.

    ``Y`` and the Johnson-Cousins capitals are matched exactly; a lower-case name that
    is not an SDSS band falls back to its upper-case spelling (``v`` -> ``V``).
    """
    if band is None:
        return None, None
    limits = BAND_LIMITS.get(band) or BAND_LIMITS.get(band.upper())
    if limits is None and band.lower() in BAND_LIMITS:
        limits = BAND_LIMITS[band.lower()]
    return limits if limits is not None else (None, None)

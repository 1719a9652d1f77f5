"""What the simulated demo images show: fields, bands, and the catalogs' sources in them.

Stars come from ``gaia_dr3.gaia_source`` (positions at epoch J2016.0, which is when
the simulated exposures are dated, so no proper motion is needed), galaxies from
``openngc.objects``. Magnitudes in g, r and i are rough conversions, enough for
images that look right, not for photometry:

* stars: SDSS-like g, r, i from Gaia G and BP-RP with cubic colour terms of the
  kind published with Gaia EDR3 (Riello et al. 2021) — ``g = G + 0.4`` and
  ``r - i = 0.14`` for a Sun-like BP-RP of 0.82. Stars without BP-RP (the brightest
  ones) are given 0.82; colours are clipped to BP-RP in [-0.5, 4].
* galaxies: V from OpenNGC (else B - 0.8), then g = V + 0.4, r = V - 0.3,
  i = V - 0.7, typical of the old stellar populations of bright galaxies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from datalab.catalog import Engine

__all__ = ["BANDS", "FIELDS", "Band", "DemoField", "Galaxies", "Stars", "galaxies_in", "stars_in"]


@dataclass(frozen=True)
class DemoField:
    name: str  # file and obs_id stem
    title: str  # FITS OBJECT
    ra: float
    dec: float
    mjd: float  # start of the first exposure (a night in 2016, near Gaia's epoch)


@dataclass(frozen=True)
class Band:
    name: str
    zero_point: float  # magnitude giving 1 electron per second
    sky: float  # sky brightness, mag per square arcsec
    seeing: float  # median PSF FWHM, arcsec


FIELDS = (
    DemoField("pleiades", "Pleiades (M45)", 56.75, 24.1167, 57_380.10),
    DemoField("orion_belt", "Orion's belt", 84.0534, -1.2019, 57_390.15),
    DemoField("m31", "M31 (Andromeda galaxy)", 10.6847, 41.2690, 57_330.05),
    DemoField("lmc_edge", "Edge of the Large Magellanic Cloud", 76.0, -66.5, 57_400.20),
    DemoField("ngp", "North Galactic pole", 192.8595, 27.1283, 57_480.25),
)

BANDS = (
    Band("g", zero_point=22.2, sky=22.0, seeing=13.0),
    Band("r", zero_point=22.3, sky=21.1, seeing=12.0),
    Band("i", zero_point=21.9, sky=20.3, seeing=11.5),
)

_SUN_BP_RP = 0.82
# (constant, x, x^2, x^3) of G - band as a polynomial in x = BP-RP.
_STAR_TERMS = {
    "g": (0.13518, -0.46245, -0.25171, 0.021349),
    "r": (-0.12879, 0.24662, -0.027464, -0.049465),
    "i": (-0.29676, 0.64728, -0.10141, 0.0),
}
_GALAXY_OFFSET = {"g": 0.4, "r": -0.3, "i": -0.7}
_GALAXY_TYPES = ("G", "GPair", "GTrpl", "GGroup")


@dataclass(frozen=True)
class Stars:
    ra: NDArray[np.float64]
    dec: NDArray[np.float64]
    g_mag: NDArray[np.float64]
    bp_rp: NDArray[np.float64]

    def magnitude(self, band: str) -> NDArray[np.float64]:
        x = np.clip(self.bp_rp, -0.5, 4.0)
        c0, c1, c2, c3 = _STAR_TERMS[band]
        return self.g_mag - (c0 + c1 * x + c2 * x**2 + c3 * x**3)


@dataclass(frozen=True)
class Galaxies:
    ra: NDArray[np.float64]
    dec: NDArray[np.float64]
    v_mag: NDArray[np.float64]
    major: NDArray[np.float64]  # arcmin (D25 diameter)
    minor: NDArray[np.float64]  # arcmin
    pa: NDArray[np.float64]  # degrees, north through east

    def magnitude(self, band: str) -> NDArray[np.float64]:
        return self.v_mag + _GALAXY_OFFSET[band]


def _window(ra: float, dec: float, radius: float) -> tuple[str, list[float]]:
    """SQL condition and parameters for a box holding the circle (no RA wrap here)."""
    half_ra = radius / max(math.cos(math.radians(min(abs(dec) + radius, 89.0))), 1e-3)
    low, high = ra - half_ra, ra + half_ra
    cond = "dec BETWEEN ? AND ? AND "
    params = [dec - radius, dec + radius]
    if low < 0 or high >= 360:
        cond += "(ra >= ? OR ra <= ?)"
        params += [low % 360.0, high % 360.0]
    else:
        cond += "ra BETWEEN ? AND ?"
        params += [low, high]
    return cond, params


def stars_in(engine: Engine, ra: float, dec: float, radius: float) -> Stars:
    """Gaia stars within a box around (ra, dec) reaching at least ``radius`` degrees."""
    cond, params = _window(ra, dec, radius)
    with engine.cursor() as cur:
        rows = cur.execute(
            "SELECT ra, dec, phot_g_mean_mag, coalesce(bp_rp, ?) AS bp_rp "
            f"FROM gaia_dr3.gaia_source WHERE {cond} AND phot_g_mean_mag IS NOT NULL "
            "ORDER BY source_id",
            [_SUN_BP_RP, *params],
        ).fetchnumpy()
    return Stars(
        np.asarray(rows["ra"], np.float64),
        np.asarray(rows["dec"], np.float64),
        np.asarray(rows["phot_g_mean_mag"], np.float64),
        np.asarray(rows["bp_rp"], np.float64),
    )


def galaxies_in(engine: Engine, ra: float, dec: float, radius: float) -> Galaxies:
    """OpenNGC galaxies with a size and a magnitude near (ra, dec)."""
    cond, params = _window(ra, dec, radius)
    marks = ", ".join("?" * len(_GALAXY_TYPES))
    with engine.cursor() as cur:
        rows = cur.execute(
            "SELECT ra, dec, coalesce(vmag, bmag - 0.8), majax, coalesce(minax, majax), "
            f"coalesce(pa, 0) FROM openngc.objects WHERE {cond} AND type IN ({marks}) "
            "AND majax IS NOT NULL AND coalesce(vmag, bmag) IS NOT NULL ORDER BY name",
            [*params, *_GALAXY_TYPES],
        ).fetchall()
    columns = np.array(rows, dtype=np.float64).reshape(-1, 6).T
    return Galaxies(*columns)

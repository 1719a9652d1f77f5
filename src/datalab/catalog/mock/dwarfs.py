"""Faint dwarf galaxies for the synthetic survey: resolved, old, metal-poor stellar systems.

All simulated. Each dwarf is a Plummer profile of stars drawn from one old (~12 Gyr),
metal-poor ([Fe/H] ~ -2) population placed at the dwarf's distance modulus:

* a red-giant branch from the tip (M_g = -2.6, g - r = 1.0) down to the subgiant branch,
  the turn-off (M_g = 3.9, g - r = 0.22) and the upper main sequence, along a fiducial
  line of our own in the shape of a metal-poor globular cluster's, with 0.02 mag of
  intrinsic colour scatter;
* a luminosity function, in stars per magnitude per horizontal-branch star, rising as
  10**(0.35 M_g) along the giant branch and steeply through the subgiants to ~30 per
  magnitude at the turn-off and ~60 on the main sequence;
* a horizontal branch of exactly ``n_hb`` stars: half blue (g - r = -0.30 to 0.05, M_g
  0.55-0.8, fainter as they get bluer), a fifth RR Lyrae (see :mod:`rrlyrae`), the rest
  red (g - r = 0.38-0.50, M_g ~ 0.65).

r - z follows the stellar locus the field stars use. Only stars whose true (reddened)
g is brighter than :data:`DEPTH_G` are drawn: fainter ones would be lost in the noise,
so the turn-off appears only in the nearest dwarfs. Positions follow an elliptical
Plummer profile truncated at eight half-light radii. Every number drawn for dwarf ``k``
comes from ``numpy.random.default_rng([seed, INJECTED_BLOCK, 10 + k])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from datalab.catalog.mock.rrlyrae import RRLyrae, draw_rrlyrae
from datalab.catalog.mock.tractor import EXTINCTION
from datalab.catalog.mock.truth import icrs_to_galactic, simulated_ebv

__all__ = [
    "DEPTH_G",
    "DWARFS",
    "HB_ABS_MAG_G",
    "Dwarf",
    "DwarfStars",
    "draw_dwarf",
    "locus_r_z",
    "offset_position",
    "population_abs_mag_v",
]

DEPTH_G = 24.5
"""Faintest true, reddened g of an injected dwarf star (half a magnitude past the 5-sigma
depth of the coadd, so the faintest drawn stars are detected at ~3 sigma)."""
HB_ABS_MAG_G = 0.60
"""Absolute g magnitude of the horizontal branch at the RR Lyrae colours."""


@dataclass(frozen=True)
class Dwarf:
    """One injected dwarf galaxy: where it is, how far, how big and how rich.

    ``r_half_arcmin`` is the Plummer half-light radius along the major axis;
    ``ellipticity`` is 1 - b/a and ``position_angle`` the major axis' angle east of
    north, in degrees. ``n_hb`` (the number of horizontal-branch stars) sets the richness.
    """

    name: str
    ra: float
    dec: float
    distance_kpc: float
    r_half_arcmin: float
    ellipticity: float
    position_angle: float
    n_hb: int

    @property
    def distmod(self) -> float:
        """Distance modulus, 5 log10(d / 10 pc)."""
        return 5.0 * math.log10(self.distance_kpc * 100.0)

    @property
    def r_half_pc(self) -> float:
        """Half-light radius along the major axis in parsecs."""
        return self.distance_kpc * 1000.0 * math.radians(self.r_half_arcmin / 60.0)

    @property
    def ebv(self) -> float:
        """Simulated reddening at the centre, from the same model as every other source."""
        glon, sin_b = icrs_to_galactic(np.array([self.ra]), np.array([self.dec]))
        cos_l = np.cos(np.radians(glon))
        return float(simulated_ebv(cos_l, np.abs(sin_b))[0])

    @property
    def mag_g_hb(self) -> float:
        """Apparent g of the horizontal branch at the RR Lyrae colours, reddened."""
        return HB_ABS_MAG_G + self.distmod + float(EXTINCTION[0]) * self.ebv


DWARFS: tuple[Dwarf, ...] = (
    Dwarf("Mock Dwarf I", 172.0, 5.0, 30.0, 12.0, 0.45, 75.0, 3),
    Dwarf("Mock Dwarf II", 225.0, 32.0, 55.0, 6.0, 0.30, 40.0, 6),
    Dwarf("Mock Dwarf III", 25.0, -10.0, 90.0, 4.0, 0.20, 110.0, 15),
    Dwarf("Mock Dwarf IV", 335.0, 20.0, 140.0, 2.5, 0.10, 15.0, 40),
)
"""The injected dwarfs. All lie at |b| > 30 deg, at least 15 deg from any real Milky Way
satellite of comparable size, so that no notebook confuses them with real ones."""

# Fiducial sequence of the old population: absolute g, intrinsic g - r, and the
# luminosity function (log10 of stars per magnitude per horizontal-branch star).
_BRANCH_MG = np.array(
    [-2.6, -2.0, -1.0, 0.0, 1.0, 2.0, 2.8, 3.2, 3.5, 3.9, 4.3, 5.0, 6.0, 7.0, 8.0]
)
_BRANCH_GR = np.array(
    [1.00, 0.86, 0.70, 0.60, 0.53, 0.48, 0.45, 0.42, 0.33, 0.22, 0.24, 0.31, 0.45, 0.60, 0.80]
)
_GIANTS = _BRANCH_MG <= 2.8
_BRANCH_LOG_LF = np.where(
    _GIANTS,
    math.log10(0.7) + 0.35 * (_BRANCH_MG - HB_ABS_MAG_G),
    np.log10(np.array([1, 1, 1, 1, 1, 1, 1, 8, 15, 30, 40, 45, 50, 55, 60], dtype=float)),
)
_LF_STEP = 0.005
_TRUNCATION = 8.0  # Plummer profile cut at this many half-light radii
_BHB_SHARE, _RR_SHARE = 0.5, 0.2
_COLOUR_SCATTER = 0.02


def locus_r_z(g_r: np.ndarray) -> np.ndarray:
    """r - z of a star of colour g - r on the stellar locus the field stars follow."""
    return np.where(g_r < 1.2, 0.55 * g_r - 0.05, 3.0 * g_r - 2.99)


def _lf_grid(faintest: float) -> tuple[np.ndarray, np.ndarray]:
    """(M_g grid, cumulative stars per HB star) down to ``faintest``."""
    top = min(faintest, float(_BRANCH_MG[-1]))
    grid = np.arange(_BRANCH_MG[0], top + _LF_STEP / 2, _LF_STEP)
    density = np.power(10.0, np.interp(grid, _BRANCH_MG, _BRANCH_LOG_LF))
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * _LF_STEP)])
    return grid, cumulative


def population_abs_mag_v(n_hb: int) -> float:
    """Absolute V magnitude of the whole model population with ``n_hb`` HB stars.

    Integrates the luminosity function to M_g = 8 (fainter stars add little light) plus
    the horizontal branch, with V = g - 0.59 (g - r) - 0.01, a common transformation for
    stars. The injected rows hold only the stars above the depth, so this is brighter
    than the sum of the rows of a distant dwarf.
    """
    grid, cumulative = _lf_grid(float(_BRANCH_MG[-1]))
    per_mag = np.gradient(cumulative, grid)
    abs_v = grid - 0.59 * np.interp(grid, _BRANCH_MG, _BRANCH_GR) - 0.01
    branch = np.sum(per_mag * np.power(10.0, -0.4 * abs_v)) * _LF_STEP
    hb = 10.0 ** (-0.4 * (HB_ABS_MAG_G - 0.59 * 0.2 - 0.01))
    return -2.5 * math.log10(n_hb * (branch + hb))


@dataclass(frozen=True)
class DwarfStars:
    """The stars drawn for one dwarf: positions, intrinsic magnitudes, and which are RR Lyrae.

    ``rr_index`` holds the positions (in these arrays) of the RR Lyrae, whose pulsations
    are in ``rrlyrae``; their magnitudes are intensity means.
    """

    ra: np.ndarray
    dec: np.ndarray
    mag_g: np.ndarray
    mag_r: np.ndarray
    mag_z: np.ndarray
    rr_index: np.ndarray
    rrlyrae: RRLyrae

    def __len__(self) -> int:
        return len(self.ra)


def offset_position(
    ra0: float, dec0: float, east_deg: np.ndarray, north_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ICRS position at tangent-plane offsets (degrees east and north) from (ra0, dec0)."""
    xi, eta = np.radians(east_deg), np.radians(north_deg)
    a0, d0 = math.radians(ra0), math.radians(dec0)
    denominator = math.cos(d0) - eta * math.sin(d0)
    ra = (a0 + np.arctan2(xi, denominator)) % (2.0 * math.pi)
    dec = np.arctan2(math.sin(d0) + eta * math.cos(d0), np.hypot(xi, denominator))
    return np.degrees(ra), np.degrees(dec)


def _plummer_offsets(
    rng: np.random.Generator, dwarf: Dwarf, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Offsets east and north in degrees: an elliptical Plummer profile, inverse CDF.

    The projected Plummer profile holds R^2 / (R^2 + a^2) of its light inside R, so a
    uniform u gives R = a sqrt(u / (1 - u)); u stops short of 1 at the truncation.
    """
    u_radius, u_angle = rng.random((2, count))
    cut = _TRUNCATION**2 / (_TRUNCATION**2 + 1.0)
    u = u_radius * cut
    radius = dwarf.r_half_arcmin / 60.0 * np.sqrt(u / (1.0 - u))
    angle = 2.0 * math.pi * u_angle
    major = radius * np.cos(angle)
    minor = radius * np.sin(angle) * (1.0 - dwarf.ellipticity)
    pa = math.radians(dwarf.position_angle)
    return major * math.sin(pa) + minor * math.cos(pa), major * math.cos(pa) - minor * math.sin(pa)


def draw_dwarf(rng: np.random.Generator, dwarf: Dwarf) -> DwarfStars:
    """Every star of ``dwarf`` above the depth, with intrinsic (unreddened) magnitudes.

    The giant-branch count is Poisson about ``n_hb`` times the luminosity function's
    integral down to the depth (at the centre's reddening); the HB has exactly ``n_hb``.
    """
    faintest = DEPTH_G - dwarf.distmod - float(EXTINCTION[0]) * dwarf.ebv
    grid, cumulative = _lf_grid(faintest)
    n_branch = int(rng.poisson(dwarf.n_hb * cumulative[-1]))
    u_branch = rng.random(n_branch)
    abs_g = np.interp(u_branch * cumulative[-1], cumulative, grid)
    g_r = np.interp(abs_g, _BRANCH_MG, _BRANCH_GR)

    n_rr = round(_RR_SHARE * dwarf.n_hb)
    n_bhb = round(_BHB_SHARE * dwarf.n_hb)
    n_rhb = dwarf.n_hb - n_rr - n_bhb
    bhb_gr = rng.uniform(-0.30, 0.05, n_bhb)
    rhb_gr = rng.uniform(0.38, 0.50, n_rhb)
    rr = draw_rrlyrae(rng, n_rr)
    abs_g = np.concatenate(
        [
            abs_g,
            0.55 - 0.3 * bhb_gr + 2.0 * bhb_gr**2,
            HB_ABS_MAG_G + 0.05 + 0.5 * (rhb_gr - 0.38),
            rr.abs_mag_g,
        ]
    )
    g_r = np.concatenate([g_r, bhb_gr, rhb_gr, rr.g_r])
    count = len(abs_g)
    n_gr, n_rz = rng.standard_normal((2, count))
    g_r = g_r + _COLOUR_SCATTER * n_gr
    r_z = locus_r_z(g_r) + _COLOUR_SCATTER * n_rz
    east, north = _plummer_offsets(rng, dwarf, count)
    ra, dec = offset_position(dwarf.ra, dwarf.dec, east, north)
    mag_g = abs_g + dwarf.distmod
    return DwarfStars(
        ra=ra,
        dec=dec,
        mag_g=mag_g,
        mag_r=mag_g - g_r,
        mag_z=mag_g - g_r - r_z,
        rr_index=np.arange(count - n_rr, count),
        rrlyrae=rr,
    )

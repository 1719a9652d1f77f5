"""The true sources behind the synthetic catalog: what exists before anything is measured.

Every value here is simulated. Block ``i`` of :data:`BLOCK_ROWS` sources comes from
``numpy.random.default_rng([seed, i, 0])`` alone, so truth tables (and objects injected
later from other streams) never shift when the measurement model changes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np

__all__ = [
    "BLOCK_ROWS",
    "CLASS_NAMES",
    "DEV",
    "EXP",
    "GALACTIC_TO_ICRS",
    "GALAXY",
    "PSF",
    "QSO",
    "REX",
    "SER",
    "SERSIC_OF_TYPE",
    "STAR",
    "TYPE_NAMES",
    "Sources",
    "galactic_to_icrs",
    "icrs_to_galactic",
    "iter_sources",
    "simulate_sources",
    "simulated_ebv",
]

BLOCK_ROWS = 65_536
"""Rows per independently seeded block; part of the data's definition, never change it."""

STAR, GALAXY, QSO = 0, 1, 2
CLASS_NAMES = ("STAR", "GALAXY", "QSO")
"""True classes, indexed by :attr:`Sources.cls`."""

TYPE_NAMES = ("PSF", "REX", "EXP", "DEV", "SER")
"""Tractor morphological types, indexed by the codes below (true profiles use them too)."""
PSF, REX, EXP, DEV, SER = range(5)

GALACTIC_TO_ICRS = np.array(
    [
        [-0.054875657712592, 0.494109437192727, -0.867666137559658],
        [-0.873437051955616, -0.444829721223295, -0.198076337273001],
        [-0.483835073616715, 0.746982183986668, 0.455983813687302],
    ]
)
"""Rotation taking Galactic unit vectors to ICRS ones (column k is Galactic axis k).

The IAU 1958 Galactic system is defined on FK4/FK5 axes; these are the values astropy's
``Galactic`` frame gives after its FK5-to-ICRS frame bias (they differ from the rounded
Hipparcos A_G matrix at the 1e-7 level). A test checks them against astropy.
"""

# -- sky model ----------------------------------------------------------------------
# Densities per unit solid angle, relative to the (isotropic) extragalactic density.
# u = sin|b|. Stars: a disc term that grows like 1/u (the line of sight through a thin
# exponential disc), flat below |b| = 10 deg, stronger toward the Galactic centre by
# 1.6 at l = 0 falling linearly to 0.4 at l = 180 deg, plus an isotropic halo term.
_B_MIN_DEG = 5.0
_U_MIN = math.sin(math.radians(_B_MIN_DEG))
_U_CAP = math.sin(math.radians(10.0))
_DISC, _HALO, _BULGE = 0.3125, 0.25, 0.6
_QSO_SHARE = 0.04  # of extragalactic sources

_W_EXTRAGALACTIC = 1.0 - _U_MIN
_W_HALO = _HALO * (1.0 - _U_MIN)
_W_DISC_FLAT = _DISC * (_U_CAP - _U_MIN) / _U_CAP
_W_DISC_TAIL = _DISC * math.log(1.0 / _U_CAP)
_W_STARS = _W_HALO + _W_DISC_FLAT + _W_DISC_TAIL
_P_STAR = _W_STARS / (_W_STARS + _W_EXTRAGALACTIC)
_P_QSO = (1.0 - _P_STAR) * _QSO_SHARE

SERSIC_OF_TYPE = np.array([0.0, 1.0, 1.0, 4.0, 0.0], dtype=np.float32)
"""Sersic index each fixed-shape type implies (PSF 0, REX and EXP 1, DEV 4); SER is fitted."""
# True light profile of a galaxy by (red, 20 * uniform): red 60% DEV, 30% SER, 10% EXP;
# blue 70% EXP, 25% SER, 5% DEV.
_PROFILE_BY_SLOT = np.array(
    [[EXP] * 14 + [SER] * 5 + [DEV], [DEV] * 12 + [SER] * 6 + [EXP] * 2], dtype=np.int8
)


@dataclass(frozen=True)
class Sources:
    """The true sources behind a run of catalog rows, before any measurement.

    Arrays are aligned with the tractor rows of the same ``objid``. Magnitudes are
    intrinsic (AB, no Galactic extinction); the observed catalog adds
    ``A_band = R_band * ebv``. Point sources have ``r_half = 0``, ``sersic = 0`` and
    ``profile = 0``; galaxies have profile 2 (exponential), 3 (de Vaucouleurs) or 4
    (free Sersic), the codes of :data:`TYPE_NAMES`. ``cls`` indexes :data:`CLASS_NAMES`.
    ``glon`` is Galactic longitude in degrees, ``sin_glat`` the sine of the latitude
    (:attr:`glat` gives degrees); ``ebv`` is the simulated reddening toward the source.
    """

    seed: int
    block: int
    objid: np.ndarray
    cls: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    glon: np.ndarray
    sin_glat: np.ndarray
    ebv: np.ndarray
    mag_g: np.ndarray
    mag_r: np.ndarray
    mag_z: np.ndarray
    r_half: np.ndarray
    sersic: np.ndarray
    profile: np.ndarray

    def __len__(self) -> int:
        return len(self.objid)

    @property
    def glat(self) -> np.ndarray:
        """Galactic latitude in degrees (kept as its sine, which the sampler draws)."""
        return np.degrees(np.arcsin(self.sin_glat))

    def head(self, rows: int) -> Sources:
        """The first ``rows`` sources (for the final, partial block of a catalog)."""
        arrays = {
            f.name: getattr(self, f.name)[:rows]
            for f in fields(self)
            if f.name not in ("seed", "block")
        }
        return Sources(seed=self.seed, block=self.block, **arrays)


def galactic_to_icrs(glon: np.ndarray, glat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ICRS (ra, dec) in degrees, ra in [0, 360), for Galactic (l, b) in degrees."""
    lon, lat = np.radians(glon), np.radians(glat)
    return _rotate(np.cos(lon), np.sin(lon), np.cos(lat), np.sin(lat))


def icrs_to_galactic(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Galactic longitude in degrees, in [0, 360), and the sine of the latitude.

    The inverse of :func:`galactic_to_icrs`, for objects placed by ICRS position (the
    injected dwarf galaxies) that still need the Galactic quantities the sky model uses.
    """
    a, d = np.radians(ra), np.radians(dec)
    x, y, z = np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)
    m = GALACTIC_TO_ICRS  # orthogonal: its transpose takes ICRS to Galactic
    gx = m[0, 0] * x + m[1, 0] * y + m[2, 0] * z
    gy = m[0, 1] * x + m[1, 1] * y + m[2, 1] * z
    gz = m[0, 2] * x + m[1, 2] * y + m[2, 2] * z
    glon = np.degrees(np.arctan2(gy, gx)) % 360.0
    return glon, np.clip(gz, -1.0, 1.0)


def simulated_ebv(cos_l: np.ndarray, abs_sin_b: np.ndarray) -> np.ndarray:
    """The simulated reddening E(B-V) toward a direction, as float32.

    A dust sheet seen through 1/sin|b| of it, a little thicker toward the Galactic
    centre; one function so that injected objects are reddened like the rest.
    """
    return (0.02 / abs_sin_b * (1.0 + 0.25 * cos_l)).astype(np.float32)


def _rotate(
    cos_l: np.ndarray, sin_l: np.ndarray, cos_b: np.ndarray, sin_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    m = GALACTIC_TO_ICRS
    x, y = cos_b * cos_l, cos_b * sin_l
    ex = m[0, 0] * x + m[0, 1] * y + m[0, 2] * sin_b
    ey = m[1, 0] * x + m[1, 1] * y + m[1, 2] * sin_b
    ez = m[2, 0] * x + m[2, 1] * y + m[2, 2] * sin_b
    # atan2 of the negated vector, plus pi, lands in [0, 2 pi] without a fix-up pass.
    ra = np.arctan2(-ey, -ex)
    ra += math.pi
    ra *= 180.0 / math.pi
    ra[ra >= 360.0] = 0.0
    np.clip(ez, -1.0, 1.0, out=ez)
    dec = np.arcsin(ez)
    dec *= 180.0 / math.pi
    return ra, dec


def _bulge_longitude(w: np.ndarray) -> np.ndarray:
    """Inverse CDF of a density in l peaked at the Galactic centre, radians in [0, 2 pi).

    The density falls linearly in |l| from 1 + a at l = 0 to 1 - a at l = 180 deg, so its
    CDF is quadratic and inverts in closed form. ``w`` in [0, 0.5) gives l in [0, pi),
    ``w`` in [0.5, 1) gives l = 2 pi - |l| in [pi, 2 pi), never 2 pi itself.
    """
    a = _BULGE
    east = w < 0.5
    v = np.where(east, 2.0 * w, 2.0 - 2.0 * w)
    # |l| solving ((1 + a) x - (a / pi) x**2) / pi = v, in the form without cancellation.
    x = (2.0 * math.pi) * v / ((1.0 + a) + np.sqrt((1.0 + a) ** 2 - (4.0 * a) * v))
    return np.where(east, x, 2.0 * math.pi - x)


def _f4(value: float) -> np.float32:
    return np.float32(value)


def _counts(w: np.ndarray, alpha: float, bright: float, faint: float) -> np.ndarray:
    """Magnitudes with dN/dm ~ 10**(alpha m) on [bright, faint], by inverse CDF of ``w``."""
    k = _f4(alpha * math.log(10.0))
    floor = _f4(math.exp(-alpha * math.log(10.0) * (faint - bright)))
    return _f4(faint) + np.log(w + (1 - w) * floor) / k


def _star_sky(
    rng: np.random.Generator, u_lat: np.ndarray, u_lon: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(sin|b|, l in radians) of stars, from the uniforms that place extragalactic sources.

    A third uniform picks the density component: the isotropic halo, the flat disc core
    at |b| < 10 deg, or the disc's 1/sin|b| tail, each inverted in closed form; disc stars
    also take their longitude from the bulge-weighted distribution.
    """
    u_mode = rng.random(len(u_lat), dtype=np.float32)
    disc = u_mode >= _W_HALO / _W_STARS
    tail = u_mode >= (_W_HALO + _W_DISC_FLAT) / _W_STARS
    core = disc & ~tail
    u = _U_MIN + (1.0 - _U_MIN) * u_lat
    u[core] = _U_MIN + (_U_CAP - _U_MIN) * u_lat[core]
    u[tail] = np.exp((1.0 - u_lat[tail]) * math.log(_U_CAP))
    lon = 2.0 * math.pi * u_lon
    lon[disc] = _bulge_longitude(u_lon[disc])
    return u, lon


def _star_photometry(rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
    """(r, g - r, r - z) of stars: flat counts; turn-off, disc and M-dwarf colours.

    g - r mixes halo turn-off stars (0.40 +- 0.12), a broad disc population (uniform
    0.5-1.3) and M dwarfs (1.40 +- 0.06); r - z follows the stellar locus, gentle for FGK
    stars and steep for M dwarfs, with 0.05 mag of scatter.
    """
    u_mag, u_col = rng.random((2, count), dtype=np.float32)
    n_gr, n_rz = rng.standard_normal((2, count), dtype=np.float32)
    mag_r = _counts(u_mag, 0.12, 15.0, 24.0)
    g_r = np.where(
        u_col < 0.45,
        _f4(0.40) + _f4(0.12) * n_gr,
        np.where(
            u_col < 0.80,
            _f4(0.5 - 0.45 * 0.8 / 0.35) + _f4(0.8 / 0.35) * u_col,
            _f4(1.40) + _f4(0.06) * n_gr,
        ),
    )
    np.clip(g_r, _f4(0.15), _f4(1.65), out=g_r)
    locus = np.where(g_r < 1.2, _f4(0.55) * g_r - _f4(0.05), _f4(3.0) * g_r - _f4(2.99))
    return mag_r, g_r, locus + _f4(0.05) * n_rz


def _galaxy_photometry(rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
    """(r, g - r, r - z, half-light radius, Sersic index, profile code) of galaxies.

    Counts rise as 10**(0.36 m) to r = 24. A red sequence (share 50% at r = 18 falling to
    10% by r = 23) sits at g - r = 1.25, r - z = 0.95, the blue cloud at 0.60, 0.55, both
    with 0.2-0.25 mag of correlated scatter and r - z reddening by 0.05 mag per mag of
    depth (higher redshift). Red galaxies are mostly de Vaucouleurs, blue ones mostly
    exponential; sizes shrink with magnitude with 0.22 dex of log-normal scatter.
    """
    u_mag, u_col, u_prof, u_ser = rng.random((4, count), dtype=np.float32)
    n_gr, n_rz, n_size = rng.standard_normal((3, count), dtype=np.float32)
    mag_r = _counts(u_mag, 0.36, 15.0, 24.0)
    red = u_col < np.clip(_f4(1.94) - _f4(0.08) * mag_r, _f4(0.1), _f4(0.5))
    g_r = np.where(red, _f4(1.25), _f4(0.60)) + _f4(0.2) * n_gr
    r_z = (
        np.where(red, _f4(0.95 - 1.0), _f4(0.55 - 1.0))
        + _f4(0.05) * mag_r
        + _f4(0.125) * n_gr
        + _f4(0.2165) * n_rz
    )
    slot = (u_prof * _f4(_PROFILE_BY_SLOT.shape[1])).astype(np.intp)
    profile = _PROFILE_BY_SLOT[red.astype(np.intp), slot]
    sersic = np.where(
        profile == SER,
        np.where(red, _f4(2.5) + _f4(3.5) * u_ser, _f4(0.6) + _f4(1.9) * u_ser),
        SERSIC_OF_TYPE[profile],
    )
    log_r = (
        _f4(math.log10(1.8) + 0.12 * 18.0) - _f4(0.12) * mag_r - _f4(0.1) * red + _f4(0.22) * n_size
    )
    return mag_r, g_r, r_z, np.power(_f4(10.0), log_r), sersic, profile


def _qso_photometry(rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
    """(r, g - r, r - z) of QSOs: counts ~10**(0.30 m) over 17-23.5, blue in g - r."""
    u_mag = rng.random(count, dtype=np.float32)
    n_gr, n_rz = rng.standard_normal((2, count), dtype=np.float32)
    mag_r = _counts(u_mag, 0.30, 17.0, 23.5)
    return mag_r, _f4(0.20) + _f4(0.12) * n_gr, _f4(0.40) + _f4(0.12) * n_rz


def simulate_sources(block: int, *, seed: int = 42) -> Sources:
    """The :data:`BLOCK_ROWS` true sources of one block (rows ``block * BLOCK_ROWS`` on).

    Everything here comes from the block's truth stream, so later additions to the
    measurement step (or injected objects drawn from other streams) cannot change it.
    Positions are computed in double precision, photometry in single.
    """
    rng = np.random.default_rng([seed, block, 0])
    n = BLOCK_ROWS
    u_lat, u_lon = rng.random((2, n))
    u_cls, u_sign = rng.random((2, n), dtype=np.float32)
    cls = np.full(n, GALAXY, dtype=np.int8)
    cls[u_cls < _P_STAR] = STAR
    cls[u_cls >= 1.0 - _P_QSO] = QSO
    stars = np.flatnonzero(cls == STAR)
    galaxies = np.flatnonzero(cls == GALAXY)
    qsos = np.flatnonzero(cls == QSO)

    # Extragalactic sources are isotropic: sin|b| uniform above the plane cut.
    u = _U_MIN + (1.0 - _U_MIN) * u_lat
    lon = 2.0 * math.pi * u_lon
    u[stars], lon[stars] = _star_sky(rng, u_lat[stars], u_lon[stars])
    sin_b = np.where(u_sign < 0.5, -u, u)
    cos_l = np.cos(lon)
    sin_l = np.sqrt(1.0 - cos_l * cos_l)  # half the price of np.sin; l < pi has sin > 0
    np.copysign(sin_l, math.pi - lon, out=sin_l)
    ra, dec = _rotate(cos_l, sin_l, np.sqrt(1.0 - u * u), sin_b)

    ebv = simulated_ebv(cos_l, u)

    mag_r, g_r, r_z = (np.empty(n, dtype=np.float32) for _ in range(3))
    r_half, sersic = np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32)
    profile = np.zeros(n, dtype=np.int8)
    mag_r[stars], g_r[stars], r_z[stars] = _star_photometry(rng, len(stars))
    (
        mag_r[galaxies],
        g_r[galaxies],
        r_z[galaxies],
        r_half[galaxies],
        sersic[galaxies],
        profile[galaxies],
    ) = _galaxy_photometry(rng, len(galaxies))
    mag_r[qsos], g_r[qsos], r_z[qsos] = _qso_photometry(rng, len(qsos))

    start = block * BLOCK_ROWS
    return Sources(
        seed=seed,
        block=block,
        objid=np.arange(start, start + n, dtype=np.int64),
        cls=cls,
        ra=ra,
        dec=dec,
        glon=np.degrees(lon),
        sin_glat=sin_b,
        ebv=ebv,
        mag_g=mag_r + g_r,
        mag_r=mag_r,
        mag_z=mag_r - r_z,
        r_half=r_half,
        sersic=sersic,
        profile=profile,
    )


def iter_sources(rows: int, *, seed: int = 42) -> Iterator[Sources]:
    """The true sources of a ``rows``-row catalog, one block at a time."""
    for block in range(-(-rows // BLOCK_ROWS)):
        sources = simulate_sources(block, seed=seed)
        yield sources.head(min(BLOCK_ROWS, rows - block * BLOCK_ROWS))

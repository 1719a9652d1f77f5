"""Objects injected into the synthetic survey on top of the generated field: all simulated.

Two kinds, identical for every row count (they depend on the seed only):

* the stars of the dwarf galaxies in :data:`~datalab.catalog.mock.dwarfs.DWARFS`, some of
  them RR Lyrae;
* :data:`HALO_RRLYRAE` RR Lyrae of the stellar halo, spread over |b| > 20 deg at
  heliocentric distances of 5-80 kpc, uniform in log distance (a halo whose density
  falls as r**-3).

They are rows like any other, measured by the same model (PSF type, noise from the
depths), after the ``rows`` field rows. Their ``objid`` is :data:`INJECTED_OBJID_BASE`
plus a running number: the dwarfs' stars in the order of ``DWARFS``, then the halo RR
Lyrae. Field rows are numbered from 0 by row, so the two ranges never meet.

Random streams, keyed apart from the field's blocks by :data:`INJECTED_BLOCK`:
``default_rng([seed, INJECTED_BLOCK, 10 + k])`` draws dwarf ``k``,
``[seed, INJECTED_BLOCK, 9]`` the halo RR Lyrae, and the measurement and light-curve
steps use ``[seed, INJECTED_BLOCK, 1]``, ``[..., 2]`` and ``[..., 3]`` as field blocks do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from datalab.catalog.mock.dwarfs import DWARFS, draw_dwarf, locus_r_z
from datalab.catalog.mock.rrlyrae import RRLyrae, draw_rrlyrae
from datalab.catalog.mock.truth import (
    PSF,
    STAR,
    Sources,
    galactic_to_icrs,
    icrs_to_galactic,
    simulated_ebv,
)

__all__ = [
    "FIELD",
    "HALO",
    "HALO_RRLYRAE",
    "INJECTED_BLOCK",
    "INJECTED_OBJID_BASE",
    "IN_DWARF",
    "ORIGIN_NAMES",
    "Injected",
    "injected",
]

INJECTED_OBJID_BASE = 10**15
"""First ``objid`` of the injected rows (field rows count up from 0)."""
INJECTED_BLOCK = 1 << 40
"""Stands in for a block number in the injected rows' random-stream keys; no field block
of any feasible catalog reaches it."""
HALO_RRLYRAE = 150
"""RR Lyrae injected into the halo, outside the dwarfs."""

FIELD, IN_DWARF, HALO = 0, 1, 2
ORIGIN_NAMES = ("field", "dwarf", "halo")
"""Where a row comes from: the generated field, a dwarf galaxy, the injected halo RR Lyrae."""

_HALO_MIN_ABS_B = 20.0
_HALO_DISTANCE_KPC = (5.0, 80.0)
_HALO_STREAM = 9
_DWARF_STREAM = 10


@dataclass(frozen=True)
class Injected:
    """The injected rows' true sources and what the truth tables say about them.

    ``sources`` is measured like a block of the field. Per row: ``origin`` (codes of
    :data:`ORIGIN_NAMES`), ``host`` (index into ``DWARFS``, -1 outside a dwarf),
    ``distance_kpc``. ``rr_rows`` lists the rows that are RR Lyrae, aligned with the
    pulsations in ``rrlyrae``.
    """

    sources: Sources
    origin: np.ndarray
    host: np.ndarray
    distance_kpc: np.ndarray
    rr_rows: np.ndarray
    rrlyrae: RRLyrae

    def __len__(self) -> int:
        return len(self.sources)

    def dwarf_rows(self, index: int) -> np.ndarray:
        """Row positions of the stars of ``DWARFS[index]``."""
        return np.flatnonzero(self.host == index)


_Halo = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, RRLyrae]


def _halo(seed: int) -> _Halo:
    """(ra, dec, distance in kpc, intrinsic g, r, z) and pulsations of the halo RR Lyrae."""
    rng = np.random.default_rng([seed, INJECTED_BLOCK, _HALO_STREAM])
    n = HALO_RRLYRAE
    u_lat, u_lon, u_sign, u_dist = rng.random((4, n))
    floor = math.sin(math.radians(_HALO_MIN_ABS_B))
    sin_b = (floor + (1.0 - floor) * u_lat) * np.where(u_sign < 0.5, -1.0, 1.0)
    ra, dec = galactic_to_icrs(360.0 * u_lon, np.degrees(np.arcsin(sin_b)))
    near, far = _HALO_DISTANCE_KPC
    distance = near * (far / near) ** u_dist
    rr = draw_rrlyrae(rng, n)
    mag_g = rr.abs_mag_g + 5.0 * np.log10(distance * 100.0)
    mag_r = mag_g - rr.g_r
    return ra, dec, distance, mag_g, mag_r, mag_r - locus_r_z(rr.g_r), rr


def _concat_rrlyrae(parts: list[RRLyrae]) -> RRLyrae:
    return RRLyrae(
        kind=np.concatenate([p.kind for p in parts]),
        period=np.concatenate([p.period for p in parts]),
        mjd_max=np.concatenate([p.mjd_max for p in parts]),
        amplitude=np.concatenate([p.amplitude for p in parts], axis=1),
        abs_mag_g=np.concatenate([p.abs_mag_g for p in parts]),
        g_r=np.concatenate([p.g_r for p in parts]),
    )


@lru_cache(maxsize=4)
def injected(seed: int = 42) -> Injected:
    """Every injected row for ``seed``; the arrays are shared, so treat them as read-only."""
    columns: dict[str, list[np.ndarray]] = {
        k: [] for k in ("ra", "dec", "mag_g", "mag_r", "mag_z", "origin", "host", "distance")
    }
    rr_rows, rr_parts, start = [], [], 0
    for k, dwarf in enumerate(DWARFS):
        stars = draw_dwarf(np.random.default_rng([seed, INJECTED_BLOCK, _DWARF_STREAM + k]), dwarf)
        n = len(stars)
        for name in ("ra", "dec", "mag_g", "mag_r", "mag_z"):
            columns[name].append(getattr(stars, name))
        columns["origin"].append(np.full(n, IN_DWARF, dtype=np.int8))
        columns["host"].append(np.full(n, k, dtype=np.int8))
        columns["distance"].append(np.full(n, dwarf.distance_kpc))
        rr_rows.append(start + stars.rr_index)
        rr_parts.append(stars.rrlyrae)
        start += n
    ra, dec, distance, mag_g, mag_r, mag_z, halo_rr = _halo(seed)
    for name, values in (
        ("ra", ra), ("dec", dec), ("mag_g", mag_g), ("mag_r", mag_r), ("mag_z", mag_z),
        ("distance", distance),
    ):  # fmt: skip
        columns[name].append(values)
    columns["origin"].append(np.full(HALO_RRLYRAE, HALO, dtype=np.int8))
    columns["host"].append(np.full(HALO_RRLYRAE, -1, dtype=np.int8))
    rr_rows.append(start + np.arange(HALO_RRLYRAE))
    rr_parts.append(halo_rr)

    joined = {k: np.concatenate(v) for k, v in columns.items()}
    n = len(joined["ra"])
    glon, sin_b = icrs_to_galactic(joined["ra"], joined["dec"])
    sources = Sources(
        seed=seed,
        block=INJECTED_BLOCK,
        objid=INJECTED_OBJID_BASE + np.arange(n, dtype=np.int64),
        cls=np.full(n, STAR, dtype=np.int8),
        ra=joined["ra"],
        dec=joined["dec"],
        glon=glon,
        sin_glat=sin_b,
        ebv=simulated_ebv(np.cos(np.radians(glon)), np.abs(sin_b)),
        mag_g=joined["mag_g"].astype(np.float32),
        mag_r=joined["mag_r"].astype(np.float32),
        mag_z=joined["mag_z"].astype(np.float32),
        r_half=np.zeros(n, dtype=np.float32),
        sersic=np.zeros(n, dtype=np.float32),
        profile=np.full(n, PSF, dtype=np.int8),
    )
    for array in (*joined.values(), glon, sin_b):
        array.flags.writeable = False
    return Injected(
        sources=sources,
        origin=joined["origin"],
        host=joined["host"],
        distance_kpc=joined["distance"],
        rr_rows=np.concatenate(rr_rows),
        rrlyrae=_concat_rrlyrae(rr_parts),
    )

"""The tractor projection: measuring the true sources the way a survey pipeline would.

Turns :class:`~datalab.catalog.mock.truth.Sources` into the catalog's columns: numbers of
exposures, sky-limited flux noise from per-band depths, magnitudes from the noisy fluxes,
and a morphological type chosen the way a model-selecting photometry pipeline would. All
of it simulated; the noise of block ``i`` comes from ``default_rng([seed, i, 1])``.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from datalab.catalog.mock.columns import BANDS, SCHEMA
from datalab.catalog.mock.truth import (
    DEV,
    EXP,
    GALAXY,
    PSF,
    REX,
    SER,
    SERSIC_OF_TYPE,
    TYPE_NAMES,
    Sources,
)

__all__ = ["EXTINCTION", "tractor_batch"]

# -- measurement model --------------------------------------------------------------
EXTINCTION = np.array([3.214, 2.165, 1.211], dtype=np.float32)
"""A_band / E(B-V) in g, r, z (DECam-like), applied to every true magnitude."""
_DEPTH = np.array([24.0, 23.4, 22.5])  # 5-sigma point-source depth at _NOBS_REF exposures
_NOBS_REF = 3.0
_NOBS_EXTRA = np.array([2.0, 2.0, 2.3])  # nobs = 1 + Poisson(this)
_SIGMA_REF = (10.0 ** (-0.4 * (_DEPTH - 22.5)) / 5.0).astype(np.float32)  # nanomaggies
_PSF_SIGMA_ARCSEC = 0.55  # Gaussian sigma of the seeing disc used for resolvability
_NOISE_SCALE_ARCSEC = 0.7  # extended sources collect sky noise over a larger area
# Extent significance below which a galaxy is typed PSF, then REX; a free Sersic index
# needs more (below it, SER profiles are typed EXP or DEV by their index).
_PSF_BELOW, _REX_BELOW, _SER_ABOVE = 3.0, 12.0, 60.0
_MAG_ERR_FACTOR = np.float32(2.5 / math.log(10.0))

# -- bricks: a Legacy Surveys-like tiling (0.25 deg Dec strips cut into ~0.25 deg cells) -
_BRICK_ROW_DEG = 0.25
_BRICK_ROWS = round(180.0 / _BRICK_ROW_DEG)
_BRICK_COUNTS = np.maximum(
    1,
    np.ceil(
        360.0
        * np.cos(np.radians(-90.0 + _BRICK_ROW_DEG * (np.arange(_BRICK_ROWS) + 0.5)))
        / _BRICK_ROW_DEG
    ),
).astype(np.int64)
_BRICK_FIRST = 1 + np.concatenate([[0], np.cumsum(_BRICK_COUNTS)[:-1]])


def _brickid(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Bricks of 0.25 x ~0.25 deg: rows of constant Dec, each cut into equal RA steps."""
    row = np.minimum(((dec + 90.0) * (1.0 / _BRICK_ROW_DEG)).astype(np.int32), _BRICK_ROWS - 1)
    count = _BRICK_COUNTS[row]
    col = np.minimum((ra * count * (1.0 / 360.0)).astype(np.int32), count - 1)
    return (_BRICK_FIRST[row] + col).astype(np.int32)


def _poisson_table(mean: float) -> np.ndarray:
    """Poisson(mean) quantiles at the centres of 256 equal-probability bins.

    Looking an 8-bit random number up in this table is a discrete inverse-CDF draw
    (to 1/256 in probability) that costs a fraction of numpy's Poisson sampler.
    """
    cdf, term, k, table = 0.0, math.exp(-mean), 0, []
    for i in range(256):
        p = (i + 0.5) / 256
        while cdf + term < p:
            cdf += term
            k += 1
            term *= mean / k
        table.append(k)
    return np.array(table, dtype=np.int16)


_NOBS_TABLES = np.stack([1 + _poisson_table(m) for m in _NOBS_EXTRA])
_TYPE_NAMES_ARROW = pa.array(TYPE_NAMES, pa.string())


def _f4(value: float) -> np.float32:
    return np.float32(value)


def _with_validity(values: np.ndarray, validity: pa.Buffer) -> pa.Array:
    """A float32 Arrow array sharing ``values``, null where the bitmap says so."""
    return pa.Array.from_buffers(pa.float32(), len(values), [validity, pa.py_buffer(values)])


def tractor_batch(sources: Sources) -> pa.RecordBatch:
    """Measure ``sources`` as a tractor-like catalog would; one row per source.

    Must be given a whole block (from :func:`simulate_sources`) for its noise to match
    :func:`generate`; the noise stream is the block's own, so the same sources always
    come out with the same measurements.
    """
    rng = np.random.default_rng([sources.seed, sources.block, 1])
    n = len(sources)
    bits = rng.bit_generator.random_raw(n)
    nobs = [
        _NOBS_TABLES[i][((bits >> np.uint64(8 * i)) & np.uint64(255)).astype(np.intp)]
        for i in range(3)
    ]
    n_flux = rng.standard_normal((3, n), dtype=np.float32)

    reddening = sources.ebv
    true_flux = [
        np.power(_f4(10.0), _f4(-0.4) * (mag + EXTINCTION[i] * reddening - _f4(22.5)))
        for i, mag in enumerate((sources.mag_g, sources.mag_r, sources.mag_z))
    ]
    sigma_psf = [_SIGMA_REF[i] * np.sqrt(_f4(_NOBS_REF) / nobs[i]) for i in range(3)]

    # Only galaxies can come out resolved. How significantly a model fit would prefer an
    # extended profile over a point source: the r-band signal-to-noise times the fraction
    # of the light spread beyond the seeing, with some scatter.
    galaxies = np.flatnonzero(sources.cls == GALAXY)
    n_ext, n_shape = rng.standard_normal((2, len(galaxies)), dtype=np.float32)
    r_half = sources.r_half[galaxies]
    x2 = r_half * r_half * _f4(1.0 / _PSF_SIGMA_ARCSEC**2)
    extent = (
        true_flux[1][galaxies] / sigma_psf[1][galaxies] * x2 / (1 + x2) * np.exp(_f4(0.7) * n_ext)
    )
    profile = sources.profile[galaxies]
    simpler = np.where(sources.sersic[galaxies] < 2.5, EXP, DEV).astype(np.int8)
    profile = np.where((profile == SER) & (extent < _SER_ABOVE), simpler, profile)
    kind_g = np.where(extent < _PSF_BELOW, PSF, np.where(extent < _REX_BELOW, REX, profile)).astype(
        np.int8
    )
    # Measured size and Sersic index scatter together (their fit errors correlate).
    scatter = np.exp((_f4(0.03) + _f4(0.6) / np.sqrt(np.maximum(extent, _f4(1.0)))) * n_shape)
    kind = np.zeros(n, dtype=np.int8)
    shape_r = np.zeros(n, dtype=np.float32)
    sersic = np.zeros(n, dtype=np.float32)
    kind[galaxies] = kind_g
    shape_r[galaxies] = np.where(kind_g != PSF, r_half * scatter, _f4(0.0))
    sersic[galaxies] = np.where(
        kind_g == SER,
        np.clip(sources.sersic[galaxies] * scatter, _f4(0.5), _f4(6.0)),
        SERSIC_OF_TYPE[kind_g],
    )
    noise_area = np.sqrt(1 + shape_r * shape_r * _f4(1.0 / _NOISE_SCALE_ARCSEC**2))

    columns: dict[str, pa.Array] = {
        "objid": pa.array(sources.objid),
        "brickid": pa.array(_brickid(sources.ra, sources.dec)),
        "ra": pa.array(sources.ra),
        "dec": pa.array(sources.dec),
        "type": _TYPE_NAMES_ARROW.take(pa.array(kind)),
        "sersic": pa.array(sersic),
        "shape_r": pa.array(shape_r),
        "ebv": pa.array(reddening),
    }
    flux_cols, ivar_cols, mag_cols, err_cols = [], [], [], []
    for i in range(3):
        sigma = sigma_psf[i] * noise_area
        flux = true_flux[i] + sigma * n_flux[i]
        ivar = 1 / (sigma * sigma)
        positive = flux > 0
        validity = pa.py_buffer(np.packbits(positive, bitorder="little"))
        safe = np.where(positive, flux, _f4(1.0))
        mag = _f4(22.5) - _f4(2.5) * np.log10(safe)
        magerr = _MAG_ERR_FACTOR / (safe * np.sqrt(ivar))
        flux_cols.append(pa.array(flux))
        ivar_cols.append(pa.array(ivar))
        mag_cols.append(_with_validity(mag, validity))
        err_cols.append(_with_validity(magerr, validity))
    for prefix, arrays in (
        ("flux_", flux_cols),
        ("flux_ivar_", ivar_cols),
        ("mag_", mag_cols),
        ("magerr_", err_cols),
        ("nobs_", [pa.array(x) for x in nobs]),
    ):
        for band, array in zip(BANDS, arrays, strict=True):
            columns[prefix + band] = array
    return pa.RecordBatch.from_arrays(list(columns.values()), schema=SCHEMA)

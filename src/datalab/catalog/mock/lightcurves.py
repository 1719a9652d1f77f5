"""Simulated multi-epoch photometry: light curves of a subset of the survey's stars.

Who gets a light curve: every injected RR Lyrae, and a random :data:`LIGHT_CURVE_SHARE`
of the true stars (field or dwarf) whose reddened true r is brighter than
:data:`LIGHT_CURVE_MAX_MAG_R`. The draw for a block of field rows comes from
``default_rng([seed, block, 2])``, one number per row, so the choice never depends on the
row count; the light curves themselves come from ``[seed, block, 3]``.

The cadence imitates a ground-based survey over three and a half years: 40-80 single
exposures per star, each in one band (g 35%, r 40%, z 25%), taken at night (within 4.5
h of local midnight at a site 70.8 deg west) within 3.5 h of the star's meridian, in
observing seasons of +-110 days around the date the star is opposite the Sun. A single
exposure reaches 5-sigma depths of g = 23.4, r = 22.8, z = 21.9 (the coadd's depths for
one exposure instead of three), varied by 0.2 mag from exposure to exposure (seeing and
sky). Noise is Gaussian in flux with a 1% calibration floor; only positive fluxes (all
but a handful) are kept. RR Lyrae follow :func:`~datalab.catalog.mock.rrlyrae.template`
around their intensity-mean magnitudes, every other star is constant.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from datalab.catalog.mock.rrlyrae import RRLyrae, intensity_mean_offset, template
from datalab.catalog.mock.tables import MEASUREMENT_SCHEMA
from datalab.catalog.mock.tractor import EXTINCTION
from datalab.catalog.mock.truth import STAR, Sources

__all__ = [
    "LIGHT_CURVE_MAX_MAG_R",
    "LIGHT_CURVE_SHARE",
    "SURVEY_MJD",
    "light_curve_batch",
    "light_curve_mask",
]

LIGHT_CURVE_SHARE = 0.04
LIGHT_CURVE_MAX_MAG_R = 21.5
SURVEY_MJD = (56950.0, 58150.0)
"""Nominal span of the multi-epoch survey; observing seasons centred in it are used."""

_EPOCHS = (40, 80)
_BAND_SHARE = np.array([0.35, 0.75])  # cumulative: g below 0.35, r below 0.75, z above
_SINGLE_DEPTH = np.array([23.4, 22.8, 21.9])
_DEPTH_JITTER = 0.2
_CALIBRATION_FLOOR = 0.01
_YEAR = 365.25
_SEASON_HALF_DAYS = 110.0
_MIDNIGHT_UT = 70.8 / 360.0  # local mean midnight 70.8 deg west, as a fraction of a UT day
_NIGHT_HALF = 4.5 / 24.0
_HOUR_ANGLE_MAX = 3.5 / 24.0
_EQUINOX_MJD = 57101.5  # the Sun crosses RA 0 (2015 March 20)
_BAND_CODES = pa.array(["g", "r", "z"], pa.string())
_MAG_ERR_FACTOR = 2.5 / math.log(10.0)


def light_curve_mask(sources: Sources, draw: np.ndarray) -> np.ndarray:
    """Which ``sources`` get light curves, given one uniform number per source."""
    observed_r = sources.mag_r + EXTINCTION[1] * sources.ebv
    return (sources.cls == STAR) & (observed_r < LIGHT_CURVE_MAX_MAG_R) & (draw < LIGHT_CURVE_SHARE)


def _epochs(
    rng: np.random.Generator, ra: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(owner, mjd, band code, noise draws) of every exposure, owner indexing ``ra``."""
    n_epochs = rng.integers(_EPOCHS[0], _EPOCHS[1] + 1, len(ra))
    owner = np.repeat(np.arange(len(ra)), n_epochs)
    u_season, u_day, u_hour, u_band = rng.random((4, len(owner)))
    noise = rng.standard_normal((2, len(owner)))

    # The date a star is opposite the Sun, then the observing seasons centred in the span.
    opposition = _EQUINOX_MJD + ((ra[owner] - 180.0) % 360.0) / 360.0 * _YEAR
    first = np.ceil((SURVEY_MJD[0] - opposition) / _YEAR)
    last = np.floor((SURVEY_MJD[1] - opposition) / _YEAR)
    season = first + np.floor(u_season * (last - first + 1))
    day = _SEASON_HALF_DAYS * (2.0 * u_day - 1.0)
    # d days after opposition the star crosses the meridian d / 365.25 days before
    # midnight; the exposure is at an hour angle that keeps it inside the night.
    transit = -day / _YEAR
    low = np.maximum(-_HOUR_ANGLE_MAX, -_NIGHT_HALF - transit)
    high = np.minimum(_HOUR_ANGLE_MAX, _NIGHT_HALF - transit)
    night = np.floor(opposition + season * _YEAR + day)
    mjd = night + _MIDNIGHT_UT + transit + low + (high - low) * u_hour
    band = np.searchsorted(_BAND_SHARE, u_band, side="right").astype(np.int8)
    return owner, mjd, band, noise


def light_curve_batch(
    rng: np.random.Generator,
    sources: Sources,
    rows: np.ndarray,
    variable: np.ndarray | None = None,
    rrlyrae: RRLyrae | None = None,
) -> pa.RecordBatch:
    """Light curves of ``sources[rows]``, sorted by objid and time.

    ``variable`` (positions within ``rows``) marks the RR Lyrae, whose pulsations are
    ``rrlyrae`` in the same order; every other star keeps its mean magnitude.
    """
    objid, ra, dec = sources.objid[rows], sources.ra[rows], sources.dec[rows]
    ebv = sources.ebv[rows].astype(np.float64)
    means = np.stack(
        [
            np.asarray(mag[rows], dtype=np.float64) + float(EXTINCTION[i]) * ebv
            for i, mag in enumerate((sources.mag_g, sources.mag_r, sources.mag_z))
        ]
    )
    owner, mjd, band, noise = _epochs(rng, ra)
    true_mag = means[band, owner]

    if variable is not None and rrlyrae is not None and len(variable):
        position = np.full(len(rows), -1)
        position[variable] = np.arange(len(variable))
        which = position[owner]
        pulsing = which >= 0
        star = which[pulsing]
        b = band[pulsing]
        amplitude = rrlyrae.amplitude[b, star]
        brightest = true_mag[pulsing] - intensity_mean_offset(rrlyrae.kind[star], amplitude)
        phase = ((mjd[pulsing] - rrlyrae.mjd_max[star]) / rrlyrae.period[star]) % 1.0
        shape = np.empty(len(star))
        for kind in np.unique(rrlyrae.kind[star]):
            pick = rrlyrae.kind[star] == kind
            shape[pick] = template(int(kind), phase[pick])
        true_mag[pulsing] = brightest + amplitude * shape

    depth = _SINGLE_DEPTH[band] + _DEPTH_JITTER * noise[0]
    flux = np.power(10.0, -0.4 * (true_mag - 22.5))
    sigma = np.hypot(np.power(10.0, -0.4 * (depth - 22.5)) / 5.0, _CALIBRATION_FLOOR * flux)
    measured = flux + sigma * noise[1]
    keep = measured > 0
    order = np.lexsort((mjd[keep], owner[keep]))
    owner, mjd, band = owner[keep][order], mjd[keep][order], band[keep][order]
    measured, sigma = measured[keep][order], sigma[keep][order]
    columns = [
        pa.array(objid[owner]),
        pa.array(ra[owner]),
        pa.array(dec[owner]),
        pa.array(mjd),
        _BAND_CODES.take(pa.array(band)),
        pa.array((22.5 - 2.5 * np.log10(measured)).astype(np.float32)),
        pa.array((_MAG_ERR_FACTOR * sigma / measured).astype(np.float32)),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=MEASUREMENT_SCHEMA)

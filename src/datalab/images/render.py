"""Drawing simulated sources into a pixel grid: stars, galaxies, sky and noise.

Vectorised so a field renders in milliseconds: each star is drawn into a small stamp
(the PSF falls below 1e-8 of its peak at the stamp's edge), all stamps at once. The
PSF is a circular Gaussian integrated over each pixel (separable, so a stamp is the
outer product of two 1-D profiles), which keeps the flux exact and the centroid
unbiased even when the PSF is barely two pixels wide.

Pixel coordinates are 0-based with pixel centres on integers, as numpy indexes and
astropy's ``world_to_pixel`` returns them.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["FWHM_TO_SIGMA", "add_galaxies", "add_stars", "observe"]

FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _profiles(centre: NDArray[np.float64], sigma: float, half: int) -> tuple[NDArray, NDArray]:
    """First pixel of each stamp and the pixel-integrated 1-D Gaussian over it."""
    first = np.rint(centre).astype(np.int64) - half
    edges = first[:, None] + np.arange(2 * half + 2)[None, :] - 0.5
    cumulative = 0.5 * _erf((edges - centre[:, None]) / (math.sqrt(2.0) * sigma))
    return first, np.diff(cumulative, axis=1)


def add_stars(
    image: NDArray[np.float64],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    flux: NDArray[np.float64],
    fwhm: float,
) -> None:
    """Add point sources of total ``flux`` at (x, y) pixels, PSF FWHM ``fwhm`` pixels."""
    if len(x) == 0:
        return
    sigma = fwhm * FWHM_TO_SIGMA
    half = math.ceil(6.0 * sigma) + 1
    x0, gx = _profiles(np.asarray(x, np.float64), sigma, half)
    y0, gy = _profiles(np.asarray(y, np.float64), sigma, half)
    stamps = np.asarray(flux)[:, None, None] * gy[:, :, None] * gx[:, None, :]
    offsets = np.arange(2 * half + 1)
    cols = np.broadcast_to(x0[:, None, None] + offsets[None, None, :], stamps.shape)
    rows = np.broadcast_to(y0[:, None, None] + offsets[None, :, None], stamps.shape)
    height, width = image.shape
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    np.add.at(image, (rows[inside], cols[inside]), stamps[inside])


def add_galaxies(
    image: NDArray[np.float64],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    flux: NDArray[np.float64],
    scale: NDArray[np.float64],
    axis_ratio: NDArray[np.float64],
    position_angle: NDArray[np.float64],
    cd: NDArray[np.float64],
    min_scale: float,
) -> None:
    """Add elliptical exponential discs: total ``flux``, scale length ``scale`` (degrees),
    position angle north through east (degrees), drawn to 8 scale lengths.

    ``cd`` (degrees per pixel, FITS CD matrix) turns pixel offsets into offsets east
    and north; a disc smaller than ``min_scale`` (degrees, about the PSF) is widened to
    it so that no galaxy is sharper than the seeing.
    """
    height, width = image.shape
    pixel = math.sqrt(abs(float(np.linalg.det(cd))))
    for i in range(len(x)):
        h = max(float(scale[i]), min_scale)
        q = min(max(float(axis_ratio[i]), 0.1), 1.0)
        reach = int(math.ceil(8.0 * h / pixel))
        cx, cy = int(round(x[i])), int(round(y[i]))
        x_lo, x_hi = max(cx - reach, 0), min(cx + reach + 1, width)
        y_lo, y_hi = max(cy - reach, 0), min(cy + reach + 1, height)
        if x_lo >= x_hi or y_lo >= y_hi:
            continue
        dx = np.arange(x_lo, x_hi) - x[i]
        dy = np.arange(y_lo, y_hi) - y[i]
        # Offsets on the sky: the FITS intermediate coordinates, east and north.
        east = cd[0, 0] * dx[None, :] + cd[0, 1] * dy[:, None]
        north = cd[1, 0] * dx[None, :] + cd[1, 1] * dy[:, None]
        pa = math.radians(float(position_angle[i]))
        along = east * math.sin(pa) + north * math.cos(pa)
        across = east * math.cos(pa) - north * math.sin(pa)
        radius = np.hypot(along, across / q)
        peak = float(flux[i]) * pixel**2 / (2.0 * math.pi * h * h * q)
        image[y_lo:y_hi, x_lo:x_hi] += peak * np.exp(-radius / h)


def observe(
    mean: NDArray[np.float64], rng: np.random.Generator, read_noise: float
) -> NDArray[np.float32]:
    """A noisy exposure of the expected electrons ``mean``: Poisson plus read noise."""
    counts = rng.poisson(np.maximum(mean, 0.0)).astype(np.float64)
    counts += rng.normal(0.0, read_noise, size=mean.shape)
    return counts.astype(np.float32)

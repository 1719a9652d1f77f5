"""Small FITS files for the image tests: a few pixels, a real TAN WCS, chosen keywords."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits


def wcs_cards(ra: float, dec: float, *, size: int = 20, scale: float = 1.0 / 3600) -> dict:
    return {
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CRVAL1": ra,
        "CRVAL2": dec,
        "CRPIX1": (size + 1) / 2,
        "CRPIX2": (size + 1) / 2,
        "CD1_1": -scale,
        "CD1_2": 0.0,
        "CD2_1": 0.0,
        "CD2_2": scale,
        "RADESYS": "ICRS",
    }


def image_hdu(
    ra: float = 150.0,
    dec: float = 2.0,
    *,
    size: int = 20,
    scale: float = 1.0 / 3600,
    primary: bool = True,
    wcs: bool = True,
    **keywords: object,
) -> fits.PrimaryHDU | fits.ImageHDU:
    data = np.arange(size * size, dtype=np.float32).reshape(size, size)
    header = fits.Header()
    if wcs:
        header.update(wcs_cards(ra, dec, size=size, scale=scale))
    for key, value in keywords.items():
        header[key.replace("_", "-")] = value
    kind = fits.PrimaryHDU if primary else fits.ImageHDU
    return kind(data=data, header=header)


def write_image(path: Path, ra: float = 150.0, dec: float = 2.0, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image_hdu(ra, dec, **kwargs).writeto(path)  # type: ignore[arg-type]
    return path


def write_mef(path: Path, centres: list[tuple[float, float]]) -> Path:
    """An empty primary, one image extension per centre, and a table extension."""
    hdus: list[fits.hdu.base.ExtensionHDU | fits.PrimaryHDU] = [fits.PrimaryHDU()]
    for i, (ra, dec) in enumerate(centres, start=1):
        hdus.append(image_hdu(ra, dec, primary=False, EXTNAME=f"CCD{i}", FILTER="r"))
    hdus.append(fits.BinTableHDU.from_columns([fits.Column("x", "E", array=np.zeros(3))]))
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList(hdus).writeto(path)
    return path

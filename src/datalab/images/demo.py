"""The demo image set: SIMULATED exposures of five fields, drawn from the catalogs.

For each field (:data:`~datalab.images.demo_sky.FIELDS`) and band (g, r, i): three
single exposures (``PROCTYPE = 'InstCal'``, 60, 75 and 90 s, a few minutes apart,
each pointed a few arcminutes off the field centre and turned by a fraction of a
degree, in different seeing) and one deeper stack (``'Stacked'``, centred, exposure
time the sum of the three). Every image is 1024 x 1024 pixels of 5 arcsec (1.42
degrees on a side, so the sparser fields still hold a dozen Gaia stars), float32
electrons, with a TAN WCS; stars sit exactly where ``gaia_dr3.gaia_source`` puts
them. Nothing saturates, and there are no cosmic rays, flat-field or bias residuals.

The set is the same, byte for byte, every time it is made: each image draws its
noise from a generator seeded by its field, band and exposure number.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS

from datalab.catalog import Engine
from datalab.images.demo_sky import BANDS, FIELDS, Band, DemoField, galaxies_in, stars_in
from datalab.images.render import FWHM_TO_SIGMA, add_galaxies, add_stars, observe

__all__ = [
    "DEMO_COLLECTION",
    "DEMO_FACILITY",
    "DEMO_INSTRUMENT",
    "DemoExposure",
    "demo_exposures",
    "make_demo_images",
]

DEMO_COLLECTION = "datalab_demo_sim"
"""Folder under the images directory, and ``obs_collection``, of the demo images."""
DEMO_FACILITY = "Data Lab simulation"
DEMO_INSTRUMENT = "SimCam"

NPIX = 1024
PIXEL_ARCSEC = 5.0
READ_NOISE = 5.0
EXPOSURE_TIMES = (60.0, 75.0, 90.0)
_SEED = 20_160_101
_GAP_S = 45.0  # readout and slew between exposures
_DITHER_ARCMIN = 3.0
_ROTATION_DEG = 0.3


@dataclass(frozen=True)
class DemoExposure:
    """One image of the set: where it points, when, and how."""

    field: DemoField
    band: Band
    number: int  # 1..3 for single exposures, 0 for the stack
    ra: float
    dec: float
    rotation: float  # degrees
    mjd_start: float
    mjd_end: float
    exptime: float
    seeing: float  # arcsec

    @property
    def stacked(self) -> bool:
        return self.number == 0

    @property
    def file_name(self) -> str:
        kind = "stack" if self.stacked else f"{self.number:02d}"
        return f"{self.field.name}/{self.field.name}_{self.band.name}_{kind}.fits"

    @property
    def seed(self) -> list[int]:
        return [_SEED, FIELDS.index(self.field), BANDS.index(self.band), self.number]


def demo_exposures() -> Iterator[DemoExposure]:
    """Every image of the set, in a fixed order, with its pointing drawn from the seed."""
    for f_index, field in enumerate(FIELDS):
        rng = np.random.default_rng([_SEED, f_index])
        mjd = field.mjd
        for band in BANDS:
            singles = []
            for number, exptime in enumerate(EXPOSURE_TIMES, start=1):
                d_east, d_north = rng.uniform(-_DITHER_ARCMIN, _DITHER_ARCMIN, 2) / 60.0
                dec = field.dec + d_north
                ra = (field.ra + d_east / math.cos(math.radians(dec))) % 360.0
                seeing = band.seeing * float(rng.uniform(0.85, 1.2))
                rotation = float(rng.uniform(-_ROTATION_DEG, _ROTATION_DEG))
                end = mjd + exptime / 86_400.0
                singles.append(
                    DemoExposure(field, band, number, ra, dec, rotation, mjd, end, exptime, seeing)
                )
                mjd = end + _GAP_S / 86_400.0
            yield from singles
            yield DemoExposure(
                field, band, 0, field.ra, field.dec, 0.0,
                singles[0].mjd_start, singles[-1].mjd_end,
                sum(s.exptime for s in singles),
                max(s.seeing for s in singles),
            )  # fmt: skip


def _header(exposure: DemoExposure) -> fits.Header:
    """The standard keywords of an image, the WCS included, marked as simulated."""
    scale = PIXEL_ARCSEC / 3600.0
    turn = math.radians(exposure.rotation)
    cd = scale * np.array([[-math.cos(turn), math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    field, band = exposure.field, exposure.band
    proctype = "Stacked" if exposure.stacked else "InstCal"
    date = Time(exposure.mjd_start, format="mjd", scale="utc").isot
    h = fits.Header()
    cards: list[tuple[str, object, str]] = [
        ("ORIGIN", "Data Lab simulation", "SIMULATED data, not an observation"),
        ("TELESCOP", DEMO_FACILITY, "Simulated facility"),
        ("INSTRUME", DEMO_INSTRUMENT, "Simulated camera"),
        ("OBJECT", field.title, "Field observed"),
        ("OBSID", Path(exposure.file_name).stem, "Observation identifier"),
        ("FILTER", band.name, "Filter (SDSS-like)"),
        ("EXPTIME", exposure.exptime, "[s] Exposure time"),
        ("MJD-OBS", round(exposure.mjd_start, 8), "[d] Start of the exposure (UTC)"),
        ("DATE-OBS", date, "Start of the exposure (UTC)"),
        ("PROCTYPE", proctype, "Processing type"),
        ("PRODTYPE", "image", "Product type"),
        ("BUNIT", "electron", "Pixel values are electrons"),
        ("GAIN", 1.0, "[electron/adu] Detector gain"),
        ("RDNOISE", READ_NOISE, "[electron] Read noise per exposure"),
        ("SEEING", round(exposure.seeing, 3), "[arcsec] FWHM of the Gaussian PSF"),
        ("MAGZERO", band.zero_point, "[mag] Magnitude giving 1 electron/s"),
        ("SKYBRITE", band.sky, "[mag/arcsec2] Sky brightness"),
        ("WCSAXES", 2, "Number of WCS axes"),
        ("CTYPE1", "RA---TAN", "Gnomonic projection"),
        ("CTYPE2", "DEC--TAN", "Gnomonic projection"),
        ("CUNIT1", "deg", ""),
        ("CUNIT2", "deg", ""),
        ("CRVAL1", exposure.ra, "[deg] RA of the reference pixel"),
        ("CRVAL2", exposure.dec, "[deg] Dec of the reference pixel"),
        ("CRPIX1", (NPIX + 1) / 2.0, "Reference pixel (image centre)"),
        ("CRPIX2", (NPIX + 1) / 2.0, "Reference pixel (image centre)"),
        ("CD1_1", float(cd[0, 0]), ""),
        ("CD1_2", float(cd[0, 1]), ""),
        ("CD2_1", float(cd[1, 0]), ""),
        ("CD2_2", float(cd[1, 1]), ""),
        ("RADESYS", "ICRS", "Positions are ICRS"),
    ]
    if exposure.stacked:
        end = Time(exposure.mjd_end, format="mjd", scale="utc").isot
        cards.insert(8, ("MJD-END", round(exposure.mjd_end, 8), "[d] End of the last exposure"))
        cards.insert(10, ("DATE-END", end, "End of the last exposure (UTC)"))
        cards.insert(11, ("NCOMBINE", len(EXPOSURE_TIMES), "Exposures stacked"))
    for key, value, comment in cards:
        h[key] = (value, comment)
    h.add_comment("SIMULATED IMAGE made by Data Lab for its demo data: not an observation.")
    h.add_comment("Stars at Gaia DR3 positions (gaia_dr3.gaia_source), galaxies from OpenNGC,")
    h.add_comment("Gaussian PSF, sky background, Poisson and read noise.")
    return h


def render_exposure(exposure: DemoExposure, engine: Engine) -> fits.PrimaryHDU:
    """The image of one exposure, noise included, as a FITS HDU."""
    header = _header(exposure)
    wcs = WCS(header)
    cd = np.array([[header["CD1_1"], header["CD1_2"]], [header["CD2_1"], header["CD2_2"]]])
    band, scale = exposure.band, PIXEL_ARCSEC / 3600.0
    reach = NPIX * scale * math.sqrt(0.5) + 0.05
    mean = np.zeros((NPIX, NPIX), np.float64)

    stars = stars_in(engine, exposure.ra, exposure.dec, reach)
    x, y = wcs.wcs_world2pix(stars.ra, stars.dec, 0)
    rate = 10.0 ** (-0.4 * (stars.magnitude(band.name) - band.zero_point))
    add_stars(mean, x, y, rate * exposure.exptime, exposure.seeing / PIXEL_ARCSEC)

    galaxies = galaxies_in(engine, exposure.ra, exposure.dec, reach + 1.0)
    gx, gy = wcs.wcs_world2pix(galaxies.ra, galaxies.dec, 0)
    rate = 10.0 ** (-0.4 * (galaxies.magnitude(band.name) - band.zero_point))
    add_galaxies(
        mean, gx, gy, rate * exposure.exptime,
        scale=galaxies.major / 2.0 / 3.1 / 60.0,  # D25 radius is about 3.1 disc scale lengths
        axis_ratio=galaxies.minor / galaxies.major,
        position_angle=galaxies.pa,
        cd=cd,
        min_scale=exposure.seeing * FWHM_TO_SIGMA / 3600.0,
    )  # fmt: skip

    sky = 10.0 ** (-0.4 * (band.sky - band.zero_point)) * PIXEL_ARCSEC**2 * exposure.exptime
    mean += sky
    readouts = 1 if not exposure.stacked else len(EXPOSURE_TIMES)
    rng = np.random.default_rng(exposure.seed)
    data = observe(mean, rng, READ_NOISE * math.sqrt(readouts))
    header["SKYLEVEL"] = (round(sky, 3), "[electron] Mean sky level per pixel")
    return fits.PrimaryHDU(data=data, header=header)


def make_demo_images(catalog_engine: Engine, images_dir: Path) -> list[Path]:
    """Write the demo image set under ``images_dir/datalab_demo_sim/``; the paths written.

    Reads the stars and galaxies from ``catalog_engine`` (the demo catalogs must be
    loaded). Existing files of the set are overwritten with identical ones.
    """
    root = Path(images_dir) / DEMO_COLLECTION
    written = []
    for exposure in demo_exposures():
        path = root / exposure.file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        hdu = render_exposure(exposure, catalog_engine)
        partial = path.with_name(f".{path.name}.part")
        hdu.writeto(partial, overwrite=True, checksum=True)
        partial.replace(path)
        written.append(path)
    return written

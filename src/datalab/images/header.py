"""Reading one FITS file's headers into ObsCore records, without touching the pixels.

Every HDU holding a 2-D image with a celestial WCS becomes one record; other HDUs
(tables, masks without WCS, empty primaries of multi-extension files) are passed
over. A file with no such HDU, or that is not FITS at all, is refused with an
:class:`~datalab.errors.IngestError` naming it.

Keywords read, first found wins (all optional except the WCS):

=================  ============================  ==================================
record field       keywords                      when absent
=================  ============================  ==================================
band, em_min/max   FILTER, BAND (first word)     None (wavelengths from the band)
t_exptime          EXPTIME, EXPOSURE (s)         None
t_min              MJD-OBS, DATE-OBS (ISO, UTC)  None
t_max              MJD-END, else t_min+exptime   None
instrument_name    INSTRUME                      "unknown"
facility_name      TELESCOP                      "unknown"
target_name        OBJECT                        None
proctype           PROCTYPE                      "Stacked" if NCOMBINE > 1, else "InstCal"
prodtype           PRODTYPE                      "image"
s_resolution       SEEING (arcsec FWHM)          None
obs_id             OBSID                         the file name without suffix (+ HDU)
obs_collection     —                             the top folder under the images dir
=================  ============================  ==================================

``calib_level`` is 3 for stacks and 2 otherwise (ObsCore 1.1 §4.2).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path, PurePosixPath

import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS, FITSFixedWarning

from datalab.errors import IngestError, UsageError
from datalab.images.bands import band_limits, band_name
from datalab.images.records import ImageRecord, strip_fits_suffix, image_id_for
from datalab.sky import angular_distance

__all__ = ["read_image_header", "records_from_file", "relative_image_path"]

DEFAULT_COLLECTION = "images"


def relative_image_path(path: Path, images_dir: Path) -> str:
    """``path`` relative to ``images_dir`` in POSIX form; refused if it lies outside.

    Both sides are resolved first, so a link inside the directory that points out of
    it is outside too.
    """
    real, root = Path(path).resolve(), Path(images_dir).resolve()
    if not real.is_relative_to(root) or real == root:
        raise UsageError(f"{path} is not inside the images directory {images_dir}")
    return real.relative_to(root).as_posix()


def read_image_header(path: Path, images_dir: Path) -> list[ImageRecord]:
    """One record per image HDU of ``path``, a file inside ``images_dir``."""
    return records_from_file(path, relative_image_path(path, images_dir))


def records_from_file(path: Path, relative: str) -> list[ImageRecord]:
    """One record per image HDU of the file at ``path``, to be served as ``relative``.

    Separate from :func:`read_image_header` so that ingest can check a file before
    copying it to where it will be served from.
    """
    try:
        size_kb = math.ceil(Path(path).stat().st_size / 1024)
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdus:
            records = []
            for index, hdu in enumerate(hdus):
                record = _record(hdu.header, index, relative, size_kb)
                if record is not None:
                    records.append(record)
    except _BadHeader as exc:
        raise IngestError(str(exc), path=str(path)) from exc
    except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise IngestError(f"not a readable FITS file ({exc})", path=str(path)) from exc
    if not records:
        raise IngestError(
            "no image HDU with a celestial WCS (2-D data and CTYPE1/2 such as RA---TAN)",
            path=str(path),
        )
    return records


class _BadHeader(Exception):
    """An image HDU whose header cannot describe where it is on the sky."""


def _is_image(header: fits.Header) -> bool:
    if header.get("XTENSION", "IMAGE").strip() not in ("IMAGE", "BINTABLE"):
        return False
    if header.get("ZIMAGE"):  # a tile-compressed image, as astropy reads it
        return header.get("ZNAXIS") == 2
    return header.get("XTENSION", "IMAGE").strip() == "IMAGE" and header.get("NAXIS") == 2


def _dimensions(header: fits.Header) -> tuple[int, int]:
    if header.get("ZIMAGE"):
        return int(header["ZNAXIS1"]), int(header["ZNAXIS2"])
    return int(header["NAXIS1"]), int(header["NAXIS2"])


def _celestial_wcs(header: fits.Header) -> WCS | None:
    with warnings.catch_warnings():
        # Notes about keywords astropy fixed on the way in (DATE-OBS formats, RADESYS
        # defaults): the WCS it builds is the one we want either way.
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header)
    if not wcs.has_celestial or wcs.naxis != 2:
        return None
    return wcs.celestial


def _record(header: fits.Header, hdu: int, relative: str, size_kb: int) -> ImageRecord | None:
    if not _is_image(header):
        return None
    width, height = _dimensions(header)
    if width < 1 or height < 1:
        return None
    wcs = _celestial_wcs(header)
    if wcs is None:
        return None
    # Pixel centres run 1..N in FITS; the image's edges are half a pixel further out.
    corners_x = np.array([0.5, width + 0.5, width + 0.5, 0.5])
    corners_y = np.array([0.5, 0.5, height + 0.5, height + 0.5])
    ra, dec = wcs.all_pix2world(corners_x, corners_y, 1)
    centre_ra, centre_dec = wcs.all_pix2world([(width + 1) / 2], [(height + 1) / 2], 1)
    if not (np.all(np.isfinite(ra)) and np.all(np.isfinite(dec))):
        raise _BadHeader(f"HDU {hdu}: the WCS does not map the image corners to the sky")
    s_ra, s_dec = float(centre_ra[0]) % 360.0, float(centre_dec[0])
    radius = float(np.max(angular_distance(s_ra, s_dec, ra, dec)))

    band = band_name(_text(header, "FILTER", "BAND"))
    em_min, em_max = band_limits(band)
    exptime = _number(header, "EXPTIME", "EXPOSURE")
    t_min = _start_mjd(header)
    t_max = _number(header, "MJD-END")
    if t_max is None and t_min is not None and exptime is not None:
        t_max = t_min + exptime / 86400.0
    proctype = _text(header, "PROCTYPE") or (
        "Stacked" if (_number(header, "NCOMBINE") or 1) > 1 else "InstCal"
    )
    stem = PurePosixPath(strip_fits_suffix(relative)[0]).name
    top = relative.split("/", 1)[0] if "/" in relative else DEFAULT_COLLECTION
    return ImageRecord(
        image_id=image_id_for(relative, hdu),
        path=relative,
        hdu=hdu,
        obs_id=_text(header, "OBSID") or (stem if hdu == 0 else f"{stem}_{hdu}"),
        obs_collection=top,
        facility_name=_text(header, "TELESCOP") or "unknown",
        instrument_name=_text(header, "INSTRUME") or "unknown",
        target_name=_text(header, "OBJECT"),
        dataproduct_type="image",
        calib_level=3 if proctype.lower() == "stacked" else 2,
        s_ra=s_ra,
        s_dec=s_dec,
        s_fov=2.0 * radius,
        s_region=tuple(
            (float(a) % 360.0, float(d)) for a, d in zip(ra, dec, strict=True)
        ),
        s_resolution=_number(header, "SEEING"),
        s_xel1=width,
        s_xel2=height,
        t_min=t_min,
        t_max=t_max,
        t_exptime=exptime,
        em_min=em_min,
        em_max=em_max,
        band=band,
        proctype=proctype,
        prodtype=_text(header, "PRODTYPE") or "image",
        pol_states=None,
        access_format="image/fits",
        access_estsize=size_kb,
    )


def _text(header: fits.Header, *keys: str) -> str | None:
    for key in keys:
        value = header.get(key)
        if value is not None and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def _number(header: fits.Header, *keys: str) -> float | None:
    for key in keys:
        value = header.get(key)
        if isinstance(value, bool) or value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            return number
    return None


def _start_mjd(header: fits.Header) -> float | None:
    mjd = _number(header, "MJD-OBS")
    if mjd is not None:
        return mjd
    date = _text(header, "DATE-OBS")
    if date is None:
        return None
    try:
        return float(Time(date, format="isot", scale="utc").mjd)
    except (ValueError, TypeError):
        try:
            return float(Time(date, scale="utc").mjd)
        except (ValueError, TypeError):
            return None

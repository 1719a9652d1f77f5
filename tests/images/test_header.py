"""Reading FITS headers into ObsCore records."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from datalab.errors import IngestError, UsageError
from datalab.images import ImageRecord, read_image_header
from datalab.images.records import image_id_for
from datalab.sky import angular_distance

from .fitsfiles import write_image, write_mef


def test_a_single_image_gives_one_record_with_its_keywords(tmp_path: Path) -> None:
    path = write_image(
        tmp_path / "survey" / "night1" / "frame.fits",
        150.0,
        2.0,
        size=20,
        FILTER="g DECam SDSS c0001 4720.0 1520.0",
        EXPTIME=90.0,
        MJD_OBS=57400.5,
        INSTRUME="DECam",
        TELESCOP="CTIO 4.0-m telescope",
        OBJECT="COSMOS",
        PROCTYPE="InstCal",
        SEEING=1.1,
    )
    [record] = read_image_header(path, tmp_path)
    assert isinstance(record, ImageRecord)
    assert record.path == "survey/night1/frame.fits"
    assert record.image_id == "survey.night1.frame"
    assert record.hdu == 0
    assert record.obs_collection == "survey"
    assert record.obs_id == "frame"
    assert (record.band, record.em_min, record.em_max) == ("g", 3.98e-7, 5.48e-7)
    assert record.t_exptime == 90.0
    assert record.t_min == 57400.5
    assert record.t_max == pytest.approx(57400.5 + 90 / 86400)
    assert (record.instrument_name, record.facility_name) == ("DECam", "CTIO 4.0-m telescope")
    assert record.target_name == "COSMOS"
    assert (record.proctype, record.calib_level, record.prodtype) == ("InstCal", 2, "image")
    assert record.s_resolution == 1.1
    assert (record.s_xel1, record.s_xel2) == (20, 20)
    assert record.s_ra == pytest.approx(150.0)
    assert record.s_dec == pytest.approx(2.0)
    # 20 pixels of 1 arcsec: corners 10 * sqrt(2) arcsec from the centre.
    assert record.s_fov == pytest.approx(2 * 10 * 2**0.5 / 3600, rel=1e-4)
    assert len(record.s_region) == 4
    for ra, dec in record.s_region:
        assert angular_distance(150.0, 2.0, ra, dec) == pytest.approx(record.s_fov / 2)
    assert record.access_format == "image/fits"
    assert record.access_estsize >= 1
    assert record.obs_publisher_did.endswith("?survey.night1.frame")


def test_fallback_keywords(tmp_path: Path) -> None:
    path = write_image(
        tmp_path / "x.fits", BAND="i", EXPOSURE=30.0, DATE_OBS="2016-01-01T12:00:00",
        NCOMBINE=5,
    )  # fmt: skip
    [record] = read_image_header(path, tmp_path)
    assert record.band == "i"
    assert record.t_exptime == 30.0
    assert record.t_min == pytest.approx(57388.5)
    assert (record.proctype, record.calib_level) == ("Stacked", 3)
    assert record.obs_collection == "images"  # not in a folder
    assert record.instrument_name == record.facility_name == "unknown"
    assert record.target_name is None and record.s_resolution is None


def test_a_file_without_wcs_is_refused_by_name(tmp_path: Path) -> None:
    path = write_image(tmp_path / "nowcs.fits", wcs=False)
    with pytest.raises(IngestError, match=r"nowcs\.fits.*celestial WCS"):
        read_image_header(path, tmp_path)


def test_a_file_that_is_not_fits_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.fits"
    path.write_text("these are not the pixels you are looking for\n" * 100)
    with pytest.raises(IngestError, match=r"notes\.fits.*not a readable FITS file"):
        read_image_header(path, tmp_path)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.fits"
    path.write_bytes(b"")
    with pytest.raises(IngestError, match=r"empty\.fits"):
        read_image_header(path, tmp_path)


def test_multi_extension_file_gives_one_record_per_image_hdu(tmp_path: Path) -> None:
    path = write_mef(tmp_path / "mef" / "exposure.fits", [(10.0, 20.0), (10.1, 20.0)])
    records = read_image_header(path, tmp_path)
    assert [r.hdu for r in records] == [1, 2]
    assert records[0].s_ra == pytest.approx(10.0)
    assert records[1].s_ra == pytest.approx(10.1)
    assert records[0].image_id != records[1].image_id
    assert [r.obs_id for r in records] == ["exposure_1", "exposure_2"]
    for r in records:
        assert re.fullmatch(r"[A-Za-z0-9._-]+", r.image_id)
        assert r.band == "r"


def test_a_file_outside_the_images_directory_is_refused(tmp_path: Path) -> None:
    path = write_image(tmp_path / "elsewhere" / "a.fits")
    with pytest.raises(UsageError, match="not inside the images directory"):
        read_image_header(path, tmp_path / "images")


@pytest.mark.parametrize(
    ("path", "hdu", "expected"),
    [
        ("a/b.fits", 0, "a.b"),
        ("deep/er/Image-01_x.fits", 0, "deep.er.Image-01_x"),
        ("a/b.fits.fz", 0, None),
        ("a.b.fits", 0, None),  # a dot in a name: hashed, so it cannot clash with a/b.fits
        ("a/b.fits", 1, None),
        ("with space/ü.fits", 0, None),
        ("noext", 0, None),
    ],
)
def test_image_ids_are_url_safe_and_readable_when_unambiguous(
    path: str, hdu: int, expected: str | None
) -> None:
    made = image_id_for(path, hdu)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", made)
    if expected is not None:
        assert made == expected
    else:
        assert re.search(r"-[0-9a-f]{8}$", made)
    assert image_id_for(path, hdu) == made


def test_image_ids_of_different_files_differ() -> None:
    names = ["a/b.fits", "a.b.fits", "a_b.fits", "a/b.fit", "a b.fits", "a/b.fits.gz"]
    ids = {image_id_for(n, h) for n in names for h in (0, 1, 2)}
    assert len(ids) == len(names) * 3


def test_a_tile_compressed_image_is_read(tmp_path: Path) -> None:
    from astropy.io import fits

    from .fitsfiles import image_hdu

    plain = image_hdu(33.0, -4.0, FILTER="z")
    packed = fits.CompImageHDU(data=plain.data, header=plain.header)
    path = tmp_path / "c" / "packed.fits.fz"
    path.parent.mkdir()
    fits.HDUList([fits.PrimaryHDU(), packed]).writeto(path)
    [record] = read_image_header(path, tmp_path)
    assert record.hdu == 1
    assert record.s_ra == pytest.approx(33.0)
    assert (record.s_xel1, record.band) == (20, "z")

"""Cutouts from real FITS files with TAN WCSs and Gaussian stars at known sky positions."""

from __future__ import annotations

import io
import math
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from datalab.errors import NotFoundError, UsageError
from datalab.images.cutout import (
    MAX_CUTOUT_PIXELS,
    CutoutRequest,
    cutout_fits,
    pixel_box,
    pos_range,
)
from datalab.sky import Box, Circle, Polygon

SCALE = 1.0 / 3600.0  # 1 arcsec pixels


def tan_wcs(ra: float, dec: float, shape: tuple[int, int], scale: float = SCALE) -> WCS:
    """A north-up, east-left TAN WCS centred on (ra, dec), written as a CD matrix."""
    ny, nx = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(nx + 1) / 2.0, (ny + 1) / 2.0]
    wcs.wcs.cd = [[-scale, 0.0], [0.0, scale]]
    return wcs


def cd_header(wcs: WCS) -> fits.Header:
    """The WCS as a header with a CD matrix (astropy itself writes PC + CDELT)."""
    header = wcs.to_header()
    for key in ("PC1_1", "PC1_2", "PC2_1", "PC2_2", "CDELT1", "CDELT2"):
        header.remove(key, ignore_missing=True)
    for i in range(2):
        for j in range(2):
            header[f"CD{i + 1}_{j + 1}"] = wcs.wcs.cd[i, j]
    return header


def image_hdu(
    wcs: WCS,
    shape: tuple[int, int],
    stars: list[tuple[float, float]],
    *,
    primary: bool = False,
    **keywords: object,
) -> fits.PrimaryHDU | fits.ImageHDU:
    """An image with a Gaussian star (sigma 1.5 px, peak 1000) at each sky position."""
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    data = np.full(shape, 10.0, dtype=np.float32)
    for ra, dec in stars:
        x, y = wcs.world_to_pixel_values(ra, dec)
        star = 1000.0 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5**2))
        data += star.astype(np.float32)
    header = cd_header(wcs)
    header.update({"FILTER": "r", "EXPTIME": 90.0, "MJD-OBS": 60123.5, "DATE-OBS": "2023-07-05"})
    header.update(keywords)
    cls = fits.PrimaryHDU if primary else fits.ImageHDU
    return cls(data=data, header=header)


def write(path: Path, *hdus: fits.PrimaryHDU | fits.ImageHDU | fits.BinTableHDU) -> Path:
    items = list(hdus)
    if not isinstance(items[0], fits.PrimaryHDU):
        items.insert(0, fits.PrimaryHDU(header=fits.Header([("ORIGIN", "datalab tests")])))
    fits.HDUList(items).writeto(path)
    return path


def read(data: bytes) -> fits.HDUList:
    return fits.open(io.BytesIO(data))


def cut_wcs(hdu: fits.ImageHDU) -> WCS:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(hdu.header)


def star_pixel(data: np.ndarray) -> tuple[float, float]:
    """Flux-weighted centre (x, y) of the brightest star's 7x7 neighbourhood."""
    y, x = np.unravel_index(np.argmax(data), data.shape)
    y0, x0 = max(0, y - 3), max(0, x - 3)
    patch = data[y0 : y + 4, x0 : x + 4] - 10.0
    yy, xx = np.mgrid[0 : patch.shape[0], 0 : patch.shape[1]]
    total = patch.sum()
    return float((xx * patch).sum() / total + x0), float((yy * patch).sum() / total + y0)


SHAPE = (400, 500)
STAR = (150.01, 2.005)


@pytest.fixture
def single(tmp_path: Path) -> Path:
    wcs = tan_wcs(150.0, 2.0, SHAPE)
    return write(tmp_path / "single.fits", image_hdu(wcs, SHAPE, [STAR], primary=True))


def test_circle_cutout_centre_star_and_keywords(single: Path) -> None:
    centre = (150.008, 2.004)
    out = read(cutout_fits(single, CutoutRequest(Circle(*centre, 20.0 / 3600.0))))
    assert len(out) == 1
    hdu = out[0]
    ny, nx = hdu.data.shape
    assert abs(ny - 41) <= 1 and abs(nx - 41) <= 1
    x, y = cut_wcs(hdu).world_to_pixel_values(*centre)
    assert abs(x - (nx - 1) / 2.0) <= 0.6 and abs(y - (ny - 1) / 2.0) <= 0.6
    sx, sy = cut_wcs(hdu).world_to_pixel_values(*STAR)
    found = star_pixel(hdu.data)
    assert abs(found[0] - sx) < 0.2 and abs(found[1] - sy) < 0.2
    for key, value in {"FILTER": "r", "EXPTIME": 90.0, "MJD-OBS": 60123.5}.items():
        assert hdu.header[key] == value
    assert "CD1_1" in hdu.header and "PC1_1" not in hdu.header
    assert "datalab cutout" in str(hdu.header["HISTORY"])


def test_cut_wcs_matches_astropy_slicing(single: Path) -> None:
    region = Circle(150.0, 2.0, 30.0 / 3600.0)
    original = tan_wcs(150.0, 2.0, SHAPE)
    y0, y1, x0, x1 = pixel_box(original, SHAPE, region)
    expected = original.slice((slice(y0, y1), slice(x0, x1)))
    out = read(cutout_fits(single, CutoutRequest(region)))
    np.testing.assert_allclose(cut_wcs(out[0]).wcs.crpix, expected.wcs.crpix)
    with fits.open(single) as source:
        np.testing.assert_array_equal(out[0].data, source[0].data[y0:y1, x0:x1])


def test_circle_box_covers_exactly_the_circle_pixels(single: Path) -> None:
    """Every pixel whose centre is in the circle is in the box, and the box is tight."""
    wcs = tan_wcs(150.0, 2.0, SHAPE)
    region = Circle(150.003, 1.998, 17.3 / 3600.0)
    y0, y1, x0, x1 = pixel_box(wcs, SHAPE, region)
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    ra, dec = wcs.pixel_to_world_values(xx.ravel(), yy.ravel())
    inside = region.contains(ra, dec).reshape(SHAPE)
    ys, xs = np.nonzero(inside)
    assert y0 <= ys.min() and ys.max() < y1 and x0 <= xs.min() and xs.max() < x1
    assert (ys.min() - y0) <= 1 and (y1 - 1 - ys.max()) <= 1
    assert (xs.min() - x0) <= 1 and (x1 - 1 - xs.max()) <= 1


def test_every_reference_pixel_moves_with_the_cut(tmp_path: Path) -> None:
    """Alternate WCSs and IRAF's LTV shift with the primary WCS; the rest is untouched."""
    wcs = tan_wcs(150.0, 2.0, SHAPE)
    hdu = image_hdu(wcs, SHAPE, [STAR], primary=True)
    alternate = tan_wcs(150.0, 2.0, SHAPE).to_header(key="A")
    hdu.header.update(alternate)
    hdu.header.update({"LTV1": -100.0, "LTV2": 0.0, "LTM1_1": 1.0, "LTM2_2": 1.0})
    hdu.header["CHECKSUM"] = "stale"
    path = write(tmp_path / "alt.fits", hdu)
    region = Circle(*STAR, 10.0 / 3600.0)
    y0, _, x0, _ = pixel_box(wcs, SHAPE, region)
    out = read(cutout_fits(path, CutoutRequest(region)))[0].header
    assert out["CRPIX1"] == hdu.header["CRPIX1"] - x0
    assert out["CRPIX2A"] == hdu.header["CRPIX2A"] - y0
    assert out["LTV1"] == -100.0 - x0 and out["LTV2"] == -y0
    assert out["CRVAL1"] == hdu.header["CRVAL1"]
    assert out["CD2_2"] == pytest.approx(hdu.header["CD2_2"], rel=1e-14)  # card precision
    assert "CHECKSUM" not in out


def test_region_over_the_edge_gives_the_overlapping_part(single: Path) -> None:
    wcs = tan_wcs(150.0, 2.0, SHAPE)
    corner_ra, corner_dec = wcs.pixel_to_world_values(0.0, 0.0)  # bottom-left pixel
    region = Circle(float(corner_ra), float(corner_dec), 20.0 / 3600.0)
    out = read(cutout_fits(single, CutoutRequest(region)))
    ny, nx = out[0].data.shape
    assert 20 <= ny <= 22 and 20 <= nx <= 22
    x, y = cut_wcs(out[0]).world_to_pixel_values(corner_ra, corner_dec)
    assert abs(x) < 1e-6 and abs(y) < 1e-6


def test_region_containing_the_whole_image(single: Path) -> None:
    out = read(cutout_fits(single, CutoutRequest(Circle(150.0, 2.0, 1.0))))
    assert out[0].data.shape == SHAPE


def test_no_overlap_is_a_usage_error(single: Path) -> None:
    with pytest.raises(UsageError, match="does not overlap the image"):
        cutout_fits(single, CutoutRequest(Circle(151.0, 2.0, 0.01)))
    # The box would reach the image's corner, the circle itself does not.
    wcs = tan_wcs(150.0, 2.0, SHAPE)
    ra, dec = wcs.pixel_to_world_values(-0.5 - 7.0, -0.5 - 7.0)
    with pytest.raises(UsageError, match="does not overlap"):
        cutout_fits(single, CutoutRequest(Circle(float(ra), float(dec), 9.0 / 3600.0)))
    # The far side of the sky projects nowhere.
    with pytest.raises(UsageError, match="does not overlap"):
        cutout_fits(single, CutoutRequest(Circle(330.0, -2.0, 1.0)))


def test_ra_wrap(tmp_path: Path) -> None:
    shape = (401, 501)  # odd: RA 0 at a pixel centre
    wcs = tan_wcs(0.0, 0.0, shape)
    star = (359.995, 0.001)
    path = write(tmp_path / "wrap.fits", image_hdu(wcs, shape, [star, (0.004, -0.001)]))
    out = read(cutout_fits(path, CutoutRequest(Circle(359.995, 0.0, 10.0 / 3600.0))))
    hdu = out[1]
    assert hdu.data.shape[0] <= 22 and hdu.data.shape[1] <= 22
    sx, sy = cut_wcs(hdu).world_to_pixel_values(*star)
    found = star_pixel(hdu.data)
    assert abs(found[0] - sx) < 0.2 and abs(found[1] - sy) < 0.2
    # A box across RA 0 takes both stars, west of and east of the wrap.
    both = read(cutout_fits(path, CutoutRequest(Box(0.0, 0.0, 40.0 / 3600.0, 20.0 / 3600.0))))
    assert (both[1].data > 500.0).sum() >= 2 * 5
    assert both[1].data.shape == (21, 41)


def test_near_the_pole(tmp_path: Path) -> None:
    wcs = tan_wcs(30.0, 89.5, (600, 600), scale=8.0 / 3600.0)  # reaches over the pole
    star = (250.0, 89.9)  # across the pole from the image centre's RA
    path = write(tmp_path / "pole.fits", image_hdu(wcs, (600, 600), [star], primary=True))
    out = read(cutout_fits(path, CutoutRequest(Circle(250.0, 89.9, 60.0 / 3600.0))))
    hdu = out[0]
    assert 15 <= hdu.data.shape[0] <= 17 and 15 <= hdu.data.shape[1] <= 17
    sx, sy = cut_wcs(hdu).world_to_pixel_values(*star)
    found = star_pixel(hdu.data)
    assert abs(found[0] - sx) < 0.2 and abs(found[1] - sy) < 0.2
    # A circle around the pole itself: the pole lies inside the image.
    around = read(cutout_fits(path, CutoutRequest(Circle(0.0, 90.0, 0.05))))
    px, py = cut_wcs(around[0]).world_to_pixel_values(0.0, 90.0)
    ny, nx = around[0].data.shape
    assert abs(px - (nx - 1) / 2) < 1.0 and abs(py - (ny - 1) / 2) < 1.0


def mef(tmp_path: Path) -> Path:
    """Primary header only, two CCDs side by side, a table, a CCD elsewhere."""
    shape = (200, 200)
    left = tan_wcs(10.0 - 100.0 / 3600.0, 0.0, shape)
    right = tan_wcs(10.0 + 100.0 / 3600.0, 0.0, shape)
    far = tan_wcs(20.0, 0.0, shape)
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="D", array=[1.0])])
    primary = fits.PrimaryHDU(header=fits.Header([("TELESCOP", "test"), ("OBSERVER", "me")]))
    return write(
        tmp_path / "mef.fits",
        primary,
        image_hdu(left, shape, [(10.0 - 5.0 / 3600.0, 0.0)], EXTNAME="CCD1"),
        table,
        image_hdu(right, shape, [(10.0 + 5.0 / 3600.0, 0.0)], EXTNAME="CCD2"),
        image_hdu(far, shape, [], EXTNAME="CCD3"),
    )


def test_multi_extension_every_image_cut(tmp_path: Path) -> None:
    path = mef(tmp_path)
    out = read(cutout_fits(path, CutoutRequest(Circle(10.0, 0.0, 15.0 / 3600.0))))
    assert [h.name for h in out] == ["PRIMARY", "CCD1", "CCD2"]
    assert out[0].data is None and out[0].header["TELESCOP"] == "test"
    for hdu, star in ((out[1], (10.0 - 5.0 / 3600.0, 0.0)), (out[2], (10.0 + 5.0 / 3600.0, 0.0))):
        assert hdu.header["FILTER"] == "r"
        sx, sy = cut_wcs(hdu).world_to_pixel_values(*star)
        found = star_pixel(hdu.data)
        assert abs(found[0] - sx) < 0.2 and abs(found[1] - sy) < 0.2
    # Each CCD holds the half of the circle on its side of the seam.
    assert out[1].data.shape[1] + out[2].data.shape[1] in (31, 32)


def test_hdus_selects(tmp_path: Path) -> None:
    path = mef(tmp_path)
    region = CutoutRequest(Circle(10.0, 0.0, 15.0 / 3600.0))
    out = read(cutout_fits(path, region, hdus=[3]))
    assert [h.name for h in out] == ["PRIMARY", "CCD2"]
    assert len(read(cutout_fits(path, region, hdus=np.array([3, 1])))) == 3
    with pytest.raises(UsageError, match="HDU 2 is not a 2-D image"):
        cutout_fits(path, region, hdus=[2])
    with pytest.raises(UsageError, match="HDU 9 does not exist"):
        cutout_fits(path, region, hdus=[9])
    with pytest.raises(UsageError, match="does not overlap"):
        cutout_fits(path, region, hdus=[4])


def test_band_filter(tmp_path: Path) -> None:
    path = mef(tmp_path)
    bands = {"CCD1": (5.0e-7, 6.0e-7), "CCD2": (7.0e-7, 8.0e-7), "CCD3": (7.0e-7, 8.0e-7)}

    def band_of(header: fits.Header) -> tuple[float, float] | None:
        return bands.get(header.get("EXTNAME"))

    region = Circle(10.0, 0.0, 15.0 / 3600.0)
    red = read(cutout_fits(path, CutoutRequest(region, bands=(6.5e-7, 9e-7)), band_of=band_of))
    assert [h.name for h in red] == ["PRIMARY", "CCD2"]
    every = read(cutout_fits(path, CutoutRequest(region, bands=(0.0, math.inf)), band_of=band_of))
    assert [h.name for h in every] == ["PRIMARY", "CCD1", "CCD2"]
    with pytest.raises(UsageError, match="band does not overlap"):
        far_in_infrared = CutoutRequest(Circle(20.0, 0.0, 0.001), bands=(1e-6, 2e-6))
        cutout_fits(path, far_in_infrared, band_of=band_of)
    with pytest.raises(UsageError, match="BAND"):
        CutoutRequest(region, bands=(2e-6, 1e-6))


def test_band_from_the_filter_keyword(tmp_path: Path) -> None:
    """By default an HDU's band is read from FILTER, as the image index does."""
    path = mef(tmp_path)  # every CCD has FILTER = 'r' (about 562-718 nm)
    region = Circle(10.0, 0.0, 15.0 / 3600.0)
    kept = read(cutout_fits(path, CutoutRequest(region, bands=(6.5e-7, 6.6e-7))))
    assert [h.name for h in kept] == ["PRIMARY", "CCD1", "CCD2"]
    with pytest.raises(UsageError, match="band does not overlap"):
        cutout_fits(path, CutoutRequest(region, bands=(4.0e-7, 5.0e-7)))
    unknown = image_hdu(tan_wcs(10.0, 0.0, (50, 50)), (50, 50), [], primary=True, FILTER="H-alpha")
    other = write(tmp_path / "halpha.fits", unknown)
    assert read(cutout_fits(other, CutoutRequest(region, bands=(4.0e-7, 5.0e-7))))[0].data.size


def expected_box(wcs: WCS, ra: np.ndarray, dec: np.ndarray) -> tuple[int, int, int, int]:
    """The pixel box of the projected vertices (TAN maps great circles to lines)."""
    x, y = wcs.world_to_pixel_values(ra, dec)
    edge = 1e-4  # an extent ending on a pixel border does not enter the next pixel
    return (
        math.floor(y.min() + 0.5 + edge),
        math.ceil(y.max() + 0.5 - edge),
        math.floor(x.min() + 0.5 + edge),
        math.ceil(x.max() + 0.5 - edge),
    )


def test_polygon_and_box_boxes(single: Path) -> None:
    wcs = tan_wcs(150.0, 2.0, SHAPE)
    vertices = [(150.01, 1.99), (150.02, 2.01), (149.995, 2.02), (149.99, 2.0)]
    polygon = Polygon(vertices)
    ra, dec = np.array(vertices).T
    assert pixel_box(wcs, SHAPE, polygon) == expected_box(wcs, ra, dec)
    out = read(cutout_fits(single, CutoutRequest(polygon)))
    y0, y1, x0, x1 = expected_box(wcs, ra, dec)
    assert out[0].data.shape == (y1 - y0, x1 - x0)
    # The image centre is a pixel corner, so this box ends on pixel borders.
    box = Box(150.0, 2.0, 30.0 / 3600.0, 10.0 / 3600.0)
    assert pixel_box(wcs, SHAPE, box) == (195, 205, 235, 265)
    # Moved by half a pixel, it ends in the middle of pixels.
    shifted = Box(150.0 + 0.5 / 3600.0, 2.0 + 0.5 / 3600.0, 30.0 / 3600.0, 10.0 / 3600.0)
    assert pixel_box(wcs, SHAPE, shifted) == (195, 206, 234, 265)


def test_pos_range_semantics() -> None:
    region = pos_range(10.0, 12.0, 40.0, 41.0)
    assert isinstance(region, Polygon)
    ra, dec = np.meshgrid(np.linspace(10.0, 12.0, 41), np.linspace(40.0, 41.0, 21))
    assert region.contains(ra, dec).all()
    out_by = 2.0 / 3600.0
    outside_dec = [40.5, 40.5, 40.0 - out_by, 41.0 + out_by]
    assert not region.contains([9.99, 12.01, 11.0, 11.0], outside_dec).any()
    # Across RA 0: 359 to 1 is two degrees wide, 1 to 359 is the other 358.
    wrapped = pos_range(359.0, 1.0, -1.0, 1.0)
    assert wrapped.contains([359.5, 0.0, 0.5], [0.0, 0.0, 0.0]).all()
    assert not wrapped.contains([2.0, 358.0, 180.0], [0.0, 0.0, 0.0]).any()
    assert pos_range(-1.0, 1.0, -1.0, 1.0).contains([0.0], [0.0]).all()
    # Every RA up to a pole is a cap; both poles, the whole sky.
    assert pos_range(0.0, 360.0, 80.0, 90.0) == Circle(0.0, 90.0, 10.0)
    assert pos_range(-math.inf, math.inf, -math.inf, -60.0) == Circle(0.0, -90.0, 30.0)
    assert pos_range(0.0, 360.0, -90.0, 90.0) == Circle(0.0, 90.0, 180.0)
    # Up to the pole but not every RA: a polygon with the pole as a vertex.
    slice_ = pos_range(0.0, 90.0, 60.0, 90.0)
    assert slice_.contains([45.0, 10.0], [89.9, 60.0]).all()
    assert not slice_.contains([135.0], [89.0]).any()
    refused = [
        (0.0, 360.0, -10.0, 10.0),  # a band round the sky
        (0.0, 300.0, -80.0, 80.0),  # more than half the sky
        (5.0, 5.0, 0.0, 1.0),
        (0.0, 1.0, 2.0, 1.0),
        (0.0, 1.0, 1.0, 1.0),
        (0.0, 1.0, 0.0, 91.0),
        (math.nan, 1.0, 0.0, 1.0),
    ]
    for bad in refused:
        with pytest.raises(UsageError):
            pos_range(*bad)


def test_pos_range_cutouts(tmp_path: Path) -> None:
    wcs = tan_wcs(0.0, 0.0, SHAPE)
    path = write(tmp_path / "wrap.fits", image_hdu(wcs, SHAPE, [(359.998, 0.0)], primary=True))
    width = 20.0 / 3600.0
    region = pos_range(360.0 - width, 0.0, -width / 2, width / 2)
    out = read(cutout_fits(path, CutoutRequest(region)))
    ra = np.array([360.0 - width, 0.0, 0.0, 360.0 - width])
    dec = np.array([-width / 2, -width / 2, width / 2, width / 2])
    y0, y1, x0, x1 = expected_box(wcs, ra, dec)
    assert out[0].data.shape == (y1 - y0, x1 - x0)
    sx, sy = cut_wcs(out[0]).world_to_pixel_values(359.998, 0.0)
    found = star_pixel(out[0].data)
    assert abs(found[0] - sx) < 0.2 and abs(found[1] - sy) < 0.2


def sparse_image(path: Path, shape: tuple[int, int]) -> Path:
    """A big float32 image of zeros, written without holding it in memory."""
    ny, nx = shape
    header = tan_wcs(45.0, -30.0, shape).to_header()
    header = fits.Header([("SIMPLE", True), ("BITPIX", -32), ("NAXIS", 2),
                          ("NAXIS1", nx), ("NAXIS2", ny), *header.cards])
    header_bytes = header.tostring().encode("ascii")
    size = len(header_bytes) + math.ceil(ny * nx * 4 / 2880) * 2880
    with open(path, "wb") as out:
        out.write(header_bytes)
        out.truncate(size)
    # One bright pixel to find again.
    with fits.open(path, mode="update", memmap=True) as hdul:
        hdul[0].data[4000, 4000] = 7.0
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sparse_image(tmp_path_factory.mktemp("big") / "big.fits", (8000, 8000))


def test_small_cut_of_a_big_image_uses_little_memory(big: Path) -> None:
    wcs = tan_wcs(45.0, -30.0, (8000, 8000))
    ra, dec = wcs.pixel_to_world_values(4000.0, 4000.0)
    tracemalloc.start()
    try:
        data = cutout_fits(big, CutoutRequest(Circle(float(ra), float(dec), 50.0 / 3600.0)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000, peak  # the image is 256 MB
    out = read(data)
    assert out[0].data.shape == (101, 101)
    assert out[0].data[50, 50] == 7.0


def test_huge_cutout_refused(big: Path) -> None:
    with pytest.raises(UsageError, match="25,000,000") as info:
        cutout_fits(big, CutoutRequest(Circle(45.0, -30.0, 1.0)))
    assert info.value.detail["limit"] == MAX_CUTOUT_PIXELS


def test_not_fits_and_missing(tmp_path: Path) -> None:
    text = tmp_path / "notes.fits"
    text.write_text("SIMPLY NOT A FITS FILE\n" * 200)
    with pytest.raises(UsageError, match="not a readable FITS file"):
        cutout_fits(text, CutoutRequest(Circle(0.0, 0.0, 0.1)))
    with pytest.raises(NotFoundError):
        cutout_fits(tmp_path / "missing.fits", CutoutRequest(Circle(0.0, 0.0, 0.1)))
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="D", array=[1.0])])
    table_only = write(tmp_path / "table.fits", table)
    with pytest.raises(UsageError, match="no 2-D image with a celestial WCS"):
        cutout_fits(table_only, CutoutRequest(Circle(0.0, 0.0, 0.1)))


def test_scaled_integer_image_keeps_physical_values(tmp_path: Path) -> None:
    wcs = tan_wcs(150.0, 2.0, SHAPE)
    raw = (np.arange(SHAPE[0] * SHAPE[1]) % 1000).reshape(SHAPE).astype(np.int16)
    hdu = fits.PrimaryHDU(data=raw, header=wcs.to_header())
    hdu.header["BSCALE"] = 0.5
    hdu.header["BZERO"] = 100.0
    path = tmp_path / "scaled.fits"
    hdu.writeto(path)
    region = Circle(150.0, 2.0, 5.0 / 3600.0)
    y0, y1, x0, x1 = pixel_box(wcs, SHAPE, region)
    out = read(cutout_fits(path, CutoutRequest(region)))
    np.testing.assert_allclose(out[0].data, raw[y0:y1, x0:x1] * 0.5 + 100.0)


def test_compressed_image(tmp_path: Path) -> None:
    wcs = tan_wcs(150.0, 2.0, SHAPE)
    plain = image_hdu(wcs, SHAPE, [STAR])
    packed = fits.CompImageHDU(data=plain.data, header=plain.header, compression_type="GZIP_2")
    path = write(tmp_path / "packed.fits", packed)
    out = read(cutout_fits(path, CutoutRequest(Circle(*STAR, 10.0 / 3600.0))))
    sx, sy = cut_wcs(out[1]).world_to_pixel_values(*STAR)
    found = star_pixel(out[1].data)
    assert abs(found[0] - sx) < 0.2 and abs(found[1] - sy) < 0.2


def test_request_checks_region_type() -> None:
    with pytest.raises(TypeError):
        CutoutRequest("CIRCLE 0 0 1")  # type: ignore[arg-type]

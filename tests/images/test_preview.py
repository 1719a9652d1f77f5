"""PNG previews: decoded here with zlib, independently of the writer."""

from __future__ import annotations

import math
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from datalab.errors import NotFoundError, UsageError
from datalab.images.preview import STRETCHES, preview_png, render_png


def decode(png: bytes) -> np.ndarray:
    """Pixels of an 8-bit greyscale, unfiltered PNG, checking signature, CRCs and IHDR."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[bytes, bytes] = {}
    kinds = []
    at = 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        kinds.append(kind)
        at += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour, interlace) == (8, 0, 0)
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype=np.uint8).reshape(height, width + 1)
    assert (raw[:, 0] == 0).all()  # filter type "none" on every row
    return raw[:, 1:]


def gradient(shape: tuple[int, int]) -> np.ndarray:
    ny, nx = shape
    return np.add.outer(np.arange(ny, dtype=np.float64), np.arange(nx) / nx)


def test_png_is_valid_and_north_up() -> None:
    data = gradient((30, 40))
    pixels = decode(render_png(data, stretch="linear"))
    assert pixels.shape == (30, 40)
    # FITS row 0 is at the bottom: the PNG's last row, and the darkest.
    assert pixels[-1, 0] == 0 and pixels[0, -1] == 255
    assert (np.diff(pixels.astype(int), axis=0) <= 0).all()


@pytest.mark.parametrize("stretch", STRETCHES)
def test_each_stretch(stretch: str) -> None:
    rng = np.random.default_rng(5)
    sky = rng.normal(100.0, 5.0, (64, 80))
    sky[30:33, 40:43] += 5000.0  # a bright star
    pixels = decode(render_png(sky, stretch=stretch))
    assert pixels.shape == (64, 80)
    assert pixels[64 - 32, 41] >= 250  # the star is white
    assert pixels.std() > 5  # the sky is not one flat grey


def test_stretches_differ() -> None:
    rng = np.random.default_rng(6)
    sky = rng.normal(100.0, 5.0, (64, 64))
    sky[10, 10] = 1e5
    images = {s: decode(render_png(sky, stretch=s)) for s in STRETCHES}
    # A linear min-max stretch puts the sky near black; the others spread it out.
    assert images["linear"].mean() < 5
    assert images["asinh"].mean() > 30 and images["zscale"].mean() > 30
    assert not np.array_equal(images["asinh"], images["zscale"])


def test_downsampling_to_max_size() -> None:
    data = gradient((3000, 1500))
    pixels = decode(render_png(data, stretch="linear", max_size=1024))
    assert pixels.shape == (1000, 500)  # blocks of 3
    assert decode(render_png(data, max_size=100)).shape == (100, 50)
    assert decode(render_png(np.ones((7, 5)), max_size=2)).shape == (2, 2)  # blocks of 4
    assert decode(render_png(gradient((10, 10)), max_size=1024)).shape == (10, 10)


def test_block_average_not_sampling() -> None:
    """A one-pixel star survives downsampling as a grey block, not lost or kept whole."""
    data = np.zeros((40, 40))
    data[21, 21] = 16.0
    data[0, 0] = 1.0  # sets the linear scale: the averaged star (1.0) is white too
    pixels = decode(render_png(data, stretch="linear", max_size=10))
    assert pixels.shape == (10, 10)
    assert pixels[9 - 5, 5] == 255 and pixels[9, 0] == 16
    assert (pixels > 0).sum() == 2


def test_nan_pixels() -> None:
    data = gradient((20, 20))
    data[:, :5] = np.nan
    data[0, 10] = np.inf
    pixels = decode(render_png(data, stretch="linear"))
    assert (pixels[:, :5] == 0).all()
    assert pixels[:, 5:].max() == 255
    blank = decode(render_png(np.full((8, 9), np.nan)))
    assert blank.shape == (8, 9) and (blank == 0).all()
    # Blocks that are partly NaN average their finite pixels; wholly NaN blocks are black.
    half = np.full((4, 4), np.nan)
    half[:2, :2] = 1.0
    half[0, 0] = 3.0
    assert decode(render_png(half, stretch="linear", max_size=2)).tolist() == [[0, 0], [128, 0]]


def test_constant_and_single_pixel_images() -> None:
    for stretch in STRETCHES:
        flat = decode(render_png(np.full((5, 6), 42.0), stretch=stretch))
        assert flat.shape == (5, 6) and (flat == 128).all()
        one = decode(render_png(np.array([[3.5]]), stretch=stretch))
        assert one.shape == (1, 1) and one[0, 0] == 128
    assert decode(render_png(np.array([[7]], dtype=np.int16))).shape == (1, 1)


def test_refusals() -> None:
    with pytest.raises(UsageError, match="2-D"):
        render_png(np.zeros((3, 4, 5)))
    with pytest.raises(UsageError, match="2-D"):
        render_png(np.zeros(10))
    with pytest.raises(UsageError, match="2-D"):
        render_png(np.zeros((0, 4)))
    with pytest.raises(UsageError, match="unknown stretch 'log'"):
        render_png(np.zeros((3, 3)), stretch="log")
    with pytest.raises(UsageError, match="max_size"):
        render_png(np.zeros((3, 3)), max_size=0)
    with pytest.raises(UsageError, match="numeric"):
        render_png(np.array([["a", "b"]]))


def test_preview_of_a_file_picks_the_first_image(tmp_path: Path) -> None:
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="D", array=[1.0])])
    first, second = gradient((50, 60)), np.ones((10, 10))
    path = tmp_path / "mef.fits"
    fits.HDUList(
        [fits.PrimaryHDU(), table, fits.ImageHDU(first), fits.ImageHDU(second)]
    ).writeto(path)
    expected = decode(render_png(first, stretch="linear"))
    assert np.array_equal(decode(preview_png(path, stretch="linear")), expected)
    assert decode(preview_png(path, hdu=3)).shape == (10, 10)
    with pytest.raises(UsageError, match="HDU 1 holds no image"):
        preview_png(path, hdu=1)
    with pytest.raises(UsageError, match="HDU 7 does not exist"):
        preview_png(path, hdu=7)


def test_preview_matches_render_when_downsampling(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    data = rng.normal(0.0, 1.0, (301, 257)).astype(np.float32)
    data[5:9, 100:120] = np.nan
    path = tmp_path / "noise.fits"
    fits.PrimaryHDU(data).writeto(path)
    for stretch in STRETCHES:
        from_file = decode(preview_png(path, stretch=stretch, max_size=64))
        assert from_file.shape == (61, 52)
        assert np.array_equal(from_file, decode(render_png(data, stretch=stretch, max_size=64)))


def test_preview_of_scaled_and_degenerate_cube(tmp_path: Path) -> None:
    raw = np.arange(200, dtype=np.int16).reshape(1, 10, 20)
    hdu = fits.PrimaryHDU(raw)
    hdu.header["BSCALE"] = 2.0
    hdu.header["BZERO"] = -5.0
    path = tmp_path / "scaled.fits"
    hdu.writeto(path)
    assert decode(preview_png(path, stretch="linear")).shape == (10, 20)
    cube = tmp_path / "cube.fits"
    fits.PrimaryHDU(np.zeros((3, 10, 20), dtype=np.float32)).writeto(cube)
    with pytest.raises(UsageError, match="2-D"):
        preview_png(cube)


def test_preview_of_a_big_image_uses_little_memory(tmp_path: Path) -> None:
    ny, nx = 8000, 8000
    path = tmp_path / "big.fits"
    header = fits.Header([("SIMPLE", True), ("BITPIX", -32), ("NAXIS", 2),
                          ("NAXIS1", nx), ("NAXIS2", ny)])
    header_bytes = header.tostring().encode("ascii")
    with open(path, "wb") as out:
        out.write(header_bytes)
        out.truncate(len(header_bytes) + math.ceil(ny * nx * 4 / 2880) * 2880)
    with fits.open(path, mode="update") as hdul:
        hdul[0].data[7000:7008, 96:104] = 1.0  # one bright block near the top left
    tracemalloc.start()
    try:
        png = preview_png(path, stretch="linear", max_size=1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64_000_000, peak  # the image is 256 MB; the 1000x1000 preview ~40
    pixels = decode(png)
    assert pixels.shape == (1000, 1000)
    assert pixels[999 - 875, 12] == 255 and (pixels == 255).sum() == 1


def test_preview_file_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not fits\n" * 400)
    with pytest.raises(UsageError, match="not a readable FITS file"):
        preview_png(text)
    with pytest.raises(NotFoundError):
        preview_png(tmp_path / "missing.fits")
    empty = tmp_path / "empty.fits"
    fits.PrimaryHDU().writeto(empty)
    with pytest.raises(UsageError, match="no image"):
        preview_png(empty)
    with pytest.raises(UsageError, match="unknown stretch"):
        preview_png(empty, stretch="sqrt")

"""Quick-look PNG previews of FITS images (portal thumbnails, SIA preview links).

A preview answers "what does this image look like", not "what are the values", so
it trades fidelity for size and speed: the image is block-averaged down to at most
``max_size`` pixels on its longer side, scaled between robust limits, stretched and
written as an 8-bit greyscale PNG. Choices, and why:

* Block averaging (not striding) so that faint sources and noise average down
  rather than alias; blocks at the right and top edges average the pixels they have.
* :func:`preview_png` averages while reading, a strip of rows at a time from the
  memory-mapped file, so a 256 MB image costs a few MB.
* Limits: ``asinh`` uses the 0.25th-99.75th percentiles (bright stars do not flatten
  the sky) with an asinh stretch (faint structure stays visible); ``zscale`` is
  IRAF's zscale (the astronomer's default for sky-dominated images) with a linear
  stretch; ``linear`` maps the minimum to black and the maximum to white.
* NaN and infinite pixels (blank, masked) are black; a block with no finite pixel
  is NaN. An image with no contrast (constant, or a single pixel) is mid-grey.
* FITS stores rows bottom-up; PNG top-down. Rows are flipped so the preview looks as
  it does in DS9 and other FITS viewers.

The PNG is written here (zlib and a few chunks) rather than with an imaging library:
greyscale 8-bit needs nothing more, and the server gains no dependency.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.visualization import (
    AsinhStretch,
    BaseInterval,
    BaseStretch,
    LinearStretch,
    MinMaxInterval,
    PercentileInterval,
    ZScaleInterval,
)
from numpy.typing import NDArray

from datalab.errors import NotFoundError, UsageError

__all__ = ["STRETCHES", "preview_png", "render_png"]

STRETCHES = ("asinh", "zscale", "linear")

# Pixels read per strip by preview_png (a few float64 working copies of 8 MB).
_STRIP_PIXELS = 1_000_000
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render_png(data: NDArray, *, stretch: str = "asinh", max_size: int = 1024) -> bytes:
    """An 8-bit greyscale PNG of a 2-D image, at most ``max_size`` pixels on a side.

    Raises :class:`UsageError` for an unknown stretch, a ``max_size`` below 1, or
    data that is not a non-empty 2-D numeric array.
    """
    _check_options(stretch, max_size)
    array = np.asarray(data)
    if array.ndim != 2 or array.size == 0:
        raise UsageError(
            f"a preview needs a non-empty 2-D image; got an array of shape {array.shape}",
            detail={"parameter": "data", "value": list(array.shape)},
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise UsageError(f"a preview needs numeric pixels; got {array.dtype}")
    factor = _factor(array.shape, max_size)
    small = _block_mean(array, factor) if factor > 1 else _as_float(array)
    return _encode_png(_to_grey(small, stretch))


def preview_png(
    path: Path, *, hdu: int | None = None, stretch: str = "asinh", max_size: int = 1024
) -> bytes:
    """A PNG preview of an image HDU of a FITS file (the first image HDU by default).

    Leading axes of length 1 (``NAXIS3 = 1`` and the like) are dropped; true cubes
    are refused. Memory stays near one strip of rows plus the preview itself.
    """
    _check_options(stretch, max_size)
    try:
        # Memory-mapped by astropy's default (explicit memmap=True refuses scaled data).
        hdul = fits.open(path, lazy_load_hdus=True)
    except FileNotFoundError as exc:
        raise NotFoundError(f"no such image file: {Path(path).name}") from exc
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"{Path(path).name} is not a readable FITS file: {exc}") from exc
    with hdul:
        chosen = hdul[_image_index(hdul, hdu)]
        shape = tuple(int(chosen.header[f"NAXIS{k}"]) for k in range(chosen.header["NAXIS"], 0, -1))
        if any(n != 1 for n in shape[:-2]):
            raise UsageError(
                f"a preview needs a 2-D image; HDU has shape {shape}",
                detail={"parameter": "hdu", "value": list(shape)},
            )
        lead = (0,) * (len(shape) - 2)
        ny, nx = shape[-2:]
        factor = _factor((ny, nx), max_size)
        # Whole blocks of rows per strip, as many as fit in the strip budget.
        rows = factor * max(1, _STRIP_PIXELS // (factor * nx))
        strips = []
        for top in range(0, ny, rows):
            strip = chosen.section[(*lead, slice(top, top + rows), slice(None))]
            strips.append(_block_mean(np.asarray(strip), factor))
    return _encode_png(_to_grey(np.vstack(strips), stretch))


def _check_options(stretch: str, max_size: int) -> None:
    if stretch not in STRETCHES:
        raise UsageError(
            f"unknown stretch {stretch!r}; choose one of {', '.join(STRETCHES)}",
            detail={"parameter": "stretch", "value": repr(stretch)},
        )
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise UsageError(
            f"max_size must be a positive whole number of pixels; got {max_size!r}",
            detail={"parameter": "max_size", "value": repr(max_size)},
        )


def _image_index(hdul: fits.HDUList, hdu: int | None) -> int:
    """The HDU to preview: the one asked for, which must hold an image, or the first image."""
    def has_image(candidate: object) -> bool:
        header = getattr(candidate, "header", {})
        return bool(getattr(candidate, "is_image", False)) and int(header.get("NAXIS", 0)) >= 2

    if hdu is None:
        for index, candidate in enumerate(hdul):
            if has_image(candidate):
                return index
        raise UsageError("the file holds no image to preview")
    whole = isinstance(hdu, (int, np.integer)) and not isinstance(hdu, bool)
    if not whole or not 0 <= hdu < len(hdul):
        raise UsageError(
            f"HDU {hdu!r} does not exist; the file has HDUs 0 to {len(hdul) - 1}",
            detail={"parameter": "hdu", "value": repr(hdu)},
        )
    if not has_image(hdul[int(hdu)]):
        raise UsageError(f"HDU {hdu} holds no image", detail={"parameter": "hdu", "value": hdu})
    return int(hdu)


def _factor(shape: tuple[int, ...], max_size: int) -> int:
    """The block size that brings the longer side to at most ``max_size``."""
    return max(1, math.ceil(max(shape) / max_size))


def _as_float(array: NDArray) -> NDArray[np.float64]:
    """Float copy with every non-finite pixel as NaN (infinities are blanks too)."""
    values = np.asarray(array, dtype=np.float64)
    return np.where(np.isfinite(values), values, np.nan)


def _block_mean(array: NDArray, factor: int) -> NDArray[np.float64]:
    """Mean of the finite pixels in each factor x factor block; NaN for empty blocks.

    Written to hold one float64 copy of the input plus masks, since preview_png
    calls it on every strip it reads.
    """
    ny, nx = array.shape
    out_y, out_x = math.ceil(ny / factor), math.ceil(nx / factor)
    padded = np.zeros((out_y * factor, out_x * factor))
    padded[:ny, :nx] = array
    finite = np.zeros(padded.shape, dtype=bool)
    finite[:ny, :nx] = np.isfinite(padded[:ny, :nx])
    padded[~finite] = 0.0
    sums = padded.reshape(out_y, factor, out_x, factor).sum(axis=(1, 3))
    counts = finite.reshape(out_y, factor, out_x, factor).sum(axis=(1, 3))
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


_METHODS: dict[str, tuple[BaseInterval, BaseStretch]] = {
    "asinh": (PercentileInterval(99.5), AsinhStretch(a=0.1)),
    "zscale": (ZScaleInterval(), LinearStretch()),
    "linear": (MinMaxInterval(), LinearStretch()),
}


def _to_grey(values: NDArray[np.float64], stretch: str) -> NDArray[np.uint8]:
    """Scale to 0-255 between the stretch's limits; NaN black, no contrast mid-grey."""
    grey = np.zeros(values.shape, dtype=np.uint8)
    finite = np.isfinite(values)
    if not finite.any():
        return grey
    interval, curve = _METHODS[stretch]
    pixels = values[finite]
    low, high = (float(v) for v in interval.get_limits(pixels))
    if not high > low:
        grey[finite] = 128
        return grey
    scaled = np.clip((pixels - low) / (high - low), 0.0, 1.0)
    grey[finite] = np.round(np.clip(curve(scaled, clip=True), 0.0, 1.0) * 255.0).astype(np.uint8)
    return grey


def _encode_png(grey: NDArray[np.uint8]) -> bytes:
    """An 8-bit greyscale PNG (colour type 0) of the rows flipped to top-down order."""
    height, width = grey.shape
    rows = np.ascontiguousarray(grey[::-1])
    # Every scanline starts with its filter type; 0 (none) is what zlib compresses well
    # enough for quick-looks.
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), rows]).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )

"""Cut sky regions out of FITS images (the work behind SODA and cutout jobs).

A cutout is the smallest box of whole pixels holding every pixel the region covers,
cut from each 2-D image HDU with a celestial WCS, clipped to the image. The box is
found in pixel space: the region's boundary is turned into a closed chain of points
on the sky, each projected with the HDU's WCS; the segments between consecutive
points are clipped to the image rectangle, and the image corners lying inside the
region are added. The bounding box of what remains is the cut. Why this way:

* It is exact for the usual projections, not only near the image centre. In a
  gnomonic (TAN) projection great circles are straight lines, box and polygon edges
  are great circles, and a circle is replaced by the great-circle polygon
  circumscribing it (see :func:`_circle_points`), so the chain of segments encloses
  the region exactly; other projections get edges subdivided finely enough.
* RA wrap and poles need no special case: everything is done by the WCS projection
  of points computed on the sphere, never by RA/dec arithmetic.
* A region partly off the image, or containing the whole image, falls out of the
  clipping; "no overlap" means no segment crosses the image and no corner is inside.

Only the cut pixels are read (``ImageHDU.section`` reads the needed rows from the
file or, for tile-compressed images, the needed tiles), so cutting a stamp out of a
huge image costs memory in proportion to the stamp. The header is copied and its
reference pixels (``CRPIXj`` of every WCS version, IRAF ``LTVj``) shifted by the cut
offset: that is exactly what slicing does to a WCS, and it keeps the header's own WCS
representation (CD or PC, SIP, alternates) and every other keyword intact.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from numpy.typing import NDArray

from datalab.errors import NotFoundError, UsageError
from datalab.images.bands import band_limits, band_name
from datalab.sky import Box, Circle, Polygon, Shape, boundary

__all__ = [
    "MAX_CUTOUT_PIXELS",
    "BandOf",
    "CutoutRequest",
    "cutout_fits",
    "header_band",
    "pixel_box",
    "pos_range",
]

MAX_CUTOUT_PIXELS = 25_000_000
"""Largest cutout served (pixels summed over all cut HDUs): 100 MB of float32.

Bigger requests are better served by downloading the image itself."""

BandOf = Callable[[fits.Header], "tuple[float, float] | None"]
"""Reads an HDU's spectral coverage (metres, low to high) from its header, or None."""

# Points on a circle's boundary; the circumscribed polygon exceeds the circle by
# 1/cos(pi/N) - 1 = 1e-5 of its radius.
_CIRCLE_POINTS = 720
# Pieces each box or polygon edge is split into (straight in TAN; curved elsewhere).
_EDGE_PIECES = 16
# Largest RA step (degrees) between the vertices along a POS=RANGE parallel: the
# great-circle chord strays at most ~1 arcsec from the parallel.
_RANGE_STEP_DEG = 0.5
# Largest length (degrees) of a POS=RANGE meridian edge before it is split.
_MERIDIAN_STEP_DEG = 45.0
# Pixels: an extent within this of a pixel border is taken to end on it (rounding, and
# the slack below, must not add a row of pixels).
_EDGE_PX = 1e-4
# Degrees added around a POS=RANGE polygon so that points on the range's boundary
# stay inside despite rounding (0.4 micro-arcsec).
_RANGE_SLACK_DEG = 1e-10
_CRPIX = re.compile(r"CRPIX([1-9])[A-Z]?")
_LTV = re.compile(r"LTV([1-9])")
# Keywords that describe the stored data, not the image, and are wrong after a cut.
_STALE = ("CHECKSUM", "DATASUM", "BSCALE", "BZERO", "BLANK")


@dataclass(frozen=True)
class CutoutRequest:
    """What to cut: a sky region and, optionally, a SODA BAND interval.

    ``region`` is a :class:`~datalab.sky.Circle`, :class:`~datalab.sky.Box` or
    :class:`~datalab.sky.Polygon` (SODA's CIRCLE and POLYGON; POS=RANGE via
    :func:`pos_range`). ``bands`` is ``(low, high)`` in metres, either end may be
    infinite: HDUs whose spectral coverage does not overlap it are dropped. FITS
    headers name a filter rather than wavelengths, so :func:`cutout_fits` learns an
    HDU's coverage from a ``band_of`` callable, by default :func:`header_band` (the
    same reading the image index uses for em_min/em_max); an HDU whose coverage is
    unknown is kept, since dropping it could lose data the user asked for.
    """

    region: Shape
    bands: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.region, (Circle, Box, Polygon)):
            raise TypeError(f"region must be a Circle, Box or Polygon; got {self.region!r}")
        if self.bands is not None:
            low, high = (float(v) for v in self.bands)
            if math.isnan(low) or math.isnan(high) or low > high:
                raise UsageError(
                    f"BAND must be two wavelengths in metres, low to high; got {self.bands!r}",
                    detail={"parameter": "BAND", "value": repr(self.bands)},
                )
            object.__setattr__(self, "bands", (low, high))


def pos_range(ra_min: float, ra_max: float, dec_min: float, dec_max: float) -> Shape:
    """SODA / SIA 2.0 ``POS=RANGE ra_min ra_max dec_min dec_max`` as a sky region.

    Semantics: every point whose dec is in ``[dec_min, dec_max]`` and whose RA lies
    on the way *eastwards* (increasing RA) from ``ra_min`` to ``ra_max``, RAs taken
    modulo 360. So ``359 1`` is the 2-degree range across RA 0, and ``1 359`` the
    358 degrees not containing it. Values 360 or more apart (``0 360``), or an
    infinite end (DALI's open intervals), mean every RA; an infinite dec end means
    the pole. Zero-width or reversed dec ranges and equal RAs are refused.

    The result is exact where it can be: a range of every RA up to a pole is a
    :class:`Circle` (a cap; the whole sky if it reaches both poles). Otherwise it is
    a :class:`Polygon`: RA ends are meridians, which are great circles; dec ends are
    parallels, which are not, so they are followed by vertices at most 0.5 degree of
    RA apart, placed so that the polygon *contains* the range and exceeds it by at
    most about 1 arcsec. A polygon cannot hold more than half the sky, nor a band of
    every RA between two parallels: such ranges are refused; split them.
    """
    dec_lo, dec_hi = _range_dec("dec_min", dec_min), _range_dec("dec_max", dec_max)
    if not dec_lo < dec_hi:
        raise _range_error(f"dec_min must be below dec_max; got {dec_min!r} {dec_max!r}")
    for name, value in (("ra_min", ra_min), ("ra_max", ra_max)):
        if math.isnan(float(value)):
            raise _range_error(f"{name} must be a number; got {value!r}")
    ra_lo, ra_hi = float(ra_min), float(ra_max)
    if math.isinf(ra_lo) or math.isinf(ra_hi) or abs(ra_hi - ra_lo) >= 360.0:
        if dec_hi == 90.0:
            return Circle(0.0, 90.0, 90.0 - dec_lo)
        if dec_lo == -90.0:
            return Circle(0.0, -90.0, dec_hi + 90.0)
        raise _range_error(
            "POS=RANGE of every RA between two declinations is a band, not one region;"
            " split it into RA ranges under 180 degrees"
        )
    span = (ra_hi - ra_lo) % 360.0
    if span == 0.0:
        raise _range_error(f"ra_min and ra_max must differ; got {ra_min!r} {ra_max!r}")
    area = math.radians(span) * (math.sin(math.radians(dec_hi)) - math.sin(math.radians(dec_lo)))
    if area >= 2.0 * math.pi * (1.0 - 1e-6):
        raise _range_error(
            "POS=RANGE covering half the sky or more is refused; split it into smaller ranges"
        )
    # Grown by a hair, so that the range's own boundary points are inside.
    slack = _RANGE_SLACK_DEG
    return Polygon(
        _range_vertices(
            (ra_lo - slack) % 360.0,
            span + 2.0 * slack,
            max(-90.0, dec_lo - slack),
            min(90.0, dec_hi + slack),
        )
    )


def _range_dec(name: str, value: float) -> float:
    number = float(value)
    if math.isnan(number):
        raise _range_error(f"{name} must be a number; got {value!r}")
    if math.isinf(number):
        return math.copysign(90.0, number)
    if not -90.0 <= number <= 90.0:
        raise _range_error(f"{name} must be between -90 and 90 degrees; got {value!r}")
    return number


def _range_error(message: str) -> UsageError:
    return UsageError(message, detail={"parameter": "POS"})


def _range_vertices(
    ra0: float, span: float, dec_lo: float, dec_hi: float
) -> list[tuple[float, float]]:
    """The vertices of :func:`pos_range`'s polygon: south edge, east, north, west.

    The RA ends are meridians (great circles), split only so that no edge nears
    180 degrees; the dec ends are parallels, followed vertex by vertex.
    """
    steps = max(1, math.ceil(span / _RANGE_STEP_DEG))
    ras = ra0 + np.linspace(0.0, span, steps + 1)
    half_step = math.radians(span / steps / 2.0)

    def parallel(dec: float, inner_is_poleward: bool) -> list[tuple[float, float]]:
        # A chord between two points of a parallel bulges towards the nearer pole.
        # Where that bulge points into the range the vertices move towards the
        # equator by the bulge, so the chord's midpoint lands on the parallel.
        if inner_is_poleward:
            dec = math.degrees(math.atan(math.tan(math.radians(dec)) * math.cos(half_step)))
        return [(float(ra), dec) for ra in ras]

    south = [(ra0, -90.0)] if dec_lo == -90.0 else parallel(dec_lo, dec_lo > 0.0)
    north = [(ra0, 90.0)] if dec_hi == 90.0 else parallel(dec_hi, dec_hi < 0.0)[::-1]
    pieces = max(1, math.ceil((dec_hi - dec_lo) / _MERIDIAN_STEP_DEG))
    inner = np.linspace(dec_lo, dec_hi, pieces + 1)[1:-1]
    east = [(ra0 + span, float(d)) for d in inner]
    west = [(ra0, float(d)) for d in inner[::-1]]
    return south + east + north + west


def cutout_fits(
    path: Path,
    request: CutoutRequest,
    *,
    hdus: Sequence[int] | None = None,
    band_of: BandOf | None = None,
) -> bytes:
    """Cut ``request.region`` out of every 2-D celestial image HDU of a FITS file.

    ``hdus`` restricts the cut to those HDU indices (0 is the primary); each must be
    a 2-D image with a celestial WCS. ``band_of`` gives an HDU's spectral coverage
    for ``request.bands`` (see :class:`CutoutRequest`). Returns a FITS file: the
    primary HDU (cut, if it holds a cut image; otherwise its header without data)
    followed by the cut extensions, in file order, each keeping its header keywords
    with the WCS moved to the cut. HDUs the region misses are left out.

    Raises :class:`UsageError` when the file is not FITS, an ``hdus`` index is not a
    celestial image, nothing overlaps the region (or band), or the cut would exceed
    :data:`MAX_CUTOUT_PIXELS`; :class:`NotFoundError` when the file does not exist.
    """
    if not isinstance(request, CutoutRequest):
        raise TypeError(f"request must be a CutoutRequest; got {request!r}")
    with _open(path) as hdul:
        candidates = _candidates(hdul, hdus)
        if request.bands is not None:
            wanted, read_band = request.bands, band_of or header_band
            candidates = [c for c in candidates if _overlaps(read_band(hdul[c].header), wanted)]
            if not candidates:
                raise UsageError(
                    "the band does not overlap the image",
                    detail={"parameter": "BAND", "value": repr(request.bands)},
                )
        boxes = {}
        for index in candidates:
            header = hdul[index].header
            box = pixel_box(_celestial_wcs(header), _shape(header), request.region)
            if box is not None:
                boxes[index] = box
        if not boxes:
            raise UsageError(
                "the region does not overlap the image",
                detail={"parameter": "region", "value": repr(request.region)},
            )
        total = sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in boxes.values())
        if total > MAX_CUTOUT_PIXELS:
            raise UsageError(
                f"the cutout would have {total:,} pixels, more than the limit of"
                f" {MAX_CUTOUT_PIXELS:,}; ask for a smaller region",
                detail={"parameter": "region", "pixels": total, "limit": MAX_CUTOUT_PIXELS},
            )
        out = fits.HDUList()
        if 0 not in boxes:
            out.append(fits.PrimaryHDU(header=_without_data(hdul[0].header)))
        for index, box in boxes.items():
            data, header = _cut(hdul[index], box)
            hdu_class = fits.PrimaryHDU if index == 0 else fits.ImageHDU
            out.append(hdu_class(data=data, header=header))
        buffer = io.BytesIO()
        out.writeto(buffer, output_verify="silentfix")
    return buffer.getvalue()


def _open(path: Path) -> fits.HDUList:
    """Open lazily and memory-mapped; a file that is not FITS is the caller's mistake."""
    hdul = None
    try:
        # astropy memory-maps by default; asking for it explicitly would make it
        # refuse scaled (BSCALE/BZERO) images, which sections read fine.
        hdul = fits.open(path, lazy_load_hdus=True)
        len(hdul)  # reads every header now, so a truncated or bad file fails here
    except FileNotFoundError as exc:
        raise NotFoundError(f"no such image file: {Path(path).name}") from exc
    except (OSError, ValueError, TypeError) as exc:
        if hdul is not None:
            hdul.close()
        raise UsageError(
            f"{Path(path).name} is not a readable FITS file: {exc}",
            detail={"path": Path(path).name},
        ) from exc
    return hdul


def _candidates(hdul: fits.HDUList, hdus: Sequence[int] | None) -> list[int]:
    """Indices of the HDUs to cut: the requested ones (checked) or every celestial image."""
    if hdus is None:
        found = [i for i, hdu in enumerate(hdul) if _is_celestial_image(hdu)]
        if not found:
            raise UsageError("the file holds no 2-D image with a celestial WCS")
        return found
    chosen = sorted(set(hdus))
    for index in chosen:
        whole = isinstance(index, (int, np.integer)) and not isinstance(index, bool)
        if not whole or not 0 <= index < len(hdul):
            raise UsageError(
                f"HDU {index!r} does not exist; the file has HDUs 0 to {len(hdul) - 1}",
                detail={"parameter": "hdus", "value": repr(index)},
            )
        if not _is_celestial_image(hdul[index]):
            raise UsageError(
                f"HDU {index} is not a 2-D image with a celestial WCS",
                detail={"parameter": "hdus", "value": index},
            )
    return [int(index) for index in chosen]


def _is_celestial_image(hdu: object) -> bool:
    """Whether an HDU is a non-empty 2-D image whose WCS is celestial (header only)."""
    header = getattr(hdu, "header", None)
    if not getattr(hdu, "is_image", False) or header is None or header.get("NAXIS") != 2:
        return False
    return min(_shape(header)) >= 1 and _celestial_wcs(header) is not None


def _shape(header: fits.Header) -> tuple[int, int]:
    """(ny, nx) from the header, so that no data is read to learn it."""
    return int(header.get("NAXIS2", 0)), int(header.get("NAXIS1", 0))


def _celestial_wcs(header: fits.Header) -> WCS | None:
    """The header's WCS if it is two celestial axes, else None."""
    with warnings.catch_warnings():
        # wcslib's fix-ups (DATE-OBS from MJD-OBS, RADESYS defaults...) are routine.
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header, naxis=2)
        except (ValueError, KeyError, MemoryError):  # an unparseable WCS places nothing
            return None
    if not wcs.has_celestial or wcs.celestial.naxis != 2 or wcs.naxis != 2:
        return None
    return wcs


def header_band(header: fits.Header) -> tuple[float, float] | None:
    """An HDU's wavelength range (metres) from its FILTER (or BAND) keyword, if known.

    The same reading as the ObsCore index's em_min/em_max, so that a SODA BAND
    keeps exactly the HDUs an SIA BAND search would have found.
    """
    for key in ("FILTER", "BAND"):
        value = header.get(key)
        if isinstance(value, str) and value.strip():
            low, high = band_limits(band_name(value))
            return None if low is None or high is None else (low, high)
    return None


def _overlaps(band: tuple[float, float] | None, wanted: tuple[float, float]) -> bool:
    if band is None:
        return True
    low, high = min(band), max(band)
    return low <= wanted[1] and wanted[0] <= high


def pixel_box(
    wcs: WCS | None, shape: tuple[int, int], region: Shape
) -> tuple[int, int, int, int] | None:
    """The pixel box ``(y0, y1, x0, x1)`` (0-based, ends exclusive) the region covers.

    None when the region misses the image. See the module docstring for the method.
    """
    if wcs is None:
        return None
    ny, nx = shape
    ra, dec = _boundary_points(region)
    x, y = _world_to_pixel(wcs, ra, dec)
    limits = (-0.5, nx - 0.5, -0.5, ny - 0.5)
    xs, ys = _clip_segments(x, y, limits)
    corner_x = np.array([limits[0], limits[1], limits[1], limits[0]])
    corner_y = np.array([limits[2], limits[2], limits[3], limits[3]])
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", FITSFixedWarning)
        corner_ra, corner_dec = _pixel_to_world(wcs, corner_x, corner_y)
    inside = region.contains(corner_ra, corner_dec)
    xs = np.concatenate([xs, corner_x[inside]])
    ys = np.concatenate([ys, corner_y[inside]])
    if len(xs) == 0:
        return None
    # Pixel i spans [i - 0.5, i + 0.5]: keep every pixel the extent enters. An extent
    # ending on a pixel border (to rounding) does not enter the pixel beyond it.
    x0, x1 = math.floor(xs.min() + 0.5 + _EDGE_PX), math.ceil(xs.max() + 0.5 - _EDGE_PX)
    y0, y1 = math.floor(ys.min() + 0.5 + _EDGE_PX), math.ceil(ys.max() + 0.5 - _EDGE_PX)
    x0, y0 = max(0, min(x0, nx - 1)), max(0, min(y0, ny - 1))
    x1, y1 = min(nx, max(x1, x0 + 1)), min(ny, max(y1, y0 + 1))
    return y0, y1, x0, x1


def _world_to_pixel(wcs: WCS, ra: NDArray, dec: NDArray) -> tuple[NDArray, NDArray]:
    """Pixel (x, y) of sky points; NaN where the projection has no image of them."""
    celestial = wcs.celestial
    world = [ra, dec] if celestial.wcs.lng == 0 else [dec, ra]
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", FITSFixedWarning)
        x, y = celestial.world_to_pixel_values(*world)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _pixel_to_world(wcs: WCS, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray]:
    celestial = wcs.celestial
    first, second = celestial.pixel_to_world_values(x, y)
    return (first, second) if celestial.wcs.lng == 0 else (second, first)


def _boundary_points(region: Shape) -> tuple[NDArray, NDArray]:
    """A closed chain of (ra, dec) points whose great-circle segments enclose the region."""
    if isinstance(region, Circle):
        return _circle_points(region)
    assert isinstance(region, (Box, Polygon))
    radec, _ = boundary(region)
    xyz = _unit(radec[:, 0], radec[:, 1])
    ends = np.roll(xyz, -1, axis=0)
    t = np.linspace(0.0, 1.0, _EDGE_PIECES, endpoint=False)
    # Points along each minor arc a -> b (normalised linear mix stays on the arc).
    along = xyz[:, None, :] * (1.0 - t)[None, :, None] + ends[:, None, :] * t[None, :, None]
    along = along.reshape(-1, 3)
    along = np.vstack([along, along[:1]])
    along /= np.linalg.norm(along, axis=1)[:, None]
    return _radec(along)


def _circle_points(circle: Circle) -> tuple[NDArray, NDArray]:
    """Vertices of the great-circle polygon circumscribing the circle (chain closed).

    Seen from the circle's centre in gnomonic projection the circle has radius
    tan(r) and the regular N-gon around it has vertices at tan(r) / cos(pi / N);
    its edges are great circles, so it encloses the cap on the sphere. Circles of
    90 degrees or more have no circumscribed polygon; their boundary itself is used
    (their box is then decided by the image corners they contain).
    """
    if circle.radius < 90.0:
        tangent = math.tan(math.radians(circle.radius))
        reach = math.atan(tangent / math.cos(math.pi / _CIRCLE_POINTS))
    else:
        reach = math.radians(circle.radius)
    bearing = np.linspace(0.0, 2.0 * math.pi, _CIRCLE_POINTS + 1)
    ra0, dec0 = math.radians(circle.ra), math.radians(circle.dec)
    # The point at angular distance ``reach`` from the centre along each bearing.
    centre = _unit(np.array([circle.ra]), np.array([circle.dec]))[0]
    east = np.array([-math.sin(ra0), math.cos(ra0), 0.0])
    north = np.array(
        [-math.sin(dec0) * math.cos(ra0), -math.sin(dec0) * math.sin(ra0), math.cos(dec0)]
    )
    direction = np.cos(bearing)[:, None] * north + np.sin(bearing)[:, None] * east
    points = math.cos(reach) * centre + math.sin(reach) * direction
    return _radec(points)


def _unit(ra: NDArray, dec: NDArray) -> NDArray[np.float64]:
    r, d = np.radians(ra), np.radians(dec)
    return np.column_stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)])


def _radec(xyz: NDArray) -> tuple[NDArray, NDArray]:
    ra = np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0])) % 360.0
    dec = np.degrees(np.arctan2(xyz[:, 2], np.hypot(xyz[:, 0], xyz[:, 1])))
    return ra, dec


def _clip_segments(
    x: NDArray, y: NDArray, limits: tuple[float, float, float, float]
) -> tuple[NDArray, NDArray]:
    """Ends of the parts of segments (x[i], y[i]) -> (x[i+1], y[i+1]) inside a rectangle.

    Liang-Barsky clipping, all segments at once. Segments with an end the projection
    could not place (NaN) are dropped: for a zenithal projection such points are 90
    degrees or more from the image, so nothing near the image is lost.
    """
    x_lo, x_hi, y_lo, y_hi = limits
    x0, y0, x1, y1 = x[:-1], y[:-1], x[1:], y[1:]
    usable = np.isfinite(x0) & np.isfinite(y0) & np.isfinite(x1) & np.isfinite(y1)
    x0, y0, x1, y1 = x0[usable], y0[usable], x1[usable], y1[usable]
    dx, dy = x1 - x0, y1 - y0
    t_in, t_out = np.zeros_like(x0), np.ones_like(x0)
    keep = np.ones_like(x0, dtype=bool)
    for p, q in ((-dx, x0 - x_lo), (dx, x_hi - x0), (-dy, y0 - y_lo), (dy, y_hi - y0)):
        parallel = p == 0.0
        keep &= ~(parallel & (q < 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(parallel, 0.0, q / np.where(parallel, 1.0, p))
        t_in = np.where(~parallel & (p < 0.0), np.maximum(t_in, t), t_in)
        t_out = np.where(~parallel & (p > 0.0), np.minimum(t_out, t), t_out)
    keep &= t_in <= t_out
    t_in, t_out = t_in[keep], t_out[keep]
    x0, y0, dx, dy = x0[keep], y0[keep], dx[keep], dy[keep]
    xs = np.concatenate([x0 + t_in * dx, x0 + t_out * dx])
    ys = np.concatenate([y0 + t_in * dy, y0 + t_out * dy])
    # Clipping leaves ends a rounding error outside; they belong on the edge.
    return np.clip(xs, x_lo, x_hi), np.clip(ys, y_lo, y_hi)


def _cut(hdu: fits.ImageHDU, box: tuple[int, int, int, int]) -> tuple[NDArray, fits.Header]:
    """The pixels of the box (read alone) and the header moved to the cut."""
    y0, y1, x0, x1 = box
    data = np.asarray(hdu.section[y0:y1, x0:x1])
    header = hdu.header.copy()
    for key in _STALE:
        header.remove(key, ignore_missing=True, remove_all=True)
    offsets = {1: x0, 2: y0}
    for key in list(header.keys()):
        match = _CRPIX.fullmatch(key) or _LTV.fullmatch(key)
        if match and int(match.group(1)) in offsets:
            shift = offsets[int(match.group(1))]
            header[key] = header[key] - shift
    header.add_history(
        f"datalab cutout of pixels [{x0 + 1}:{x1}, {y0 + 1}:{y1}] (FITS order)"
    )
    return data, header


def _without_data(header: fits.Header) -> fits.Header:
    """A primary header to carry the file's metadata when its own image is not cut."""
    kept = header.copy()
    for key in ("NAXIS1", "NAXIS2", "NAXIS3", *_STALE):
        kept.remove(key, ignore_missing=True, remove_all=True)
    kept["NAXIS"] = 0
    kept["EXTEND"] = True
    return kept

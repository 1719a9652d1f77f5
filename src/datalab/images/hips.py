"""HiPS (IVOA HiPS 1.0) surveys built from the indexed images, for sky viewers.

One HiPS per band found in ``ivoa.obscore`` (``band-g``, ``band-r``...), and a
colour one (``colour-i-r-g``) when three bands of known wavelength are present.
Each is a folder under the data directory's ``hips/``: a ``properties`` file, a
``Moc.fits`` coverage map and PNG tiles (8-bit grey with transparency; FITS
float32 tiles too on request) at ``Norder{k}/Dir{d}/Npix{n}.png`` for every order
from 0 to ``hips_order``. The tiles are made here rather than by
``reproject.hips.reproject_to_hips``, which turns one image into one HiPS: a band
is a mosaic of many overlapping images, and its tiles must share one stretch.

Choices, and why:

* The order is the one whose HiPS pixel is nearest (in ratio) to the median pixel
  scale of the band's images: no 4x upsampling to store, little resolution lost.
* Where images overlap a tile pixel takes its value from one image, the best one:
  stacks before single exposures, then the longest exposure. Values are divided by
  the exposure time, so exposures of different lengths (and stacks that sum them)
  join without steps. Averaging instead would blur seeing and leave seams anyway.
* Only tiles an image footprint touches are computed (a HEALPix polygon search of
  each footprint); a tile with no pixel inside any image is not written.
* A tile pixel's place in an image comes from the image's WCS at a grid of nodes
  (every 16th pixel of the tile) interpolated bilinearly in between (within a few
  thousandths of a pixel): the mapping is smooth over a tile, and evaluating the
  WCS at every pixel would cost ten times more. Tiles across the edge of a polar
  cap (|dec| = 41.8 degrees, where the HEALPix projection bends) are the exception:
  every pixel is placed exactly. Pixel values are interpolated bilinearly.
* Lower orders are 2x2 means of the order above, built while the deepest tiles
  stream past in NESTED order, so memory stays at a few tiles per order.
* One asinh stretch per band, from a sample of all its images: black a little
  below the sky, softened at a few times the sky noise, white at the 99.99th
  percentile, so that faint stars show and tiles match at their edges.
* Pixels inside a tile follow HiPS 1.0 (the nested index of the pixel in row ``r``
  from the top and column ``c`` has the bits of ``r`` at the even places and those
  of ``c`` at the odd ones); FITS tiles store the rows bottom-up.
* A build records what it was made from; a run over unchanged images leaves the
  folder untouched. A changed band is built aside and swapped in whole.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import struct
import sys
import threading
import time
import uuid
import warnings
import zlib
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import astropy.units as u
import cdshealpix.nested as healpix
import numpy as np
from astropy.coordinates import FK5, ICRS, BaseCoordinateFrame, SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales, wcs_to_celestial_frame
from numpy.typing import NDArray
from tqdm import tqdm

from datalab import __version__
from datalab.catalog import Engine
from datalab.errors import DataLabError, NotFoundError
from datalab.images.bands import band_limits
from datalab.images.index import ImageIndex
from datalab.images.records import PUBLISHER_DID_PREFIX, ImageRecord
from datalab.images.table import read_obscore

__all__ = [
    "HIPS_ID",
    "TILE_WIDTH",
    "HipsInfo",
    "HipsReport",
    "build_hips",
    "build_hips_for_catalog",
    "choose_order",
    "colour_id",
    "hips_file",
    "hips_id_for_band",
    "list_hips",
    "read_properties",
    "tile_file",
]

TILE_WIDTH = 512
HIPS_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")
"""What a HiPS folder may be called: lower case, so no two differ only by case."""

_AUTHORITY = PUBLISHER_DID_PREFIX.removeprefix("ivo://").split("/", 1)[0]
_BUILD_FILE = ".datalab-build.json"  # never served: the web layer serves known names only
_BUILD_VERSION = 1  # raise when the same images would give other tiles
_NODE_STEP = 16
_CACHE_BYTES = 512 * 2**20
_SAMPLES = 2_000_000  # stretch samples per band, in all
_FULL_SKY_DEG = math.degrees(math.sqrt(math.pi / 3.0))  # side of an order-0 cell
_CAP_EDGE_DEG = math.degrees(math.asin(2.0 / 3.0))
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Grey = NDArray[np.uint8]
Floats = NDArray[np.float32]


@dataclass(frozen=True)
class HipsInfo:
    """One HiPS as the server lists it, read back from its ``properties``."""

    hips_id: str
    title: str
    bands: tuple[str, ...]
    order: int
    tile_width: int
    tile_formats: tuple[str, ...]
    initial_ra: float
    initial_dec: float
    initial_fov: float
    directory: Path
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class HipsReport:
    """What a build did: HiPS rebuilt, left as they were, removed; images passed over."""

    built: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    tiles: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


# -- names -------------------------------------------------------------------------


def hips_id_for_band(band: str) -> str:
    """``band-<name>``; a name that is not plain lower case gets a short hash, so that
    ``G`` (Gaia) and ``g`` (SDSS) never share a folder."""
    safe = re.sub(r"[^a-z0-9_]+", "_", band.lower()).strip("_")[:40] or "_"
    if safe == band:
        return f"band-{safe}"
    return f"band-{safe}-{hashlib.sha1(band.encode()).hexdigest()[:6]}"


def colour_id(bands: Sequence[str]) -> str:
    """The colour HiPS of three bands, red first: ``colour-i-r-g``."""
    parts = [hips_id_for_band(b).removeprefix("band-") for b in bands]
    return "colour-" + "-".join(parts)


def choose_order(pixel_scale_deg: float, tile_width: int = TILE_WIDTH) -> int:
    """The tile order whose HiPS pixel is nearest, in ratio, to ``pixel_scale_deg``."""
    width_order = int(math.log2(tile_width))
    if not pixel_scale_deg > 0:
        return 0
    pixel_order = round(math.log2(_FULL_SKY_DEG / pixel_scale_deg))
    return max(0, min(pixel_order - width_order, 29 - width_order))


def _tile_name(order: int, npix: int, ext: str) -> str:
    return f"Norder{order}/Dir{npix // 10000 * 10000}/Npix{npix}.{ext}"


# -- reading what is served --------------------------------------------------------


def read_properties(path: Path) -> dict[str, str]:
    """``key = value`` lines of a HiPS properties file (comments and blanks skipped)."""
    values: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def _info(folder: Path) -> HipsInfo | None:
    try:
        p = read_properties(folder / "properties")
        return HipsInfo(
            hips_id=folder.name,
            title=p.get("obs_title", folder.name),
            bands=tuple(p.get("datalab_bands", "").split()),
            order=int(p["hips_order"]),
            tile_width=int(p.get("hips_tile_width", TILE_WIDTH)),
            tile_formats=tuple(p.get("hips_tile_format", "png").split()),
            initial_ra=float(p.get("hips_initial_ra", 0.0)),
            initial_dec=float(p.get("hips_initial_dec", 0.0)),
            initial_fov=float(p.get("hips_initial_fov", 1.0)),
            directory=folder,
            properties=p,
        )
    except (OSError, KeyError, ValueError):
        return None


def list_hips(hips_dir: Path) -> list[HipsInfo]:
    """Every complete HiPS under ``hips_dir`` (bands first, then colour), by id."""
    root = Path(hips_dir)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        if HIPS_ID.fullmatch(folder.name) and folder.is_dir() and not folder.is_symlink():
            info = _info(folder)
            if info is not None:
                found.append(info)
    return sorted(found, key=lambda i: (not i.hips_id.startswith("band-"), i.hips_id))


def hips_file(hips_dir: Path, hips_id: str, relative: str) -> Path:
    """A file of a HiPS, refused (404) unless it lies, resolved, inside that HiPS.

    ``relative`` comes from the caller's own formatting of validated numbers or
    fixed names, never from a request's path as sent; the resolved check is for
    links planted in the folder.
    """
    if not HIPS_ID.fullmatch(hips_id):
        raise NotFoundError(f"no HiPS {hips_id!r}", detail={"hips": hips_id})
    root = Path(hips_dir).resolve()
    folder = root / hips_id
    if folder.is_symlink() or not (folder / "properties").is_file():
        raise NotFoundError(f"no HiPS {hips_id!r}", detail={"hips": hips_id})
    real = (folder / relative).resolve()
    if not real.is_relative_to(folder) or not real.is_file():
        raise NotFoundError(f"HiPS {hips_id!r} has no {relative}", detail={"hips": hips_id})
    return real


def tile_file(hips_dir: Path, hips_id: str, order: int, npix: int, ext: str) -> Path:
    """The tile ``Npix{npix}.{ext}`` of order ``order``: 404 for a tile never written
    (an empty part of the sky), an impossible index, or a format not built."""
    if ext not in ("png", "fits") or not 0 <= order <= 29 or not 0 <= npix < 12 * 4**order:
        raise NotFoundError(f"no tile Norder{order}/Npix{npix}.{ext}")
    return hips_file(hips_dir, hips_id, _tile_name(order, npix, ext))


# -- tile geometry -----------------------------------------------------------------


def _spread(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """Bits of ``values`` moved to the even places (b0 -> 0, b1 -> 2, ...)."""
    out = np.zeros_like(values)
    for bit in range(16):
        out |= ((values >> bit) & 1) << (2 * bit)
    return out


class _Geometry:
    """Where the pixels of a tile of one order lie on the sky."""

    def __init__(self, order: int, width: int) -> None:
        self.order, self.width = order, width
        self.pixel_order = order + int(math.log2(width))
        rows = np.arange(width, dtype=np.int64)
        self.sub = (_spread(rows)[:, None] | (_spread(rows)[None, :] << 1)).astype(np.uint64)
        self.nodes = np.unique(np.r_[np.arange(0, width, _NODE_STEP), width - 1])
        cell = np.minimum(np.searchsorted(self.nodes, rows, side="right") - 1, len(self.nodes) - 2)
        self.cell = cell
        span = self.nodes[cell + 1] - self.nodes[cell]
        self.frac = ((rows - self.nodes[cell]) / span).astype(np.float32)

    def lonlat(self, tile: int, rows: NDArray | None = None) -> tuple[NDArray, NDArray]:
        """(ra, dec) in degrees of the pixel centres at the nodes (or of every pixel)."""
        sub = self.sub if rows is None else self.sub[np.ix_(rows, rows)]
        cells = np.uint64(tile) * np.uint64(self.width * self.width) + sub
        lon, lat = healpix.healpix_to_lonlat(cells.ravel(), self.pixel_order, num_threads=1)
        shape = sub.shape
        return lon.to_value(u.deg).reshape(shape), lat.to_value(u.deg).reshape(shape)

    def crosses_cap(self, dec: NDArray) -> bool:
        """Whether the tile straddles a polar cap's edge (|dec| = asin(2/3)), where the
        HEALPix projection bends: interpolating between nodes there is off by pixels."""
        margin = 2.0 * _FULL_SKY_DEG / 2**self.pixel_order
        low, high = float(dec.min()) - margin, float(dec.max()) + margin
        return any(low < edge < high for edge in (_CAP_EDGE_DEG, -_CAP_EDGE_DEG))

    def interpolate(self, at_nodes: NDArray, rows: slice, cols: slice) -> NDArray[np.float32]:
        """Values known at the nodes, spread bilinearly to the pixels of a window.

        In float32: a pixel position in an image of 30,000 pixels keeps a few
        thousandths of a pixel, and the tile's arrays stay half the size.
        """
        cr, fr = self.cell[rows], self.frac[rows]
        cc, fc = self.cell[cols], self.frac[cols]
        nodes = at_nodes.astype(np.float32)
        across = nodes[:, cc] * (1.0 - fc)[None, :] + nodes[:, cc + 1] * fc[None, :]
        return across[cr, :] * (1.0 - fr)[:, None] + across[cr + 1, :] * fr[:, None]


# -- images ------------------------------------------------------------------------


@dataclass
class _Source:
    """An image as the tiles see it: its WCS, size and how its values are scaled."""

    record: ImageRecord
    path: Path
    wcs: WCS
    shape: tuple[int, int]
    per: float  # values are divided by this (the exposure time, else 1)
    frame: BaseCoordinateFrame | None  # None: the tiles' ICRS coordinates serve as they are
    lon_first: bool
    local: threading.local = field(default_factory=threading.local, repr=False)

    @property
    def scale_deg(self) -> float:
        return float(np.mean(proj_plane_pixel_scales(self.wcs)))

    def to_pixel(self, ra: NDArray, dec: NDArray) -> tuple[NDArray, NDArray]:
        if self.frame is not None:
            sky = SkyCoord(ra * u.deg, dec * u.deg, frame=ICRS()).transform_to(self.frame)
            spherical = sky.spherical
            ra, dec = spherical.lon.to_value(u.deg), spherical.lat.to_value(u.deg)
        world = (ra, dec) if self.lon_first else (dec, ra)
        # wcslib keeps working state in the WCS object: one copy per thread.
        wcs = getattr(self.local, "wcs", None)
        if wcs is None:
            wcs = self.local.wcs = self.wcs.deepcopy()
        with np.errstate(invalid="ignore", divide="ignore"):
            x, y = wcs.world_to_pixel_values(*world)
        return np.asarray(x, np.float64), np.asarray(y, np.float64)


def _open_source(record: ImageRecord, path: Path) -> _Source:
    with fits.open(path, lazy_load_hdus=True) as hdul:
        header = hdul[record.hdu].header.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)  # wcslib's routine fix-ups
        wcs = WCS(header, naxis=2)
    if not wcs.has_celestial or wcs.naxis != 2:
        raise ValueError("no celestial WCS")
    frame = wcs_to_celestial_frame(wcs)
    same = isinstance(frame, ICRS) or (
        isinstance(frame, FK5) and abs(frame.equinox.jyear - 2000.0) < 1e-6
    )  # FK5 J2000 and ICRS differ by tens of milliarcseconds: far below a pixel
    per = record.t_exptime if record.t_exptime and record.t_exptime > 0 else 1.0
    return _Source(
        record, path, wcs, (record.s_xel2, record.s_xel1), float(per),
        None if same else frame, wcs.wcs.lng == 0,
    )  # fmt: skip


def _priority(record: ImageRecord) -> tuple[int, float, str, int]:
    """Best first: stacks (higher calibration level), then the longest exposure."""
    return (-record.calib_level, -(record.t_exptime or 0.0), record.path, record.hdu)


class _Pixels:
    """Images' values (already divided by their exposure time), the most recent kept."""

    def __init__(self, budget: int = _CACHE_BYTES) -> None:
        self.budget = budget
        self.kept: OrderedDict[tuple[str, int], Floats] = OrderedDict()
        self.lock = threading.Lock()  # tiles are computed on several threads

    def get(self, source: _Source) -> Floats:
        key = (str(source.path), source.record.hdu)
        with self.lock:
            if key in self.kept:
                self.kept.move_to_end(key)
                return self.kept[key]
            with fits.open(source.path, lazy_load_hdus=True) as hdul:
                data = np.array(hdul[source.record.hdu].data, dtype=np.float32)
            data = np.squeeze(data) if data.ndim > 2 else data
            data /= np.float32(source.per)
            data[~np.isfinite(data)] = np.nan
            self.kept[key] = data
            while sum(a.nbytes for a in self.kept.values()) > self.budget and len(self.kept) > 1:
                self.kept.popitem(last=False)
            return data


def _bilinear(image: Floats, x: NDArray, y: NDArray) -> NDArray[np.float64]:
    """Values between pixel centres (0-based, centres on integers); edges held flat."""
    ny, nx = image.shape
    x = np.clip(x, 0.0, nx - 1.0)
    y = np.clip(y, 0.0, ny - 1.0)
    x0 = np.minimum(x.astype(np.intp), max(nx - 2, 0))
    y0 = np.minimum(y.astype(np.intp), max(ny - 2, 0))
    x1, y1 = np.minimum(x0 + 1, nx - 1), np.minimum(y0 + 1, ny - 1)
    fx, fy = x - x0, y - y0
    top = image[y0, x0] * (1.0 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1.0 - fx) + image[y1, x1] * fx
    return np.asarray(top * (1.0 - fy) + bottom * fy, dtype=np.float64)


def _window(
    geometry: _Geometry, nodes_x: NDArray, nodes_y: NDArray, shape: tuple[int, int]
) -> tuple[slice, slice] | None:
    """The rows and columns of the tile that can hold pixels of an image, from where its
    WCS puts the nodes (None: none can). Nodes within one node spacing of the image
    count, so an image smaller than the spacing is still found between them."""
    ny, nx = shape
    spacing = max(
        float(np.abs(np.diff(a, axis=k)).max()) for a in (nodes_x, nodes_y) for k in (0, 1)
    )
    reach = 1.5 * spacing + 1.0
    near = (nodes_x > -reach) & (nodes_x < nx + reach) & (nodes_y > -reach) & (nodes_y < ny + reach)
    if not near.any():
        return None
    last = len(geometry.nodes) - 1
    rows, cols = np.flatnonzero(near.any(axis=1)), np.flatnonzero(near.any(axis=0))
    r0, r1 = geometry.nodes[max(rows[0] - 1, 0)], geometry.nodes[min(rows[-1] + 1, last)] + 1
    c0, c1 = geometry.nodes[max(cols[0] - 1, 0)], geometry.nodes[min(cols[-1] + 1, last)] + 1
    return slice(int(r0), int(r1)), slice(int(c0), int(c1))


def _tile_values(
    geometry: _Geometry, tile: int, sources: Sequence[_Source], pixels: _Pixels
) -> Floats:
    """The tile's values, NaN where no image has a pixel; see the module docstring."""
    w = geometry.width
    out = np.full((w, w), np.nan, dtype=np.float32)
    node_ra, node_dec = geometry.lonlat(tile, geometry.nodes)
    bent = geometry.crosses_cap(node_dec)
    exact: tuple[NDArray, NDArray] | None = None
    for source in sources:
        if not np.isnan(out).any():
            break
        ny, nx = source.shape
        nodes_x, nodes_y = source.to_pixel(node_ra, node_dec)
        placed = bool(np.isfinite(nodes_x).all() and np.isfinite(nodes_y).all())
        window = _window(geometry, nodes_x, nodes_y, source.shape) if placed else None
        if placed and window is None:
            continue
        rows, cols = window or (slice(0, w), slice(0, w))
        empty = np.flatnonzero(np.isnan(out[rows, cols]))
        if empty.size == 0:
            continue
        if placed:
            x = geometry.interpolate(nodes_x, rows, cols).ravel()[empty]
            y = geometry.interpolate(nodes_y, rows, cols).ravel()[empty]
            if bent:  # only pixels near the image are then placed exactly
                slack = float(_NODE_STEP)
                near = (x >= -slack) & (x <= nx + slack) & (y >= -slack) & (y <= ny + slack)
                empty = empty[near]
        if not placed or bent:
            if exact is None:
                exact = geometry.lonlat(tile)
            x, y = source.to_pixel(exact[0][rows, cols].ravel()[empty],
                                   exact[1][rows, cols].ravel()[empty])  # fmt: skip
        with np.errstate(invalid="ignore"):
            inside = (x >= -0.5) & (x <= nx - 0.5) & (y >= -0.5) & (y <= ny - 0.5)
        if inside.any():
            r, c = np.divmod(empty[inside], cols.stop - cols.start)
            out[r + rows.start, c + cols.start] = _bilinear(
                pixels.get(source), x[inside], y[inside]
            )
    return out


class _Workers:
    """A few threads for the tile loop (numpy, zlib and file writes release the GIL):
    results come back in the order asked, with a bounded number of tiles in flight."""

    def __init__(self, threads: int) -> None:
        self.threads = max(1, threads)
        self.pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self.writes: deque[Future[None]] = deque()

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            while self.writes:
                self.writes.popleft().result()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)

    def in_order(
        self, fn: Callable[[int], Floats], items: Sequence[int]
    ) -> Iterator[tuple[int, Floats]]:
        if self.pool is None:
            yield from ((item, fn(item)) for item in items)
            return
        ahead: deque[tuple[int, Future[Floats]]] = deque()
        for item in items:
            ahead.append((item, self.pool.submit(fn, item)))
            if len(ahead) > 2 * self.threads:
                first, future = ahead.popleft()
                yield first, future.result()
        while ahead:
            first, future = ahead.popleft()
            yield first, future.result()

    def later(self, fn: Callable[..., None], *args: object) -> None:
        if self.pool is None:
            fn(*args)
            return
        self.writes.append(self.pool.submit(fn, *args))
        while len(self.writes) > 4 * self.threads:
            self.writes.popleft().result()


def _halve(values: Floats) -> Floats:
    """Means of 2x2 blocks over their finite pixels; NaN where none is."""
    finite = np.isfinite(values)
    zeroed = np.where(finite, values, np.float32(0.0))
    counted = finite.astype(np.float32)
    sums = zeroed[0::2, 0::2] + zeroed[1::2, 0::2] + zeroed[0::2, 1::2] + zeroed[1::2, 1::2]
    counts = counted[0::2, 0::2] + counted[1::2, 0::2] + counted[0::2, 1::2] + counted[1::2, 1::2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts  # 0/0 is NaN: no finite pixel in the block


class _Pyramid:
    """Writes each tile, and the 2x2-averaged tiles of every order above it, as the
    deepest tiles arrive in increasing NESTED index (so a parent is complete when
    the next tile belongs to another)."""

    def __init__(self, width: int, write: Callable[[int, int, Floats], None]) -> None:
        self.width, self.write = width, write
        self.pending: dict[int, tuple[int, Floats]] = {}
        self.count = 0

    def add(self, order: int, npix: int, values: Floats) -> None:
        self.write(order, npix, values)
        self.count += 1
        if order == 0:
            return
        parent = npix >> 2
        current = self.pending.get(order - 1)
        if current is not None and current[0] != parent:
            del self.pending[order - 1]
            self.add(order - 1, *current)
            current = None
        if current is None:
            current = (parent, np.full((self.width, self.width), np.nan, dtype=np.float32))
            self.pending[order - 1] = current
        h = self.width // 2
        quarter = npix & 3  # row half from bit 0, column half from bit 1
        r, c = (quarter & 1) * h, (quarter >> 1) * h
        current[1][r : r + h, c : c + h] = _halve(values)

    def finish(self) -> None:
        """Write the parents still pending, deepest first (each adds its own parent)."""
        while self.pending:
            order = max(self.pending)
            self.add(order, *self.pending.pop(order))


# -- stretch and encoding ----------------------------------------------------------


@dataclass(frozen=True)
class _Stretch:
    """asinh from ``low`` (black), softened at ``soft``, to ``high`` (white)."""

    low: float
    soft: float
    high: float

    @classmethod
    def of(cls, samples: NDArray) -> _Stretch:
        values = samples[np.isfinite(samples)]
        if values.size == 0:
            return cls(0.0, 1.0, 1.0)
        p16, sky, p84, top = (float(v) for v in np.percentile(values, [15.87, 50, 84.13, 99.99]))
        noise = sky - p16 if sky > p16 else (p84 - p16) / 2.0
        if not noise > 0:
            noise = max(abs(top - sky) / 1000.0, 1e-12)
        low = sky - 2.0 * noise
        return cls(low, 3.0 * noise, max(top, low + 30.0 * noise))

    def grey(self, values: Floats) -> tuple[Grey, Grey]:
        """8-bit grey levels and alpha (0 where there is no value)."""
        finite = np.isfinite(values)
        grey = np.zeros(values.shape, dtype=np.uint8)
        above = np.maximum(values[finite] - np.float32(self.low), np.float32(0.0))
        scaled = np.arcsinh(above / np.float32(self.soft))
        top = np.float32(255.0 / math.asinh((self.high - self.low) / self.soft))
        grey[finite] = np.clip(np.rint(scaled * top), 0, 255).astype(np.uint8)
        return grey, finite.astype(np.uint8) * np.uint8(255)

    def text(self) -> str:
        return f"asinh {self.low:.6g} {self.soft:.6g} {self.high:.6g}"


def _stretch_for(sources: Sequence[_Source], pixels: _Pixels) -> _Stretch:
    per_image = max(1_000, _SAMPLES // max(1, len(sources)))
    samples = []
    for source in sources:
        data = pixels.get(source)
        step = max(1, int(math.sqrt(data.size / per_image)))
        samples.append(data[::step, ::step].ravel())
    return _Stretch.of(np.concatenate(samples) if samples else np.zeros(0))


def encode_png(channels: Sequence[Grey]) -> bytes:
    """A PNG of 2 (grey, alpha) or 4 (RGBA) 8-bit channels, rows top-down as given."""
    colour_type = {2: 4, 4: 6}[len(channels)]
    height, width = channels[0].shape
    pixels = np.stack(channels, axis=-1).reshape(height, width * len(channels))
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), pixels]).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (_PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1))
            + chunk(b"IEND", b""))  # fmt: skip


def _decode_own_png(data: bytes) -> tuple[Grey, Grey]:
    """Grey and alpha of a tile written by :func:`encode_png` (unfiltered rows only)."""
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    pos, idat, width = len(_PNG_SIGNATURE), b"", 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
            if (depth, colour_type) != (8, 4):
                raise ValueError("not an 8-bit grey and alpha PNG")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + 2 * width)
    if rows[:, 0].any():
        raise ValueError("filtered PNG rows")
    pixels = rows[:, 1:].reshape(height, width, 2)
    return pixels[..., 0], pixels[..., 1]


# -- coverage (MOC) ----------------------------------------------------------------


def _footprint_cells(record: ImageRecord, order: int) -> NDArray[np.uint64]:
    lon = np.array([p[0] for p in record.s_region], dtype=np.float64)
    lat = np.array([p[1] for p in record.s_region], dtype=np.float64)
    try:
        cells, _, _ = healpix.polygon_search(lon * u.deg, lat * u.deg, order, flat=True)
    except (ValueError, IndexError):  # a degenerate outline: its bounding circle instead
        cells, _, _ = healpix.cone_search(
            record.s_ra * u.deg, record.s_dec * u.deg, record.s_fov / 2.0 * u.deg, order,
            flat=True,
        )  # fmt: skip
    return np.asarray(cells, dtype=np.uint64)


def _moc_uniq(cells: NDArray[np.uint64], order: int) -> NDArray[np.int64]:
    """Cells of one order as a MOC in NUNIQ form, four siblings merged into their parent."""
    current = np.unique(cells.astype(np.int64))
    uniq: list[NDArray[np.int64]] = []
    for level in range(order, 0, -1):
        parents, counts = np.unique(current >> 2, return_counts=True)
        full = parents[counts == 4]
        keep = current[~np.isin(current >> 2, full)]
        uniq.append(4 * 4**level + keep)
        current = full
    uniq.append(4 + current)
    return np.sort(np.concatenate(uniq))


def _write_moc(path: Path, records: Iterable[ImageRecord], order: int) -> float:
    """``Moc.fits`` (MOC 2.0, space only) of the footprints; returns the sky fraction."""
    cells = [_footprint_cells(r, order) for r in records]
    merged = np.concatenate(cells) if cells else np.zeros(0, dtype=np.uint64)
    uniq = _moc_uniq(merged, order)
    levels = np.floor(np.log2(uniq) / 2).astype(np.int64) - 1
    fraction = float(np.sum(4.0 ** (-levels.astype(np.float64))) / 12.0)
    table = fits.BinTableHDU.from_columns([fits.Column("UNIQ", "K", array=uniq)])
    for key, value in (("PIXTYPE", "HEALPIX"), ("ORDERING", "NUNIQ"), ("COORDSYS", "C"),
                       ("MOCVERS", "2.0"), ("MOCDIM", "SPACE"), ("MOCORD_S", order),
                       ("MOCORDER", order), ("MOCTOOL", f"Data Lab {__version__}")):  # fmt: skip
        table.header[key] = value
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    return fraction


# -- building ----------------------------------------------------------------------


def _fingerprint(
    kind: str, records: Sequence[ImageRecord], images_dir: Path, **options: object
) -> str:
    """What a HiPS is made from: its images' files (size and time) and the options."""
    files = []
    for r in sorted(records, key=_priority):
        stamp: list[int | None]
        try:
            st = (Path(images_dir) / r.path).stat()
            stamp = [st.st_size, st.st_mtime_ns]
        except OSError:
            stamp = [None, None]
        files.append([r.path, r.hdu, r.band, r.calib_level, r.t_exptime, *stamp])
    text = json.dumps([kind, _BUILD_VERSION, options, files], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _current(folder: Path, fingerprint: str) -> bool:
    try:
        built = json.loads((folder / _BUILD_FILE).read_text())
    except (OSError, ValueError):
        return False
    return built.get("fingerprint") == fingerprint and (folder / "properties").is_file()


def _swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` with two renames; the old one is then removed."""
    old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _write_properties(folder: Path, values: dict[str, object]) -> None:
    lines = ["# HiPS properties (IVOA HiPS 1.0), written by Data Lab"]
    for key, value in values.items():
        if value is None:
            continue
        text = re.sub(r"\s+", " ", f"{value:.8g}" if isinstance(value, float) else str(value))
        lines.append(f"{key:<22}= {text}")
    (folder / "properties").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _regime(em_min: float | None, em_max: float | None) -> str | None:
    if em_min is None or em_max is None:
        return None
    centre = (em_min + em_max) / 2.0
    for limit, name in ((1e-8, "X-ray"), (3.2e-7, "UV"), (1.1e-6, "Optical"), (1e-3, "Infrared")):
        if centre < limit:
            return name
    return "Radio"


def _names(values: Iterable[str], most: int = 3) -> str:
    unique = sorted(set(values))
    shown = ", ".join(unique[:most])
    return shown + (f" and {len(unique) - most} more" if len(unique) > most else "")


def _initial_view(records: Sequence[ImageRecord]) -> tuple[float, float, float]:
    """Centre and field of the image overlapped by the most others (ties: the best)."""
    ra = np.radians([r.s_ra for r in records])
    dec = np.radians([r.s_dec for r in records])
    xyz = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=1)
    radius = np.radians([r.s_fov / 2.0 for r in records])
    distance = np.arccos(np.clip(xyz @ xyz.T, -1.0, 1.0))
    overlaps = (distance < radius[:, None] + radius[None, :]).sum(axis=1)
    best = min(range(len(records)), key=lambda i: (-overlaps[i], _priority(records[i])))
    chosen = records[best]
    return chosen.s_ra, chosen.s_dec, min(180.0, 1.5 * chosen.s_fov)


def _common_properties(
    hips_id: str, order: int, width: int, records: Sequence[ImageRecord]
) -> dict[str, object]:
    ra, dec, fov = _initial_view(records)
    return {
        "creator_did": f"ivo://{_AUTHORITY}/hips/{hips_id}",
        "obs_title": None,
        "obs_description": None,
        "dataproduct_type": "image",
        "hips_version": "1.4",
        "hips_builder": f"Data Lab {__version__}",
        "hips_release_date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "hips_status": "public master clonableOnce",
        "hips_frame": "equatorial",
        "hips_order": order,
        "hips_order_min": 0,
        "hips_tile_width": width,
        "hips_tile_format": None,
        "hips_pixel_scale": _FULL_SKY_DEG / 2 ** (order + int(math.log2(width))),
        "hips_initial_ra": ra,
        "hips_initial_dec": dec,
        "hips_initial_fov": fov,
        "obs_collection": _names(r.obs_collection for r in records),
    }


def _build_band(
    band: str,
    records: Sequence[ImageRecord],
    images_dir: Path,
    target: Path,
    *,
    width: int,
    max_order: int | None,
    fits_tiles: bool,
    fingerprint: str,
    threads: int,
    progress: bool,
    report: HipsReport,
) -> bool:
    """Build one band's HiPS aside and swap it in; False if no image could be used."""
    index = ImageIndex(records, images_dir)
    sources = []
    for record in sorted(records, key=_priority):
        try:
            sources.append(_open_source(record, index.file(record.image_id)))
        except (DataLabError, OSError, ValueError, KeyError, IndexError) as exc:
            report.skipped.append((record.path, getattr(exc, "message", None) or str(exc)))
    if not sources:
        return False
    order = choose_order(float(np.median([s.scale_deg for s in sources])), width)
    if max_order is not None:
        order = min(order, max_order)
    by_tile: dict[int, list[_Source]] = defaultdict(list)
    for source in sources:
        for tile in _footprint_cells(source.record, order).tolist():
            by_tile[tile].append(source)
    pixels = _Pixels()
    stretch = _stretch_for(sources, pixels)
    geometry = _Geometry(order, width)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.building")
    staging.mkdir(parents=True)
    try:

        def write(level: int, npix: int, values: Floats) -> None:
            path = staging / _tile_name(level, npix, "png")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_png(stretch.grey(values)))
            if fits_tiles:
                # A copy, rows bottom-up: astropy byteswaps the array it writes in place,
                # and the tile's own array is still being read on another thread.
                fits.PrimaryHDU(values[::-1].copy()).writeto(path.with_suffix(".fits"))

        hips_id = target.name
        with _Workers(threads) as workers:
            pyramid = _Pyramid(width, lambda *tile: workers.later(write, *tile))
            computed = workers.in_order(
                lambda tile: _tile_values(geometry, tile, by_tile[tile], pixels), sorted(by_tile)
            )
            with tqdm(computed, total=len(by_tile), unit=" tiles", desc=f"HiPS {hips_id}",
                      disable=not progress, file=sys.stderr) as tiles:  # fmt: skip
                for tile, values in tiles:
                    if np.isfinite(values).any():
                        pyramid.add(order, tile, values)
            pyramid.finish()
        used = [s.record for s in sources]
        props = _common_properties(hips_id, order, width, used)
        em_min, em_max = band_limits(band)
        props.update(
            obs_title=f"{_names(r.facility_name for r in used)}, {band} band",
            obs_description=f"Mosaic of {len(used)} images in band {band} "
            f"({_names(r.obs_collection for r in used)}), in counts per second of exposure; "
            "the deepest image wherever images overlap.",
            hips_tile_format="png fits" if fits_tiles else "png",
            moc_sky_fraction=_write_moc(staging / "Moc.fits", used, min(order + 3, 29)),
            s_pixel_scale=float(np.median([s.scale_deg for s in sources])),
            em_min=em_min,
            em_max=em_max,
            obs_regime=_regime(em_min, em_max),
            hips_pixel_bitpix=-32 if fits_tiles else None,
            hips_pixel_cut=f"{stretch.low:.6g} {stretch.high:.6g}" if fits_tiles else None,
            datalab_bands=band,
            datalab_images=len(used),
            datalab_stretch=stretch.text(),
        )
        _write_properties(staging, props)
        (staging / _BUILD_FILE).write_text(json.dumps({"fingerprint": fingerprint}))
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.tiles += pyramid.count
    return True


def _colour_bands(by_band: dict[str, list[ImageRecord]]) -> list[str] | None:
    """Three bands of known wavelength for red, green and blue (the most imaged, then
    the longest first), or None."""
    known = []
    for band, records in by_band.items():
        low, high = band_limits(band)
        if low is not None and high is not None:
            known.append((len(records), (low + high) / 2.0, band))
    if len(known) < 3:
        return None
    chosen = sorted(known, key=lambda k: (-k[0], -k[1]))[:3]
    return [band for _, _, band in sorted(chosen, key=lambda k: -k[1])]


def _build_colour(
    bands: Sequence[str], hips_dir: Path, target: Path, records: Sequence[ImageRecord],
    fingerprint: str, report: HipsReport,
) -> bool:  # fmt: skip
    """Compose RGB tiles from the three band HiPS (red first) just built."""
    folders = [hips_dir / hips_id_for_band(b) for b in bands]
    infos = [info for info in map(_info, folders) if info is not None]
    if len(infos) != 3 or len({(i.order, i.tile_width) for i in infos}) != 1:
        return False  # a band failed, or the bands' orders differ: no colour
    order, width = infos[0].order, infos[0].tile_width
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.building")
    staging.mkdir(parents=True)
    count = 0
    try:
        for level in range(order + 1):
            names = sorted({p.relative_to(f).as_posix() for f in folders
                            for p in (f / f"Norder{level}").glob("Dir*/Npix*.png")})  # fmt: skip
            for name in names:
                channels, alphas = [], []
                for folder in folders:
                    tile = folder / name
                    if tile.is_file():
                        grey, alpha = _decode_own_png(tile.read_bytes())
                    else:
                        grey = alpha = np.zeros((width, width), dtype=np.uint8)
                    channels.append(grey)
                    alphas.append(alpha)
                out = staging / name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(encode_png([*channels, np.maximum.reduce(alphas)]))
                count += 1
        props = _common_properties(target.name, order, width, records)
        props.update(
            obs_title=f"{_names(r.facility_name for r in records)}, colour ({', '.join(bands)})",
            obs_description=f"Colour composite: {bands[0]} as red, {bands[1]} as green, "
            f"{bands[2]} as blue, each with the stretch of its own band HiPS.",
            hips_tile_format="png",
            moc_sky_fraction=_write_moc(staging / "Moc.fits", records, min(order + 3, 29)),
            datalab_bands=" ".join(bands),
            datalab_images=len(records),
        )
        _write_properties(staging, props)
        (staging / _BUILD_FILE).write_text(json.dumps({"fingerprint": fingerprint}))
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.tiles += count
    return True


def _remove(folder: Path, report: HipsReport) -> None:
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
        report.removed.append(folder.name)


def build_hips(
    records: Sequence[ImageRecord],
    images_dir: Path,
    hips_dir: Path,
    *,
    bands: Collection[str] | None = None,
    colour: bool = True,
    fits_tiles: bool = False,
    max_order: int | None = None,
    tile_width: int = TILE_WIDTH,
    force: bool = False,
    threads: int | None = None,
    progress: bool = False,
) -> HipsReport:
    """(Re)build the HiPS of ``bands`` (default: every band) from ``records``.

    ``records`` is the whole image index, so that the colour HiPS and the initial
    views see every image. A band whose images are unchanged since its last build is
    left alone unless ``force``; a band given in ``bands`` that no longer has images
    loses its HiPS, and so does every band not in the index when ``bands`` is None.
    Images without a band, or that cannot be read, are passed over (``skipped``).
    ``threads`` (default: the cores, at most 4) compute and write tiles at once.
    """
    if tile_width < 8 or tile_width & (tile_width - 1):
        raise ValueError(f"tile width must be a power of two of at least 8, not {tile_width}")
    started = time.monotonic()
    hips_dir = Path(hips_dir)
    hips_dir.mkdir(parents=True, exist_ok=True)
    report = HipsReport()
    by_band: dict[str, list[ImageRecord]] = defaultdict(list)
    for record in records:
        if record.band:
            by_band[record.band].append(record)
    wanted = set(by_band) if bands is None else set(bands)
    options = {"width": tile_width, "max_order": max_order, "fits": fits_tiles}
    prints: dict[str, str] = {}
    for band in sorted(by_band):
        prints[band] = _fingerprint("band", by_band[band], images_dir, **options)
    changed = False
    for band in sorted(wanted):
        target = hips_dir / hips_id_for_band(band)
        if band not in by_band:
            _remove(target, report)
            continue
        if not force and _current(target, prints[band]):
            report.unchanged.append(target.name)
            continue
        if _build_band(band, by_band[band], images_dir, target, width=tile_width,
                       max_order=max_order, fits_tiles=fits_tiles, fingerprint=prints[band],
                       threads=threads or min(4, os.cpu_count() or 1), progress=progress,
                       report=report):  # fmt: skip
            report.built.append(target.name)
            changed = True
        else:
            _remove(target, report)
    if bands is None:
        planned = {hips_id_for_band(b) for b in by_band}
        for folder in sorted(hips_dir.glob("band-*")):
            if folder.name not in planned:
                _remove(folder, report)
    triple = _colour_bands(by_band) if colour else None
    keep_colour = colour_id(triple) if triple else None
    for folder in sorted(hips_dir.glob("colour-*")):
        if folder.name != keep_colour:
            _remove(folder, report)
    if triple and keep_colour:
        target = hips_dir / keep_colour
        used = [r for b in triple for r in by_band[b]]
        fingerprint = hashlib.sha256(" ".join(prints[b] for b in triple).encode()).hexdigest()
        if not force and not changed and _current(target, fingerprint):
            report.unchanged.append(keep_colour)
        elif _build_colour(triple, hips_dir, target, used, fingerprint, report):
            report.built.append(keep_colour)
    report.seconds = time.monotonic() - started
    return report


def build_hips_for_catalog(
    catalog: Path, images_dir: Path, hips_dir: Path, **options: Any
) -> HipsReport:
    """:func:`build_hips` over every image of the catalog's ``ivoa.obscore`` (read-only)."""
    engine = Engine(Path(catalog))
    try:
        with engine.cursor() as cursor:
            records = read_obscore(cursor)
    finally:
        engine.close()
    return build_hips(records, images_dir, hips_dir, **options)

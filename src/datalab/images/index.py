"""Finding images: the records of ``ivoa.obscore`` in memory, searched SIA's way.

An image archive has thousands of images, not billions of rows, so the services keep
the records in memory and test footprints exactly: a cheap distance test on the
bounding circles first, then the polygon against the region with
:func:`datalab.sky.intersects` / :func:`datalab.sky.contains`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from datalab.catalog import Engine
from datalab.errors import NotFoundError, PermissionDeniedError, UsageError
from datalab.images.records import ImageRecord
from datalab.images.table import read_obscore
from datalab.sky import Shape, angular_distance, contains, intersects

__all__ = ["INTERSECT_MODES", "ImageIndex"]

INTERSECT_MODES = ("COVERS", "ENCLOSED", "CENTER", "OVERLAPS")
"""SIA 1.0 §4.1 INTERSECT values: how an image must relate to the search region."""

Interval = tuple[float, float]


def _overlaps(low: float | None, high: float | None, wanted: Interval) -> bool:
    """Whether [low, high] meets ``wanted``; unknown bounds never match a constraint."""
    if low is None or high is None:
        return False
    return low <= wanted[1] and high >= wanted[0]


def _within(value: float | None, wanted: Interval) -> bool:
    return value is not None and wanted[0] <= value <= wanted[1]


class ImageIndex:
    """The images a server offers, looked up by id and searched by region and metadata."""

    def __init__(self, records: Sequence[ImageRecord], images_dir: Path) -> None:
        self._records = tuple(records)
        self._by_id = {r.image_id: r for r in self._records}
        self._by_did = {r.obs_publisher_did: r for r in self._records}
        self.images_dir = Path(images_dir)
        self._ra = np.array([r.s_ra for r in self._records], dtype=np.float64)
        self._dec = np.array([r.s_dec for r in self._records], dtype=np.float64)
        self._radius = np.array([r.s_fov / 2.0 for r in self._records], dtype=np.float64)

    @classmethod
    def from_engine(cls, engine: Engine, images_dir: Path) -> ImageIndex:
        """The index of the catalog's ``ivoa.obscore`` (empty if there is none)."""
        with engine.cursor() as cur:
            return cls(read_obscore(cur), images_dir)

    def records(self) -> Sequence[ImageRecord]:
        return self._records

    def __len__(self) -> int:
        return len(self._records)

    def get(self, image_id: str) -> ImageRecord:
        """The image with this id (or ``obs_publisher_did``)."""
        record = self._by_id.get(image_id) or self._by_did.get(image_id)
        if record is None:
            raise NotFoundError(f"no image {image_id!r}", detail={"id": image_id})
        return record

    def file(self, image_id: str) -> Path:
        """The image's file, refused unless it really lies inside the images directory.

        The record's path is checked as written (relative, no ``..``) and as resolved
        (no symbolic link leading out), so a tampered table cannot serve other files.
        """
        record = self.get(image_id)
        written = PurePosixPath(record.path)
        if written.is_absolute() or ".." in written.parts or "\\" in record.path:
            raise PermissionDeniedError(f"image {image_id!r}: its path leaves the images directory")
        root = self.images_dir.resolve()
        real = (root / written).resolve()
        if not real.is_relative_to(root) or real == root:
            raise PermissionDeniedError(
                f"image {image_id!r}: its file lies outside the images directory"
            )
        if not real.is_file():
            raise NotFoundError(f"image {image_id!r}: its file {record.path} is missing")
        return real

    def search(
        self,
        region: Shape | None = None,
        *,
        intersect: str = "OVERLAPS",
        band: Interval | None = None,
        time: Interval | None = None,
        calib: Collection[int] = (),
        collection: Collection[str] = (),
        facility: Collection[str] = (),
        instrument: Collection[str] = (),
        dptype: Collection[str] = (),
        ids: Collection[str] = (),
        exptime: Interval | None = None,
        fov: Interval | None = None,
        spatres: Interval | None = None,
        pol: Collection[str] = (),
        maxrec: int | None = None,
    ) -> list[ImageRecord]:
        """The images matching every constraint given, in index order.

        ``band`` (metres) and ``time`` (MJD) match images whose range overlaps the
        interval; ``exptime``, ``fov`` (degrees) and ``spatres`` (arcsec) match values
        inside it; collections of values match any of them (``ids``: image ids or
        publisher DIDs; ``pol``: any of the states). Images lacking the value never
        match a constraint on it.
        """
        mode = intersect.upper()
        if mode not in INTERSECT_MODES:
            raise UsageError(
                f"INTERSECT={intersect!r}: use one of {', '.join(INTERSECT_MODES)}",
                detail={"parameter": "INTERSECT", "value": intersect},
            )
        if maxrec is not None and maxrec < 0:
            raise UsageError(f"MAXREC={maxrec}: must be 0 or more", detail={"parameter": "MAXREC"})
        candidates = self._near(region) if region is not None else range(len(self._records))
        wanted_ids, pol_states = set(ids), set(pol)
        found: list[ImageRecord] = []
        for i in candidates:
            if maxrec is not None and len(found) >= maxrec:
                break
            r = self._records[i]
            if (
                (calib and r.calib_level not in calib)
                or (collection and r.obs_collection not in collection)
                or (facility and r.facility_name not in facility)
                or (instrument and r.instrument_name not in instrument)
                or (dptype and r.dataproduct_type not in dptype)
                or (wanted_ids and not {r.image_id, r.obs_publisher_did} & wanted_ids)
                or (band is not None and not _overlaps(r.em_min, r.em_max, band))
                or (time is not None and not _overlaps(r.t_min, r.t_max, time))
                or (exptime is not None and not _within(r.t_exptime, exptime))
                or (fov is not None and not _within(r.s_fov, fov))
                or (spatres is not None and not _within(r.s_resolution, spatres))
                or (pol_states and not pol_states & set((r.pol_states or "").split("/")))
            ):
                continue
            if region is not None and not _spatial(r, region, mode):
                continue
            found.append(r)
        return found

    def _near(self, region: Shape) -> list[int]:
        """Indices of images whose bounding circle reaches the region's."""
        if not self._records:
            return []
        bound = region.bounding_circle()
        distance = angular_distance(bound.ra, bound.dec, self._ra, self._dec)
        reach = distance <= self._radius + bound.radius + 1e-9
        return [int(i) for i in np.flatnonzero(reach)]


def _spatial(record: ImageRecord, region: Shape, mode: str) -> bool:
    footprint = record.footprint
    if mode == "OVERLAPS":
        return intersects(footprint, region)  # type: ignore[arg-type]
    if mode == "COVERS":
        return contains(footprint, region)  # type: ignore[arg-type]
    if mode == "ENCLOSED":
        return contains(region, footprint)  # type: ignore[arg-type]
    # CENTER: the region's centre, which for a polygon is taken as the centre of its
    # bounding circle (circles and boxes are their own centres).
    centre = region.bounding_circle()
    return bool(footprint.contains(centre.ra, centre.dec))

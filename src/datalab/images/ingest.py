"""Indexing FITS images into ``ivoa.obscore``: files and folders, good and bad alike.

Images are served only from the images directory, so that a record can never point
the services at an arbitrary file: a file already inside it is indexed where it is;
a file from elsewhere is copied to ``<images dir>/<collection>/`` first (keeping its
path below a folder given on the command line). Files are read one header at a time;
a file that cannot be read is reported with the reason and the rest are indexed.
The table is rewritten once at the end, keeping the records of files not ingested
this time and replacing those of files that were. Then, given a HiPS folder, the
HiPS of the bands touched (those of the files ingested, before and after) are
rebuilt from the whole index, so that a sky viewer shows the new images.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from datalab.catalog import CatalogStore
from datalab.errors import DataLabError, UsageError
from datalab.images.header import records_from_file, relative_image_path
from datalab.images.hips import HipsReport, build_hips
from datalab.images.records import FITS_SUFFIXES, ImageRecord
from datalab.images.table import read_obscore, write_obscore

__all__ = ["DEFAULT_INGEST_COLLECTION", "IngestReport", "ingest_images"]

DEFAULT_INGEST_COLLECTION = "ingested"
"""Folder (and ``obs_collection``) for files copied in without ``--collection``."""


@dataclass
class IngestReport:
    """What an ingest did: images indexed, and each file refused with the reason."""

    indexed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0
    hips: HipsReport | None = None


def _is_fits_name(path: Path) -> bool:
    return path.name.lower().endswith(FITS_SUFFIXES)


def _walk(paths: Sequence[Path]) -> Iterator[tuple[Path, Path | None]]:
    """(file, the folder it was found under or None) for every file to ingest.

    Files named directly are taken whatever their name; inside folders, only files
    with a FITS suffix, in sorted order so that ingests are reproducible.
    """
    for given in paths:
        given = Path(given)
        if given.is_dir():
            for folder, dirs, files in os.walk(given):
                dirs.sort()
                for name in sorted(files):
                    candidate = Path(folder) / name
                    if _is_fits_name(candidate):
                        yield candidate, given
        else:
            yield given, None


def _destination(file: Path, root: Path | None, images_dir: Path, collection: str) -> Path:
    """Where a file from outside the images directory is copied to."""
    below = file.relative_to(root) if root is not None else Path(file.name)
    if root is not None:
        below = Path(root.resolve().name) / below
    return images_dir / collection / below


def _copy(source: Path, target: Path) -> None:
    """Copy via a temporary name, so a reader never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        shutil.copyfile(source, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _check_collection(collection: str | None) -> str | None:
    if collection is None:
        return None
    name = collection.strip()
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise UsageError(f"collection {collection!r}: give a plain name, e.g. my_survey")
    return name


def _index_one(
    file: Path, root: Path | None, images_dir: Path, collection: str | None
) -> list[ImageRecord]:
    real_root = images_dir.resolve()
    inside = file.resolve().is_relative_to(real_root)
    if inside:
        relative = relative_image_path(file, images_dir)
        records = records_from_file(file, relative)
    else:
        target = _destination(file, root, images_dir, collection or DEFAULT_INGEST_COLLECTION)
        relative = relative_image_path(target, images_dir)
        records = records_from_file(file, relative)  # refuse before copying
        _copy(file, target)
    if collection is not None:
        records = [replace(r, obs_collection=collection) for r in records]
    return records


def _reason(exc: Exception, file: Path) -> str:
    """The error's message without the file name the report already gives."""
    text = exc.message if isinstance(exc, DataLabError) else str(exc)
    return text.removeprefix(f"{file}: ")


def ingest_images(
    paths: Sequence[Path],
    catalog: Path,
    images_dir: Path,
    *,
    collection: str | None = None,
    progress: bool = False,
    hips_dir: Path | None = None,
    hips_fits: bool = False,
    threads: int | None = None,
) -> IngestReport:
    """Index the FITS files at ``paths`` (files or folders) into ``ivoa.obscore``.

    ``collection`` names the ``obs_collection`` of every image indexed (default: the
    top folder of the file under the images directory) and the folder files from
    outside are copied to. Returns what was indexed and what was refused; the table
    is written even when some files fail, and left as it was when all do.

    With ``hips_dir``, the HiPS of the bands these files had or have are rebuilt
    there afterwards (``hips_fits``: FITS tiles beside the PNG ones; ``threads``
    for the tiles), and ``report.hips`` says what was built.
    """
    collection = _check_collection(collection)
    images_dir = Path(images_dir)
    images_dir.mkdir(parents=True, exist_ok=True)
    report = IngestReport()
    fresh: dict[str, list[ImageRecord]] = {}
    with tqdm(unit=" files", desc="images", disable=not progress, file=sys.stderr) as bar:
        for file, root in _walk(paths):
            report.files += 1
            try:
                records = _index_one(file, root, images_dir, collection)
            except (DataLabError, OSError) as exc:
                report.failed.append((str(file), _reason(exc, file)))
            else:
                fresh[records[0].path] = records
                report.indexed += len(records)
            bar.update(1)
    if not fresh:
        return report
    with CatalogStore.open(catalog) as store:
        before = read_obscore(store.con)
        kept = [r for r in before if r.path not in fresh]
        merged = kept + [r for records in fresh.values() for r in records]
        write_obscore(store, sorted(merged, key=lambda r: (r.path, r.hdu)))
    if hips_dir is not None:
        touched = [r for r in before if r.path in fresh] + [r for rs in fresh.values() for r in rs]
        report.hips = build_hips(
            merged,
            images_dir,
            hips_dir,
            bands={r.band for r in touched if r.band},
            fits_tiles=hips_fits,
            threads=threads,
            progress=progress,
        )
    return report

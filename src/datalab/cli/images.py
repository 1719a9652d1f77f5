"""``datalab images ingest`` (index FITS images for the SIA and SODA services, then
rebuild the HiPS of the bands touched) and ``datalab images hips`` (rebuild them all)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from datalab.cli.seed import SeedCommand, SeedGroup

if TYPE_CHECKING:
    from datalab.images import HipsReport

__all__ = ["images"]


@click.group(cls=SeedGroup)
def images() -> None:
    """Manage the images served by SIA, SODA and HiPS (the ivoa.obscore table)."""


_data_dir = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: $DATALAB_HOME, else ./datalab-data).",
)
_hips_fits = click.option(
    "--hips-fits",
    is_flag=True,
    default=False,
    help="Write FITS tiles (float32, values per second of exposure) beside the PNG ones.",
)


def _hips_line(report: HipsReport) -> str:
    """One line saying what a HiPS build did."""
    parts = []
    if report.built:
        parts.append(f"built {', '.join(report.built)} ({report.tiles:,} tiles)")
    if report.unchanged:
        parts.append(f"unchanged {', '.join(report.unchanged)}")
    if report.removed:
        parts.append(f"removed {', '.join(report.removed)}")
    return f"HiPS: {'; '.join(parts) or 'nothing to build'} ({report.seconds:.1f} s)"


@images.command(cls=SeedCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_data_dir
@click.option(
    "--collection",
    default=None,
    help="obs_collection of these images, and the folder under images/ that files from "
    "elsewhere are copied to (default: their top folder under images/; 'ingested').",
)
@click.option(
    "--no-hips",
    is_flag=True,
    default=False,
    help="Do not rebuild the HiPS of the bands touched (datalab images hips does it later).",
)
@_hips_fits
@click.pass_context
def ingest(
    ctx: click.Context,
    paths: tuple[Path, ...],
    data_dir: Path | None,
    collection: str | None,
    no_hips: bool,
    hips_fits: bool,
) -> None:
    """Index FITS images (files, or folders searched for *.fits) into ivoa.obscore.

    Files outside the data directory's images/ folder are copied into it; files inside
    are indexed where they are. Files that cannot be read are listed with the reason
    and the others are indexed; the command then exits with status 1. The HiPS of the
    bands of these files (the sky viewer's tiles, in hips/) are then rebuilt.
    """
    from datalab.config import load_settings
    from datalab.images import ingest_images

    settings = load_settings(ctx.find_root().params.get("config"), home=data_dir)
    data = settings.paths()
    data.ensure()
    started = time.monotonic()
    report = ingest_images(
        list(paths),
        data.catalog,
        data.images,
        collection=collection,
        progress=True,
        hips_dir=None if no_hips else data.hips,
        hips_fits=hips_fits,
        threads=settings.engine_threads,
    )
    for file, reason in report.failed:
        click.echo(f"  skipped {file}: {reason}", err=True)
    read = report.files - len(report.failed)
    took = time.monotonic() - started - (report.hips.seconds if report.hips else 0.0)
    click.echo(
        f"ivoa.obscore: {report.indexed:,} images indexed from {read:,} files, "
        f"{len(report.failed):,} refused ({took:.1f} s)"
    )
    if report.hips is not None:
        for file, reason in report.hips.skipped:
            click.echo(f"  HiPS passed over {file}: {reason}", err=True)
        click.echo(_hips_line(report.hips))
    if report.failed:
        sys.exit(1)


@images.command(cls=SeedCommand)
@_data_dir
@click.option("--force", is_flag=True, default=False, help="Rebuild even unchanged bands.")
@_hips_fits
@click.pass_context
def hips(ctx: click.Context, data_dir: Path | None, force: bool, hips_fits: bool) -> None:
    """Rebuild the HiPS of every band of ivoa.obscore (the sky viewer's tiles, in hips/).

    Bands whose images are unchanged since their last build are left alone unless
    --force; HiPS of bands no longer indexed are removed. Safe while the server runs.
    """
    from datalab.config import load_settings
    from datalab.images import build_hips_for_catalog

    settings = load_settings(ctx.find_root().params.get("config"), home=data_dir)
    data = settings.paths()
    report = build_hips_for_catalog(
        data.catalog, data.images, data.hips, force=force, fits_tiles=hips_fits,
        threads=settings.engine_threads, progress=True,
    )  # fmt: skip
    for file, reason in report.skipped:
        click.echo(f"  passed over {file}: {reason}", err=True)
    click.echo(_hips_line(report))

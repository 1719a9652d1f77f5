"""``datalab images ingest``: index FITS images for the SIA and SODA services."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from datalab.cli.seed import SeedCommand, SeedGroup

__all__ = ["images"]


@click.group(cls=SeedGroup)
def images() -> None:
    """Manage the images served by SIA and SODA (the ivoa.obscore table)."""


@images.command(cls=SeedCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: $DATALAB_HOME, else ./datalab-data).",
)
@click.option(
    "--collection",
    default=None,
    help="obs_collection of these images, and the folder under images/ that files from "
    "elsewhere are copied to (default: their top folder under images/; 'ingested').",
)
@click.pass_context
def ingest(
    ctx: click.Context, paths: tuple[Path, ...], data_dir: Path | None, collection: str | None
) -> None:
    """Index FITS images (files, or folders searched for *.fits) into ivoa.obscore.

    Files outside the data directory's images/ folder are copied into it; files inside
    are indexed where they are. Files that cannot be read are listed with the reason
    and the others are indexed; the command then exits with status 1.
    """
    from datalab.config import load_settings
    from datalab.images import ingest_images

    settings = load_settings(ctx.find_root().params.get("config"), home=data_dir)
    data = settings.paths()
    data.ensure()
    started = time.monotonic()
    report = ingest_images(
        list(paths), data.catalog, data.images, collection=collection, progress=True
    )
    for file, reason in report.failed:
        click.echo(f"  skipped {file}: {reason}", err=True)
    read = report.files - len(report.failed)
    click.echo(
        f"ivoa.obscore: {report.indexed:,} images indexed from {read:,} files, "
        f"{len(report.failed):,} refused ({time.monotonic() - started:.1f} s)"
    )
    if report.failed:
        sys.exit(1)

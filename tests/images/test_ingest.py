"""Indexing images into ivoa.obscore, and the table as TAP and ADQL see it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from datalab.adql import TableCatalog, translate
from datalab.catalog import CatalogStore, Engine
from datalab.cli import cli
from datalab.images import OBSCORE_TABLE, ImageIndex, ingest_images
from datalab.query import run_query

from .fitsfiles import write_image, write_mef


def _catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.duckdb"
    CatalogStore.open(path).close()
    return path


def _index(catalog: Path, images: Path) -> ImageIndex:
    engine = Engine(catalog, threads=1)
    try:
        return ImageIndex.from_engine(engine, images)
    finally:
        engine.close()


def test_a_bad_file_is_reported_and_the_others_indexed(tmp_path: Path) -> None:
    catalog, images = _catalog(tmp_path), tmp_path / "images"
    write_image(images / "survey" / "a.fits", 10.0, 10.0, FILTER="g")
    write_image(images / "survey" / "b.fits", 11.0, 10.0, FILTER="r")
    write_mef(images / "survey" / "c.fits", [(12.0, 10.0), (12.1, 10.0)])
    write_image(images / "survey" / "nowcs.fits", wcs=False)
    (images / "survey" / "broken.fits").write_text("not FITS")
    (images / "survey" / "readme.txt").write_text("ignored: not a FITS name")

    report = ingest_images([images / "survey"], catalog, images)

    assert report.indexed == 4
    assert report.files == 5
    failed = dict(report.failed)
    assert set(failed) == {str(images / "survey" / n) for n in ("broken.fits", "nowcs.fits")}
    assert "not a readable FITS file" in failed[str(images / "survey" / "broken.fits")]
    assert "celestial WCS" in failed[str(images / "survey" / "nowcs.fits")]
    index = _index(catalog, images)
    assert sorted((r.path, r.hdu) for r in index.records()) == [
        ("survey/a.fits", 0), ("survey/b.fits", 0), ("survey/c.fits", 1), ("survey/c.fits", 2),
    ]  # fmt: skip
    assert {r.obs_collection for r in index.records()} == {"survey"}


def test_reingesting_replaces_the_records_of_the_same_file(tmp_path: Path) -> None:
    catalog, images = _catalog(tmp_path), tmp_path / "images"
    write_image(images / "s" / "a.fits", 10.0, 10.0, FILTER="g")
    write_image(images / "s" / "b.fits", 20.0, 10.0)
    ingest_images([images / "s"], catalog, images)
    (images / "s" / "a.fits").unlink()
    write_image(images / "s" / "a.fits", 30.0, 10.0, FILTER="i")
    report = ingest_images([images / "s" / "a.fits"], catalog, images)
    assert report.indexed == 1
    records = {r.path: r for r in _index(catalog, images).records()}
    assert set(records) == {"s/a.fits", "s/b.fits"}
    assert records["s/a.fits"].band == "i"
    assert records["s/a.fits"].s_ra == pytest.approx(30.0)


def test_files_from_elsewhere_are_copied_into_their_collection(tmp_path: Path) -> None:
    catalog, images = _catalog(tmp_path), tmp_path / "images"
    outside = tmp_path / "downloads"
    write_image(outside / "run7" / "x.fits", 40.0, -5.0)
    write_image(outside / "single.fits", 41.0, -5.0)
    report = ingest_images(
        [outside / "run7", outside / "single.fits"], catalog, images, collection="mysurvey"
    )
    assert report.indexed == 2 and not report.failed
    assert (images / "mysurvey" / "run7" / "x.fits").is_file()
    assert (images / "mysurvey" / "single.fits").is_file()
    index = _index(catalog, images)
    assert {r.path for r in index.records()} == {"mysurvey/run7/x.fits", "mysurvey/single.fits"}
    assert {r.obs_collection for r in index.records()} == {"mysurvey"}
    for record in index.records():
        assert index.file(record.image_id).is_file()


def test_a_refused_file_from_elsewhere_is_not_copied(tmp_path: Path) -> None:
    catalog, images = _catalog(tmp_path), tmp_path / "images"
    bad = tmp_path / "bad.fits"
    bad.write_text("nope")
    report = ingest_images([bad], catalog, images)
    assert report.indexed == 0 and len(report.failed) == 1
    assert not list(images.rglob("*.fits"))


def test_collection_names_are_plain(tmp_path: Path) -> None:
    from datalab.errors import UsageError

    with pytest.raises(UsageError, match="collection"):
        ingest_images([tmp_path], _catalog(tmp_path), tmp_path / "images", collection="../x")


def test_obscore_is_documented_and_queryable_in_adql(tmp_path: Path) -> None:
    catalog, images = _catalog(tmp_path), tmp_path / "images"
    for i in range(5):
        write_image(images / "s" / f"f{i}.fits", 56.75 + i, 24.1, FILTER="r", EXPTIME=60.0)
    ingest_images([images], catalog, images)
    engine = Engine(catalog, threads=1)
    try:
        tables = engine.tables()
        [table] = [t for t in tables if f"{t.schema}.{t.name}" == OBSCORE_TABLE]
        assert table.utype == "ivo://ivoa.net/std/obscore#core-1.1"
        assert table.healpix_indexed and (table.ra_column, table.dec_column) == ("s_ra", "s_dec")
        region = table.column("s_region")
        assert (region.datatype, region.arraysize, region.xtype) == ("double", "*", "polygon")
        assert region.utype == "obscore:Char.SpatialAxis.Coverage.Support.Area"
        assert region.std
        assert table.column("em_min").unit == "m"
        assert table.column("s_ra").ucd == "pos.eq.ra"
        assert table.column("access_estsize").unit == "kbyte"
        assert not table.column("image_id").std
        assert not table.column("path").principal

        adql = (
            "SELECT obs_id, s_ra, s_region FROM ivoa.obscore WHERE "
            "CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 57.75, 24.1, 1.1)) = 1 "
            "ORDER BY s_ra"
        )
        translation = translate(adql, TableCatalog(tables))
        with run_query(engine, translation.sql, timeout=30) as result:
            rows = [row for batch in result for row in batch.to_pylist()]
        assert [r["obs_id"] for r in rows] == ["f0", "f1", "f2"]
        assert len(rows[0]["s_region"]) == 8
        assert {c.name: c.xtype for c in translation.columns}["s_region"] == "polygon"
    finally:
        engine.close()


def test_cli_ingest_reports_refused_files_and_exits_1(tmp_path: Path) -> None:
    home = tmp_path / "home"
    outside = tmp_path / "in"
    write_image(outside / "good.fits", 5.0, 5.0)
    (outside / "bad.fits").write_text("nope")
    result = CliRunner().invoke(
        cli, ["images", "ingest", str(outside), "--data-dir", str(home), "collection=demo2"]
    )
    assert result.exit_code == 1, result.output
    assert "1 images indexed" in result.output
    assert "bad.fits" in result.output
    assert (home / "images" / "demo2" / "in" / "good.fits").is_file()
    shutil.rmtree(outside)
    result = CliRunner().invoke(
        cli, ["images", "ingest", str(home / "images"), "--data-dir", str(home)]
    )
    assert result.exit_code == 0, result.output
    assert "1 images indexed" in result.output

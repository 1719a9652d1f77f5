"""TAP as astronomers use it: pyvo, astroquery's TapPlus and STILTS against a real server."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import astropy.units as u
import duckdb
import numpy as np
import pytest
import pyvo
from astropy.coordinates import SkyCoord, search_around_sky
from astropy.table import Table

# pyvo and TapPlus leave HTTP connections for the garbage collector to close.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def test_pyvo_sync_returns_the_rows_and_metadata(
    tap_url: str, catalog_con: duckdb.DuckDBPyConnection
) -> None:
    service = pyvo.dal.TAPService(tap_url)
    result = service.run_sync(
        "SELECT TOP 20 hip, ra, dec, hpmag FROM hipparcos.hip2 WHERE hpmag < 3 ORDER BY hpmag"
    )
    table = result.to_table()
    wanted = catalog_con.sql(
        "SELECT hip, ra, dec, hpmag FROM hipparcos.hip2 WHERE hpmag < 3 ORDER BY hpmag LIMIT 20"
    ).fetchall()
    assert [tuple(row) for row in table.iterrows()] == wanted
    assert table["ra"].unit == u.deg
    assert result.fieldname_with_ucd("phot.mag;em.opt") == "hpmag"
    assert "Hipparcos magnitude" in table["hpmag"].description


def test_pyvo_maxrec_overflow_is_flagged(tap_url: str) -> None:
    service = pyvo.dal.TAPService(tap_url)
    result = service.run_sync("SELECT hip FROM hipparcos.hip2", maxrec=7)
    assert len(result) == 7
    assert result.query_status == "OVERFLOW"
    exact = service.run_sync("SELECT TOP 7 hip FROM hipparcos.hip2", maxrec=7)
    assert exact.query_status == "OK", "TOP n with MAXREC n is not an overflow"


def test_pyvo_async_wait_fetch_delete(tap_url: str) -> None:
    service = pyvo.dal.TAPService(tap_url)
    job = service.submit_job("SELECT type, COUNT(*) AS n FROM openngc.objects GROUP BY type")
    assert job.phase == "PENDING"
    job.run()
    job.wait(timeout=60)
    assert job.phase == "COMPLETED"
    counts = dict(job.fetch_result().to_table().iterrows())
    assert counts["G"] > 5000
    url = job.url
    job.delete()
    import httpx

    assert httpx.get(url, timeout=10).status_code == 404


def test_pyvo_upload_crossmatch_gives_astropy_pairs(
    tap_url: str, catalog_con: duckdb.DuckDBPyConnection
) -> None:
    """Perturbed Gaia positions, uploaded and matched within 1″: the pairs astropy finds."""
    stars = catalog_con.sql(
        "SELECT source_id, ra, dec FROM gaia_dr3.gaia_source WHERE dec BETWEEN 20 AND 26 "
        "AND ra BETWEEN 100 AND 106"
    ).fetchnumpy()
    rng = np.random.default_rng(7)
    n = len(stars["ra"])
    assert n > 200
    offset = rng.normal(0.0, 0.5 / 3600, size=(2, n))
    upload = Table(
        {
            "probe": np.arange(n),
            "ra": stars["ra"] + offset[0] / np.cos(np.radians(stars["dec"])),
            "dec": stars["dec"] + offset[1],
        }
    )
    service = pyvo.dal.TAPService(tap_url)
    result = service.run_sync(
        "SELECT p.probe, g.source_id FROM TAP_UPLOAD.probes AS p "
        "JOIN gaia_dr3.gaia_source AS g "
        "ON DISTANCE(POINT(p.ra, p.dec), POINT(g.ra, g.dec)) < 1.0 / 3600",
        uploads={"probes": upload},
        maxrec=1_000_000,
    ).to_table()
    got = {(int(p), int(s)) for p, s in zip(result["probe"], result["source_id"], strict=True)}

    everything = catalog_con.sql("SELECT source_id, ra, dec FROM gaia_dr3.gaia_source").fetchnumpy()
    probes = SkyCoord(upload["ra"], upload["dec"], unit="deg")
    catalog = SkyCoord(everything["ra"], everything["dec"], unit="deg")
    i, j, _, _ = search_around_sky(probes, catalog, 1 * u.arcsec)
    wanted = {(int(a), int(everything["source_id"][b])) for a, b in zip(i, j, strict=True)}
    assert got == wanted
    # 0.5″ per axis puts 1 - e^-2 ≈ 86% of the probes within 1″ of their star.
    assert len(got) >= n * 0.8


@pytest.mark.parametrize("fmt", ["votable", "votable/b", "votable/b2", "csv", "tsv", "fits"])
def test_every_format_reads_back(tap_url: str, fmt: str, tmp_path: Path) -> None:
    import httpx

    query = "SELECT TOP 50 name, ra, dec, vmag, POINT(ra, dec) AS pos FROM openngc.objects"
    if fmt in ("csv", "tsv", "fits"):
        query = query.replace(", POINT(ra, dec) AS pos", "")
    response = httpx.post(
        f"{tap_url}/sync", data={"QUERY": query, "LANG": "ADQL", "FORMAT": fmt}, timeout=60
    )
    assert response.status_code == 200, response.text
    path = tmp_path / f"result.{fmt.replace('/', '_')}"
    path.write_bytes(response.content)
    reader = {"votable": "votable", "votable/b": "votable", "votable/b2": "votable",
              "csv": "ascii.csv", "tsv": "ascii.tab", "fits": "fits"}[fmt]
    table = Table.read(path, format=reader)
    assert len(table) == 50
    assert {"name", "ra", "dec", "vmag"} <= set(table.colnames)


def test_astroquery_tapplus_sync_and_async(tap_url: str) -> None:
    from astroquery.utils.tap.core import TapPlus

    tap = TapPlus(url=tap_url, verbose=False)
    sync = tap.launch_job("SELECT TOP 5 hip, ra, dec FROM hipparcos.hip2 ORDER BY hip")
    assert list(sync.get_results()["hip"]) == [1, 2, 3, 4, 5]
    job = tap.launch_job_async(
        "SELECT TOP 3 name FROM openngc.objects WHERE messier IS NOT NULL ORDER BY messier",
        verbose=False,
    )
    assert len(job.get_results()) == 3


needs_stilts = pytest.mark.skipif(
    shutil.which("stilts") is None and os.environ.get("CI") != "true",
    reason="STILTS is installed by ./scripts/test",
)


@needs_stilts
def test_stilts_tapquery_with_upload(tap_url: str, tmp_path: Path) -> None:
    """What TOPCAT does: an upload joined to a catalog, sync and async."""
    upload = tmp_path / "mine.vot"
    Table({"id": [1, 2], "ra": [101.28462, 95.98810], "dec": [-16.72155, -52.69556]}).write(
        upload, format="votable"
    )
    for sync in ("true", "false"):
        done = subprocess.run(
            [
                "stilts", "tapquery", f"tapurl={tap_url}", "nupload=1", f"upload1={upload}",
                "upname1=mine", f"sync={sync}", "ofmt=csv",
                "adql=SELECT u.id, g.source_id FROM TAP_UPLOAD.mine AS u "
                "JOIN gaia_dr3.gaia_source AS g "
                "ON 1 = CONTAINS(POINT(g.ra, g.dec), CIRCLE(u.ra, u.dec, 0.001)) ORDER BY u.id",
            ],
            capture_output=True, text=True, timeout=180, check=False,
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.strip().splitlines()
        assert lines[0] == "id,source_id" and len(lines) == 3, done.stdout

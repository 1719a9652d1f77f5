"""The simulated demo images: made on first start, indexed, and faithful to Gaia."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from datalab.catalog import Engine
from datalab.images import DEMO_COLLECTION, ImageIndex
from datalab.images.demo import demo_exposures, render_exposure
from datalab.sky import Circle

from .conftest import DemoImagesBuild


@pytest.fixture(scope="module")
def engine(demo_images_home: Path):  # type: ignore[no-untyped-def]
    engine = Engine(demo_images_home / "catalog.duckdb", threads=2)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def index(engine: Engine, demo_images_home: Path) -> ImageIndex:
    return ImageIndex.from_engine(engine, demo_images_home / "images")


def test_report_size_and_time(
    demo_images_build: DemoImagesBuild, capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print(
            f"\n[demo images] {demo_images_build.files} files, "
            f"{demo_images_build.megabytes:.1f} MB; first start with demo catalogs and "
            f"images took {demo_images_build.seconds:.1f} s"
        )
    assert demo_images_build.files == 60


def test_first_start_indexes_every_demo_image(index: ImageIndex) -> None:
    records = index.records()
    assert len(records) == 60
    assert {r.obs_collection for r in records} == {DEMO_COLLECTION}
    assert {r.facility_name for r in records} == {"Data Lab simulation"}
    assert {r.band for r in records} == {"g", "r", "i"}
    stacks = [r for r in records if r.proctype == "Stacked"]
    assert len(stacks) == 15 and {r.calib_level for r in stacks} == {3}
    singles = [r for r in records if r.proctype == "InstCal"]
    assert {r.calib_level for r in singles} == {2}
    pleiades = index.search(Circle(56.75, 24.1167, 0.01), intersect="CENTER")
    assert len(pleiades) == 12
    stack = next(r for r in pleiades if r.proctype == "Stacked" and r.band == "g")
    exposures = [r for r in pleiades if r.proctype == "InstCal" and r.band == "g"]
    assert stack.t_exptime == sum(r.t_exptime or 0 for r in exposures)
    assert stack.t_min == min(r.t_min or 0 for r in exposures)
    assert stack.t_max == pytest.approx(max(r.t_max or 0 for r in exposures))


def test_headers_say_simulated_and_parse_without_warnings(demo_images_home: Path) -> None:
    files = sorted((demo_images_home / "images" / DEMO_COLLECTION).rglob("*.fits"))
    assert len(files) == 60
    for path in files:
        header = fits.getheader(path)
        assert header["ORIGIN"] == "Data Lab simulation"
        assert any("SIMULATED" in str(c) for c in header["COMMENT"])
        for key in ("FILTER", "EXPTIME", "MJD-OBS", "DATE-OBS", "INSTRUME", "TELESCOP",
                    "OBJECT", "PROCTYPE", "PRODTYPE", "BUNIT"):  # fmt: skip
            assert key in header, (path.name, key)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            wcs = WCS(header)
        assert wcs.has_celestial


def _centroid(data: np.ndarray, x: float, y: float, half: int = 4) -> tuple[float, float]:
    """Flux-weighted centroid in a box around (x, y), over the local background."""
    cx, cy = int(round(x)), int(round(y))
    box = data[cy - half : cy + half + 1, cx - half : cx + half + 1].astype(np.float64)
    ring = data[cy - 3 * half : cy + 3 * half + 1, cx - 3 * half : cx + 3 * half + 1]
    signal = np.clip(box - np.median(ring), 0, None)
    ys, xs = np.mgrid[cy - half : cy + half + 1, cx - half : cx + half + 1]
    return float((signal * xs).sum() / signal.sum()), float((signal * ys).sum() / signal.sum())


@pytest.mark.parametrize(
    "name", ["pleiades/pleiades_g_stack.fits", "orion_belt/orion_belt_r_02.fits",
             "ngp/ngp_i_stack.fits"],
)  # fmt: skip
def test_stars_sit_where_gaia_says(demo_images_home: Path, engine: Engine, name: str) -> None:
    path = demo_images_home / "images" / DEMO_COLLECTION / name
    with fits.open(path) as hdus:
        data, wcs = hdus[0].data, WCS(hdus[0].header)
    centre = wcs.pixel_to_world_values(511.5, 511.5)
    with engine.cursor() as cur:
        stars = cur.execute(
            "SELECT ra, dec, phot_g_mean_mag FROM gaia_dr3.gaia_source "
            "WHERE dec BETWEEN ? AND ? AND ra BETWEEN ? AND ?",
            [centre[1] - 1, centre[1] + 1, centre[0] - 1.5, centre[0] + 1.5],
        ).fetchall()
    ra, dec, mag = (np.array(c, dtype=np.float64) for c in zip(*stars, strict=True))
    x, y = wcs.world_to_pixel_values(ra, dec)
    inside = (x > 20) & (x < 1003) & (y > 20) & (y < 1003)
    checked = 0
    for i in np.flatnonzero(inside & (mag > 5.0) & (mag < 9.8)):
        others = np.hypot(x - x[i], y - y[i])
        if np.sort(others)[1] < 15:  # a neighbour would pull the centroid
            continue
        cx, cy = _centroid(data, x[i], y[i])
        assert math.hypot(cx - x[i], cy - y[i]) < 0.3, (name, ra[i], dec[i], cx - x[i], cy - y[i])
        checked += 1
    assert checked >= 5


def test_images_are_deterministic(demo_images_home: Path, engine: Engine) -> None:
    exposures = list(demo_exposures())
    chosen = [exposures[0], next(e for e in exposures if e.field.name == "m31" and e.stacked)]
    for exposure in chosen:
        again = render_exposure(exposure, engine)
        on_disk = demo_images_home / "images" / DEMO_COLLECTION / exposure.file_name
        with fits.open(on_disk) as hdus:
            assert np.array_equal(hdus[0].data, again.data)
            assert hdus[0].header["DATASUM"]
        assert again.header["OBSID"] == Path(exposure.file_name).stem

"""HiPS built from indexed images: properties, where stars land in tiles, the pyramid,
rebuilds at ingest, and no file served from outside a HiPS folder.

Tile geometry is checked against this file's own reading of HiPS 1.0 (the nested
index of the pixel in row r from the top and column c interleaves the bits of r at
even places and c at odd ones), computed with cdshealpix, not with the builder's code.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import cdshealpix.nested as healpix
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from click.testing import CliRunner
from PIL import Image

from datalab.catalog import CatalogStore, Engine
from datalab.cli import cli
from datalab.errors import NotFoundError
from datalab.images import (
    ImageIndex,
    ImageRecord,
    build_hips,
    hips_file,
    ingest_images,
    list_hips,
    tile_file,
)
from datalab.images.hips import choose_order, hips_id_for_band, read_properties

from .fitsfiles import wcs_cards

FIELD = (150.0, 2.0)
# (ra, dec, electrons per second): in every band of the field's stacks.
STARS = ((150.0, 2.0, 2e5), (150.021, 2.013, 1e5), (149.978, 1.991, 6e4))
# Only in the single g exposure, which reaches beyond the stack.
OUTER_STAR = (150.062, 2.0, 1e5)
# A field across the edge of the northern polar cap (dec = 41.81 deg), where the
# HEALPix projection bends and tiles are placed pixel by pixel.
CAP_FIELD = (200.0, 41.81)
CAP_STAR = (200.004, 41.8115, 2e5)
SCALE_ARCSEC = 1.0
ORDER = 9  # HiPS pixels of 0.8 arcsec for 1 arcsec image pixels (tiles of 512)
WIDTH = 512


def write_star_image(
    path: Path,
    ra: float,
    dec: float,
    *,
    band: str,
    stars: Sequence[tuple[float, float, float]],
    size: int = 256,
    exptime: float = 100.0,
    proctype: str = "Stacked",
    sky: float = 20.0,
    seed: int = 0,
) -> Path:
    """A TAN image of Gaussian stars (sigma 1.5 pixels) on a noisy sky, in electrons."""
    header = fits.Header()
    header.update(wcs_cards(ra, dec, size=size, scale=SCALE_ARCSEC / 3600))
    header["FILTER"], header["EXPTIME"], header["PROCTYPE"] = band, exptime, proctype
    rng = np.random.default_rng(seed)
    level = sky * exptime
    data = level + rng.normal(0.0, math.sqrt(level), (size, size))
    x, y = WCS(header).wcs_world2pix([s[0] for s in stars], [s[1] for s in stars], 0)
    rows, cols = np.mgrid[0:size, 0:size]
    for sx, sy, (_, _, rate) in zip(x, y, stars, strict=True):
        blob = np.exp(-((cols - sx) ** 2 + (rows - sy) ** 2) / (2 * 1.5**2))
        data += rate * exptime * blob / (2 * math.pi * 1.5**2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data.astype(np.float32), header).writeto(path)
    return path


def write_field(images: Path) -> list[Path]:
    """g, r, i stacks of FIELD; a shorter, brighter-sky g exposure reaching beyond the g
    stack; and a g stack across the polar cap's edge."""
    ra, dec = FIELD
    files = [
        write_star_image(images / "sim" / f"field_{band}.fits", ra, dec, band=band,
                         stars=STARS, seed=i)
        for i, band in enumerate("gri")
    ]  # fmt: skip
    files.append(
        write_star_image(images / "sim" / "field_g_single.fits", ra + 0.05, dec, band="g",
                         stars=[*STARS, OUTER_STAR], exptime=30.0, proctype="InstCal",
                         sky=40.0, seed=7)
    )  # fmt: skip
    files.append(
        write_star_image(images / "sim" / "cap_g.fits", *CAP_FIELD, band="g",
                         stars=[CAP_STAR], seed=9)
    )  # fmt: skip
    return files


def new_catalog(home: Path) -> Path:
    path = home / "catalog.duckdb"
    CatalogStore.open(path).close()
    return path


def records_of(catalog: Path, images: Path) -> list[ImageRecord]:
    engine = Engine(catalog, threads=1)
    try:
        return list(ImageIndex.from_engine(engine, images).records())
    finally:
        engine.close()


def tile_position(ra: float, dec: float, order: int, width: int = WIDTH) -> tuple[int, int, int]:
    """(tile, row from the top, column) of the HiPS pixel holding (ra, dec)."""
    bits = int(math.log2(width))
    cell = int(healpix.lonlat_to_healpix(ra * u.deg, dec * u.deg, order + bits)[0])
    tile, sub = divmod(cell, width * width)
    row = sum(((sub >> (2 * b)) & 1) << b for b in range(bits))
    col = sum(((sub >> (2 * b + 1)) & 1) << b for b in range(bits))
    return tile, row, col


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.array(image)


@dataclass(frozen=True)
class Built:
    home: Path
    images: Path
    hips: Path
    catalog: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    home = tmp_path_factory.mktemp("hips-home")
    images, hips = home / "images", home / "hips"
    catalog = new_catalog(home)
    report = ingest_images(write_field(images), catalog, images, hips_dir=hips)
    assert report.hips is not None
    assert sorted(report.hips.built) == ["band-g", "band-i", "band-r", "colour-i-r-g"]
    return Built(home, images, hips, catalog)


def test_one_hips_per_band_and_a_colour_one(built: Built) -> None:
    infos = list_hips(built.hips)
    assert [i.hips_id for i in infos] == ["band-g", "band-i", "band-r", "colour-i-r-g"]
    assert [i.bands for i in infos] == [("g",), ("i",), ("r",), ("i", "r", "g")]
    assert all(i.order == ORDER and i.tile_formats == ("png",) for i in infos)


def test_properties_follow_hips_1_0(built: Built) -> None:
    p = read_properties(built.hips / "band-g" / "properties")
    for key in ("creator_did", "obs_title", "dataproduct_type", "hips_version",
                "hips_release_date", "hips_status", "hips_tile_format", "hips_order",
                "hips_frame"):  # fmt: skip
        assert p.get(key), key
    assert p["creator_did"] == "ivo://datalab.local/hips/band-g"
    assert p["dataproduct_type"] == "image"
    assert p["hips_version"] == "1.4"
    assert p["hips_frame"] == "equatorial"
    assert (p["hips_order"], p["hips_order_min"], p["hips_tile_width"]) == ("9", "0", "512")
    assert p["hips_tile_format"] == "png"
    assert p["hips_release_date"].endswith("Z")
    assert float(p["em_min"]) < float(p["em_max"]) < 6e-7  # the g band
    assert p["obs_regime"] == "Optical"
    assert abs(float(p["hips_pixel_scale"]) * 3600 - 0.805) < 0.01
    assert 0 < float(p["moc_sky_fraction"]) < 1e-5
    # The initial view is on the g images' crowded field, not the lone cap image.
    assert abs(float(p["hips_initial_ra"]) - FIELD[0]) < 0.1
    assert abs(float(p["hips_initial_dec"]) - FIELD[1]) < 0.1
    assert 0.05 < float(p["hips_initial_fov"]) < 1.0
    assert p["datalab_images"] == "3"


@pytest.mark.parametrize("star", [*STARS, OUTER_STAR, CAP_STAR], ids=lambda s: f"{s[0]},{s[1]}")
def test_a_star_is_bright_at_its_healpix_pixel(
    built: Built, star: tuple[float, float, float]
) -> None:
    ra, dec, _ = star
    tile, row, col = tile_position(ra, dec, ORDER)
    pixels = read_png(tile_file(built.hips, "band-g", ORDER, tile, "png"))
    assert pixels.shape == (WIDTH, WIDTH, 2)  # grey and alpha
    grey, alpha = pixels[..., 0], pixels[..., 1]
    assert alpha[row, col] == 255
    assert grey[row, col] > 150, grey[max(0, row - 3) : row + 4, max(0, col - 3) : col + 4]
    # Twelve HiPS pixels (10 arcsec) away, in any direction still on the image: sky.
    for dr, dc in ((12, 0), (-12, 0), (0, 12), (0, -12)):
        r, c = row + dr, col + dc
        if 0 <= r < WIDTH and 0 <= c < WIDTH and alpha[r, c]:
            assert grey[r, c] < min(100, int(grey[row, col]) - 80), (dr, dc, grey[r, c])


def test_every_order_down_to_zero_holds_the_field(built: Built) -> None:
    ra, dec, _ = STARS[0]
    for order in range(ORDER + 1):
        tile, row, col = tile_position(ra, dec, order)
        grey, alpha = np.moveaxis(
            read_png(tile_file(built.hips, "band-g", order, tile, "png")), -1, 0
        )
        assert alpha[row, col] == 255, order
        if order >= ORDER - 2:  # 2x2 means keep the star above the sky for a while
            assert grey[row, col] > 60, (order, grey[row, col])
    tile, row, col = tile_position(ra, dec, ORDER)
    colour = read_png(tile_file(built.hips, "colour-i-r-g", ORDER, tile, "png"))
    assert colour.shape == (WIDTH, WIDTH, 4)
    assert (colour[row, col, :3] > 150).all() and colour[row, col, 3] == 255


def test_tiles_of_empty_sky_are_not_written(built: Built) -> None:
    tiles = list((built.hips / "band-g" / f"Norder{ORDER}").rglob("Npix*.png"))
    assert 2 <= len(tiles) <= 12
    far, _, _ = tile_position(10.0, -40.0, ORDER)
    with pytest.raises(NotFoundError):
        tile_file(built.hips, "band-g", ORDER, far, "png")
    with pytest.raises(NotFoundError):  # a format that was not built
        tile_file(built.hips, "band-g", ORDER, tile_position(*STARS[0][:2], ORDER)[0], "fits")


def test_the_moc_covers_the_images(built: Built) -> None:
    with fits.open(built.hips / "band-g" / "Moc.fits") as hdul:
        header, uniq = hdul[1].header, np.asarray(hdul[1].data["UNIQ"], dtype=np.int64)
    assert (header["ORDERING"], header["COORDSYS"], header["MOCDIM"]) == ("NUNIQ", "C", "SPACE")
    orders = np.floor(np.log2(uniq) / 2).astype(int) - 1
    cells = uniq - 4 * 4**orders
    for ra, dec, _ in [*STARS, CAP_STAR]:
        deepest = int(healpix.lonlat_to_healpix(ra * u.deg, dec * u.deg, int(orders.max()))[0])
        assert any(
            deepest >> 2 * (orders.max() - o) == c for o, c in zip(orders, cells, strict=True)
        )
    assert not any(
        o == orders.max() and c == tile_position(10.0, -40.0, o)[0]
        for o, c in zip(orders, cells, strict=True)
    )


def test_fits_tiles_keep_the_values_and_the_deepest_image_wins(
    built: Built, tmp_path: Path
) -> None:
    records = records_of(built.catalog, built.images)
    report = build_hips(records, built.images, tmp_path / "hips", bands=["g"], colour=False,
                        fits_tiles=True)  # fmt: skip
    assert report.built == ["band-g"]
    p = read_properties(tmp_path / "hips" / "band-g" / "properties")
    assert p["hips_tile_format"] == "png fits" and p["hips_pixel_bitpix"] == "-32"

    def value(ra: float, dec: float) -> float:
        tile, row, col = tile_position(ra, dec, ORDER)
        with fits.open(tile_file(tmp_path / "hips", "band-g", ORDER, tile, "fits")) as hdul:
            return float(hdul[0].data[WIDTH - 1 - row, col])  # FITS rows go up

    # Per second of exposure: the stack's sky (20/s) where the stack is, the single
    # exposure's brighter sky (40/s) only beyond it.
    assert abs(value(FIELD[0] - 0.02, FIELD[1] - 0.02) - 20.0) < 3.0
    assert abs(value(OUTER_STAR[0] + 0.005, OUTER_STAR[1] + 0.005) - 40.0) < 5.0
    peak = 2e5 / (2 * math.pi * 1.5**2)
    assert value(*STARS[0][:2]) > 0.5 * peak


def test_a_rerun_leaves_unchanged_bands_alone_and_a_forced_one_is_identical(
    built: Built, tmp_path: Path
) -> None:
    records = records_of(built.catalog, built.images)
    hips = tmp_path / "hips"
    build_hips(records, built.images, hips)
    files = sorted(p for p in hips.rglob("*") if p.is_file())
    stamps = {p: p.stat().st_mtime_ns for p in files}
    contents = {p: p.read_bytes() for p in files}

    again = build_hips(records, built.images, hips)
    assert again.built == [] and again.removed == []
    assert sorted(again.unchanged) == ["band-g", "band-i", "band-r", "colour-i-r-g"]
    assert {p: p.stat().st_mtime_ns for p in files} == stamps

    forced = build_hips(records, built.images, hips, force=True)
    assert sorted(forced.built) == ["band-g", "band-i", "band-r", "colour-i-r-g"]
    assert sorted(p for p in hips.rglob("*") if p.is_file()) == files
    for path in files:
        if path.name == "properties":

            def strip(text: bytes) -> list[bytes]:
                return [
                    line for line in text.splitlines() if not line.startswith(b"hips_release_date")
                ]

            assert strip(path.read_bytes()) == strip(contents[path])
        else:
            assert path.read_bytes() == contents[path], path
    assert not [p for p in hips.iterdir() if p.name.startswith(".")]  # no build left aside


def test_ingest_rebuilds_the_bands_it_touches(tmp_path: Path) -> None:
    images, hips = tmp_path / "images", tmp_path / "hips"
    catalog = new_catalog(tmp_path)
    ra, dec = FIELD
    g = write_star_image(images / "s" / "g.fits", ra, dec, band="g", stars=STARS)
    r = write_star_image(images / "s" / "r.fits", ra, dec, band="r", stars=STARS)
    first = ingest_images([g, r], catalog, images, hips_dir=hips)
    assert first.hips is not None and sorted(first.hips.built) == ["band-g", "band-r"]
    assert not list(hips.glob("colour-*"))  # two bands make no colour
    g_stamp = (hips / "band-g" / "properties").stat().st_mtime_ns

    more_r = write_star_image(images / "s" / "r2.fits", ra + 0.08, dec, band="r", stars=STARS)
    second = ingest_images([more_r], catalog, images, hips_dir=hips)
    assert second.hips is not None and second.hips.built == ["band-r"]
    assert (hips / "band-g" / "properties").stat().st_mtime_ns == g_stamp
    assert read_properties(hips / "band-r" / "properties")["datalab_images"] == "2"

    untouched = ingest_images([more_r], catalog, images)  # no HiPS folder: none built
    assert untouched.hips is None


def test_a_band_without_images_loses_its_hips(built: Built, tmp_path: Path) -> None:
    records = records_of(built.catalog, built.images)
    hips = tmp_path / "hips"
    build_hips(records, built.images, hips)
    report = build_hips([r for r in records if r.band != "r"], built.images, hips)
    assert sorted(report.removed) == ["band-r", "colour-i-r-g"]
    assert [i.hips_id for i in list_hips(hips)] == ["band-g", "band-i"]
    gone = build_hips([r for r in records if r.band == "g"], built.images, hips, bands=["i"])
    assert gone.removed == ["band-i"]


@pytest.mark.parametrize(
    "hips_id",
    ["..", "../hips", "band-g/..", "/etc", "BAND-G", "", ".", "band-g\x00", "band g", "%2e%2e"],
)
def test_hips_ids_that_are_not_names_find_nothing(built: Built, hips_id: str) -> None:
    with pytest.raises(NotFoundError):
        hips_file(built.hips, hips_id, "properties")


@pytest.mark.parametrize("relative", ["../band-r/properties", "../../catalog.duckdb", "/etc/passwd",
                                      "Norder9", ".datalab-build.json/.."])  # fmt: skip
def test_files_outside_a_hips_are_refused(built: Built, relative: str) -> None:
    with pytest.raises(NotFoundError):
        hips_file(built.hips, "band-g", relative)


def test_planted_links_lead_nowhere(built: Built, tmp_path: Path) -> None:
    hips = tmp_path / "hips"
    build_hips(records_of(built.catalog, built.images), built.images, hips, bands=["g"],
               colour=False)  # fmt: skip
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for the web")
    planted = hips / "band-g" / "Norder3" / "Dir0" / "Npix7.png"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.unlink(missing_ok=True)
    planted.symlink_to(secret)
    with pytest.raises(NotFoundError):
        tile_file(hips, "band-g", 3, 7, "png")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "properties").write_text("hips_order = 3\n")
    (hips / "evil").symlink_to(outside, target_is_directory=True)
    assert "evil" not in [i.hips_id for i in list_hips(hips)]
    with pytest.raises(NotFoundError):
        hips_file(hips, "evil", "properties")


def test_the_order_follows_the_pixel_scale() -> None:
    assert choose_order(5.0 / 3600) == 6  # the demo images: HiPS pixels of 6.4 arcsec
    assert choose_order(1.0 / 3600) == 9
    assert choose_order(0.26 / 3600) == 11
    assert choose_order(1.0) == 0
    assert choose_order(0.0) == 0
    assert choose_order(1.0 / 3600, tile_width=256) == 10


def test_band_names_make_distinct_lower_case_ids() -> None:
    assert hips_id_for_band("g") == "band-g"
    assert hips_id_for_band("G") != hips_id_for_band("g")
    assert hips_id_for_band("G").startswith("band-g-")
    for name in ("H\N{GREEK SMALL LETTER ALPHA}", "../x", "g DECam", "Y"):
        hips_id = hips_id_for_band(name)
        assert hips_id == hips_id.lower() and "/" not in hips_id and ".." not in hips_id


def test_first_start_builds_the_demo_hips(demo_images_home: Path) -> None:
    infos = list_hips(demo_images_home / "hips")
    assert [i.hips_id for i in infos] == ["band-g", "band-i", "band-r", "colour-i-r-g"]
    for info in infos:
        assert info.order == 6
        assert info.properties["datalab_images"] == (
            "60" if info.hips_id.startswith("colour") else "20"
        )
        tiles = list((info.directory / "Norder6").rglob("Npix*.png"))
        assert 20 <= len(tiles) <= 60
        assert (info.directory / "Moc.fits").is_file()
    assert infos[0].title == "Data Lab simulation, g band"
    assert os.path.isdir(demo_images_home / "images" / "datalab_demo_sim")
    assert not list((demo_images_home / "images").rglob("*.png"))  # tiles live beside images/


def test_the_commands_build_skip_and_rebuild_hips(tmp_path: Path) -> None:
    home, outside = tmp_path / "home", tmp_path / "incoming"
    write_star_image(outside / "g.fits", *FIELD, band="g", stars=STARS)
    runner = CliRunner()
    skipped = runner.invoke(
        cli, ["images", "ingest", str(outside), "--data-dir", str(home), "--no-hips"]
    )
    assert skipped.exit_code == 0, skipped.output
    assert "HiPS" not in skipped.output and list_hips(home / "hips") == []

    built = runner.invoke(cli, ["images", "hips", "--data-dir", str(home)])
    assert built.exit_code == 0, built.output
    assert "HiPS: built band-g (" in built.output
    again = runner.invoke(cli, ["images", "hips", "--data-dir", str(home)])
    assert "HiPS: unchanged band-g" in again.output

    write_star_image(outside / "r.fits", *FIELD, band="r", stars=STARS)
    ingested = runner.invoke(
        cli, ["images", "ingest", str(outside / "r.fits"), "--data-dir", str(home), "--hips-fits"]
    )
    assert ingested.exit_code == 0, ingested.output
    assert "1 images indexed" in ingested.output and "HiPS: built band-r (" in ingested.output
    assert (
        read_properties(home / "hips" / "band-r" / "properties")["hips_tile_format"] == "png fits"
    )
    forced = runner.invoke(cli, ["images", "hips", "--data-dir", str(home), "--force"])
    assert "HiPS: built band-g, band-r (" in forced.output


def test_folders_that_are_not_complete_hips_are_not_listed(tmp_path: Path) -> None:
    hips = tmp_path / "hips"
    broken = {
        "band-x": "hips_order = many\n",
        "band-y": "hips_order = 3\nhips_tile_width = ?\n",
        ".band-z.1234.building": "hips_order = 3\n",  # a build under way
        "Band-W": "hips_order = 3\n",  # not a name the builder writes
    }
    for name, text in broken.items():
        (hips / name).mkdir(parents=True)
        (hips / name / "properties").write_text(text)
    (hips / "band-v").mkdir()  # no properties: a build that never finished
    assert list_hips(hips) == []
    assert list_hips(tmp_path / "missing") == []

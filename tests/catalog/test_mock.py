"""The synthetic survey: deterministic, documented, and shaped like a real tractor catalog."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from datalab.catalog.mock import (
    BLOCK_ROWS,
    CLASS_NAMES,
    MOCK_FIELDS,
    MOCK_TABLE_DESCRIPTION,
    TYPE_NAMES,
    galactic_to_icrs,
    generate,
    iter_sources,
    mock_schema,
    simulate_sources,
    tractor_batch,
    write_csv,
    write_parquet,
)

ROWS = 200_000
STAR, GALAXY, QSO = (CLASS_NAMES.index(c) for c in ("STAR", "GALAXY", "QSO"))
VOTABLE_TO_ARROW = {
    "long": pa.int64(),
    "int": pa.int32(),
    "short": pa.int16(),
    "float": pa.float32(),
    "double": pa.float64(),
    "char": pa.string(),
}


def table_digest(table: pa.Table) -> str:
    """SHA-256 over every column's values and validity, independent of chunk layout."""
    digest = hashlib.sha256()
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        digest.update(name.encode())
        digest.update(np.asarray(column.is_valid()).tobytes())
        if pa.types.is_string(column.type):
            digest.update("\n".join(column.to_pylist()).encode())
        else:
            digest.update(column.fill_null(0).to_numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def catalog() -> pa.Table:
    return pa.Table.from_batches(list(generate(ROWS)))


@pytest.fixture(scope="module")
def truth() -> dict[str, np.ndarray]:
    """The true sources of the same rows, as whole columns."""
    blocks = list(iter_sources(ROWS))
    columns = {
        name: np.concatenate([getattr(b, name) for b in blocks])
        for name in ("objid", "cls", "ra", "dec", "glon", "ebv", "mag_g", "mag_r", "mag_z")
    }
    columns["glat"] = np.concatenate([b.glat for b in blocks])
    return columns


def np_column(table: pa.Table, name: str) -> np.ndarray:
    """A column as floats with nulls as NaN (or as its own dtype when it has no nulls)."""
    column = table.column(name).combine_chunks()
    if column.null_count:
        return column.cast(pa.float64()).fill_null(math.nan).to_numpy()
    return column.to_numpy()


# -- determinism -------------------------------------------------------------------


def test_chunk_size_does_not_change_the_data(catalog: pa.Table) -> None:
    small = list(generate(ROWS, chunk_rows=1000))
    assert [b.num_rows for b in small] == [1000] * (ROWS // 1000)
    assert table_digest(pa.Table.from_batches(small)) == table_digest(catalog)
    odd = pa.Table.from_batches(list(generate(ROWS, chunk_rows=BLOCK_ROWS + 7)))
    assert table_digest(odd) == table_digest(catalog)


def test_shorter_catalog_is_a_prefix_and_seed_matters(catalog: pa.Table) -> None:
    rows = BLOCK_ROWS + 123
    short = pa.Table.from_batches(list(generate(rows)))
    assert short.num_rows == rows
    assert table_digest(short) == table_digest(catalog.slice(0, rows))
    other = pa.Table.from_batches(list(generate(rows, seed=7)))
    assert not np.array_equal(other["ra"].to_numpy(), short["ra"].to_numpy())
    assert list(generate(0)) == []
    with pytest.raises(ValueError):
        list(generate(10, chunk_rows=0))


def test_truth_and_tractor_rows_line_up(catalog: pa.Table, truth: dict[str, np.ndarray]) -> None:
    assert np.array_equal(truth["objid"], catalog["objid"].to_numpy())
    assert np.array_equal(truth["ra"], catalog["ra"].to_numpy())
    # Measuring a block again gives the same batch: its noise has its own stream.
    again = tractor_batch(simulate_sources(1))
    assert again.slice(0, 1000).equals(catalog.slice(BLOCK_ROWS, 1000).to_batches()[0])


# -- schema and documentation --------------------------------------------------------


def test_schema_matches_fields(catalog: pa.Table) -> None:
    schema = mock_schema()
    assert catalog.schema.equals(schema)
    assert schema.names == [f.name for f in MOCK_FIELDS]
    assert 20 <= len(schema) <= 25
    for f in MOCK_FIELDS:
        arrow = schema.field(f.name)
        assert f.name == f.name.lower()
        assert arrow.type == VOTABLE_TO_ARROW[f.datatype or ""], f.name
        meta = arrow.metadata or {}
        assert meta[b"description"].decode() == f.description
        assert meta.get(b"ucd", b"").decode() == (f.ucd or "")
        assert meta.get(b"unit", b"").decode() == (f.unit or "")


def test_every_column_is_documented_as_simulated() -> None:
    from astropy import units as u
    from astropy.io.votable.ucd import check_ucd

    for f in MOCK_FIELDS:
        assert f.description and "simulated" in f.description.lower(), f.name
        assert f.ucd and check_ucd(f.ucd, check_controlled_vocabulary=True), f.name
        if f.unit:
            u.Unit(f.unit)
    ucds = {f.name: f.ucd for f in MOCK_FIELDS}
    assert ucds["ra"] == "pos.eq.ra;meta.main" and ucds["dec"] == "pos.eq.dec;meta.main"
    assert ucds["objid"] == "meta.id;meta.main"
    text = MOCK_TABLE_DESCRIPTION.lower()
    assert "synthetic" in text and "simulated" in text and "|b| < 5 deg" in text


# -- positions -----------------------------------------------------------------------


def test_ids_unique_and_positions_on_the_sky(catalog: pa.Table) -> None:
    objid = catalog["objid"].to_numpy()
    assert np.array_equal(objid, np.arange(ROWS))
    ra, dec = catalog["ra"].to_numpy(), catalog["dec"].to_numpy()
    assert ra.min() >= 0.0 and ra.max() < 360.0
    assert dec.min() >= -90.0 and dec.max() <= 90.0
    # Both hemispheres and all RA quadrants are populated.
    assert np.all(np.histogram(ra, bins=4, range=(0, 360))[0] > ROWS / 10)
    assert 0.4 < np.mean(dec > 0) < 0.6


def test_galactic_rotation_matches_astropy() -> None:
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    rng = np.random.default_rng(3)
    glon = np.concatenate([[0.0, 0.0, 180.0, 90.0, 359.999], rng.uniform(0, 360, 200)])
    glat = np.concatenate([[0.0, 90.0, -90.0, 30.0, -5.0], rng.uniform(-90, 90, 200)])
    ra, dec = galactic_to_icrs(glon, glat)
    expected = SkyCoord(l=glon * u.deg, b=glat * u.deg, frame="galactic").icrs
    got = SkyCoord(ra=ra * u.deg, dec=dec * u.deg, frame="icrs")
    assert got.separation(expected).to_value(u.arcsec).max() < 1e-6
    # The Galactic centre and north pole where the IAU put them (ICRS, to 0.1 arcsec).
    (ra0, ra_pole), (dec0, dec_pole) = galactic_to_icrs(np.array([0.0, 0.0]), np.array([0, 90]))
    assert ra0 == pytest.approx(266.40499, abs=3e-5) and dec0 == pytest.approx(-28.93617, abs=3e-5)
    assert ra_pole == pytest.approx(192.85948, abs=3e-5)
    assert dec_pole == pytest.approx(27.12825, abs=3e-5)


def test_sampled_galactic_positions_agree_with_astropy(truth: dict[str, np.ndarray]) -> None:
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    pick = slice(0, ROWS, 997)
    coords = SkyCoord(ra=truth["ra"][pick] * u.deg, dec=truth["dec"][pick] * u.deg).galactic
    expected = SkyCoord(
        l=truth["glon"][pick] * u.deg, b=truth["glat"][pick] * u.deg, frame="galactic"
    )
    assert coords.separation(expected).to_value(u.arcsec).max() < 1e-5
    assert np.abs(truth["glat"]).min() >= 5.0 - 1e-9


def test_stars_crowd_toward_the_plane(truth: dict[str, np.ndarray]) -> None:
    abs_b, cls = np.abs(truth["glat"]), truth["cls"]
    low, high = abs_b < 20, abs_b > 60
    star_low, star_high = np.mean(cls[low] == STAR), np.mean(cls[high] == STAR)
    assert star_low > star_high + 0.15
    assert 0.35 <= star_high <= 0.45
    assert 0.02 <= np.mean(cls[high] == QSO) <= 0.03
    # Extragalactic sources are isotropic: equal counts per unit sin|b|.
    extragalactic = abs_b[cls != STAR]
    per_sin_b = np.histogram(np.sin(np.radians(extragalactic)), bins=4, range=(0.1, 1.0))[0]
    assert per_sin_b.max() / per_sin_b.min() < 1.05
    # Disc stars are denser toward the Galactic centre than the anticentre.
    glon = truth["glon"][(cls == STAR) & low]
    toward_centre = np.sum((glon < 90) | (glon > 270))
    assert toward_centre > 1.3 * (len(glon) - toward_centre)


def test_reddening_is_a_smooth_function_of_galactic_position(
    catalog: pa.Table, truth: dict[str, np.ndarray]
) -> None:
    ebv = catalog["ebv"].to_numpy()
    glon, glat = np.radians(truth["glon"]), np.radians(truth["glat"])
    model = 0.02 / np.abs(np.sin(glat)) * (1 + 0.25 * np.cos(glon))
    assert np.allclose(ebv, model, rtol=1e-6)
    assert ebv.min() > 0.01 and ebv.max() < 0.3


def test_bricks_are_small_cells(catalog: pa.Table) -> None:
    table = pa.table(
        {"brickid": catalog["brickid"], "ra": catalog["ra"], "dec": catalog["dec"]}
    ).filter(pc.less(pc.abs(catalog["dec"]), 60.0))
    spans = table.group_by("brickid").aggregate(
        [("ra", "min"), ("ra", "max"), ("dec", "min"), ("dec", "max")]
    )
    assert (pc.subtract(spans["dec_max"], spans["dec_min"]).to_numpy() <= 0.25).all()
    assert (pc.subtract(spans["ra_max"], spans["ra_min"]).to_numpy() <= 0.51).all()
    assert catalog["brickid"].to_numpy().min() >= 1


# -- photometry ----------------------------------------------------------------------


def test_class_colours(truth: dict[str, np.ndarray]) -> None:
    cls = truth["cls"]
    g_r = truth["mag_g"] - truth["mag_r"]
    r_z = truth["mag_r"] - truth["mag_z"]
    star, galaxy, qso = cls == STAR, cls == GALAXY, cls == QSO
    assert 0.2 < np.median(g_r[star]) < 1.5
    assert g_r[star].min() > 0.15 - 1e-4 and g_r[star].max() < 1.65 + 1e-4
    # Stars follow a locus: at fixed g - r, r - z is tight; galaxies are broader and redder.
    band = (g_r > 0.5) & (g_r < 0.8)
    star_rz, galaxy_rz = r_z[star & band], r_z[galaxy & band]
    assert np.std(star_rz) < 0.12
    assert np.std(galaxy_rz) > 2 * np.std(star_rz)
    assert np.median(galaxy_rz) > np.median(star_rz) + 0.1
    assert np.median(r_z[galaxy]) > np.median(r_z[star])
    # M dwarfs: the reddest stars in g - r are far redder in r - z.
    assert np.median(r_z[star & (g_r > 1.35)]) > 0.9
    assert 0.0 < np.median(g_r[qso]) < 0.4
    assert 0.2 < np.median(r_z[qso]) < 0.6


def test_observed_colours_are_reddened_truth(
    catalog: pa.Table, truth: dict[str, np.ndarray]
) -> None:
    bright = (truth["mag_r"] < 19) & (truth["cls"] != GALAXY)  # point sources, high S/N
    g, r = np_column(catalog, "mag_g")[bright], np_column(catalog, "mag_r")[bright]
    reddening = (3.214 - 2.165) * truth["ebv"][bright]
    intrinsic = (truth["mag_g"] - truth["mag_r"])[bright]
    assert np.median(np.abs(g - r - reddening - intrinsic)) < 0.01


def test_magnitudes_follow_fluxes(catalog: pa.Table) -> None:
    for band in "grz":
        flux = catalog[f"flux_{band}"].to_numpy()
        ivar = catalog[f"flux_ivar_{band}"].to_numpy()
        mag, err = catalog[f"mag_{band}"], catalog[f"magerr_{band}"]
        positive = flux > 0
        assert np.array_equal(np.asarray(mag.is_valid()), positive)
        assert np.array_equal(np.asarray(err.is_valid()), positive)
        assert 0 < (~positive).sum() < 0.05 * ROWS  # some faint sources, not many
        mags = np_column(catalog, f"mag_{band}")[positive]
        expected = 22.5 - 2.5 * np.log10(flux[positive].astype(np.float64))
        assert np.allclose(mags, expected, rtol=0, atol=2e-5)
        errs = np_column(catalog, f"magerr_{band}")[positive]
        snr = flux[positive] * np.sqrt(ivar[positive].astype(np.float64))
        assert np.allclose(errs, 2.5 / np.log(10) / snr, rtol=1e-5)
        assert (ivar > 0).all()
        nobs = catalog[f"nobs_{band}"].to_numpy()
        assert nobs.min() >= 1 and 2.5 < nobs.mean() < 4


def test_depths_give_the_stated_point_source_noise(catalog: pa.Table) -> None:
    psf = np.asarray(pc.equal(catalog["type"], "PSF"))
    for band, depth in zip("grz", (24.0, 23.4, 22.5), strict=True):
        nobs = catalog[f"nobs_{band}"].to_numpy()[psf]
        ivar = catalog[f"flux_ivar_{band}"].to_numpy()[psf][nobs == 3]
        five_sigma = 22.5 - 2.5 * np.log10(5 / np.sqrt(ivar))
        assert np.allclose(five_sigma, depth, atol=1e-4)


def test_galaxy_counts_rise_steeply_and_stars_less(
    catalog: pa.Table, truth: dict[str, np.ndarray]
) -> None:
    bins = np.arange(17.0, 24.01, 1.0)
    centres = bins[:-1] + 0.5
    galaxies = np.histogram(truth["mag_r"][truth["cls"] == GALAXY], bins)[0]
    stars = np.histogram(truth["mag_r"][truth["cls"] == STAR], bins)[0]
    assert (np.diff(galaxies) > 0).all()
    galaxy_slope = np.polyfit(centres, np.log10(galaxies), 1)[0]
    star_slope = np.polyfit(centres, np.log10(stars), 1)[0]
    assert 0.3 <= galaxy_slope <= 0.4
    assert 0.0 < star_slope < 0.2
    assert truth["mag_r"][truth["cls"] == GALAXY].max() <= 24.0
    # Measured magnitudes keep the trend up to the depth.
    observed = np_column(catalog, "mag_r")[truth["cls"] == GALAXY]
    assert (np.diff(np.histogram(observed, np.arange(19.0, 23.01, 1.0))[0]) > 0).all()


def test_morphology(catalog: pa.Table, truth: dict[str, np.ndarray]) -> None:
    types = np.asarray(catalog["type"].to_numpy(zero_copy_only=False))
    assert set(np.unique(types)) == set(TYPE_NAMES)
    cls = truth["cls"]
    assert (types[cls != GALAXY] == "PSF").all()
    shape_r = catalog["shape_r"].to_numpy()
    sersic = catalog["sersic"].to_numpy()
    psf = types == "PSF"
    assert (shape_r[psf] == 0).all() and (shape_r[~psf] > 0).all()
    assert (sersic[psf] == 0).all()
    assert (sersic[(types == "REX") | (types == "EXP")] == 1).all()
    assert (sersic[types == "DEV"] == 4).all()
    ser = sersic[types == "SER"]
    assert ser.min() >= 0.5 and ser.max() <= 6
    # Brighter galaxies are more often resolved.
    mag_r = truth["mag_r"]
    resolved = [
        np.mean(~psf[(cls == GALAXY) & (mag_r >= lo) & (mag_r < lo + 1)]) for lo in (19, 21, 23)
    ]
    assert resolved[0] > 0.95 and resolved[0] > resolved[1] > resolved[2] > 0.02
    assert 0.3 < np.mean(psf[cls == GALAXY]) < 0.8


# -- files ---------------------------------------------------------------------------


def test_write_parquet_streams_with_metadata(tmp_path: Path, catalog: pa.Table) -> None:
    path = tmp_path / "mock.parquet"
    write_parquet(path, 5000, chunk_rows=2000)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == 5000 and meta.num_row_groups == 3
    table = pq.read_table(path)
    assert table.equals(catalog.slice(0, 5000))
    for f in MOCK_FIELDS:
        field_meta = table.schema.field(f.name).metadata
        assert field_meta[b"description"].decode() == f.description
        if f.unit:
            assert field_meta[b"unit"].decode() == f.unit
        assert field_meta[b"ucd"].decode() == f.ucd
    assert b"synthetic" in table.schema.metadata[b"description"].lower()


def test_write_csv_streams_with_empty_nulls(tmp_path: Path, catalog: pa.Table) -> None:
    path = tmp_path / "mock.csv"
    write_csv(path, 5000, seed=42)
    with path.open() as fh:
        header = fh.readline().strip().replace('"', "").split(",")
    assert header == [f.name for f in MOCK_FIELDS]
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=mock_schema()))
    expected = catalog.slice(0, 5000)
    assert table.num_rows == 5000
    assert table["objid"].equals(expected["objid"])
    assert table["type"].to_pylist() == expected["type"].to_pylist()
    assert table["mag_g"].null_count == expected["mag_g"].null_count
    assert np.allclose(table["ra"].to_numpy(), expected["ra"].to_numpy(), rtol=0, atol=1e-12)

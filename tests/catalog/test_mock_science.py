"""The synthetic survey has science in it: dwarf galaxies, RR Lyrae, QSOs, and its truth.

Each test does what a science notebook would (a CMD selection and a density map, a
periodogram, a colour-colour cut) on data generated in process, and checks that it finds
what the truth tables say is there, and nothing that is not.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from astropy.timeseries import LombScargle

from datalab.catalog.mock import (
    BLOCK_ROWS,
    DWARFS,
    INJECTED_OBJID_BASE,
    PRODUCTS,
    generate,
    generate_product,
    injected_rows,
)
from datalab.catalog.mock.injected import HALO_RRLYRAE

# Field rows of the small survey most tests use: two whole blocks and a partial one.
ROWS = 2 * BLOCK_ROWS + 1234
EXTINCTION = {"g": 3.214, "r": 2.165, "z": 1.211}
# Sky left to the survey: |b| >= 5 deg, in square degrees.
FOOTPRINT_DEG2 = 4 * math.pi * (180 / math.pi) ** 2 * (1 - math.sin(math.radians(5)))


def table(product: str, rows: int = ROWS, *, seed: int = 42, inject: bool = True) -> pa.Table:
    return pa.Table.from_batches(
        list(generate_product(product, rows, seed=seed, inject=inject)),
        schema=PRODUCTS[product].schema,
    )


def column(t: pa.Table, name: str) -> np.ndarray:
    """A column as numbers, nulls as NaN (strings as an object array)."""
    values = t.column(name).combine_chunks()
    if pa.types.is_string(values.type):
        return np.asarray(values.to_pylist(), dtype=object)
    if values.null_count:
        return values.cast(pa.float64()).fill_null(math.nan).to_numpy()
    return values.to_numpy(zero_copy_only=False)


@pytest.fixture(scope="module")
def survey() -> dict[str, pa.Table]:
    return {name: table(name) for name in PRODUCTS}


# -- determinism and identifiers -------------------------------------------------------


def test_same_seed_same_rows_and_injection_independent_of_row_count() -> None:
    for name in PRODUCTS:
        first, again = table(name, 5000), table(name, 5000)
        assert first.equals(again), name
        assert not first.equals(table(name, 5000, seed=7)), name
    # The injected rows do not depend on how many field rows there are...
    short, long = table("tractor", 5000), table("tractor", BLOCK_ROWS + 10)
    assert short.slice(5000).equals(long.slice(BLOCK_ROWS + 10))
    assert short.num_rows == 5000 + injected_rows()
    # ...and injecting leaves the field rows as they were.
    field = pa.Table.from_batches(list(generate(5000)))
    assert short.slice(0, 5000).equals(field)
    # A shorter survey's light curves are those of a longer one's first rows.
    small, large = table("measurements", 5000), table("measurements", BLOCK_ROWS + 10)
    pick = pc.less(large["objid"], 5000)
    assert small.slice(0, int(pc.sum(pick).as_py())).equals(large.filter(pick))


def test_identifiers_are_unique_and_in_separate_ranges(survey: dict[str, pa.Table]) -> None:
    objid = column(survey["tractor"], "objid")
    assert len(np.unique(objid)) == len(objid) == ROWS + injected_rows()
    assert np.array_equal(objid[:ROWS], np.arange(ROWS))
    injected = objid[ROWS:]
    assert np.array_equal(injected, INJECTED_OBJID_BASE + np.arange(len(injected)))
    assert len(injected) == sum(column(survey["truth_dwarfs"], "n_stars")) + HALO_RRLYRAE


def test_without_injection_the_truth_of_injected_objects_is_empty() -> None:
    assert table("tractor", 3000, inject=False).num_rows == 3000
    assert table("truth_objects", 3000, inject=False).num_rows == 3000
    assert table("truth_dwarfs", 3000, inject=False).num_rows == 0
    assert table("truth_rrlyrae", 3000, inject=False).num_rows == 0
    ids = column(table("measurements", 3000, inject=False), "objid")
    assert ids.max() < 3000


# -- truth tables ----------------------------------------------------------------------


def test_truth_tables_agree_with_the_catalog(survey: dict[str, pa.Table]) -> None:
    tractor, truth = survey["tractor"], survey["truth_objects"]
    assert np.array_equal(column(tractor, "objid"), column(truth, "objid"))
    origin, host = column(truth, "origin"), column(truth, "host")
    injected = origin != "field"
    assert (column(truth, "true_class")[injected] == "STAR").all()
    assert (column(tractor, "type")[injected] == "PSF").all()
    assert np.isnan(column(truth, "distance_kpc")[~injected]).all()
    # The truth's magnitudes, reddened, are what the catalog measures.
    bright = column(truth, "true_mag_r") < 20
    ebv = column(tractor, "ebv")
    for band in "grz":
        reddened = column(truth, f"true_mag_{band}") + EXTINCTION[band] * ebv
        measured = column(tractor, f"mag_{band}")
        assert np.median(np.abs(measured - reddened)[bright]) < 0.01

    dwarfs = survey["truth_dwarfs"]
    assert sorted(column(dwarfs, "name")) == sorted(d.name for d in DWARFS)
    objid = column(truth, "objid")
    for row in dwarfs.to_pylist():
        members = objid[host == row["name"]]
        assert len(members) == row["n_stars"] > 100
        assert (members.min(), members.max()) == (row["objid_min"], row["objid_max"])
        assert row["distmod"] == pytest.approx(5 * math.log10(row["distance_kpc"] * 100))
        assert -7.0 < row["abs_mag_v"] < -2.5  # faint dwarfs, not bright satellites
    rr = survey["truth_rrlyrae"]
    rr_ids = column(rr, "objid")
    var_type = column(truth, "var_type")
    assert set(objid[var_type != None]) == set(rr_ids)  # noqa: E711 - nulls are None
    assert len(rr_ids) == HALO_RRLYRAE + sum(column(dwarfs, "n_rrlyrae"))
    assert (column(dwarfs, "n_rrlyrae") >= 1).all()
    in_dwarf = column(rr, "host") != None  # noqa: E711
    assert in_dwarf.sum() == sum(column(dwarfs, "n_rrlyrae"))
    # RR Lyrae in a dwarf sit on its horizontal branch.
    hb = dict(zip(column(dwarfs, "name"), column(dwarfs, "mag_g_hb"), strict=True))
    hb_of = np.array([hb[h] for h in column(rr, "host")[in_dwarf]])
    assert np.abs(column(rr, "mean_mag_g")[in_dwarf] - hb_of).max() < 0.3
    # Light curves exist exactly for the objects the truth says.
    measured = set(column(survey["measurements"], "objid"))
    assert measured == set(objid[column(truth, "has_light_curve")])
    assert set(rr_ids) <= measured


def test_rr_lyrae_are_shaped_like_rr_lyrae(survey: dict[str, pa.Table]) -> None:
    rr = survey["truth_rrlyrae"].to_pandas()
    ab, c = rr[rr.var_type == "RRab"], rr[rr.var_type == "RRc"]
    assert len(ab) > 2 * len(c) > 40
    assert ab.period.between(0.45, 0.70).all() and c.period.between(0.26, 0.42).all()
    assert ab.amp_g.between(0.5, 1.2).all()
    assert (rr.amp_g > rr.amp_r).all() and (rr.amp_r > rr.amp_z).all()
    # The tractor's coadd measures the intensity mean of the light curve.
    tractor = survey["tractor"].to_pandas().set_index("objid")
    for band in "grz":
        rows = tractor.loc[rr.objid]
        diff = rows[f"mag_{band}"].to_numpy() - rr[f"mean_mag_{band}"].to_numpy()
        assert (np.abs(diff) < 0.01 + 5 * rows[f"magerr_{band}"].to_numpy()).all()
    lc = survey["measurements"].to_pandas()
    lc = lc[lc.objid.isin(rr.objid) & (lc.band == "g")]
    lc = lc.assign(flux=10 ** (-0.4 * lc.mag))
    mean_of_flux = -2.5 * np.log10(lc.groupby("objid").flux.mean())
    diff = mean_of_flux.reindex(rr.objid).to_numpy() - rr.mean_mag_g.to_numpy()
    assert abs(np.median(diff)) < 0.03 and np.percentile(np.abs(diff), 90) < 0.12
    # Fast rise, slow decline: folded on the true period, RRab spend under a third of the
    # cycle getting brighter; RRc close to half.
    rise = {}
    for kind, stars in (("RRab", ab), ("RRc", c)):
        fractions = []
        for star in stars.itertuples():
            points = lc[lc.objid == star.objid]
            phase = ((points.mjd - star.mjd_max) / star.period) % 1.0
            bins = np.floor(phase * 10).astype(int)
            curve = points.mag.groupby(bins).median().reindex(range(10))
            if curve.isna().any():
                continue
            faintest, brightest = int(curve.idxmax()), int(curve.idxmin())
            fractions.append(((brightest - faintest) % 10) / 10)
        rise[kind] = np.median(fractions)
    assert rise["RRab"] <= 0.3 < rise["RRc"] <= 0.6


# -- light curves --------------------------------------------------------------------


def _flattened(lc: pa.Table) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per object (mjd, mag minus its band's median, magerr): the bands on one scale."""
    frame = lc.to_pandas()
    frame["flat"] = frame.mag - frame.groupby(["objid", "band"]).mag.transform("median")
    return {
        int(k): (g.mjd.to_numpy(), g.flat.to_numpy(), g.magerr.to_numpy())
        for k, g in frame.groupby("objid")
    }


# Frequencies searched, 1-4 per day (periods 0.25-1 d), finer than a peak's width.
FREQUENCY = np.linspace(1.0, 4.0, 6000)


def _periodogram(t: np.ndarray, y: np.ndarray, dy: np.ndarray) -> tuple[float, float]:
    """(best period, false-alarm probability of its peak) from astropy's Lomb-Scargle."""
    ls = LombScargle(t, y, dy)
    power = ls.power(FREQUENCY, method="fast", assume_regular_frequency=True)
    best = int(power.argmax())
    fap = ls.false_alarm_probability(
        power[best], minimum_frequency=FREQUENCY[0], maximum_frequency=FREQUENCY[-1]
    )
    return 1.0 / FREQUENCY[best], float(fap)


def test_cadence_is_survey_like(survey: dict[str, pa.Table]) -> None:
    lc = survey["measurements"].to_pandas()
    per_object = lc.groupby("objid")
    assert per_object.size().between(38, 80).all()  # 40-80 taken, a faint few lost
    assert per_object.band.nunique().min() == 3
    span = per_object.mjd.max() - per_object.mjd.min()
    assert span.median() > 2.5 * 365
    # At night at a site 70.8 deg west: within 4.5 h of local midnight (04:43 UT).
    local = ((lc.mjd % 1.0) - 70.8 / 360 + 0.5) % 1.0 - 0.5
    assert np.abs(local).max() <= 4.5 / 24 + 1e-9
    assert np.mean(lc.band == "g") == pytest.approx(0.35, abs=0.03)


def test_rr_lyrae_periods_are_recovered(survey: dict[str, pa.Table]) -> None:
    rr = survey["truth_rrlyrae"].to_pandas()
    curves = _flattened(
        survey["measurements"].filter(
            pc.is_in(survey["measurements"]["objid"], value_set=pa.array(rr.objid))
        )
    )
    recovered, flagged = [], []
    for star in rr.itertuples():
        period, fap = _periodogram(*curves[star.objid])
        recovered.append(abs(period / star.period - 1) < 0.01)
        flagged.append(fap < 1e-3)
    rr["recovered"] = recovered
    # The stated thresholds: at least 95% of all RR Lyrae, and 90% of each type, within 1%
    # of the true period; at least 90% detected as variable at a 0.1% false-alarm level.
    assert rr.recovered.mean() >= 0.95
    assert rr.groupby("var_type").recovered.mean().min() >= 0.90
    assert np.mean(flagged) >= 0.90


def test_constant_stars_are_not_flagged(survey: dict[str, pa.Table]) -> None:
    truth = survey["truth_objects"]
    constant = pc.and_(truth["has_light_curve"], pc.is_null(truth["var_type"]))
    ids = truth["objid"].filter(constant)
    assert len(ids) > 1000
    lc = survey["measurements"]
    curves = _flattened(lc.filter(pc.is_in(lc["objid"], value_set=ids)))
    chi2 = np.array([np.mean((y / dy) ** 2) for _, y, dy in curves.values()])
    assert np.median(chi2) == pytest.approx(1.0, abs=0.15)
    assert np.mean(chi2 > 3) < 0.01
    sample = list(curves.values())[:100]
    false_alarms = [_periodogram(*curve)[1] < 1e-3 for curve in sample]
    assert sum(false_alarms) <= 1


# -- dwarf galaxies ------------------------------------------------------------------------

# A metal-poor ridge line (absolute g, dereddened g - r) from the giant branch through
# the turn-off to the upper main sequence, of the kind read off an old globular cluster,
# coarse on purpose: the selection a notebook makes.
RIDGE_MG = np.array([-2.5, -1.0, 0.5, 2.0, 3.0, 3.5, 3.9, 5.0, 6.0, 7.0])
RIDGE_GR = np.array([0.95, 0.70, 0.57, 0.48, 0.43, 0.33, 0.23, 0.31, 0.44, 0.60])


@pytest.fixture(scope="module")
def wide() -> dict[str, np.ndarray]:
    """The point sources of a 1,000,000-row survey with its injected objects."""
    keep = ["objid", "ra", "dec", "type", "mag_g", "mag_r", "magerr_g", "magerr_r", "ebv"]
    batches = [b.select(keep) for b in generate(1_000_000, inject=True)]
    t = pa.Table.from_batches(batches)
    t = t.filter(pc.equal(t["type"], "PSF")).drop_columns(["type"])
    return {name: column(t, name) for name in t.column_names}


def _old_population(stars: dict[str, np.ndarray], distmod: float, hb: float) -> np.ndarray:
    g0 = stars["mag_g"] - EXTINCTION["g"] * stars["ebv"]
    gr0 = g0 - (stars["mag_r"] - EXTINCTION["r"] * stars["ebv"])
    error = np.hypot(stars["magerr_g"], stars["magerr_r"])
    abs_g = g0 - distmod
    giant = (abs_g > -3.0) & (abs_g < 7.0) & (g0 < 24.0)
    giant &= np.abs(gr0 - np.interp(abs_g, RIDGE_MG, RIDGE_GR)) < 0.08 + 2 * error
    branch = (np.abs(g0 - (hb - EXTINCTION["g"] * stars["ebv"])) < 0.4) & (gr0 > -0.4)
    return giant | (branch & (gr0 < 0.45))


def _separation(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float) -> np.ndarray:
    a, d, a0, d0 = map(np.radians, (ra, dec, ra0, dec0))
    cos = np.sin(d) * np.sin(d0) + np.cos(d) * np.cos(d0) * np.cos(a - a0)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


@pytest.mark.parametrize("field_rows", [300_000, 1_000_000])
def test_dwarfs_are_density_peaks_after_a_cmd_selection(
    wide: dict[str, np.ndarray], field_rows: int
) -> None:
    present = (wide["objid"] < field_rows) | (wide["objid"] >= INJECTED_OBJID_BASE)
    stars = {k: v[present] for k, v in wide.items()}
    cell = 0.25  # deg: the density map's pixels, in (ra cos dec, dec)
    dwarfs = table("truth_dwarfs", 0).to_pylist()
    for dwarf in dwarfs:
        chosen = _old_population(stars, dwarf["distmod"], dwarf["mag_g_hb"])
        ra, dec = stars["ra"][chosen], stars["dec"][chosen]
        # The map around the dwarf, 6 x 6 deg, and the background from the whole sky.
        x = ((ra - dwarf["ra"] + 180) % 360 - 180) * math.cos(math.radians(dwarf["dec"]))
        y = dec - dwarf["dec"]
        edges = np.arange(-3.0, 3.0 + cell / 2, cell)
        counts = np.histogram2d(x, y, bins=(edges, edges))[0]
        background = chosen.sum() / FOOTPRINT_DEG2 * cell**2
        i, j = np.unravel_index(counts.argmax(), counts.shape)
        centre = edges[:-1] + cell / 2
        assert math.hypot(centre[i], centre[j]) < 1.5 * cell, dwarf["name"]
        peak = counts[i, j]
        assert peak >= 10 and peak > background + 10 * math.sqrt(background), dwarf["name"]
        # No other clump anywhere on the sky rivals it, apart from the other dwarfs (an
        # old population at a similar distance passes the same cut).
        elsewhere = np.ones(chosen.sum(), dtype=bool)
        for other in dwarfs:
            elsewhere &= _separation(ra, dec, other["ra"], other["dec"]) > 1.0
        sky = np.histogram2d(
            ra[elsewhere] * np.cos(np.radians(dec[elsewhere])) // cell,
            dec[elsewhere] // cell,
            bins=(np.arange(-1441, 1442), np.arange(-361, 362)),
        )[0]
        assert sky.max() < peak / 3, dwarf["name"]
        # The members the truth lists are mostly what the cut picked near the centre.
        near = _separation(ra, dec, dwarf["ra"], dwarf["dec"]) < 3 * dwarf["r_half_arcmin"] / 60
        members = (stars["objid"][chosen] >= dwarf["objid_min"]) & (
            stars["objid"][chosen] <= dwarf["objid_max"]
        )
        assert np.mean(members[near]) > 0.9, dwarf["name"]


def test_dwarfs_are_faint_not_trivially_bright(survey: dict[str, pa.Table]) -> None:
    tractor, truth = survey["tractor"], survey["truth_objects"]
    host = column(truth, "host")
    g = column(tractor, "mag_g")
    for dwarf in DWARFS:
        member_g = g[host == dwarf.name]
        assert np.nanmedian(member_g) > 21.5, dwarf.name
        assert np.sum(member_g < 18.0) <= 3, dwarf.name
        assert np.nanmin(member_g) > 15.0, dwarf.name


# -- QSOs ----------------------------------------------------------------------------------


def test_qsos_are_blue_point_sources_off_the_stellar_locus(survey: dict[str, pa.Table]) -> None:
    tractor, truth = survey["tractor"], survey["truth_objects"]
    kind = column(truth, "true_class")
    ebv = column(tractor, "ebv")
    g, r, z = (column(tractor, f"mag_{b}") - EXTINCTION[b] * ebv for b in "grz")
    bright = r < 21.0
    qso, star = bright & (kind == "QSO"), bright & (kind == "STAR")
    assert qso.sum() > 300
    assert np.mean(column(tractor, "type")[kind == "QSO"] == "PSF") > 0.95
    # Ultraviolet-excess-like: QSOs are bluer in g - r than most stars...
    assert np.median((g - r)[qso]) < 0.3 < np.median((g - r)[star])
    # ...and at a given g - r sit well above the stellar locus in r - z.
    locus_g_r = np.linspace(0.0, 1.2, 13)
    stellar = star & ((g - r) < 1.2)
    locus = [np.median((r - z)[stellar & (np.abs(g - r - c) < 0.05)]) for c in locus_g_r[2:]]
    fit = np.polyfit(locus_g_r[2:], locus, 1)
    above = (r - z) - np.polyval(fit, g - r)
    assert np.median(above[qso]) > 0.25
    assert np.mean(above[qso] > 0.15) > 0.8
    assert np.mean(above[stellar] > 0.15) < 0.05


# -- documentation -----------------------------------------------------------------------


def test_every_table_and_column_is_documented_as_synthetic() -> None:
    from astropy import units as u
    from astropy.io.votable.ucd import check_ucd

    for name, product in PRODUCTS.items():
        assert "synthetic" in product.description.lower(), name
        assert product.schema.names == [f.name for f in product.fields], name
        assert product.schema.metadata[b"description"].decode() == product.description
        for f in product.fields:
            assert f.description and "simulated" in f.description.lower(), f"{name}.{f.name}"
            assert f.ucd and check_ucd(f.ucd, check_controlled_vocabulary=True), f.name
            if f.unit:
                u.Unit(f.unit)

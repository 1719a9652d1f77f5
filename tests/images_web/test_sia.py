"""SIA 1.0 and SIA 2.0 against a real server on the demo images, with pyvo."""

from __future__ import annotations

import io

import astropy.io.fits
import astropy.utils.data
import httpx
import numpy as np
import pytest
import pyvo
from astropy.wcs import WCS
from pyvo.dal import sia

from tests.images_web.helpers import PLEIADES, assert_votable_error, votable_table

pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def test_the_seed_notebook_code_runs_unchanged(base: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # astropy's download cache
    URL = f"{base}/sia"  # noqa: N806 - as the notebook spells it
    ra, dec = PLEIADES
    fov = 0.1
    band = "g"
    # -- the seed, verbatim ---------------------------------------------------------
    svc = sia.SIAService(URL)
    imgTable = svc.search((ra, dec), (fov / np.cos(dec * np.pi / 180), fov), verbosity=2).to_table()  # noqa: N806
    sel0 = (imgTable["proctype"] == "Stacked") & (imgTable["prodtype"] == "image")
    sel = sel0 & (imgTable["obs_bandpass"] == band)
    row = imgTable[sel][np.argmax(imgTable[sel]["exptime"].data.astype("float"))]
    img = astropy.io.fits.getdata(astropy.utils.data.download_file(row["access_url"], cache=True))
    # ---------------------------------------------------------------------------------
    assert img.ndim == 2 and img.shape == (row["naxis"][1], row["naxis"][0])
    assert np.isfinite(img).all()
    stacked = imgTable[sel]
    assert len(stacked) >= 1 and set(imgTable["proctype"]) >= {"Stacked"}


def _gaia_stars(base: str, wcs: WCS, shape: tuple[int, int]) -> list[tuple[float, float]]:
    ra = wcs.wcs.crval[0]
    dec = wcs.wcs.crval[1]
    query = (
        "SELECT ra, dec, phot_g_mean_mag FROM gaia_dr3.gaia_source WHERE 1 = CONTAINS("
        f"POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra}, {dec}, 1.0)) ORDER BY phot_g_mean_mag"
    )
    r = httpx.post(f"{base}/tap/sync", data={"QUERY": query, "LANG": "ADQL"}, timeout=60)
    assert r.status_code == 200, r.text
    stars = votable_table(r.content)
    x, y = wcs.all_world2pix(np.asarray(stars["ra"]), np.asarray(stars["dec"]), 0)
    inside = (x > 12) & (x < shape[1] - 13) & (y > 12) & (y < shape[0] - 13)
    return [(float(a), float(b)) for a, b in zip(x[inside], y[inside], strict=True)]


def test_the_stack_stars_sit_where_gaia_says(base: str) -> None:
    ra, dec = PLEIADES
    svc = sia.SIAService(f"{base}/sia")
    table = svc.search((ra, dec), (0.1 / np.cos(np.radians(dec)), 0.1), verbosity=2).to_table()
    stacks = table[(table["proctype"] == "Stacked") & (table["obs_bandpass"] == "g")]
    assert len(stacks)
    url = stacks[0]["access_url"]
    with astropy.io.fits.open(io.BytesIO(httpx.get(url, timeout=60).content)) as hdul:
        data = hdul[0].data.astype(float)
        wcs = WCS(hdul[0].header)
    stars = _gaia_stars(base, wcs, data.shape)
    assert len(stars) >= 3, "too few bright Gaia stars in the Pleiades stack"
    background = np.median(data)
    checked = 0
    for x, y in stars:
        ix, iy = round(x), round(y)
        box = data[iy - 4 : iy + 5, ix - 4 : ix + 5] - background
        if box.max() < 20 * np.std(data[:50, :50]):
            continue  # too faint against the noise to centroid
        # Another bright star close by would pull the centroid: skip crowded ones.
        if sum(1 for a, b in stars if 0 < np.hypot(a - x, b - y) < 8):
            continue
        weights = np.clip(box, 0, None)
        yy, xx = np.mgrid[iy - 4 : iy + 5, ix - 4 : ix + 5]
        cx, cy = (weights * xx).sum() / weights.sum(), (weights * yy).sum() / weights.sum()
        assert np.hypot(cx - x, cy - y) < 1.0, (x, y, cx, cy)
        checked += 1
        if checked == 5:
            break
    assert checked >= 3


def test_sia1_columns_carry_the_sia1_ucds(base: str) -> None:
    ra, dec = PLEIADES
    results = sia.SIAService(f"{base}/sia").search((ra, dec), 0.05, verbosity=3)
    assert len(results) > 0
    record = results[0]
    assert record.title and record.format in ("image/fits", "application/fits")
    assert record.naxes == 2 and len(record.naxis) == 2
    assert record.acref.startswith(f"{base}/images/")
    assert abs(record.pos.ra.deg - ra) < 2 and abs(record.pos.dec.deg - dec) < 2
    assert record.bandpass_id in {"g", "r", "i"}
    assert record.getbyucd("VOX:WCS_CDMatrix").shape == (4,)


def test_sia1_verb_adds_columns_and_metadata_describes_them(base: str) -> None:
    counts = []
    for verb in range(4):
        r = httpx.get(f"{base}/sia", params={"POS": "56.75,24.1167", "SIZE": "0.1", "VERB": verb})
        assert r.status_code == 200
        counts.append(len(votable_table(r.content).columns))
    assert counts == sorted(counts) and counts[0] == 8 and counts[3] > counts[2]
    meta = httpx.get(f"{base}/sia/query", params={"FORMAT": "METADATA"})
    assert meta.status_code == 200
    assert len(votable_table(meta.content)) == 0
    assert b'name="INPUT:POS"' in meta.content
    service = sia.SIAService(f"{base}/sia")
    assert any(p.name == "INPUT:POS" for p in service.params)


def test_sia1_intersect_modes(base: str) -> None:
    def count(intersect: str, size: float) -> int:
        r = httpx.get(
            f"{base}/sia", params={"POS": "56.75,24.1167", "SIZE": size, "INTERSECT": intersect}
        )
        assert r.status_code == 200, r.text
        return len(votable_table(r.content))

    assert count("COVERS", 0.01) >= 1
    assert count("ENCLOSED", 0.01) == 0
    assert count("ENCLOSED", 20) >= count("COVERS", 0.01)
    assert count("OVERLAPS", 0.2) >= count("CENTER", 0.2)
    nothing = httpx.get(f"{base}/sia", params={"POS": "150,-60", "SIZE": "0.1"})
    assert nothing.status_code == 200 and len(votable_table(nothing.content)) == 0


# -- SIA 2.0 ---------------------------------------------------------------------------------


def test_pyvo_sia2_search_by_pos_band_calib(base: str) -> None:
    service = pyvo.dal.SIA2Service(f"{base}/sia2")
    ra, dec = PLEIADES
    everything = service.search(pos=(ra, dec, 0.05)).to_table()
    assert len(everything) > 0
    calib = int(max(everything["calib_level"]))
    g = service.search(pos=(ra, dec, 0.05), band=(420e-9, 520e-9), calib_level=calib)
    table = g.to_table()
    assert 0 < len(table) < len(everything)
    assert set(table["obs_bandpass"]) == {"g"}
    assert set(table["calib_level"]) == {calib}
    record = g[0]
    assert record.access_url.startswith(f"{base}/images/")
    assert record.access_format in ("image/fits", "application/fits")
    assert record.obs_publisher_did.startswith("ivo://")
    assert record.s_region.shape[0] >= 6
    # The file behind access_url is the image.
    r = httpx.get(record.access_url, timeout=60)
    assert r.status_code == 200 and r.content[:9] == b"SIMPLE  ="


def test_sia2_columns_follow_obscore(base: str) -> None:
    r = httpx.get(f"{base}/sia2/query", params={"POS": "CIRCLE 56.75 24.1167 0.05"})
    assert r.status_code == 200
    import warnings

    from astropy.io import votable

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = votable.parse(io.BytesIO(r.content))
    fields = {f.name: f for f in doc.get_first_table().fields}
    wanted = {
        "dataproduct_type": ("meta.code.class", "obscore:ObsDataset.dataProductType", None),
        "calib_level": ("meta.code;obs.calib", "obscore:ObsDataset.calibLevel", None),
        "obs_publisher_did": ("meta.ref.ivoid", "obscore:Curation.publisherDID", None),
        "access_url": ("meta.ref.url", "obscore:Access.reference", None),
        "access_estsize": ("phys.size;meta.file", "obscore:Access.size", "kbyte"),
        "s_ra": ("pos.eq.ra", "obscore:Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C1", "deg"),
        "s_fov": ("phys.angSize;instr.fov", "obscore:Char.SpatialAxis.Coverage.Bounds.Extent.diameter", "deg"),
        "s_region": ("pos.outline;obs.field", "obscore:Char.SpatialAxis.Coverage.Support.Area", "deg"),
        "t_min": ("time.start;obs.exposure", "obscore:Char.TimeAxis.Coverage.Bounds.Limits.StartTime", "d"),
        "t_exptime": ("time.duration;obs.exposure", "obscore:Char.TimeAxis.Coverage.Support.Extent", "s"),
        "em_min": ("em.wl;stat.min", "obscore:Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit", "m"),
        "facility_name": ("meta.id;instr.tel", "obscore:Provenance.ObsConfig.Facility.name", None),
        "instrument_name": ("meta.id;instr", "obscore:Provenance.ObsConfig.Instrument.name", None),
    }  # fmt: skip
    for name, (ucd, utype, unit) in wanted.items():
        field = fields[name]
        assert (field.ucd, field.utype) == (ucd, utype), name
        assert (str(field.unit) if field.unit else None) == (unit if unit != "kbyte" else "kbyte")
    for extra in ("proctype", "prodtype", "obs_bandpass", "exptime", "image_id"):
        assert extra in fields
    meta = [res for res in doc.resources if res.type == "meta"]
    assert {res.name for res in meta} >= {"this", "datalink"}


def test_sia2_maxrec_overflow_and_metadata_only(base: str) -> None:
    all_rows = votable_table(httpx.get(f"{base}/sia2/query").content)
    assert len(all_rows) > 3
    service = pyvo.dal.SIA2Service(f"{base}/sia2")
    cut = service.search(maxrec=2)  # pyvo warns only when the cut is not the one asked for
    assert len(cut) == 2 and cut.status[0] == "OVERFLOW"
    empty = httpx.get(f"{base}/sia2/query", params={"MAXREC": "0"})
    assert empty.status_code == 200 and len(votable_table(empty.content)) == 0
    assert b"OVERFLOW" not in empty.content


def test_sia2_repeated_parameters_are_ored(base: str) -> None:
    def ids(params: list[tuple[str, str]]) -> set[str]:
        r = httpx.get(f"{base}/sia2/query", params=params)
        assert r.status_code == 200, r.text
        return set(votable_table(r.content)["image_id"])

    pleiades = ids([("POS", "CIRCLE 56.75 24.1167 0.05")])
    everything = ids([])
    other_field = next(
        iter(
            ids([("POS", f"CIRCLE {r} {d} 0.01")])
            for r, d in ((83.8, -1.2), (10.68, 41.27), (80.9, -69.8), (192.9, 27.1))
            if ids([("POS", f"CIRCLE {r} {d} 0.01")])
        ),
        set(),
    )
    assert pleiades and everything >= pleiades
    if other_field:
        both = ids([("POS", "CIRCLE 56.75 24.1167 0.05"), ("POS", "RANGE 0 360 -90 90")])
        assert both == everything
    g = ids([("POS", "CIRCLE 56.75 24.1167 0.05"), ("BAND", "420e-9 520e-9")])
    gr = ids([
        ("POS", "CIRCLE 56.75 24.1167 0.05"), ("BAND", "420e-9 520e-9"), ("BAND", "600e-9 650e-9"),
    ])  # fmt: skip
    assert g < gr <= pleiades
    # Different parameters are AND-ed; an ID of no image matches nothing.
    one = sorted(pleiades)[0]
    assert ids([("ID", one)]) == {one}
    assert ids([("ID", one), ("ID", "nothing-here")]) == {one}
    assert ids([("ID", "nothing-here")]) == set()
    assert ids([("POS", "CIRCLE 150 -60 0.1"), ("ID", one)]) == set()


def test_sia2_ranges_wrap_and_text_constraints(base: str) -> None:
    r = httpx.get(f"{base}/sia2/query", params={"POS": "RANGE 359 1 -1 1"})
    assert r.status_code == 200
    r = httpx.get(
        f"{base}/sia2/query",
        params=[("POS", "RANGE 56.5 57.0 23.9 24.3"), ("DPTYPE", "image"), ("TIME", "-Inf +Inf"),
                ("EXPTIME", "0 +Inf"), ("FORMAT", "image/fits")],
    )  # fmt: skip
    assert r.status_code == 200 and len(votable_table(r.content)) > 0
    r = httpx.get(f"{base}/sia2/query", params={"DPTYPE": "spectrum"})
    assert r.status_code == 200 and len(votable_table(r.content)) == 0
    r = httpx.get(f"{base}/sia2/query", params={"TIMERES": "-Inf +Inf"})
    assert len(votable_table(r.content)) == 0  # no image has a known time resolution
    r = httpx.post(f"{base}/sia2/query", data={"pos": "CIRCLE 56.75 24.1167 0.05", "responseformat": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0].startswith("dataproduct_type,")


def test_sia_errors_are_usage_faults(base: str) -> None:
    message = assert_votable_error(
        httpx.get(f"{base}/sia2/query", params={"BAND": "-2 x"}), 400
    )
    assert message.startswith("UsageFault: BAND=")
    message = assert_votable_error(httpx.get(f"{base}/sia", params={"SIZE": "0.1"}), 400)
    assert "POS" in message

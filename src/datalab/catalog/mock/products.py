"""The synthetic survey's tables as record batches: tractor, light curves and truth.

Each table is a :class:`MockProduct` in :data:`PRODUCTS`, keyed by its table name in the
``ls_mock`` schema. For a given ``rows``, ``seed`` and ``inject`` every product
describes the same objects: the ``rows`` field rows (objid 0 to rows - 1) followed, with
``inject``, by the injected rows (objid from
:data:`~datalab.catalog.mock.injected.INJECTED_OBJID_BASE`). Without ``inject`` the
truth tables of the injected objects are empty. Field block
``i`` is re-simulated from its own streams for each product, so products can be made
separately, in any order, and still agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from datalab.catalog.mock.columns import MOCK_FIELDS, MOCK_TABLE_DESCRIPTION, SCHEMA
from datalab.catalog.mock.dwarfs import DWARFS, population_abs_mag_v
from datalab.catalog.mock.injected import (
    FIELD,
    INJECTED_BLOCK,
    ORIGIN_NAMES,
    Injected,
    injected,
)
from datalab.catalog.mock.lightcurves import light_curve_batch, light_curve_mask
from datalab.catalog.mock.rrlyrae import VARIABLE_TYPE_NAMES
from datalab.catalog.mock.tables import (
    MEASUREMENT_DESCRIPTION,
    MEASUREMENT_FIELDS,
    MEASUREMENT_SCHEMA,
    TRUTH_DWARF_DESCRIPTION,
    TRUTH_DWARF_FIELDS,
    TRUTH_DWARF_SCHEMA,
    TRUTH_OBJECT_DESCRIPTION,
    TRUTH_OBJECT_FIELDS,
    TRUTH_OBJECT_SCHEMA,
    TRUTH_RRLYRAE_DESCRIPTION,
    TRUTH_RRLYRAE_FIELDS,
    TRUTH_RRLYRAE_SCHEMA,
)
from datalab.catalog.mock.tractor import EXTINCTION, tractor_batch
from datalab.catalog.mock.truth import (
    BLOCK_ROWS,
    CLASS_NAMES,
    TYPE_NAMES,
    Sources,
    icrs_to_galactic,
    simulate_sources,
)
from datalab.formats import FieldMeta

__all__ = [
    "PRODUCTS",
    "MockProduct",
    "field_blocks",
    "injected_tractor",
    "measurement_batches",
    "tractor_batches",
    "truth_dwarf_batches",
    "truth_object_batches",
    "truth_rrlyrae_batches",
]

_CLASSES = pa.array(CLASS_NAMES, pa.string())
_PROFILES = pa.array(TYPE_NAMES, pa.string())
_ORIGINS = pa.array(ORIGIN_NAMES, pa.string())
_VAR_TYPES = pa.array([None, *VARIABLE_TYPE_NAMES[1:]], pa.string())
_HOSTS = pa.array([None, *(d.name for d in DWARFS)], pa.string())


def field_blocks(rows: int, seed: int) -> Iterator[tuple[Sources, int]]:
    """Each whole field block with how many of its rows the catalog keeps."""
    if rows < 0:
        raise ValueError(f"rows must be >= 0, not {rows}")
    for block in range(-(-rows // BLOCK_ROWS)):
        yield simulate_sources(block, seed=seed), min(BLOCK_ROWS, rows - block * BLOCK_ROWS)


def _field_light_curves(sources: Sources) -> np.ndarray:
    draw = np.random.default_rng([sources.seed, sources.block, 2]).random(
        len(sources), dtype=np.float32
    )
    return light_curve_mask(sources, draw)


def _injected_light_curves(stars: Injected) -> np.ndarray:
    draw = np.random.default_rng([stars.sources.seed, INJECTED_BLOCK, 2]).random(
        len(stars), dtype=np.float32
    )
    chosen = light_curve_mask(stars.sources, draw)
    chosen[stars.rr_rows] = True
    return chosen


# -- tractor ---------------------------------------------------------------------------


def injected_tractor(seed: int = 42) -> pa.RecordBatch:
    """The injected rows as measured by the tractor model (their own noise stream)."""
    return tractor_batch(injected(seed).sources)


def tractor_batches(rows: int, seed: int, inject: bool) -> Iterator[pa.RecordBatch]:
    """Field blocks (the last cut short, measured whole), then the injected rows."""
    for sources, keep in field_blocks(rows, seed):
        yield tractor_batch(sources).slice(0, keep)
    if inject:
        yield injected_tractor(seed)


# -- measurements ----------------------------------------------------------------------


def measurement_batches(rows: int, seed: int, inject: bool) -> Iterator[pa.RecordBatch]:
    """Light curves of the chosen field stars block by block, then of the injected stars."""
    for sources, keep in field_blocks(rows, seed):
        chosen = np.flatnonzero(_field_light_curves(sources))
        rng = np.random.default_rng([seed, sources.block, 3])
        batch = light_curve_batch(rng, sources, chosen)
        if keep < BLOCK_ROWS:
            limit = sources.objid[0] + keep
            batch = batch.filter(pa.array(batch.column(0).to_numpy() < limit))
        yield batch
    if not inject:
        return
    stars = injected(seed)
    chosen = np.flatnonzero(_injected_light_curves(stars))
    position = np.searchsorted(chosen, stars.rr_rows)
    rng = np.random.default_rng([seed, INJECTED_BLOCK, 3])
    yield light_curve_batch(rng, stars.sources, chosen, position, stars.rrlyrae)


# -- truth tables ----------------------------------------------------------------------


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    """A batch with no rows, so that a table of no injected objects still has its columns."""
    return pa.RecordBatch.from_pylist([], schema=schema)


def _truth_batch(
    sources: Sources,
    light_curve: np.ndarray,
    origin: np.ndarray,
    host: np.ndarray,
    var_type: np.ndarray,
    distance: np.ndarray | None,
) -> pa.RecordBatch:
    n = len(sources)
    columns = [
        pa.array(sources.objid),
        _CLASSES.take(pa.array(sources.cls)),
        _ORIGINS.take(pa.array(origin)),
        _HOSTS.take(pa.array(host + 1)),
        _VAR_TYPES.take(pa.array(var_type)),
        pa.array(light_curve),
        pa.array(sources.mag_g),
        pa.array(sources.mag_r),
        pa.array(sources.mag_z),
        pa.array(sources.r_half),
        _PROFILES.take(pa.array(sources.profile)),
        pa.nulls(n, pa.float32()) if distance is None else pa.array(distance, pa.float32()),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=TRUTH_OBJECT_SCHEMA)


def truth_object_batches(rows: int, seed: int, inject: bool) -> Iterator[pa.RecordBatch]:
    """One truth row per tractor row, in the tractor's row order."""
    for sources, keep in field_blocks(rows, seed):
        n = len(sources)
        zeros = np.zeros(n, dtype=np.int8)
        batch = _truth_batch(
            sources,
            _field_light_curves(sources),
            np.full(n, FIELD, dtype=np.int8),
            np.full(n, -1, dtype=np.int8),
            zeros,
            None,
        )
        yield batch.slice(0, keep)
    if not inject:
        return
    stars = injected(seed)
    var_type = np.zeros(len(stars), dtype=np.int8)
    var_type[stars.rr_rows] = stars.rrlyrae.kind
    yield _truth_batch(
        stars.sources,
        _injected_light_curves(stars),
        stars.origin,
        stars.host,
        var_type,
        stars.distance_kpc,
    )


def truth_dwarf_batches(rows: int, seed: int, inject: bool) -> Iterator[pa.RecordBatch]:
    """One row per injected dwarf (``rows`` is ignored: the dwarfs never depend on it)."""
    if not inject:
        yield _empty(TRUTH_DWARF_SCHEMA)
        return
    stars = injected(seed)
    in_rr = np.zeros(len(stars), dtype=bool)
    in_rr[stars.rr_rows] = True
    members = [stars.dwarf_rows(k) for k in range(len(DWARFS))]
    glon, sin_b = icrs_to_galactic(
        np.array([d.ra for d in DWARFS]), np.array([d.dec for d in DWARFS])
    )
    values: dict[str, list[object]] = {
        "name": [d.name for d in DWARFS],
        "ra": [d.ra for d in DWARFS],
        "dec": [d.dec for d in DWARFS],
        "glon": list(glon),
        "glat": list(np.degrees(np.arcsin(sin_b))),
        "distance_kpc": [d.distance_kpc for d in DWARFS],
        "distmod": [d.distmod for d in DWARFS],
        "r_half_arcmin": [d.r_half_arcmin for d in DWARFS],
        "r_half_pc": [d.r_half_pc for d in DWARFS],
        "ellipticity": [d.ellipticity for d in DWARFS],
        "position_angle": [d.position_angle for d in DWARFS],
        "ebv": [d.ebv for d in DWARFS],
        "mag_g_hb": [d.mag_g_hb for d in DWARFS],
        "abs_mag_v": [population_abs_mag_v(d.n_hb) for d in DWARFS],
        "n_stars": [len(m) for m in members],
        "n_rrlyrae": [int(in_rr[m].sum()) for m in members],
        "objid_min": [int(stars.sources.objid[m].min()) for m in members],
        "objid_max": [int(stars.sources.objid[m].max()) for m in members],
    }
    yield pa.RecordBatch.from_pydict(values, schema=TRUTH_DWARF_SCHEMA)


def truth_rrlyrae_batches(rows: int, seed: int, inject: bool) -> Iterator[pa.RecordBatch]:
    """Every injected RR Lyrae (``rows`` is ignored: they never depend on it)."""
    if not inject:
        yield _empty(TRUTH_RRLYRAE_SCHEMA)
        return
    stars = injected(seed)
    src, rr, at = stars.sources, stars.rrlyrae, stars.rr_rows
    ebv = src.ebv[at].astype(np.float64)
    columns: list[pa.Array] = [
        pa.array(src.objid[at]),
        pa.array(src.ra[at]),
        pa.array(src.dec[at]),
        _VAR_TYPES.take(pa.array(rr.kind)),
        pa.array(rr.period),
        pa.array(rr.mjd_max),
    ]
    columns += [pa.array(rr.amplitude[i].astype(np.float32)) for i in range(3)]
    for i, mag in enumerate((src.mag_g, src.mag_r, src.mag_z)):
        mean = mag[at].astype(np.float64) + float(EXTINCTION[i]) * ebv
        columns.append(pa.array(mean.astype(np.float32)))
    columns.append(pa.array(stars.distance_kpc[at], pa.float32()))
    columns.append(_HOSTS.take(pa.array(stars.host[at] + 1)))
    yield pa.RecordBatch.from_arrays(columns, schema=TRUTH_RRLYRAE_SCHEMA)


@dataclass(frozen=True)
class MockProduct:
    """One table of the synthetic survey: its documentation and how to make its rows.

    ``batches(rows, seed, inject)`` yields the table for a survey of ``rows`` field rows,
    with or without the injected objects.
    ``ra``/``dec`` name the position columns (None: the table has no position).
    """

    name: str
    description: str
    fields: list[FieldMeta]
    schema: pa.Schema
    batches: Callable[[int, int, bool], Iterator[pa.RecordBatch]]
    ra: str | None = "ra"
    dec: str | None = "dec"
    foreign_key: str | None = None

    @property
    def extname(self) -> str:
        """Name of the FITS extension the table is written to."""
        return self.name.upper()


PRODUCTS: dict[str, MockProduct] = {
    p.name: p
    for p in (
        MockProduct("tractor", MOCK_TABLE_DESCRIPTION, MOCK_FIELDS, SCHEMA, tractor_batches),
        MockProduct(
            "measurements",
            MEASUREMENT_DESCRIPTION,
            MEASUREMENT_FIELDS,
            MEASUREMENT_SCHEMA,
            measurement_batches,
            foreign_key="The object each exposure measures",
        ),
        MockProduct(
            "truth_objects",
            TRUTH_OBJECT_DESCRIPTION,
            TRUTH_OBJECT_FIELDS,
            TRUTH_OBJECT_SCHEMA,
            truth_object_batches,
            ra=None,
            dec=None,
            foreign_key="The catalog row this truth describes",
        ),
        MockProduct(
            "truth_dwarfs",
            TRUTH_DWARF_DESCRIPTION,
            TRUTH_DWARF_FIELDS,
            TRUTH_DWARF_SCHEMA,
            truth_dwarf_batches,
        ),
        MockProduct(
            "truth_rrlyrae",
            TRUTH_RRLYRAE_DESCRIPTION,
            TRUTH_RRLYRAE_FIELDS,
            TRUTH_RRLYRAE_SCHEMA,
            truth_rrlyrae_batches,
            foreign_key="The catalog row of the RR Lyrae star",
        ),
    )
}
"""Every table, tractor first; ``foreign_key`` describes a key objid -> tractor.objid."""

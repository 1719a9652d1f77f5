"""Column metadata of the synthetic catalog: units, UCD1+ words, descriptions, types."""

from __future__ import annotations

import pyarrow as pa

from datalab.formats import FieldMeta, votable_arrow_type

__all__ = [
    "BANDS",
    "EM_WORD",
    "MOCK_FIELDS",
    "MOCK_TABLE_DESCRIPTION",
    "SCHEMA",
    "arrow_schema",
    "mock_schema",
]

BANDS = ("g", "r", "z")

# UCD1+ spectral words for DECam-like g (~480 nm), r (~640 nm) and z (~920 nm).
EM_WORD = {"g": "em.opt.B", "r": "em.opt.R", "z": "em.opt.I"}


def _band_fields(band: str) -> dict[str, FieldMeta]:
    """The five per-band columns, so that g, r and z are documented identically."""
    em = EM_WORD[band]
    return {
        "flux": FieldMeta(
            f"flux_{band}",
            unit="nanomaggy",
            ucd=f"phot.flux;{em}",
            datatype="float",
            description=f"Simulated {band}-band model flux, not corrected for Galactic "
            "extinction, in nanomaggies (AB mag = 22.5 - 2.5 log10(flux)); includes noise, "
            "so faint sources can be zero or negative",
        ),
        "ivar": FieldMeta(
            f"flux_ivar_{band}",
            unit="nanomaggy**-2",
            ucd=f"stat.weight;phot.flux;{em}",
            datatype="float",
            description=f"Inverse variance of flux_{band} (simulated sky noise for the "
            f"nobs_{band} exposures and the source's size)",
        ),
        "mag": FieldMeta(
            f"mag_{band}",
            unit="mag",
            ucd=f"phot.mag;{em}",
            datatype="float",
            description=f"Simulated {band}-band AB magnitude, 22.5 - 2.5 log10(flux_{band}), "
            f"not corrected for Galactic extinction; null where flux_{band} <= 0",
        ),
        "magerr": FieldMeta(
            f"magerr_{band}",
            unit="mag",
            ucd=f"stat.error;phot.mag;{em}",
            datatype="float",
            description=f"Simulated 1-sigma error of mag_{band}, 2.5 / ln(10) / (flux_{band} * "
            f"sqrt(flux_ivar_{band})); null where flux_{band} <= 0",
        ),
        "nobs": FieldMeta(
            f"nobs_{band}",
            ucd=f"meta.number;obs.exposure;{em}",
            datatype="short",
            description=f"Simulated number of {band}-band exposures covering the source "
            "(1 + Poisson)",
        ),
    }


_BAND_META = {band: _band_fields(band) for band in BANDS}

MOCK_FIELDS: list[FieldMeta] = [
    FieldMeta(
        "objid",
        ucd="meta.id;meta.main",
        datatype="long",
        description="Identifier of the simulated object: its row number in the generated "
        "sequence, unique in the table (not a Legacy Surveys objid or ls_id)",
    ),
    FieldMeta(
        "brickid",
        ucd="meta.id;obs.field",
        datatype="int",
        description="Brick of the simulated object in a Legacy Surveys-like tiling of "
        "0.25 deg Dec strips cut into ~0.25 deg RA steps (not the real survey's brick "
        "numbers)",
    ),
    FieldMeta(
        "ra",
        unit="deg",
        ucd="pos.eq.ra;meta.main",
        datatype="double",
        description="Right ascension (ICRS) of the simulated object",
    ),
    FieldMeta(
        "dec",
        unit="deg",
        ucd="pos.eq.dec;meta.main",
        datatype="double",
        description="Declination (ICRS) of the simulated object",
    ),
    FieldMeta(
        "type",
        ucd="src.morph.type",
        datatype="char",
        arraysize="3",
        description="Simulated morphological model, as the Legacy Surveys name them: PSF "
        "(point source), REX (round exponential), EXP (exponential), DEV (de Vaucouleurs), "
        "SER (Sersic). Stars, QSOs and small or faint galaxies are PSF",
    ),
    FieldMeta(
        "sersic",
        ucd="src.morph.param",
        datatype="float",
        description="Simulated Sersic index of the model: 0 for PSF, 1 for REX and EXP, "
        "4 for DEV, fitted value (0.5 to 6) for SER",
    ),
    FieldMeta(
        "shape_r",
        unit="arcsec",
        ucd="phys.angSize;src",
        datatype="float",
        description="Simulated half-light radius of the model; 0 for PSF",
    ),
    FieldMeta(
        "ebv",
        unit="mag",
        ucd="phot.color.excess",
        datatype="float",
        description="Simulated Galactic reddening E(B-V): 0.02 / sin|b| times (1 + 0.25 "
        "cos l), a smooth stand-in for a dust map. Extinction A = R E(B-V) with R = "
        "3.214, 2.165, 1.211 in g, r, z is included in the fluxes",
    ),
    *(_BAND_META[b]["flux"] for b in BANDS),
    *(_BAND_META[b]["ivar"] for b in BANDS),
    *(_BAND_META[b]["mag"] for b in BANDS),
    *(_BAND_META[b]["magerr"] for b in BANDS),
    *(_BAND_META[b]["nobs"] for b in BANDS),
]


def arrow_schema(fields: list[FieldMeta], description: str) -> pa.Schema:
    """Arrow schema of ``fields``, with each column's unit, UCD and description.

    The metadata rides along as Arrow field metadata (keys ``unit``, ``ucd``,
    ``description``) so files written from these batches document themselves.
    """
    arrow_fields = []
    for f in fields:
        meta = {
            key: value
            for key, value in (("unit", f.unit), ("ucd", f.ucd), ("description", f.description))
            if value is not None
        }
        arrow_fields.append(pa.field(f.name, votable_arrow_type(f.datatype or ""), metadata=meta))
    return pa.schema(arrow_fields, metadata={"description": description})


def mock_schema() -> pa.Schema:
    """Arrow schema of the tractor catalog, documented as :func:`arrow_schema` says."""
    return arrow_schema(MOCK_FIELDS, MOCK_TABLE_DESCRIPTION)


MOCK_TABLE_DESCRIPTION = (
    "Synthetic survey catalog: simulated data, no row is a real object. Shaped like a "
    "DESI Legacy Imaging Surveys tractor catalog (g, r, z fluxes in nanomaggies with "
    "inverse variances, magnitudes, morphological types), generated deterministically by "
    "datalab from a seed. Sources are stars (concentrated toward the Galactic plane: a "
    "thin-disc term ~1/sin|b| plus a halo), galaxies and QSOs (isotropic), placed by "
    "inverse-CDF sampling in Galactic coordinates and rotated to ICRS; |b| < 5 deg is left "
    "empty, as surveys avoid the plane. Intrinsic r magnitudes follow power-law number "
    "counts (galaxies ~10^(0.36 m) to r = 24, stars flatter); colours follow a stellar "
    "locus, a blue cloud and red sequence for galaxies, and blue QSOs. Fluxes are "
    "reddened by a simulated E(B-V) and given Gaussian noise from 5-sigma depths of "
    "g = 24.0, r = 23.4, z = 22.5 at three exposures; small or faint galaxies are typed PSF. "
    "In the demo, rows from objid 10^15 on are injected simulated stars: four faint dwarf "
    "galaxies and RR Lyrae stars of the halo (see truth_dwarfs, truth_rrlyrae)."
)


SCHEMA = mock_schema()

"""Column metadata of the synthetic survey's companion tables: light curves and truth.

``measurements`` holds the simulated multi-epoch photometry; ``truth_objects``,
``truth_dwarfs`` and ``truth_rrlyrae`` say what every simulated row really is, so that
a notebook can score its classification, its dwarf search or its period finder. They
are kept apart from the tractor table, whose columns are only what a survey measures.
"""

from __future__ import annotations

from datalab.catalog.mock.columns import BANDS, EM_WORD, arrow_schema
from datalab.formats import FieldMeta

__all__ = [
    "MEASUREMENT_DESCRIPTION",
    "MEASUREMENT_FIELDS",
    "MEASUREMENT_SCHEMA",
    "TRUTH_DWARF_DESCRIPTION",
    "TRUTH_DWARF_FIELDS",
    "TRUTH_DWARF_SCHEMA",
    "TRUTH_OBJECT_DESCRIPTION",
    "TRUTH_OBJECT_FIELDS",
    "TRUTH_OBJECT_SCHEMA",
    "TRUTH_RRLYRAE_DESCRIPTION",
    "TRUTH_RRLYRAE_FIELDS",
    "TRUTH_RRLYRAE_SCHEMA",
]

_HOST_WIDTH = "14"  # the longest dwarf name, 'Mock Dwarf III'


def _position(what: str) -> list[FieldMeta]:
    return [
        FieldMeta(
            "ra",
            unit="deg",
            ucd="pos.eq.ra;meta.main",
            datatype="double",
            description=f"Right ascension (ICRS) of the simulated {what}",
        ),
        FieldMeta(
            "dec",
            unit="deg",
            ucd="pos.eq.dec;meta.main",
            datatype="double",
            description=f"Declination (ICRS) of the simulated {what}",
        ),
    ]


def _objid(description: str, *, main: bool) -> FieldMeta:
    return FieldMeta(
        "objid",
        ucd="meta.id;meta.main" if main else "meta.id",
        datatype="long",
        description=description,
    )


_HOST = FieldMeta(
    "host",
    ucd="meta.id.parent",
    datatype="char",
    arraysize=_HOST_WIDTH,
    description="Simulated dwarf galaxy the star belongs to (a name in truth_dwarfs); null "
    "outside the dwarfs",
)
_VAR_TYPE = FieldMeta(
    "var_type",
    ucd="meta.code.class;src.var",
    datatype="char",
    arraysize="4",
    description="Simulated variability class: RRab (fundamental-mode RR Lyrae, periods "
    "0.45-0.70 d) or RRc (first-overtone RR Lyrae, 0.26-0.42 d); null for constant objects",
)

MEASUREMENT_FIELDS: list[FieldMeta] = [
    _objid(
        "Simulated object measured: its objid in ls_mock.tractor (one row per exposure)",
        main=False,
    ),
    *_position("object (the same for all of its exposures)"),
    FieldMeta(
        "mjd",
        unit="d",
        ucd="time.epoch;obs.exposure",
        datatype="double",
        description="Simulated mid-exposure time, Modified Julian Date (UTC)",
    ),
    FieldMeta(
        "band",
        ucd="instr.bandpass",
        datatype="char",
        arraysize="1",
        description="Filter of the simulated exposure: g, r or z (DECam-like)",
    ),
    FieldMeta(
        "mag",
        unit="mag",
        ucd="phot.mag",
        datatype="float",
        description="Simulated single-exposure AB magnitude in the exposure's band, not "
        "corrected for Galactic extinction",
    ),
    FieldMeta(
        "magerr",
        unit="mag",
        ucd="stat.error;phot.mag",
        datatype="float",
        description="Simulated 1-sigma error of mag (sky noise of the exposure and a 1% "
        "calibration floor); the scatter of a constant star matches it",
    ),
]

MEASUREMENT_DESCRIPTION = (
    "Synthetic multi-epoch photometry: simulated data, no row is a real observation. One "
    "row per single exposure of the objects of ls_mock.tractor that have light curves: "
    "every injected RR Lyrae star and a random 4% of the stars brighter than r = 21.5. "
    "40-80 exposures per object over 2014-2018 in g, r or z, taken at night near the "
    "meridian in yearly observing seasons, with single-exposure depths of g = 23.4, "
    "r = 22.8, z = 21.9 (5 sigma). RR Lyrae pulsate (saw-tooth RRab, near-sinusoidal "
    "RRc) about the intensity-mean magnitudes their tractor rows measure; every other "
    "object is constant. Truth: ls_mock.truth_rrlyrae, ls_mock.truth_objects."
)

TRUTH_OBJECT_FIELDS: list[FieldMeta] = [
    _objid("Simulated object: its objid in ls_mock.tractor", main=True),
    FieldMeta(
        "true_class",
        ucd="src.class",
        datatype="char",
        arraysize="6",
        description="True class of the simulated object: STAR, GALAXY or QSO",
    ),
    FieldMeta(
        "origin",
        ucd="meta.code",
        datatype="char",
        arraysize="5",
        description="How the simulated object was made: field (generated survey "
        "population), dwarf (star of an injected dwarf galaxy) or halo (injected halo RR "
        "Lyrae star)",
    ),
    _HOST,
    _VAR_TYPE,
    FieldMeta(
        "has_light_curve",
        ucd="meta.code",
        datatype="boolean",
        description="True when ls_mock.measurements holds simulated exposures of the object",
    ),
    *(
        FieldMeta(
            f"true_mag_{band}",
            unit="mag",
            ucd=f"phot.mag;{EM_WORD[band]}",
            datatype="float",
            description=f"True {band}-band AB magnitude of the simulated object before "
            "Galactic extinction and noise (intensity mean for RR Lyrae); the tractor "
            f"mag_{band} measures it plus 'ebv' times the extinction coefficient",
        )
        for band in BANDS
    ),
    FieldMeta(
        "true_shape_r",
        unit="arcsec",
        ucd="phys.angSize;src",
        datatype="float",
        description="True half-light radius of the simulated object; 0 for stars and QSOs",
    ),
    FieldMeta(
        "true_profile",
        ucd="src.morph.type",
        datatype="char",
        arraysize="3",
        description="True light profile of the simulated object: PSF (point source), EXP, "
        "DEV or SER, which the tractor type may simplify",
    ),
    FieldMeta(
        "distance_kpc",
        unit="kpc",
        ucd="pos.distance",
        datatype="float",
        description="True heliocentric distance of an injected simulated star (dwarf "
        "member or halo RR Lyrae); null for the field population, which has none",
    ),
]

TRUTH_OBJECT_DESCRIPTION = (
    "Truth of the synthetic survey: simulated data. One row per row of ls_mock.tractor "
    "(join on objid) giving the simulated object's true class (STAR, GALAXY, QSO), how it "
    "was made (field population, injected dwarf-galaxy star, injected halo RR Lyrae), "
    "its dwarf galaxy, variability class, true magnitudes and size. For scoring "
    "classifications; the tractor table itself carries no truth."
)

TRUTH_DWARF_FIELDS: list[FieldMeta] = [
    FieldMeta(
        "name",
        ucd="meta.id;meta.main",
        datatype="char",
        arraysize=_HOST_WIDTH,
        description="Name of the simulated dwarf galaxy (not a real object)",
    ),
    *_position("dwarf galaxy's centre"),
    FieldMeta(
        "glon",
        unit="deg",
        ucd="pos.galactic.lon",
        datatype="double",
        description="Galactic longitude of the simulated dwarf galaxy's centre",
    ),
    FieldMeta(
        "glat",
        unit="deg",
        ucd="pos.galactic.lat",
        datatype="double",
        description="Galactic latitude of the simulated dwarf galaxy's centre",
    ),
    FieldMeta(
        "distance_kpc",
        unit="kpc",
        ucd="pos.distance",
        datatype="double",
        description="Heliocentric distance of the simulated dwarf galaxy",
    ),
    FieldMeta(
        "distmod",
        unit="mag",
        ucd="phot.mag.distMod",
        datatype="double",
        description="Distance modulus of the simulated dwarf galaxy, 5 log10(d / 10 pc)",
    ),
    FieldMeta(
        "r_half_arcmin",
        unit="arcmin",
        ucd="phys.angSize;src",
        datatype="double",
        description="Half-light radius along the major axis of the simulated dwarf's "
        "Plummer profile (truncated at 8 half-light radii)",
    ),
    FieldMeta(
        "r_half_pc",
        unit="pc",
        ucd="phys.size.radius",
        datatype="double",
        description="The simulated half-light radius in parsecs at the dwarf's distance",
    ),
    FieldMeta(
        "ellipticity",
        ucd="src.ellipticity",
        datatype="double",
        description="Simulated ellipticity 1 - b/a of the dwarf's stellar distribution",
    ),
    FieldMeta(
        "position_angle",
        unit="deg",
        ucd="pos.posAng",
        datatype="double",
        description="Simulated position angle of the dwarf's major axis, east of north",
    ),
    FieldMeta(
        "ebv",
        unit="mag",
        ucd="phot.color.excess",
        datatype="double",
        description="Simulated reddening E(B-V) at the dwarf's centre (the tractor's model)",
    ),
    FieldMeta(
        "mag_g_hb",
        unit="mag",
        ucd="phot.mag;em.opt.B",
        datatype="double",
        description="Apparent g magnitude, reddened, of the simulated horizontal branch at "
        "RR Lyrae colours (absolute M_g = 0.60)",
    ),
    FieldMeta(
        "abs_mag_v",
        unit="mag",
        ucd="phys.magAbs;em.opt.V",
        datatype="double",
        description="Absolute V magnitude of the whole simulated stellar population, "
        "including the stars too faint to be injected",
    ),
    FieldMeta(
        "n_stars",
        ucd="meta.number",
        datatype="int",
        description="Simulated stars of the dwarf injected into ls_mock.tractor (those with "
        "true g brighter than 24.5)",
    ),
    FieldMeta(
        "n_rrlyrae",
        ucd="meta.number;src.var",
        datatype="int",
        description="How many of the injected simulated stars are RR Lyrae",
    ),
    FieldMeta(
        "objid_min",
        ucd="meta.id",
        datatype="long",
        description="First objid of the simulated dwarf's stars in ls_mock.tractor",
    ),
    FieldMeta(
        "objid_max",
        ucd="meta.id",
        datatype="long",
        description="Last objid of the simulated dwarf's stars (they are consecutive)",
    ),
]

TRUTH_DWARF_DESCRIPTION = (
    "Truth of the synthetic survey: the simulated dwarf galaxies injected into "
    "ls_mock.tractor as resolved stellar overdensities (not real galaxies). Each is an "
    "old (~12 Gyr), metal-poor population - red-giant branch, horizontal branch with RR "
    "Lyrae, subgiants and main sequence where brighter than g = 24.5 - in an elliptical "
    "Plummer profile at the given distance. Its stars are typed PSF like other stars."
)

TRUTH_RRLYRAE_FIELDS: list[FieldMeta] = [
    _objid("Simulated RR Lyrae star: its objid in ls_mock.tractor", main=True),
    *_position("RR Lyrae star"),
    _VAR_TYPE,
    FieldMeta(
        "period",
        unit="d",
        ucd="time.period;src.var",
        datatype="double",
        description="Simulated pulsation period",
    ),
    FieldMeta(
        "mjd_max",
        unit="d",
        ucd="time.epoch;src.var",
        datatype="double",
        description="A simulated time of maximum light, Modified Julian Date",
    ),
    *(
        FieldMeta(
            f"amp_{band}",
            unit="mag",
            ucd=f"src.var.amplitude;{EM_WORD[band]}",
            datatype="float",
            description=f"Simulated peak-to-peak {band}-band amplitude",
        )
        for band in BANDS
    ),
    *(
        FieldMeta(
            f"mean_mag_{band}",
            unit="mag",
            ucd=f"phot.mag;{EM_WORD[band]}",
            datatype="float",
            description=f"Simulated intensity-mean {band}-band AB magnitude including "
            f"Galactic extinction: what the light curve averages to in flux and what "
            f"tractor mag_{band} measures",
        )
        for band in BANDS
    ),
    FieldMeta(
        "distance_kpc",
        unit="kpc",
        ucd="pos.distance",
        datatype="float",
        description="Simulated heliocentric distance",
    ),
    _HOST,
]

TRUTH_RRLYRAE_DESCRIPTION = (
    "Truth of the synthetic survey: every simulated RR Lyrae star injected into "
    "ls_mock.tractor (halo stars at 5-80 kpc and members of the simulated dwarf "
    "galaxies), with type, period, time of maximum, amplitudes and intensity-mean "
    "magnitudes. All have light curves in ls_mock.measurements. Not real stars."
)

MEASUREMENT_SCHEMA = arrow_schema(MEASUREMENT_FIELDS, MEASUREMENT_DESCRIPTION)
TRUTH_OBJECT_SCHEMA = arrow_schema(TRUTH_OBJECT_FIELDS, TRUTH_OBJECT_DESCRIPTION)
TRUTH_DWARF_SCHEMA = arrow_schema(TRUTH_DWARF_FIELDS, TRUTH_DWARF_DESCRIPTION)
TRUTH_RRLYRAE_SCHEMA = arrow_schema(TRUTH_RRLYRAE_FIELDS, TRUTH_RRLYRAE_DESCRIPTION)

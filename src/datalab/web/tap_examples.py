"""The TAP service's ``/examples`` page (DALI 1.1 §2.3, TAP 1.1 §2.6).

One XHTML document serves two readers. People open it in a browser and copy a query;
clients such as TOPCAT read the RDFa 1.1 Lite attributes to offer the same queries in
their menus: inside the one element carrying ``vocab``, each example is an element
with ``typeof="example"``, an ``id`` and a ``resource`` pointing at itself, a
``property="name"`` heading and a ``property="query"`` element holding the ADQL.
TAP's optional ``property="table"`` marks the tables a query uses, and a DALI
``generic-parameter`` says which LANG to send. The page must be well-formed XML
(DALI 1.1 §2.3), so it is written with the same serializer as the other documents.

Every example here runs on the demo catalogs; the test suite compiles and runs them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from datalab.web.vo_xml import XHTML, XML, element, qname, serialize

__all__ = ["EXAMPLES", "TapExample", "examples_document"]

EXAMPLES_VOCABULARY = "http://www.ivoa.net/rdf/examples#"


@dataclass(frozen=True)
class TapExample:
    """One example query, as shown on the page and offered to clients.

    ``tables`` lists the fully qualified tables the query reads (TAP 1.1 §2.6
    "table" property); the tests check it against what the compiler resolves.
    """

    name: str  # the heading; its anchor (id) is derived by :attr:`anchor`
    query: str  # ADQL
    description: str  # one or two sentences for an astronomer
    tables: tuple[str, ...] = ()

    @property
    def anchor(self) -> str:
        """The fragment identifier of this example: the name, lower-cased, as a word list.

        An XML ``id`` cannot contain spaces, while a readable heading needs them, so the
        anchor is derived from the name rather than being the name itself.
        """
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


EXAMPLES: tuple[TapExample, ...] = (
    TapExample(
        name="Cone search around M31",
        query=(
            "SELECT source_id, ra, dec, phot_g_mean_mag,\n"
            "       DISTANCE(POINT(ra, dec), POINT(10.6847, 41.2688)) AS dist\n"
            "FROM gaia_dr3.gaia_source\n"
            "WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(10.6847, 41.2688, 0.5))\n"
            "ORDER BY dist"
        ),
        description=(
            "Gaia DR3 stars within 0.5 degrees of the centre of the Andromeda galaxy,"
            " nearest first. The circle is answered from the HEALPix index, so the"
            " engine reads only the few blocks of the table the circle touches."
        ),
        tables=("gaia_dr3.gaia_source",),
    ),
    TapExample(
        name="Stars in a polygon around Orion's belt",
        query=(
            "SELECT hip, ra, dec, hpmag, b_v\n"
            "FROM hipparcos.hip2\n"
            "WHERE 1 = CONTAINS(POINT(ra, dec),\n"
            "                   POLYGON(83.0, -6.0, 90.0, -6.0, 90.0, 2.0, 83.0, 2.0))\n"
            "ORDER BY hpmag"
        ),
        description=(
            "Hipparcos stars inside a polygon (corners in degrees, joined by great circles)"
            " that covers the belt and sword of Orion, brightest first."
        ),
        tables=("hipparcos.hip2",),
    ),
    TapExample(
        name="Sources in a box",
        query=(
            "SELECT objid, ra, dec, type, mag_r\n"
            "FROM ls_mock.tractor\n"
            "WHERE 1 = CONTAINS(POINT(ra, dec), BOX(150.0, 2.0, 1.0, 1.0))"
        ),
        description=(
            "Everything the synthetic Legacy-Survey-like catalog holds in a one-degree box"
            " centred on (150, +2), where the COSMOS field lies on the real sky."
        ),
        tables=("ls_mock.tractor",),
    ),
    TapExample(
        name="Crossmatch Hipparcos with Gaia DR3",
        query=(
            "SELECT h.hip, g.source_id, h.hpmag, g.phot_g_mean_mag,\n"
            "       DISTANCE(POINT(h.ra, h.dec), POINT(g.ra, g.dec)) * 3600 AS sep_arcsec\n"
            "FROM hipparcos.hip2 AS h\n"
            "JOIN gaia_dr3.gaia_source AS g\n"
            "  ON DISTANCE(POINT(h.ra, h.dec), POINT(g.ra, g.dec)) < 1.0 / 3600\n"
            "WHERE h.hpmag < 6"
        ),
        description=(
            "Pairs of naked-eye Hipparcos stars and Gaia DR3 sources less than one"
            " arcsecond apart. Stars with a large proper motion have moved further than"
            " that between the two epochs; see the epoch propagation example."
        ),
        tables=("hipparcos.hip2", "gaia_dr3.gaia_source"),
    ),
    TapExample(
        name="Source density on a HEALPix grid",
        query=(
            "SELECT ivo_healpix_index(6, ra, dec) AS hpx6, COUNT(*) AS n_sources\n"
            "FROM ls_mock.tractor\n"
            "GROUP BY hpx6\n"
            "ORDER BY n_sources DESC"
        ),
        description=(
            "Counts of catalog sources per HEALPix cell of order 6 (about 0.84 square"
            " degrees, nested scheme): a density map ready for a HEALPix plotting tool."
        ),
        tables=("ls_mock.tractor",),
    ),
    TapExample(
        name="Colour-magnitude selection",
        query=(
            "SELECT objid, ra, dec, mag_g, mag_r, mag_z,\n"
            "       mag_g - mag_r AS g_r, mag_r - mag_z AS r_z\n"
            "FROM ls_mock.tractor\n"
            "WHERE type = 'PSF'\n"
            "  AND mag_r BETWEEN 18 AND 21\n"
            "  AND mag_g - mag_r BETWEEN 0.2 AND 0.8\n"
            "  AND mag_r - mag_z < 0.5"
        ),
        description=(
            "Point sources with 18 < r < 21, 0.2 < g-r < 0.8 and r-z < 0.5: a"
            " colour-magnitude cut that keeps stars of roughly F to early K type."
        ),
        tables=("ls_mock.tractor",),
    ),
    TapExample(
        name="Messier objects and their other names",
        query=(
            "SELECT o.name, o.type, o.vmag, i.identifier\n"
            "FROM openngc.objects AS o\n"
            "JOIN openngc.identifiers AS i ON i.name = o.name\n"
            "WHERE o.messier IS NOT NULL\n"
            "ORDER BY o.vmag"
        ),
        description=(
            "Every identifier OpenNGC knows for the objects that have a Messier number,"
            " brightest first: the identifiers table has one row per name."
        ),
        tables=("openngc.objects", "openngc.identifiers"),
    ),
    TapExample(
        name="Columns of a table",
        query=(
            "SELECT column_name, datatype, unit, ucd, description\n"
            "FROM tap_schema.columns\n"
            "WHERE table_name = 'gaia_dr3.gaia_source'\n"
            "ORDER BY column_index"
        ),
        description=(
            "What the columns of gaia_dr3.gaia_source hold, with units and UCDs, read from"
            " TAP_SCHEMA, the service's own description of its tables."
        ),
        tables=("tap_schema.columns",),
    ),
    TapExample(
        name="Converting units with IN_UNIT",
        query=(
            "SELECT name, majax,\n"
            "       IN_UNIT(majax, 'deg') AS majax_deg,\n"
            "       IN_UNIT(majax, 'arcsec') AS majax_arcsec\n"
            "FROM openngc.objects\n"
            "WHERE majax > 60\n"
            "ORDER BY majax DESC"
        ),
        description=(
            "The largest objects in OpenNGC, their major axes (stored in arcminutes)"
            " converted to degrees and arcseconds by ADQL 2.1's IN_UNIT."
        ),
        tables=("openngc.objects",),
    ),
    TapExample(
        name="Propagating a Hipparcos position to the Gaia epoch",
        query=(
            "SELECT h.hip, g.source_id, g.phot_g_mean_mag,\n"
            "       DISTANCE(POINT(h.ra, h.dec), POINT(g.ra, g.dec)) * 3600\n"
            "         AS sep_j1991_arcsec,\n"
            "       DISTANCE(ivo_epoch_prop_pos(h.ra, h.dec, h.plx, h.pmra, h.pmde, 0,\n"
            "                                   1991.25, 2016.0),\n"
            "                POINT(g.ra, g.dec)) * 3600 AS sep_j2016_arcsec\n"
            "FROM hipparcos.hip2 AS h\n"
            "JOIN gaia_dr3.gaia_source AS g\n"
            "  ON 1 = CONTAINS(POINT(g.ra, g.dec), CIRCLE(h.ra, h.dec, 0.1))\n"
            "WHERE h.hip = 87937\n"
            "ORDER BY sep_j2016_arcsec"
        ),
        description=(
            "Barnard's star (HIP 87937) moves more than ten arcseconds a year. Its"
            " Hipparcos position (epoch J1991.25) lies minutes of arc from its Gaia DR3"
            " counterpart; moved to J2016.0 with ivo_epoch_prop_pos it falls within an"
            " arcsecond."
        ),
        tables=("hipparcos.hip2", "gaia_dr3.gaia_source"),
    ),
    TapExample(
        name="The brightest stars",
        query=(
            "SELECT TOP 20 source_id, ra, dec, phot_g_mean_mag, bp_rp\n"
            "FROM gaia_dr3.gaia_source\n"
            "ORDER BY phot_g_mean_mag"
        ),
        description=(
            "The twenty brightest sources of gaia_dr3.gaia_source by G magnitude. TOP with"
            " ORDER BY returns the first rows of the sorted result."
        ),
        tables=("gaia_dr3.gaia_source",),
    ),
)

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; color: #1d1d1f; }
h1 { font-size: 1.6rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; }
div.example { border-top: 1px solid #d0d0d5; }
pre { background: #f4f4f7; padding: 0.8rem; overflow-x: auto; }
p.meta { font-size: 0.9rem; color: #555; }
span.param, span.table { font-family: monospace; }
"""


def examples_document(examples: Sequence[TapExample], base_url: str) -> bytes:
    """The ``/examples`` XHTML+RDFa document for the TAP service at ``{base_url}/tap``."""
    tap = base_url.rstrip("/") + "/tap"
    html = element(None, _h("html"), attrib={"lang": "en", qname(XML, "lang"): "en"})
    head = element(html, _h("head"))
    element(head, _h("title"), "TAP query examples")
    element(head, _h("style"), _STYLE)
    body = element(html, _h("body"), attrib={"vocab": EXAMPLES_VOCABULARY})
    element(body, _h("h1"), "TAP query examples")
    intro = element(body, _h("p"), "These ADQL queries run on this service's TAP endpoint, ")
    element(intro, _h("code"), tap).tail = (
        ". Paste one into a TAP client (TOPCAT, pyvo, astroquery) or send it with"
        " LANG=ADQL to the sync or async endpoint."
    )
    contents = element(body, _h("ul"))
    for example in examples:
        element(element(contents, _h("li")), _h("a"), example.name, {"href": f"#{example.anchor}"})
    for example in examples:
        _example(body, example)
    return serialize(html, {"": XHTML}, doctype="<!DOCTYPE html>", self_closing=False)


def _h(local: str) -> str:
    return qname(XHTML, local)


def _example(parent: ET.Element, example: TapExample) -> None:
    node = element(
        parent,
        _h("div"),
        attrib={
            "class": "example",
            "id": example.anchor,
            "resource": f"#{example.anchor}",
            "typeof": "example",
        },
    )
    element(node, _h("h2"), example.name, {"property": "name"})
    element(node, _h("p"), example.description)
    element(node, _h("pre"), example.query, {"property": "query"})
    meta = element(node, _h("p"), "Send with ", {"class": "meta"})
    param = element(
        meta, _h("span"), attrib={"property": "generic-parameter", "typeof": "keyval"}
    )
    element(param, _h("span"), "LANG", {"class": "param", "property": "key"}).tail = "="
    element(param, _h("span"), "ADQL", {"class": "param", "property": "value"})
    if example.tables:
        param.tail = "; tables: "
        for i, table in enumerate(example.tables):
            span = element(meta, _h("span"), table, {"class": "table", "property": "table"})
            span.tail = ", " if i < len(example.tables) - 1 else "."
    else:
        param.tail = "."

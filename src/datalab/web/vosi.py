"""VOSI documents of the TAP service: tables, capabilities and availability.

* tables: VOSI 1.1 §3.3 (``vosi:tableset`` and ``vosi:table`` holding VODataService 1.2
  ``vs:TableSet``/``vs:Table`` content), built from the catalog's TAP_SCHEMA metadata;
* capabilities: VOSI 1.1 §3.1 with the TAP capability described by TAPRegExt 1.0
  (``tr:TableAccess``), the ADQL 2.1 optional features as ADQL 2.1 §4 and appendix B
  name them, and the DALI 1.1 §2.3 examples;
* availability: VOSI 1.1 §3.2 (dropped by later VOSI drafts, still asked for by
  validators and older clients).

Everything here is a pure function of its arguments, so the golden-file tests pin the
exact bytes the service sends.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from datalab.catalog.metadata import ColumnInfo, ForeignKey, SchemaInfo, TableInfo, adql_name
from datalab.web.vo_xml import (
    TR,
    VOSI_AVAILABILITY,
    VOSI_CAPABILITIES,
    VOSI_TABLES,
    VR,
    VS,
    XSI,
    element,
    iso_time,
    qname,
    serialize,
)

__all__ = [
    "TapCapabilities",
    "availability_document",
    "capabilities_document",
    "table_document",
    "tables_document",
]

_XSI_TYPE = qname(XSI, "type")
_TABLE_PREFIXES = {"vosi": VOSI_TABLES, "vs": VS, "xsi": XSI}

# -- tables --------------------------------------------------------------------------


def tables_document(
    schemas: Sequence[SchemaInfo], tables: Sequence[TableInfo], *, detail: str = "max"
) -> bytes:
    """The ``/tables`` document: every schema with its tables (VOSI 1.1 §3.3).

    ``detail="min"`` leaves out columns and foreign keys, as VOSI 1.1 allows for
    services whose full tableset is too large to be useful in one response. Tables
    whose schema is not among ``schemas`` are still listed, under a schema element of
    their own, so that nothing a query can reach is hidden from clients.
    """
    if detail not in ("min", "max"):
        raise ValueError(f"detail must be 'min' or 'max', not {detail!r}")
    by_schema: dict[str, list[TableInfo]] = {}
    for table in tables:
        by_schema.setdefault(table.schema, []).append(table)
    ordered = list(schemas) + [
        SchemaInfo(name) for name in by_schema if name not in {s.name for s in schemas}
    ]
    root = element(None, qname(VOSI_TABLES, "tableset"))
    for schema in ordered:
        node = element(root, "schema")
        element(node, "name", schema.name)
        if schema.description:
            element(node, "description", schema.description)
        for table in by_schema.get(schema.name, ()):
            _table(node, "table", table, full=detail == "max")
    return serialize(root, _TABLE_PREFIXES)


def table_document(table: TableInfo) -> bytes:
    """The ``/tables/{name}`` document: one table in full detail (VOSI 1.1 §3.3)."""
    root = _table(None, qname(VOSI_TABLES, "table"), table, full=True)
    return serialize(root, _TABLE_PREFIXES)


def _table(parent: ET.Element | None, tag: str, table: TableInfo, *, full: bool) -> ET.Element:
    """A ``vs:Table``: name, description, utype, nrows, then columns and foreign keys."""
    node = element(parent, tag, attrib={"type": table.table_type})
    element(node, "name", table.qualified_name)
    if table.description:
        element(node, "description", table.description)
    if table.utype:
        element(node, "utype", table.utype)
    if table.nrows is not None:
        element(node, "nrows", table.nrows)
    if full:
        for column in table.columns:
            _column(node, column)
        for key in table.foreign_keys:
            _foreign_key(node, key)
    return node


def _column(parent: ET.Element, column: ColumnInfo) -> None:
    """A ``vs:TableParam`` with a ``vs:VOTableType`` data type.

    TAP_SCHEMA 1.1 stores VOTable types, so they are described as such rather than
    translated back to the TAP 1.0 ``vs:TAPType`` names; ``xtype`` becomes
    ``extendedType`` (VODataService 1.2 §3.5.3).
    """
    node = element(parent, "column", attrib={"std": "true" if column.std else "false"})
    element(node, "name", adql_name(column.name))
    for name in ("description", "unit", "ucd", "utype"):
        value = getattr(column, name)
        if value:
            element(node, name, value)
    element(
        node,
        "dataType",
        column.datatype,
        {_XSI_TYPE: "vs:VOTableType", "arraysize": column.arraysize, "extendedType": column.xtype},
    )
    if column.indexed:
        element(node, "flag", "indexed")
    if column.principal:
        element(node, "flag", "principal")


def _foreign_key(parent: ET.Element, key: ForeignKey) -> None:
    node = element(parent, "foreignKey")
    element(node, "targetTable", key.target_table)
    for source, target in key.columns:
        pair = element(node, "fkColumn")
        element(pair, "fromColumn", adql_name(source))
        element(pair, "targetColumn", adql_name(target))
    if key.description:
        element(node, "description", key.description)


# -- capabilities --------------------------------------------------------------------

TAP_STANDARD = "ivo://ivoa.net/std/TAP"
VOSI_CAPABILITIES_ID = "ivo://ivoa.net/std/VOSI#capabilities"
VOSI_AVAILABILITY_ID = "ivo://ivoa.net/std/VOSI#availability"
# VOSI 1.1 §4: a tables endpoint with the 1.1 behaviour (detail, child resources).
VOSI_TABLES_ID = "ivo://ivoa.net/std/VOSI#tables-1.1"
DALI_EXAMPLES_ID = "ivo://ivoa.net/std/DALI#examples"

_TAPREGEXT = "ivo://ivoa.net/std/TAPRegExt"
_UDF = f"{_TAPREGEXT}#features-udf"
# The geometry functions this service compiles (docs/adql.md); REGION is refused.
_GEOMETRY = (
    "POINT",
    "CIRCLE",
    "BOX",
    "POLYGON",
    "CENTROID",
    "CONTAINS",
    "INTERSECTS",
    "DISTANCE",
    "AREA",
    "COORD1",
    "COORD2",
    "COORDSYS",
)
# ADQL 2.1 optional features with a feature type (ADQL 2.1 §4.2 to §4.10, each
# function's "Language feature" box). Hexadecimal literals and bitwise operators are part of
# the ADQL 2.1 core grammar and have no feature type to declare.
_ADQL_FEATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (f"{_TAPREGEXT}#features-adqlgeo", _GEOMETRY),
    (f"{_TAPREGEXT}#features-adql-string", ("LOWER", "UPPER", "ILIKE")),
    (f"{_TAPREGEXT}#features-adql-sets", ("UNION", "EXCEPT", "INTERSECT")),
    (f"{_TAPREGEXT}#features-adql-common-table", ("WITH",)),
    (f"{_TAPREGEXT}#features-adql-type", ("CAST",)),
    (f"{_TAPREGEXT}#features-adql-unit", ("IN_UNIT",)),
    (f"{_TAPREGEXT}#features-adql-offset", ("OFFSET",)),
    (f"{_TAPREGEXT}#features-adql-conditional", ("COALESCE",)),
)
# TAPRegExt 1.0 §2.4: keys for VOTable serialisations a media type cannot tell apart.
_VOTABLE_SERIALIZATIONS = {
    "tabledata": f"{_TAPREGEXT}#output-votable-td",
    "binary": f"{_TAPREGEXT}#output-votable-binary",
    "binary2": f"{_TAPREGEXT}#output-votable-binary2",
}


@dataclass(frozen=True)
class TapCapabilities:
    """What the capabilities document says about this TAP service.

    Times are in seconds, limits in rows and bytes, as TAPRegExt counts them; the web
    layer fills this from the settings so the document cannot drift from what the
    service enforces.
    """

    base_url: str  # e.g. "http://127.0.0.1:8000", without a trailing slash
    output_formats: Sequence[tuple[str, Sequence[str]]]  # (media type, aliases)
    udfs: Mapping[str, tuple[str, str]]  # name -> (signature, description)
    default_maxrec: int
    hard_maxrec: int
    default_execution_duration: int  # async
    hard_execution_duration: int
    sync_execution_duration: int
    default_retention: int
    hard_retention: int
    upload_limit_bytes: int
    url_uploads: bool = False


def capabilities_document(caps: TapCapabilities) -> bytes:
    """The ``/capabilities`` document (VOSI 1.1 §3.1) of the TAP service at ``{base}/tap``."""
    tap = caps.base_url.rstrip("/") + "/tap"
    root = element(None, qname(VOSI_CAPABILITIES, "capabilities"))
    _tap_capability(root, caps, tap)
    _endpoint(root, VOSI_CAPABILITIES_ID, f"{tap}/capabilities", version="1.0")
    _endpoint(root, VOSI_AVAILABILITY_ID, f"{tap}/availability", version="1.0")
    _endpoint(root, VOSI_TABLES_ID, f"{tap}/tables", version="1.1")
    examples = element(root, "capability", attrib={"standardID": DALI_EXAMPLES_ID})
    # TAP 1.1 §2.6: the examples page is for browsers as much as for programs.
    interface = element(examples, "interface", attrib={_XSI_TYPE: "vr:WebBrowser"})
    element(interface, "accessURL", f"{tap}/examples", {"use": "full"})
    return serialize(root, {"vosi": VOSI_CAPABILITIES, "vr": VR, "vs": VS, "tr": TR, "xsi": XSI})


def _endpoint(parent: ET.Element, standard: str, url: str, *, version: str) -> None:
    """A VOSI endpoint's capability: a ParamHTTP interface with a full URL (VOSI 1.1 §4)."""
    node = element(parent, "capability", attrib={"standardID": standard})
    interface = element(
        node, "interface", attrib={_XSI_TYPE: "vs:ParamHTTP", "role": "std", "version": version}
    )
    element(interface, "accessURL", url, {"use": "full"})


def _tap_capability(parent: ET.Element, caps: TapCapabilities, tap: str) -> None:
    """The TAP capability with its TAPRegExt 1.0 details (§2.3 to §2.7), in schema order."""
    node = element(
        parent, "capability", attrib={"standardID": TAP_STANDARD, _XSI_TYPE: "tr:TableAccess"}
    )
    # TAPRegExt has no element for the synchronous time limit, so it is stated here.
    element(
        node,
        "description",
        f"Synchronous queries ({tap}/sync) are stopped after {caps.sync_execution_duration}"
        f" seconds; run longer queries asynchronously ({tap}/async), where the"
        " executionDuration limits below apply.",
    )
    interface = element(
        node, "interface", attrib={_XSI_TYPE: "vs:ParamHTTP", "role": "std", "version": "1.1"}
    )
    element(interface, "accessURL", tap, {"use": "base"})
    _language(node, caps.udfs)
    for mime, aliases in caps.output_formats:
        fmt = element(node, "outputFormat", attrib={"ivo-id": _format_id(mime)})
        element(fmt, "mime", mime)
        for alias in aliases:
            element(fmt, "alias", alias)
    methods = ["upload-inline"] + (["upload-http", "upload-https"] if caps.url_uploads else [])
    for method in methods:
        element(node, "uploadMethod", attrib={"ivo-id": f"{_TAPREGEXT}#{method}"})
    _limits(node, "retentionPeriod", caps.default_retention, caps.hard_retention)
    _limits(
        node,
        "executionDuration",
        caps.default_execution_duration,
        caps.hard_execution_duration,
    )
    output = element(node, "outputLimit")
    element(output, "default", caps.default_maxrec, {"unit": "row"})
    element(output, "hard", caps.hard_maxrec, {"unit": "row"})
    upload = element(node, "uploadLimit")
    element(upload, "hard", caps.upload_limit_bytes, {"unit": "byte"})


def _language(parent: ET.Element, udfs: Mapping[str, tuple[str, str]]) -> None:
    language = element(parent, "language")
    element(language, "name", "ADQL")
    for version in ("2.0", "2.1"):
        element(language, "version", version, {"ivo-id": f"ivo://ivoa.net/std/ADQL#v{version}"})
    element(
        language,
        "description",
        "ADQL 2.1 (queries written for ADQL 2.0 are accepted too), with the geometry"
        " functions, the optional features and the user-defined functions listed here.",
    )
    if udfs:
        features = element(language, "languageFeatures", attrib={"type": _UDF})
        for name in sorted(udfs):
            form, description = udfs[name]
            feature = element(features, "feature")
            element(feature, "form", form)
            element(feature, "description", description)
    for feature_type, forms in _ADQL_FEATURES:
        features = element(language, "languageFeatures", attrib={"type": feature_type})
        for form in forms:
            element(element(features, "feature"), "form", form)


def _format_id(mime: str) -> str | None:
    """The TAPRegExt key of a VOTable media type naming its serialization, else None."""
    base, _, params = mime.partition(";")
    if base.strip().lower() not in ("application/x-votable+xml", "text/xml"):
        return None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "serialization":
            return _VOTABLE_SERIALIZATIONS.get(value.strip().strip('"').lower())
    return None


def _limits(parent: ET.Element, tag: str, default: int, hard: int) -> None:
    node = element(parent, tag)
    element(node, "default", default)
    element(node, "hard", hard)


# -- availability --------------------------------------------------------------------


def availability_document(
    available: bool, *, up_since: datetime | None = None, note: str | None = None
) -> bytes:
    """The ``/availability`` document (VOSI 1.1 §3.2)."""
    root = element(None, qname(VOSI_AVAILABILITY, "availability"))
    element(root, qname(VOSI_AVAILABILITY, "available"), "true" if available else "false")
    if up_since is not None:
        element(root, qname(VOSI_AVAILABILITY, "upSince"), iso_time(up_since))
    if note:
        element(root, qname(VOSI_AVAILABILITY, "note"), note)
    return serialize(root, {"vosi": VOSI_AVAILABILITY})

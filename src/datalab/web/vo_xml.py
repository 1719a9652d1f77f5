"""Shared plumbing for the IVOA XML documents the web layer serves.

The documents (UWS job lists, VOSI capabilities/tables/availability, DALI examples) are
built as :mod:`xml.etree.ElementTree` trees and written by :func:`serialize` here rather
than by ``ElementTree.tostring``, for three reasons:

* prefixes: ElementTree only knows prefixes through the process-wide
  ``register_namespace``; we want each document to declare exactly its own prefixes on
  the root element (``xsi:type`` values such as ``vs:ParamHTTP`` name a prefix inside
  attribute text, so the prefix must be the one we chose);
* characters: XML 1.0 cannot carry most C0 control characters at all, and a bare CR
  or a tab in an attribute would be normalised away by the reader; user text (job
  parameters, error messages, descriptions) may contain any of these;
* layout: children-only elements are indented for people reading the documents, while
  elements holding text (``<pre>`` in XHTML) are written exactly as built.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = [
    "TR",
    "UWS",
    "VOSI_AVAILABILITY",
    "VOSI_CAPABILITIES",
    "VOSI_TABLES",
    "VR",
    "VS",
    "XHTML",
    "XLINK",
    "XML",
    "XSI",
    "clean_text",
    "element",
    "iso_time",
    "nil",
    "qname",
    "serialize",
]

# Namespace URIs, as the schemas define them (the version in a URI is the schema's
# major version, so UWS 1.1 still lives in .../UWS/v1.0).
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
VOSI_AVAILABILITY = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
VOSI_CAPABILITIES = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
VOSI_TABLES = "http://www.ivoa.net/xml/VOSITables/v1.0"
VR = "http://www.ivoa.net/xml/VOResource/v1.0"
VS = "http://www.ivoa.net/xml/VODataService/v1.1"
TR = "http://www.ivoa.net/xml/TAPRegExt/v1.0"
XHTML = "http://www.w3.org/1999/xhtml"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML = "http://www.w3.org/XML/1998/namespace"  # bound to "xml" by definition

# Characters outside the XML 1.0 "Char" production (XML 1.0 §2.2): most C0 controls,
# surrogates (possible in Python strings from surrogateescape) and U+FFFE/U+FFFF.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean_text(text: str) -> str:
    """``text`` without the characters an XML 1.0 document cannot contain.

    They cannot be escaped either (``&#1;`` is not well-formed), so dropping them is the
    only way to keep the document readable by every client.
    """
    return _NOT_XML_CHAR.sub("", text)


def qname(namespace: str, local: str) -> str:
    """ElementTree's ``{namespace}local`` spelling of a qualified name."""
    return f"{{{namespace}}}{local}"


def element(
    parent: ET.Element | None,
    tag: str,
    text: str | int | None = None,
    attrib: Mapping[str, str | None] | None = None,
) -> ET.Element:
    """A new element (under ``parent`` if given); attributes whose value is None are left out.

    Numbers are accepted as text so callers need not spell ``str()`` for every count.
    """
    attrs = {k: v for k, v in (attrib or {}).items() if v is not None}
    node = ET.Element(tag, attrs) if parent is None else ET.SubElement(parent, tag, attrs)
    if text is not None:
        node.text = str(text)
    return node


def nil(parent: ET.Element, tag: str) -> ET.Element:
    """An empty element marked ``xsi:nil="true"`` (XML Schema Part 1 §2.6.2)."""
    return element(parent, tag, attrib={qname(XSI, "nil"): "true"})


def iso_time(moment: datetime) -> str:
    """``moment`` as an ISO 8601 UTC instant with milliseconds and a ``Z``.

    DALI 1.1 §3.3.3 writes civil (UTC) times this way, and it is a valid ``xs:dateTime``. A naive
    datetime is taken to be UTC already: that is what the job store keeps, and some
    database drivers hand timestamps back without their zone.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def serialize(
    root: ET.Element,
    prefixes: Mapping[str, str],
    *,
    doctype: str | None = None,
    self_closing: bool = True,
) -> bytes:
    """The UTF-8 document for ``root``, declaring ``prefixes`` (prefix -> URI) on the root.

    An empty prefix makes that namespace the default one (used for XHTML). Every
    namespace used in the tree must be listed; forgetting one is a programming error
    and raises ``KeyError`` rather than producing a document with invented prefixes.
    ``self_closing=False`` writes empty elements as ``<p></p>``, which an HTML parser
    reads correctly when an XHTML page is served as text/html.
    """
    by_uri = {uri: prefix for prefix, uri in prefixes.items()}
    by_uri[XML] = "xml"
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    if doctype:
        out.append(doctype + "\n")
    declarations = {
        ("xmlns" if not prefix else f"xmlns:{prefix}"): uri for prefix, uri in prefixes.items()
    }
    _write(root, by_uri, declarations, 0, out, self_closing)
    out.append("\n")
    return "".join(out).encode("utf-8")


def _name(clark: str, by_uri: Mapping[str, str], *, attribute: bool) -> str:
    if not clark.startswith("{"):
        return clark
    uri, local = clark[1:].split("}", 1)
    prefix = by_uri[uri]
    if not prefix:
        if attribute:  # unprefixed attributes are in no namespace, never the default one
            raise KeyError(f"attribute {local!r} needs a prefix for {uri}")
        return local
    return f"{prefix}:{local}"


def _write(
    node: ET.Element,
    by_uri: Mapping[str, str],
    declarations: Mapping[str, str],
    depth: int,
    out: list[str],
    self_closing: bool,
) -> None:
    tag = _name(node.tag, by_uri, attribute=False)
    attrs = [f' {name}="{_escape_attribute(value)}"' for name, value in declarations.items()]
    attrs += [
        f' {_name(k, by_uri, attribute=True)}="{_escape_attribute(v)}"'
        for k, v in node.attrib.items()
    ]
    out.append(f"<{tag}{''.join(attrs)}")
    children = list(node)
    if not children and not node.text and self_closing:
        out.append("/>")
        return
    out.append(">")
    # Indent only elements made of child elements alone; text is written as built.
    mixed = bool(node.text) or not children or any(child.tail for child in children)
    if node.text:
        out.append(_escape_text(node.text))
    for child in children:
        if not mixed:
            out.append("\n" + "  " * (depth + 1))
        _write(child, by_uri, {}, depth + 1, out, self_closing)
        if child.tail:
            out.append(_escape_text(child.tail))
    if not mixed:
        out.append("\n" + "  " * depth)
    out.append(f"</{tag}>")


def _escape_text(text: str) -> str:
    text = clean_text(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A reader turns CR and CR LF into LF (XML 1.0 §2.11); a reference keeps the CR.
    return text.replace("\r", "&#13;")


def _escape_attribute(text: str) -> str:
    text = _escape_text(text).replace('"', "&quot;")
    # Attribute values are normalised on reading (XML 1.0 §3.3.3): whitespace
    # characters written literally come back as spaces, references do not.
    return text.replace("\n", "&#10;").replace("\t", "&#9;")

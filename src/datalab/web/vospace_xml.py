"""VOSpace 2.1 documents: nodes, transfers, the service's protocols, views and properties,
and the UWS job of a transfer (schema VOSpace-2.1.xsd, namespace .../VOSpace/v2.0).

Written with :func:`datalab.web.vo_xml.serialize` like every IVOA document we serve.
2.1 documents keep the 2.0 namespace and carry ``version="2.1"`` (VOSpace 2.1 §4).

Element order follows the schema's sequences: a node's ``properties``, then for data
and container nodes ``accepts``, ``provides``, ``capabilities``, then a container's
``nodes`` (required, possibly empty) or a link's ``target`` (required).

Readers of client documents (:func:`parse_node`, :func:`parse_transfer`) are lenient
about prefixes (an ``xsi:type`` of ``vos:DataNode``, ``DataNode`` or ``v:DataNode`` all
name the DataNode type) and strict about content: anything unusable is an
InvalidArgument or InvalidURI fault, never a parser trace.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from datalab.jobs.kinds.vospace_transfer import CORE, Protocol, Transfer, fault
from datalab.jobs.model import Job
from datalab.storage import Node, NodeType
from datalab.web.uws_xml import job_document
from datalab.web.vo_xml import (
    UWS,
    VOSI_CAPABILITIES,
    VR,
    VS,
    XLINK,
    XSI,
    element,
    iso_time,
    qname,
    serialize,
)

__all__ = [
    "NODE_TYPES",
    "PROPERTY_LENGTH",
    "READ_ONLY_PROPERTIES",
    "VOS",
    "capabilities_document",
    "NodeTemplate",
    "node_document",
    "parse_node",
    "parse_transfer",
    "properties_document",
    "protocols_document",
    "transfer_document",
    "transfer_job_document",
    "views_document",
]

VOS = "http://www.ivoa.net/xml/VOSpace/v2.0"
VERSION = "2.1"
_PREFIXES = {"vos": VOS, "xsi": XSI}
_JOB_PREFIXES = {"uws": UWS, "xlink": XLINK, "xsi": XSI, "vos": VOS}

PROPERTY_LENGTH = f"{CORE}#length"
PROPERTY_DATE = f"{CORE}#date"
PROPERTY_MTIME = f"{CORE}#mtime"
PROPERTY_MD5 = f"{CORE}#MD5"
PROPERTY_QUOTA = f"{CORE}#quota"
PROPERTY_AVAILABLE = f"{CORE}#availableSpace"
# Properties the service computes; a client that tries to set one gets PermissionDenied.
READ_ONLY_PROPERTIES = frozenset(
    {PROPERTY_LENGTH, PROPERTY_DATE, PROPERTY_MTIME, PROPERTY_MD5, f"{CORE}#ctime",
     f"{CORE}#btime", PROPERTY_QUOTA, PROPERTY_AVAILABLE}
)
# The xsi:type of each kind of node we store, and the types a client may ask for.
NODE_TYPES = {
    NodeType.CONTAINER: "ContainerNode",
    NodeType.DATA: "DataNode",
    NodeType.LINK: "LinkNode",
}
_REQUESTED_TYPES = {
    "Node": NodeType.DATA,  # a plain Node: the space's default type, a data node
    "DataNode": NodeType.DATA,
    "UnstructuredDataNode": NodeType.DATA,
    "ContainerNode": NodeType.CONTAINER,
    "LinkNode": NodeType.LINK,
}
_TYPE_NAMES = set(_REQUESTED_TYPES) | {"StructuredDataNode"}

# The one view each data node accepts and provides: its bytes, unchanged.
ANY_VIEW = f"{CORE}#anyview"
BINARY_VIEW = f"{CORE}#binaryview"
DEFAULT_VIEW = f"{CORE}#defaultview"


def _v(local: str) -> str:
    return qname(VOS, local)


# -- nodes ------------------------------------------------------------------------------


def node_document(
    node: Node | None,
    uri: str,
    *,
    detail: str = "max",
    children: Sequence[tuple[str, Node | None]] = (),
    busy: bool = False,
    extra_properties: Mapping[str, str] = (),  # type: ignore[assignment]
) -> bytes:
    """The ``<vos:node>`` document of ``node`` named ``uri`` (VOSpace 2.1 §5.4.1).

    ``node`` None is the root of the space (a container without properties).
    ``children`` are (uri, node) pairs of a container's listing; they are written with
    their properties at detail ``max`` and as bare typed references otherwise.
    ``extra_properties`` are read-only properties computed by the caller (quota).
    """
    root = element(None, _v("node"), attrib={"uri": uri, "version": VERSION})
    _node_body(root, node, detail, children, busy, extra_properties)
    return serialize(root, _PREFIXES)


def _node_body(
    into: ET.Element,
    node: Node | None,
    detail: str,
    children: Sequence[tuple[str, Node | None]] | None,
    busy: bool,
    extra_properties: Mapping[str, str] = (),  # type: ignore[assignment]
) -> None:
    kind = NodeType.CONTAINER if node is None else node.type
    into.set(qname(XSI, "type"), f"vos:{NODE_TYPES[kind]}")
    if kind is not NodeType.LINK and detail == "max":
        into.set("busy", "true" if busy else "false")
    if detail in ("max", "properties"):
        _properties(into, node, extra_properties)
    if kind is not NodeType.LINK and detail == "max":
        accepts = element(into, _v("accepts"))
        provides = element(into, _v("provides"))
        if kind is NodeType.DATA:
            element(accepts, _v("view"), attrib={"uri": ANY_VIEW})
            element(provides, _v("view"), attrib={"uri": DEFAULT_VIEW})
            element(provides, _v("view"), attrib={"uri": BINARY_VIEW})
        element(into, _v("capabilities"))
    if kind is NodeType.CONTAINER:
        nodes = element(into, _v("nodes"))
        for child_uri, child in children or ():
            entry = element(nodes, _v("node"), attrib={"uri": child_uri})
            _node_body(entry, child, "properties" if detail == "max" else "min", None, False)
    elif kind is NodeType.LINK:
        element(into, _v("target"), node.target if node is not None and node.target else "")


def _properties(into: ET.Element, node: Node | None, extra: Mapping[str, str]) -> None:
    props = element(into, _v("properties"))
    computed: list[tuple[str, str]] = []
    if node is not None:
        if node.type is not NodeType.LINK:
            computed.append((PROPERTY_LENGTH, str(node.size)))
        computed.append((PROPERTY_DATE, iso_time(node.modified)))
        computed.append((PROPERTY_MTIME, iso_time(node.modified)))
        if node.md5:
            computed.append((PROPERTY_MD5, node.md5))
    computed.extend(dict(extra).items())
    for uri, value in computed:
        element(props, _v("property"), value, {"uri": uri, "readOnly": "true"})
    if node is not None:
        for uri in sorted(node.properties):
            if uri not in READ_ONLY_PROPERTIES:
                element(props, _v("property"), node.properties[uri], {"uri": uri})


@dataclass(frozen=True)
class NodeTemplate:
    """A node document from a client: what to create, or which properties to set.

    ``properties`` maps URIs to values; None means delete (``xsi:nil="true"``).
    """

    uri: str
    type: NodeType
    type_name: str
    properties: dict[str, str | None] = field(default_factory=dict)
    target: str | None = None


def parse_node(body: bytes) -> NodeTemplate:
    root = _parse(body, "node")
    uri = (root.get("uri") or "").strip()
    if not uri:
        raise fault("InvalidURI", "the node document has no uri attribute")
    type_name = _local(root.get(qname(XSI, "type")) or "vos:Node")
    if type_name not in _TYPE_NAMES:
        raise fault("TypeNotSupported", f"vos:{type_name} is not a VOSpace node type")
    if type_name not in _REQUESTED_TYPES:
        raise fault("TypeNotSupported", f"vos:{type_name}: this service stores data nodes "
                    "unstructured; create a vos:DataNode")
    properties: dict[str, str | None] = {}
    props = root.find(_v("properties"))
    for prop in props.findall(_v("property")) if props is not None else ():
        key = (prop.get("uri") or "").strip()
        if not key or ":" not in key:
            raise fault("InvalidArgument", f"a property has no valid uri ({key!r})")
        nilled = (prop.get(qname(XSI, "nil")) or "").strip().lower() in ("true", "1")
        properties[key] = None if nilled else (prop.text or "")
    target_el = root.find(_v("target"))
    target = (target_el.text or "").strip() if target_el is not None else None
    return NodeTemplate(uri, _REQUESTED_TYPES[type_name], type_name, properties, target or None)


# -- transfers --------------------------------------------------------------------------


def transfer_document(transfer: Transfer) -> bytes:
    """The ``<vos:transfer>`` document of ``transfer`` (VOSpace 2.1 §3.7.1)."""
    return serialize(_transfer(None, transfer), _PREFIXES)


def _transfer(parent: ET.Element | None, transfer: Transfer) -> ET.Element:
    root = element(parent, _v("transfer"), attrib={"version": VERSION})
    element(root, _v("target"), transfer.target)
    element(root, _v("direction"), transfer.direction)
    if transfer.view:
        element(root, _v("view"), attrib={"uri": transfer.view})
    for protocol in transfer.protocols:
        node = element(root, _v("protocol"), attrib={"uri": protocol.uri})
        if protocol.endpoint:
            element(node, _v("endpoint"), protocol.endpoint)
        for method in protocol.security:
            element(node, _v("securityMethod"), attrib={"uri": method})
    if transfer.keep_bytes is not None:
        element(root, _v("keepBytes"), "true" if transfer.keep_bytes else "false")
    for uri, value in transfer.params:
        element(root, _v("param"), value, {"uri": uri})
    return root


def parse_transfer(body: bytes) -> Transfer:
    root = _parse(body, "transfer")
    target = _text(root, "target")
    if not target:
        raise fault("InvalidArgument", "the transfer document has no target")
    direction = _text(root, "direction")
    if not direction:
        raise fault("InvalidArgument", "the transfer document has no direction")
    view_el = root.find(_v("view"))
    protocols = []
    for node in root.findall(_v("protocol")):
        uri = (node.get("uri") or "").strip()
        if not uri:
            raise fault("InvalidArgument", "a protocol of the transfer has no uri")
        security = tuple(
            (m.get("uri") or "").strip()
            for m in node.findall(_v("securityMethod"))
            if (m.get("uri") or "").strip()
        )
        protocols.append(Protocol(uri, None, security))
    keep = _text(root, "keepBytes")
    if keep and keep.lower() not in ("true", "false", "1", "0"):
        raise fault("InvalidArgument", f"keepBytes={keep!r} is not a boolean")
    params = tuple(
        ((p.get("uri") or "").strip(), p.text or "") for p in root.findall(_v("param"))
    )
    return Transfer(
        target=target,
        direction=direction,
        view=(view_el.get("uri") or "").strip() or None if view_el is not None else None,
        protocols=tuple(protocols),
        keep_bytes=None if not keep else keep.lower() in ("true", "1"),
        params=params,
    )


def transfer_job_document(job: Job, job_url: str) -> bytes:
    """The UWS job document of a transfer, with the transfer as ``uws:jobInfo``
    (VOSpace 2.1 §5.3.2 example; UWS 1.1 places jobInfo last)."""
    root = ET.fromstring(job_document(job, job_url))
    info = element(root, qname(UWS, "jobInfo"))
    _transfer(info, Transfer.from_parameters(job.parameters))
    return serialize(root, _JOB_PREFIXES)


# -- service metadata ---------------------------------------------------------------------


def protocols_document(accepts: Iterable[str], provides: Iterable[str]) -> bytes:
    """``GET /protocols`` (VOSpace 2.1 §5.2.1)."""
    return _lists("protocols", "protocol", {"accepts": accepts, "provides": provides})


def views_document(accepts: Iterable[str], provides: Iterable[str]) -> bytes:
    """``GET /views`` (VOSpace 2.1 §5.2.2)."""
    return _lists("views", "view", {"accepts": accepts, "provides": provides})


def properties_document(
    accepts: Iterable[str], provides: Iterable[str], contains: Iterable[str]
) -> bytes:
    """``GET /properties`` (VOSpace 2.1 §5.2.3)."""
    return _lists(
        "properties",
        "property",
        {"accepts": accepts, "provides": provides, "contains": contains},
    )


def _lists(name: str, item: str, groups: Mapping[str, Iterable[str]]) -> bytes:
    root = element(None, _v(name))
    for group, uris in groups.items():
        holder = element(root, _v(group))
        for uri in uris:
            element(holder, _v(item), attrib={"uri": uri})
    return serialize(root, _PREFIXES)


# The VOSpace 2.1 REST resources (§4) and the credentials they take (SSO 2.0).
VOSPACE_RESOURCES = (
    ("ivo://ivoa.net/std/VOSpace/v2.0#nodes", "nodes"),
    ("ivo://ivoa.net/std/VOSpace/v2.0#transfers", "transfers"),
    ("ivo://ivoa.net/std/VOSpace#sync-2.1", "synctrans"),
    ("ivo://ivoa.net/std/VOSpace/v2.0#protocols", "protocols"),
    ("ivo://ivoa.net/std/VOSpace/v2.0#views", "views"),
    ("ivo://ivoa.net/std/VOSpace/v2.0#properties", "properties"),
    # Not in the standard: a node's bytes by its path, answered with a redirect to a
    # signed download URL. CADC's VOSpace clients look for it before they negotiate.
    ("ivo://ivoa.net/std/VOSpace#files-proto", "files"),
)
SECURITY_METHODS = ("ivo://ivoa.net/sso#BasicAA", "ivo://ivoa.net/sso#token")
_PRIVATE = {"nodes", "transfers", "synctrans", "files"}


def capabilities_document(base: str) -> bytes:
    """VOSI 1.1 capabilities of the VOSpace service at ``base`` (``…/vospace``): one
    capability per REST resource, each a ParamHTTP interface with the accepted
    credentials as security methods, then the VOSI endpoints."""
    xsi_type = qname(XSI, "type")
    root = element(None, qname(VOSI_CAPABILITIES, "capabilities"))
    resources = [
        *VOSPACE_RESOURCES,
        ("ivo://ivoa.net/std/VOSI#capabilities", "capabilities"),
        ("ivo://ivoa.net/std/VOSI#availability", "availability"),
    ]
    for standard, resource in resources:
        capability = element(root, "capability", attrib={"standardID": standard})
        # VOResource 1.2 allows one securityMethod per interface, so each credential
        # gets an interface; public resources have one without any first.
        methods: tuple[str | None, ...] = (
            SECURITY_METHODS if resource in _PRIVATE else (None, *SECURITY_METHODS)
            if "VOSpace" in standard else (None,)
        )
        for method in methods:
            interface = element(
                capability, "interface", attrib={xsi_type: "vs:ParamHTTP", "role": "std"}
            )
            element(interface, "accessURL", f"{base}/{resource}", {"use": "base"})
            if method is not None:
                element(interface, "securityMethod", attrib={"standardID": method})
    return serialize(root, {"vosi": VOSI_CAPABILITIES, "vr": VR, "vs": VS, "xsi": XSI})


# -- reading ------------------------------------------------------------------------------


def _parse(body: bytes, expected: str) -> ET.Element:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise fault("InvalidArgument", f"the {expected} document is not well-formed XML: {exc}") from None
    if root.tag != _v(expected):
        raise fault("InvalidArgument", f"expected a <vos:{expected}> document in namespace {VOS}, "
                    f"not {root.tag}")
    return root


def _text(root: ET.Element, local: str) -> str:
    found = root.find(_v(local))
    return (found.text or "").strip() if found is not None else ""


def _local(qualified: str) -> str:
    return qualified.strip().rpartition(":")[2]

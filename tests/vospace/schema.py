"""Offline validation of VOSpace 2.1 documents (and the UWS/VOSI documents around them).

The official VOSpace-2.1.xsd needs three allowances (tests/xml/schemas/README.md):
its duplicated ``version`` attribute is dropped on loading; a driver schema in the
VOSpace namespace includes it and adds the global ``node`` element it lacks; and the
service-metadata documents are checked against the ``Get*Response`` types the
standard's text describes, by giving their root a test-only name before validation.
"""

from __future__ import annotations

import os
from pathlib import Path

from lxml import etree

from tests.xml.test_documents import SCHEMA_LOCATIONS, SCHEMAS

VOS = "http://www.ivoa.net/xml/VOSpace/v2.0"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
VOSI_CAPABILITIES = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
TEST_NS = "urn:datalab:test:vospace"
GOLDEN = Path(__file__).parent / "golden"

_OFFICIAL = "urn:datalab:test:VOSpace-2.1.xsd"
_VOS_DRIVER = "urn:datalab:test:vospace-driver.xsd"
_DUPLICATE = 'version="2.1-PR-20170924"'

_VOS_DRIVER_TEXT = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:vos="{VOS}" targetNamespace="{VOS}" elementFormDefault="qualified">
  <xs:include schemaLocation="{_OFFICIAL}"/>
  <xs:element name="node" type="vos:Node"/>
</xs:schema>"""

_ROOT_TEXT = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:vos="{VOS}" targetNamespace="{TEST_NS}" elementFormDefault="qualified">
  <xs:import namespace="{VOS}" schemaLocation="{_VOS_DRIVER}"/>
  <xs:import namespace="{UWS}" schemaLocation="{UWS}"/>
  <xs:import namespace="{VOSI_CAPABILITIES}" schemaLocation="{VOSI_CAPABILITIES}"/>
  <xs:import namespace="http://www.ivoa.net/xml/VODataService/v1.1"
      schemaLocation="http://www.ivoa.net/xml/VODataService/v1.1"/>
  <xs:import namespace="http://www.ivoa.net/xml/VOSIAvailability/v1.0"
      schemaLocation="http://www.ivoa.net/xml/VOSIAvailability/v1.0"/>
  <xs:element name="protocols" type="vos:GetProtocolsResponse"/>
  <xs:element name="views" type="vos:GetViewsResponse"/>
  <xs:element name="properties" type="vos:GetPropertiesResponse"/>
</xs:schema>"""


class _Resolver(etree.Resolver):
    def resolve(self, url, public_id, context):  # type: ignore[no-untyped-def]
        if url == _OFFICIAL:
            text = (SCHEMAS / "VOSpace-2.1.xsd").read_text(encoding="utf-8")
            assert text.count(_DUPLICATE) == 1
            return self.resolve_string(text.replace(_DUPLICATE, "", 1), context)
        if url == _VOS_DRIVER:
            return self.resolve_string(_VOS_DRIVER_TEXT, context)
        name = SCHEMA_LOCATIONS.get(url.replace("https://", "http://", 1))
        if name is None:
            if url.startswith(str(SCHEMAS)):
                return None
            raise AssertionError(f"schema location {url} has no local copy")
        return self.resolve_filename(str(SCHEMAS / name), context)


def load_schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_Resolver())
    tree = etree.fromstring(_ROOT_TEXT.encode(), parser, base_url=str(SCHEMAS / "vos-root.xsd"))
    return etree.XMLSchema(tree)


_METADATA = {f"{{{VOS}}}{name}" for name in ("protocols", "views", "properties")}


def validate(schema: etree.XMLSchema, document: bytes, root: str) -> etree._Element:
    """Parse ``document``, check its root is ``root`` (Clark notation), validate it."""
    parsed = etree.fromstring(document, etree.XMLParser(no_network=True))
    assert parsed.tag == root, parsed.tag
    checked = parsed
    if parsed.tag in _METADATA:
        checked = etree.fromstring(document, etree.XMLParser(no_network=True))
        checked.tag = f"{{{TEST_NS}}}{etree.QName(checked).localname}"
    if not schema.validate(checked):
        raise AssertionError(
            "\n".join(str(e) for e in schema.error_log) + "\n" + document.decode()
        )
    return parsed


def golden(name: str, document: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("DATALAB_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(document)
    assert path.exists(), f"no golden file {name}; set DATALAB_UPDATE_GOLDEN=1"
    assert document.decode() == path.read_text(encoding="utf-8")

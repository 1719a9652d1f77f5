"""VOSI capabilities and availability of the image services, valid against the XSDs."""

from __future__ import annotations

import httpx
import pytest
from lxml import etree

from tests.xml.test_documents import schema, valid  # noqa: F401 - schema is a fixture

CAPS = "{http://www.ivoa.net/xml/VOSICapabilities/v1.0}capabilities"
AVAIL = "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}availability"

SERVICES = {
    "sia": ("ivo://ivoa.net/std/SIA", "/sia"),
    "sia2": ("ivo://ivoa.net/std/SIA#query-2.0", "/sia2/query"),
    "soda": ("ivo://ivoa.net/std/SODA#sync-1.0", "/soda/sync"),
    "datalink": ("ivo://ivoa.net/std/DataLink#links-1.1", "/datalink/links"),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_capabilities_validate(base: str, schema: etree.XMLSchema, service: str) -> None:  # noqa: F811
    r = httpx.get(f"{base}/{service}/capabilities")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    root = valid(schema, r.content, CAPS)
    standard, path = SERVICES[service]
    found = {
        cap.get("standardID"): cap.findtext("interface/accessURL") for cap in root.iter("capability")
    }
    assert found[standard] == base + path
    assert found["ivo://ivoa.net/std/VOSI#availability"] == f"{base}/{service}/availability"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_availability_validates(base: str, schema: etree.XMLSchema, service: str) -> None:  # noqa: F811
    r = httpx.get(f"{base}/{service}/availability")
    assert r.status_code == 200
    root = valid(schema, r.content, AVAIL)
    assert root.findtext("{http://www.ivoa.net/xml/VOSIAvailability/v1.0}available") == "true"

"""VOSpace on a server speaking HTTPS itself (`datalab serve --ssl-certfile …`): the
transfer negotiation offers httpsput/httpsget with https endpoints, and refuses the
plain-http protocols it cannot serve there."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from tests.client.conftest import PASSWORDS
from tests.vospace.conftest import TlsSpace
from tests.vospace.schema import validate
from tests.vospace.test_vospace import CORE, NS, TRANSFER, fault, transfer_doc, uri
from tests.web.tls import trusting


@pytest.fixture(scope="module")
def secure_alice(tls_space: TlsSpace) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{tls_space.url}/vospace", verify=trusting(tls_space.cert), timeout=60,
        auth=("demo00", PASSWORDS["demo00"]),
    ) as client:
        yield client


def _endpoint(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    endpoint = etree.fromstring(answer.content).findtext("vos:protocol/vos:endpoint", None, NS)
    assert endpoint, answer.text
    return endpoint


def test_https_push_and_pull_round_trip(
    tls_space: TlsSpace, secure_alice: httpx.Client, schema
) -> None:
    data = bytes(range(256)) * 64
    doc = transfer_doc(uri("demo00/tls.bin"), "pushToVoSpace", f"{CORE}#httpsput")
    details = secure_alice.post("/synctrans", content=doc, follow_redirects=True,
                                headers={"Content-Type": "text/xml"})
    validate(schema, details.content, TRANSFER)
    put_url = _endpoint(details)
    assert put_url.startswith(f"{tls_space.url}/vospace/data/put/")
    stored = httpx.put(put_url, content=data, verify=trusting(tls_space.cert), timeout=60)
    assert stored.status_code == 201, stored.text

    answer = secure_alice.get("/synctrans", params={
        "TARGET": uri("demo00/tls.bin"), "DIRECTION": "pullFromVoSpace",
        "PROTOCOL": f"{CORE}#httpsget"})
    get_url = _endpoint(answer)
    assert get_url.startswith(f"{tls_space.url}/vospace/data/get/")
    got = httpx.get(get_url, verify=trusting(tls_space.cert), timeout=60)
    assert got.status_code == 200 and got.content == data
    assert secure_alice.delete("/nodes/demo00/tls.bin").status_code == 204


def test_plain_http_protocols_are_not_offered_over_https(secure_alice: httpx.Client) -> None:
    answer = secure_alice.get("/synctrans", params={
        "TARGET": uri("demo00/none.bin"), "DIRECTION": "pushToVoSpace",
        "PROTOCOL": f"{CORE}#httpput"})
    fault(answer, 400, "ProtocolNotSupported")
    assert "httpsput" in answer.text

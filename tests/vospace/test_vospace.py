"""VOSpace 2.1 against a real server: documents valid against the official schema,
nodes, transfers (sync and UWS), the data endpoints, isolation between users."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest
from lxml import etree

from tests.vospace.conftest import AUTHORITY
from tests.vospace.schema import UWS, VOS, golden, validate

XSI = "http://www.w3.org/2001/XMLSchema-instance"
CORE = "ivo://ivoa.net/vospace/core"
NODE = f"{{{VOS}}}node"
TRANSFER = f"{{{VOS}}}transfer"
NS = {"vos": VOS, "uws": UWS}


def uri(path: str) -> str:
    return f"vos://{AUTHORITY}/{path}"


def node_doc(path: str, kind: str = "DataNode", props: dict[str, str | None] | None = None,
             target: str | None = None) -> bytes:
    items = "".join(
        f'<vos:property uri="{k}" xsi:nil="true"/>' if v is None
        else f'<vos:property uri="{k}">{v}</vos:property>'
        for k, v in (props or {}).items()
    )
    extra = f"<vos:target>{target}</vos:target>" if target else ""
    return (
        f'<vos:node xmlns:vos="{VOS}" xmlns:xsi="{XSI}" xsi:type="vos:{kind}" '
        f'uri="{uri(path)}"><vos:properties>{items}</vos:properties>{extra}</vos:node>'
    ).encode()


def transfer_doc(target: str, direction: str, *protocols: str, keep: bool | None = None) -> bytes:
    parts = "".join(f'<vos:protocol uri="{p}"/>' for p in protocols)
    keep_el = "" if keep is None else f"<vos:keepBytes>{str(keep).lower()}</vos:keepBytes>"
    return (
        f'<vos:transfer xmlns:vos="{VOS}" version="2.1"><vos:target>{target}</vos:target>'
        f"<vos:direction>{direction}</vos:direction>{parts}{keep_el}</vos:transfer>"
    ).encode()


def props_of(root: etree._Element) -> dict[str, str]:
    return {
        p.get("uri"): p.text or ""
        for p in root.findall("vos:properties/vos:property", NS)
    }


def create(client: httpx.Client, path: str, kind: str = "DataNode", **kw: object) -> httpx.Response:
    return client.put(f"/nodes/{path}", content=node_doc(path, kind, **kw),  # type: ignore[arg-type]
                      headers={"Content-Type": "text/xml"})


def fault(response: httpx.Response, status: int, name: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.split()[0] == name, response.text


def push(client: httpx.Client, path: str, data: bytes) -> httpx.Response:
    doc = transfer_doc(uri(path), "pushToVoSpace", f"{CORE}#httpput")
    details = client.post("/synctrans", content=doc, headers={"Content-Type": "text/xml"},
                          follow_redirects=True)
    assert details.status_code == 200, details.text
    endpoint = etree.fromstring(details.content).findtext("vos:protocol/vos:endpoint", None, NS)
    assert endpoint, details.text
    return httpx.put(endpoint, content=data)


def pull(client: httpx.Client, path: str) -> bytes:
    answer = client.get("/synctrans", params={
        "TARGET": uri(path), "DIRECTION": "pullFromVoSpace", "PROTOCOL": f"{CORE}#httpget"})
    assert answer.status_code == 200, answer.text
    endpoint = etree.fromstring(answer.content).findtext("vos:protocol/vos:endpoint", None, NS)
    got = httpx.get(endpoint)
    assert got.status_code == 200, got.text
    return got.content


# -- service metadata --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["protocols", "views", "properties"])
def test_service_metadata_is_public_and_valid(anonymous: httpx.Client, schema, name: str) -> None:
    answer = anonymous.get(f"/{name}")
    assert answer.status_code == 200
    root = validate(schema, answer.content, f"{{{VOS}}}{name}")
    assert root.find("vos:provides", NS) is not None


def test_capabilities_name_every_resource(anonymous: httpx.Client, schema) -> None:
    answer = anonymous.get("/capabilities")
    root = validate(schema, answer.content, "{http://www.ivoa.net/xml/VOSICapabilities/v1.0}capabilities")
    ids = {c.get("standardID") for c in root.findall("capability")}
    assert "ivo://ivoa.net/std/VOSpace/v2.0#nodes" in ids
    assert "ivo://ivoa.net/std/VOSpace#sync-2.1" in ids


def test_anonymous_callers_are_refused(anonymous: httpx.Client) -> None:
    fault(anonymous.get("/nodes/demo00"), 401, "PermissionDenied")
    fault(anonymous.put("/nodes/demo00/x", content=node_doc("demo00/x")), 401, "PermissionDenied")
    fault(anonymous.post("/transfers", content=b"<x/>"), 401, "PermissionDenied")


# -- nodes -------------------------------------------------------------------------------


def test_root_lists_only_the_callers_home(alice: httpx.Client, schema) -> None:
    root = validate(schema, alice.get("/nodes").content, NODE)
    assert root.get("uri") == f"vos://{AUTHORITY}"
    assert [n.get("uri") for n in root.findall("vos:nodes/vos:node", NS)] == [uri("demo00")]


def test_create_get_set_delete_nodes(alice: httpx.Client, schema) -> None:
    made = create(alice, "demo00/crud", "ContainerNode",
                  props={f"{CORE}#description": "my results"})
    assert made.status_code == 201, made.text
    validate(schema, made.content, NODE)
    data = create(alice, "demo00/crud/empty.txt")
    assert data.status_code == 201, data.text
    link = create(alice, "demo00/crud/link", "LinkNode", target=uri("demo00/crud/empty.txt"))
    assert link.status_code == 201, link.text
    root = validate(schema, link.content, NODE)
    assert root.findtext("vos:target", None, NS) == uri("demo00/crud/empty.txt")

    fault(create(alice, "demo00/crud"), 409, "DuplicateNode")
    fault(create(alice, "demo00/missing/x"), 404, "ContainerNotFound")
    wrong = alice.put("/nodes/demo00/crud/a", content=node_doc("demo00/crud/b"))
    fault(wrong, 400, "InvalidURI")
    fault(alice.put("/nodes/demo00/crud/t", content=node_doc("demo00/crud/t", "Bogus")),
          400, "TypeNotSupported")
    fault(create(alice, "demo00/crud/ro", props={f"{CORE}#length": "5"}), 403, "PermissionDenied")

    listing = validate(schema, alice.get("/nodes/demo00/crud").content, NODE)
    assert listing.get(f"{{{XSI}}}type") == "vos:ContainerNode"
    assert props_of(listing)[f"{CORE}#description"] == "my results"
    children = {n.get("uri"): n.get(f"{{{XSI}}}type") for n in listing.findall("vos:nodes/vos:node", NS)}
    assert children == {uri("demo00/crud/empty.txt"): "vos:DataNode",
                        uri("demo00/crud/link"): "vos:LinkNode"}
    empty = validate(schema, alice.get("/nodes/demo00/crud/empty.txt").content, NODE)
    assert props_of(empty)[f"{CORE}#length"] == "0"
    assert props_of(empty)[f"{CORE}#MD5"] == hashlib.md5(b"").hexdigest()
    assert empty.get("busy") == "false"
    views = [v.get("uri") for v in empty.findall("vos:provides/vos:view", NS)]
    assert f"{CORE}#defaultview" in views and f"{CORE}#binaryview" in views

    for detail in ("min", "properties"):
        validate(schema, alice.get("/nodes/demo00/crud", params={"detail": detail}).content, NODE)
    minimal = etree.fromstring(alice.get("/nodes/demo00/crud", params={"detail": "min"}).content)
    assert minimal.find("vos:properties", NS) is None

    title = f"{CORE}#title"
    changed = alice.post("/nodes/demo00/crud/empty.txt", content=node_doc(
        "demo00/crud/empty.txt", props={title: "Nothing", f"{CORE}#description": "none"}))
    assert changed.status_code == 200, changed.text
    assert props_of(validate(schema, changed.content, NODE))[title] == "Nothing"
    removed = alice.post("/nodes/demo00/crud/empty.txt",
                         content=node_doc("demo00/crud/empty.txt", props={title: None}))
    assert title not in props_of(etree.fromstring(removed.content))
    fault(alice.post("/nodes/demo00/crud/empty.txt", content=node_doc(
        "demo00/crud/empty.txt", props={f"{CORE}#MD5": "0"})), 403, "PermissionDenied")
    fault(alice.post("/nodes/demo00/crud/nothing", content=node_doc("demo00/crud/nothing")),
          404, "NodeNotFound")

    assert alice.delete("/nodes/demo00/crud").status_code == 204
    fault(alice.get("/nodes/demo00/crud"), 404, "NodeNotFound")
    fault(alice.delete("/nodes/demo00/crud"), 404, "NodeNotFound")
    fault(alice.get("/nodes/demo00/crud/x/y"), 404, "ContainerNotFound")
    fault(alice.delete("/nodes/demo00"), 403, "PermissionDenied")


def test_paging_a_container(alice: httpx.Client, schema) -> None:
    assert create(alice, "demo00/paged", "ContainerNode").status_code == 201
    names = [f"f{n:02d}" for n in range(7)]
    for name in names:
        assert create(alice, f"demo00/paged/{name}").status_code == 201
    seen: list[str] = []
    start = None
    while True:
        params = {"limit": "3", **({"uri": start} if start else {})}
        page = validate(schema, alice.get("/nodes/demo00/paged", params=params).content, NODE)
        uris = [n.get("uri") for n in page.findall("vos:nodes/vos:node", NS)]
        assert len(uris) <= 3
        fresh = [u for u in uris if u != start]  # the page starts at `uri` (inclusive)
        if not fresh:
            break
        seen.extend(fresh)
        start = uris[-1]
    assert seen == [uri(f"demo00/paged/{n}") for n in names]
    one = etree.fromstring(alice.get("/nodes/demo00/paged", params={"limit": "1"}).content)
    assert len(one.findall("vos:nodes/vos:node", NS)) == 1
    fault(alice.get("/nodes/demo00/paged", params={"limit": "-1"}), 400, "InvalidArgument")
    fault(alice.get("/nodes/demo00/paged", params={"detail": "all"}), 400, "InvalidArgument")


# -- transfers ------------------------------------------------------------------------------


@pytest.mark.parametrize("name, data", [
    ("text.txt", "Polaris, α UMi\nVega\n".encode()),
    ("binary.bin", bytes(range(256)) * 1000),
    ("empty.dat", b""),
])
def test_push_and_pull_round_trip(alice: httpx.Client, name: str, data: bytes) -> None:
    path = f"demo00/{name}"
    put = push(alice, path, data)
    assert put.status_code in (200, 201), put.text
    assert pull(alice, path) == data
    node = etree.fromstring(alice.get(f"/nodes/{path}").content)
    assert props_of(node)[f"{CORE}#length"] == str(len(data))
    assert props_of(node)[f"{CORE}#MD5"] == hashlib.md5(data).hexdigest()


def test_pull_redirect_and_faults(alice: httpx.Client, schema) -> None:
    assert push(alice, "demo00/redirect.txt", b"hello").status_code in (200, 201)
    params = {"TARGET": uri("demo00/redirect.txt").replace("!", "~"),
              "DIRECTION": "pullFromVoSpace", "PROTOCOL": f"{CORE}#httpget"}
    answer = alice.get("/synctrans", params=params)
    validate(schema, answer.content, TRANSFER)
    redirected = alice.get("/synctrans", params={**params, "REQUEST": "redirect"})
    assert redirected.status_code == 303
    assert httpx.get(redirected.headers["location"]).content == b"hello"
    fault(alice.get("/synctrans", params={**params, "TARGET": uri("demo00/none")}),
          404, "NodeNotFound")
    fault(alice.get("/synctrans", params={**params, "PROTOCOL": "ivo://x#ftp"}),
          400, "ProtocolNotSupported")
    fault(alice.get("/synctrans", params={**params, "TARGET": "vos://elsewhere!vospace/x"}),
          400, "InvalidURI")
    endpoint = etree.fromstring(answer.content).findtext("vos:protocol/vos:endpoint", None, NS)
    forged = endpoint.replace("redirect.txt", "other.txt")
    fault(httpx.get(forged), 403, "PermissionDenied")
    fault(httpx.put(endpoint.replace("/data/get/", "/data/put/"), content=b"x"),
          403, "PermissionDenied")


def _run(alice: httpx.Client, doc: bytes) -> etree._Element:
    created = alice.post("/transfers", content=doc, headers={"Content-Type": "text/xml"})
    assert created.status_code == 303, created.text
    job_url = created.headers["location"]
    assert alice.post(f"{job_url}/phase", data={"PHASE": "RUN"}).status_code == 303
    deadline = time.monotonic() + 60
    while True:
        job = alice.get(job_url, params={"WAIT": "10"})
        root = etree.fromstring(job.content)
        if root.findtext("uws:phase", None, NS) in ("COMPLETED", "ERROR", "ABORTED"):
            return root
        assert time.monotonic() < deadline


def test_async_move_and_copy(alice: httpx.Client, schema) -> None:
    assert create(alice, "demo00/moves", "ContainerNode").status_code == 201
    assert create(alice, "demo00/moves/into", "ContainerNode").status_code == 201
    assert push(alice, "demo00/moves/a.txt", b"aaa").status_code in (200, 201)

    job = _run(alice, transfer_doc(uri("demo00/moves/a.txt"), uri("demo00/moves/b.txt"), keep=True))
    assert job.findtext("uws:phase", None, NS) == "COMPLETED"
    validate(schema, etree.tostring(job), f"{{{UWS}}}job")
    assert job.find("uws:jobInfo/vos:transfer", NS) is not None
    assert pull(alice, "demo00/moves/b.txt") == b"aaa"
    assert pull(alice, "demo00/moves/a.txt") == b"aaa"

    job = _run(alice, transfer_doc(uri("demo00/moves/a.txt"), uri("demo00/moves/into"), keep=False))
    assert job.findtext("uws:phase", None, NS) == "COMPLETED"
    assert pull(alice, "demo00/moves/into/a.txt") == b"aaa"
    fault(alice.get("/nodes/demo00/moves/a.txt"), 404, "NodeNotFound")

    job = _run(alice, transfer_doc(uri("demo00/moves/b.txt"), uri("demo00/moves/into/a.txt"), keep=False))
    assert job.findtext("uws:phase", None, NS) == "ERROR"
    assert job.findtext("uws:errorSummary/uws:message", None, NS).startswith("DuplicateNode")
    job_id = job.findtext("uws:jobId", None, NS)
    assert alice.get(f"/transfers/{job_id}/error").text.startswith("DuplicateNode")

    job = _run(alice, transfer_doc(uri("demo00/moves/none"), uri("demo00/moves/x"), keep=True))
    assert job.findtext("uws:errorSummary/uws:message", None, NS).startswith("NodeNotFound")
    listing = alice.get("/transfers")
    validate(schema, listing.content, f"{{{UWS}}}jobs")


def test_async_push_gives_transfer_details(alice: httpx.Client, schema) -> None:
    doc = transfer_doc(uri("demo00/async.bin"), "pushToVoSpace", f"{CORE}#httpput")
    job = _run(alice, doc)
    assert job.findtext("uws:phase", None, NS) == "COMPLETED"
    href = job.find("uws:results/uws:result[@id='transferDetails']", NS).get(
        "{http://www.w3.org/1999/xlink}href")
    details = validate(schema, alice.get(href).content, TRANSFER)
    endpoint = details.findtext("vos:protocol/vos:endpoint", None, NS)
    assert httpx.put(endpoint, content=b"\x00\x01async").status_code in (200, 201)
    assert pull(alice, "demo00/async.bin") == b"\x00\x01async"


def test_sync_error_leaves_a_transfer_without_protocols(alice: httpx.Client, schema) -> None:
    doc = transfer_doc(uri("demo00/nowhere/x"), "pushToVoSpace", f"{CORE}#httpput")
    details = alice.post("/synctrans", content=doc, follow_redirects=True)
    root = validate(schema, details.content, TRANSFER)
    assert root.find("vos:protocol", NS) is None
    job_url = str(details.url).rsplit("/results/", 1)[0]
    assert alice.get(f"{job_url}/error").text.startswith("ContainerNotFound")


# -- isolation ---------------------------------------------------------------------------------


def test_other_users_nodes_are_out_of_reach(alice: httpx.Client, bob: httpx.Client) -> None:
    assert push(alice, "demo00/secret.txt", b"mine").status_code in (200, 201)
    fault(bob.get("/nodes/demo00"), 403, "PermissionDenied")
    fault(bob.get("/nodes/demo00/secret.txt"), 403, "PermissionDenied")
    fault(bob.get("/nodes/nobody/x"), 403, "PermissionDenied")  # same answer: no probing
    fault(bob.delete("/nodes/demo00/secret.txt"), 403, "PermissionDenied")
    fault(create(bob, "demo00/planted"), 403, "PermissionDenied")
    fault(bob.get("/synctrans", params={"TARGET": uri("demo00/secret.txt"),
          "DIRECTION": "pullFromVoSpace", "PROTOCOL": f"{CORE}#httpget"}), 403, "PermissionDenied")
    job = _run(bob, transfer_doc(uri("demo00/secret.txt"), uri("demo01/stolen.txt"), keep=True))
    assert job.findtext("uws:errorSummary/uws:message", None, NS).startswith("PermissionDenied")
    bob_root = etree.fromstring(bob.get("/nodes").content)
    assert [n.get("uri") for n in bob_root.findall("vos:nodes/vos:node", NS)] == [uri("demo01")]
    assert pull(alice, "demo00/secret.txt") == b"mine"


@pytest.mark.parametrize("path", [
    "demo00/../demo01", "demo00/%2e%2e/demo01", "demo00/%2E%2E", "demo00/%252e%252e",
    "demo00/.", "demo00/./secret.txt", "demo00/a%2F..%2F..%2Fdemo01", "demo00/..%2fdemo01",
])
def test_traversal_is_refused(space, alice: httpx.Client, path: str) -> None:
    # Sent with http.client, byte for byte: httpx would remove the dot segments itself.
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(space.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.request("GET", f"/vospace/nodes/{path}", headers=dict(alice.headers))
        answer = connection.getresponse()
        status, text = answer.status, answer.read().decode()
    finally:
        connection.close()
    assert status in (400, 403), text
    assert text.split()[0] in ("InvalidURI", "PermissionDenied"), text


# -- golden documents ------------------------------------------------------------------------------


def test_golden_documents(schema) -> None:
    from datetime import UTC, datetime

    from datalab.jobs.kinds.vospace_transfer import Protocol, Transfer
    from datalab.storage import Node, NodeType
    from datalab.web.vospace_xml import node_document, transfer_document

    when = datetime(2025, 3, 14, 15, 9, 26, 535000, tzinfo=UTC)
    data = Node("a/b.fits", NodeType.DATA, 2880, "0" * 32, when,
                properties={f"{CORE}#description": "an image & <its> header"})
    document = node_document(data, uri("demo00/a/b.fits"))
    validate(schema, document, NODE)
    golden("node.xml", document)
    container = Node("a", NodeType.CONTAINER, 0, None, when)
    link = Node("a/l", NodeType.LINK, 0, None, when, target=uri("demo00/a/b.fits"))
    sub = Node("a/c", NodeType.CONTAINER, 0, None, when)
    listing = node_document(container, uri("demo00/a"), children=[
        (uri("demo00/a/b.fits"), data), (uri("demo00/a/c"), sub), (uri("demo00/a/l"), link)])
    validate(schema, listing, NODE)
    golden("container.xml", listing)
    transfer = Transfer(uri("demo00/a/b.fits"), "pullFromVoSpace", None, (
        Protocol(f"{CORE}#httpget", "http://127.0.0.1:8000/vospace/data/get/1/sig/demo00/a/b.fits"),))
    document = transfer_document(transfer)
    validate(schema, document, TRANSFER)
    golden("transfer.xml", document)


def test_the_schema_really_constrains(schema) -> None:
    bad = f'<vos:node xmlns:vos="{VOS}" xmlns:xsi="{XSI}" xsi:type="vos:ContainerNode" uri="vos://x!vospace/y"/>'
    with pytest.raises(AssertionError, match="nodes"):
        validate(schema, bad.encode(), NODE)

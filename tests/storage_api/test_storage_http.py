"""``/storage`` over HTTP, call by call, as the official client compares the answers:
status codes, exact bodies, signed file URLs, ranges, isolation."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import stat as stat_module
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from datalab.web.dl_storage import make_ticket
from tests.storage_api.conftest import Api, Site


def test_liveness_needs_no_login(site: Site) -> None:
    answer = httpx.get(f"{site.url}/storage", timeout=10)
    assert answer.status_code == 200
    assert answer.text == "Hello World"


@pytest.mark.parametrize("verb", ["ls?name=vos://", "isdir?name=vos://", "put?name=vos://x",
                                  "get?name=vos://x", "mkdir?dir=vos://d", "stat?name=vos://"])
def test_anonymous_callers_are_told_to_log_in(site: Site, verb: str) -> None:
    for headers in ({}, {"X-DL-AuthToken": "anonymous.0.0.anon_access"}):
        answer = httpx.get(f"{site.url}/storage/{verb}", headers=headers, timeout=10)
        assert answer.status_code == 401
        assert answer.text == "Error: log in first"
    xfer = httpx.post(f"{site.url}/storage/xfer", content=b"a,b\n",
                      headers={"X-DL-FileName": "t.csv", "X-DL-InitXfer": "True"}, timeout=10)
    assert xfer.status_code == 401


def test_folders_files_and_their_answers(demo00: Api) -> None:
    made = demo00("mkdir", "dir=vos://calls")
    assert made.status_code == 201
    assert demo00("mkdir", "dir=vos://calls").status_code == 409
    assert demo00("isdir", "name=vos://calls").text == "true"
    assert demo00("isdir", "name=vos://nothing-here").text == "false"
    assert demo00("access", "name=vos://calls&mode=r&verbose=False").text == "true"
    assert demo00("access", "name=vos://calls/new&mode=r").text == "false"
    assert demo00("access", "name=vos://calls/new&mode=w").text == "true"

    put = demo00("put", "name=vos://calls/a.txt")
    assert put.status_code == 200
    assert put.text.startswith(f"{demo00.url}/storage/file/") and "\n" not in put.text
    demo00.upload("vos://calls/a.txt", b"alpha\n")
    demo00.upload("vos://calls/b.txt", b"")
    assert demo00("isdir", "name=vos://calls/a.txt").text == "false"
    assert demo00("ls", "name=vos://calls&format=csv&verbose=False").text == "a.txt,b.txt"
    assert demo00("ls", "name=vos://calls&format=ascii").text == "a.txt\nb.txt"
    assert "a.txt" in demo00("ls", "name=vos://calls&format=long").text
    assert [e["name"] for e in demo00("ls", "name=vos://calls&format=raw").json()] == [
        "a.txt", "b.txt"]
    assert "calls" in demo00("ls", "name=vos://&format=csv").text.split(",")

    info = demo00("stat", "name=vos://calls/a.txt&verbose=True")
    assert info.status_code == 200
    assert info.headers["content-type"].startswith("application/json")
    described = info.json()
    assert described["type"] == "data" and described["size"] == 6
    assert described["md5"] == hashlib.md5(b"alpha\n").hexdigest()
    assert demo00("stat", "name=vos://calls").json()["type"] == "container"
    assert demo00("stat", "name=vos://calls/none").status_code == 404

    assert demo00.download("vos://calls/a.txt") == b"alpha\n"
    assert demo00.download("vos://calls/b.txt") == b""
    missing = demo00("get", "name=vos://calls/none")
    assert missing.status_code == 404 and missing.text.startswith("Error: ")


def test_copy_move_link_tag_remove(demo00: Api) -> None:
    assert demo00("mkdir", "dir=vos://ops").status_code == 201
    demo00.upload("vos://ops/f.csv", b"x\n1\n")
    copied = demo00("cp", "from=vos://ops/f.csv&to=vos://ops/g.csv")
    assert copied.status_code == 200 and "COMPLETED" in copied.text
    moved = demo00("mv", "from=vos://ops/g.csv&to=vos://ops/h.csv")
    assert moved.status_code == 200 and "COMPLETED" in moved.text
    assert demo00("ls", "name=vos://ops&format=csv").text == "f.csv,h.csv"
    assert demo00("mkdir", "dir=vos://ops/sub").status_code == 201
    into = demo00("cp", "from=vos://ops/f.csv&to=vos://ops/sub")
    assert "COMPLETED" in into.text
    assert demo00("ls", "name=vos://ops/sub&format=csv").text == "f.csv"

    linked = demo00("ln", "from=vos://ops/l.csv&to=vos://ops/f.csv")
    assert linked.status_code == 201
    link = demo00("stat", "name=vos://ops/l.csv").json()
    assert link["type"] == "link" and link["target"] == "vos://ops/f.csv"
    assert demo00.download("vos://ops/l.csv") == b"x\n1\n"

    tagged = demo00("tag", "name=vos://ops/f.csv&tag=photometry")
    assert tagged.status_code == 200
    assert "photometry" in demo00("stat", "name=vos://ops/f.csv").json()["properties"].values()

    assert demo00("rm", "file=vos://ops/sub").status_code == 400  # a folder: rmdir
    assert demo00("rmdir", "dir=vos://ops/f.csv").status_code == 400  # a file: rm
    assert demo00("rmdir", "dir=vos://ops/sub").status_code != 204  # not empty
    removed = demo00("rm", "file=vos://ops/sub/f.csv")
    assert removed.status_code == 204 and removed.text == ""
    assert demo00("rmdir", "dir=vos://ops/sub").status_code == 204
    assert demo00("rm", "file=vos://ops/sub/f.csv").status_code == 404
    assert demo00("rm", "file=vos://").status_code == 403


# -- signed file URLs ---------------------------------------------------------------------


def _ticket(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def _claims(ticket: str) -> dict[str, object]:
    payload = ticket.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _with_claims(ticket: str, **changes: object) -> str:
    claims = {**_claims(ticket), **changes}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{payload}.{ticket.split('.')[1]}"


def test_file_urls_carry_their_own_signed_authorisation(site: Site, demo00: Api,
                                                        demo01: Api) -> None:
    demo00.upload("vos://mine.txt", b"demo00's")
    demo01.upload("vos://mine.txt", b"demo01's")
    url = demo00("get", "name=vos://mine.txt").text
    base = url.rsplit("/", 1)[0]
    ticket = _ticket(url)
    assert _claims(ticket)["u"] == "demo00"
    assert httpx.get(url, timeout=10).content == b"demo00's"

    secret_file = site.home / "secret.key"
    assert stat_module.S_IMODE(secret_file.stat().st_mode) == 0o600

    forged = [
        ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB"),  # signature altered
        _with_claims(ticket, u="demo01"),  # the same file of another user
        _with_claims(ticket, p="other.txt"),
        _with_claims(ticket, exp=int(time.time()) + 10 * 86400),
        "garbage",
        "",
    ]
    for bad in forged:
        answer = httpx.get(f"{base}/{bad}", timeout=10)
        assert answer.status_code in (403, 404, 405), bad
        assert b"demo01's" not in answer.content and b"demo00's" not in answer.content
        if bad:
            assert answer.status_code == 403
            assert answer.text.startswith("Error: ")
    secret = secret_file.read_bytes().strip()
    expired = make_ticket(secret, "get", "demo00", "mine.txt", lifetime=-1)
    assert httpx.get(f"{base}/{expired}", timeout=10).status_code == 403
    valid = make_ticket(secret, "get", "demo00", "mine.txt")
    assert httpx.get(f"{base}/{valid}", timeout=10).content == b"demo00's"
    # A download URL is no upload URL, and the other way round.
    assert httpx.put(url, content=b"overwritten", timeout=10).status_code == 403
    upload = demo00("put", "name=vos://mine.txt").text
    assert httpx.get(upload, timeout=10).status_code == 403
    assert demo00.download("vos://mine.txt") == b"demo00's"


def test_range_requests_answer_206(demo00: Api) -> None:
    content = bytes(range(256)) * 40
    demo00.upload("vos://ranged.bin", content)
    url = demo00("get", "name=vos://ranged.bin").text
    part = httpx.get(url, headers={"Range": "bytes=1000-"}, timeout=10)
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-{len(content) - 1}/{len(content)}"
    assert part.content == content[1000:]
    middle = httpx.get(url, headers={"Range": "bytes=10-19"}, timeout=10)
    assert middle.status_code == 206 and middle.content == content[10:20]
    assert httpx.get(url, timeout=10).headers["accept-ranges"] == "bytes"


# -- uploads that fail --------------------------------------------------------------------


def test_an_upload_cut_midway_leaves_the_previous_version(demo00: Api) -> None:
    demo00.upload("vos://keep.txt", b"version 1")
    url = urlsplit(demo00("put", "name=vos://keep.txt").text)
    # A client that promises a megabyte, sends a kilobyte and hangs up.
    with socket.create_connection((url.hostname, url.port), timeout=10) as raw:
        raw.sendall(
            f"PUT {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: 1000000\r\n"
            "Content-Type: application/octet-stream\r\n\r\n".encode() + b"x" * 1000
        )
    time.sleep(0.5)
    assert demo00.download("vos://keep.txt") == b"version 1"

    def failing() -> Iterator[bytes]:
        yield b"y" * 100_000
        raise OSError("the disk the client reads from failed")

    upload = demo00("put", "name=vos://keep.txt").text
    with pytest.raises(OSError, match="failed"):
        httpx.put(upload, content=failing(), timeout=10)
    time.sleep(0.5)
    assert demo00.download("vos://keep.txt") == b"version 1"
    ls = demo00("ls", "name=vos://&format=csv").text.split(",")
    assert not [n for n in ls if n.startswith(".")]


def test_a_container_is_no_upload_target(demo00: Api) -> None:
    demo00("mkdir", "dir=vos://box")
    answer = demo00("put", "name=vos://box")
    assert answer.status_code == 409 and answer.text.startswith("Error: ")


# -- isolation ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "vos://../demo01/secret.txt",
    "vos://%2e%2e/demo01/secret.txt",
    "vos://a/../../demo01/secret.txt",
    "vos://..%2fdemo01%2fsecret.txt",
    "vos://%2E%2E%2Fdemo01%2Fsecret.txt",
    "vos://./secret.txt",
    "vos://a\\..\\..\\demo01\\secret.txt",
    "vos://secret%00.txt",
])
def test_paths_that_climb_out_are_refused(demo00: Api, demo01: Api, name: str) -> None:
    demo01.upload("vos://secret.txt", b"demo01 only")
    for verb in ("get", "stat", "ls", "isdir", "put"):
        answer = demo00(verb, f"name={name}")
        assert b"demo01 only" not in answer.content
        assert answer.status_code in (400, 404) or answer.text == "false", (verb, answer.text)
    assert demo00("rm", f"file={name}").status_code in (400, 404)
    assert demo01.download("vos://secret.txt") == b"demo01 only"


def test_absolute_paths_stay_inside_the_user_space(demo00: Api) -> None:
    for name in ("/etc/passwd", "vos:///etc/passwd", "vos:////etc/hostname"):
        answer = demo00("get", f"name={name}")
        assert answer.status_code == 404, answer.text
        assert "root:" not in answer.text
    demo00("mkdir", "dir=vos://abs")
    demo00.upload("vos:///abs/x.txt", b"inside")
    assert demo00.download("vos://abs/x.txt") == b"inside"


def test_users_see_only_their_own_files(demo00: Api, demo01: Api) -> None:
    demo01.upload("vos://private.txt", b"demo01's private file")
    assert demo00("get", "name=vos://private.txt").status_code == 404
    assert "private.txt" not in demo00("ls", "name=vos://&format=csv").text.split(",")
    assert demo00("stat", "name=vos://private.txt").status_code == 404
    assert demo00("rm", "file=vos://private.txt").status_code == 404
    assert demo01.download("vos://private.txt") == b"demo01's private file"


# -- query results into files ---------------------------------------------------------------

MAGS = "select hip, hpmag from hipparcos.hip2 order by hip limit 5"


def test_query_out_vos_stores_the_result(site: Site, demo00: Api) -> None:
    answer = httpx.get(f"{site.url}/query/query", timeout=60, headers={
        "X-DL-AuthToken": demo00.token}, params={
        "sql": MAGS, "ofmt": "csv", "out": "vos://mags.csv", "async": "False"})
    assert answer.status_code == 200 and answer.text == "OK"
    assert "mags.csv" in demo00("ls", "name=vos://&format=csv").text.split(",")
    lines = demo00.download("vos://mags.csv").decode().splitlines()
    assert lines[0] == "hip,hpmag" and len(lines) == 6

    by_extension = httpx.get(f"{site.url}/query/query", timeout=60, headers={
        "X-DL-AuthToken": demo00.token}, params={"sql": MAGS, "out": "vos://mags.parquet"})
    assert by_extension.text == "OK"
    assert demo00.download("vos://mags.parquet")[:4] == b"PAR1"
    forced = httpx.get(f"{site.url}/query/query", timeout=60, headers={
        "X-DL-AuthToken": demo00.token}, params={"sql": MAGS, "ofmt": "votable",
                                                 "out": "vos://mags.txt"})
    assert forced.text == "OK"
    assert b"<VOTABLE" in demo00.download("vos://mags.txt")

    anonymous = httpx.get(f"{site.url}/query/query", timeout=60,
                          params={"sql": MAGS, "out": "vos://mags.csv"})
    assert anonymous.status_code == 403 and anonymous.text.startswith("Error: ")
    climbing = httpx.get(f"{site.url}/query/query", timeout=60, headers={
        "X-DL-AuthToken": demo00.token}, params={"sql": MAGS, "out": "vos://../demo01/x.csv"})
    assert climbing.status_code == 400


def test_async_query_out_vos_stores_the_result(site: Site, demo00: Api) -> None:
    headers = {"X-DL-AuthToken": demo00.token}
    job = httpx.get(f"{site.url}/query/query", timeout=60, headers=headers, params={
        "sql": MAGS, "ofmt": "csv", "out": "vos://async.fits", "async": "True"}).text
    deadline = time.monotonic() + 60
    phase = ""
    while time.monotonic() < deadline:
        phase = httpx.get(f"{site.url}/query/status", params={"jobid": job},
                          headers=headers, timeout=10).text
        if phase not in ("QUEUED", "EXECUTING", "PENDING"):
            break
        time.sleep(0.2)
    assert phase == "COMPLETED", httpx.get(f"{site.url}/query/error", params={"jobid": job},
                                           headers=headers, timeout=10).text
    assert demo00.download("vos://async.fits")[:9] == b"SIMPLE  ="


# -- chunked uploads for myDB imports -----------------------------------------------------


def test_xfer_chunks_then_import_by_file_name(site: Site, demo00: Api) -> None:
    headers = {"X-DL-AuthToken": demo00.token, "Content-Type": "application/octet-stream",
               "X-DL-FileName": "stars.csv"}
    for first, chunk in ((True, b"id,mag\n1,10.5\n"), (False, b"2,11.25\n3,12.0\n")):
        sent = httpx.post(f"{site.url}/storage/xfer", content=chunk, timeout=10,
                          headers={**headers, "X-DL-InitXfer": str(first)})
        assert sent.status_code == 200, sent.text
    done = httpx.post(f"{site.url}/query/import", timeout=60, headers=headers,
                      params={"table": "xfer_stars", "filename": "stars.csv"})
    assert done.status_code == 200, done.text
    rows = httpx.get(f"{site.url}/query/query", headers=headers, timeout=60,
                     params={"sql": "select count(*) as n from mydb://xfer_stars"}).text
    assert rows.split() == ["n", "3"]
    again = httpx.post(f"{site.url}/query/import", timeout=60, headers=headers,
                       params={"table": "xfer_again", "filename": "stars.csv"})
    assert again.status_code == 404  # an upload is imported once

    demo00.upload("vos://table.csv", b"a,b\n1,2\n")
    from_vos = httpx.post(f"{site.url}/query/import", timeout=60, headers=headers,
                          params={"table": "vos_table", "filename": "vos://table.csv"})
    assert from_vos.status_code == 200, from_vos.text
    for bad in ("../etc/passwd", "a/b", ".hidden"):
        refused = httpx.post(f"{site.url}/storage/xfer", content=b"x", timeout=10, headers={
            **headers, "X-DL-FileName": bad, "X-DL-InitXfer": "True"})
        assert refused.status_code == 400, bad


# -- large files ------------------------------------------------------------------------------

# What the server may add to its peak resident memory while moving a large file.
BOUND = 100 * 2**20


def _big_round_trip(site: Site, api: Api, size: int) -> None:
    block = os.urandom(1 << 20)

    def body() -> Iterator[bytes]:
        for _ in range(size >> 20):
            yield block

    api.upload("vos://warmup.bin", b"w" * 1000)
    api.download("vos://warmup.bin")
    before = _rss(site)
    upload = api("put", "name=vos://big.bin").text
    answer = httpx.put(upload, content=body(), timeout=600,
                       headers={"Content-Length": str(size)})
    assert answer.status_code in (200, 201), answer.text
    assert api("stat", "name=vos://big.bin").json()["size"] == size
    received = 0
    url = api("get", "name=vos://big.bin").text
    with httpx.stream("GET", url, timeout=600) as download:
        assert download.status_code == 200
        for chunk in download.iter_bytes(1 << 20):
            received += len(chunk)
    assert received == size
    grown = _rss(site) - before
    assert grown < BOUND, f"the server's peak memory grew by {grown / 2**20:.0f} MiB"
    assert api("rm", "file=vos://big.bin").status_code == 204


def _rss(site: Site) -> int:
    from tests.storage_api.conftest import peak_rss

    return peak_rss(site.server.process.pid)


def test_300_mb_up_and_down_in_bounded_memory(site: Site, demo00: Api) -> None:
    _big_round_trip(site, demo00, 300 << 20)


@pytest.mark.slow
def test_2_gb_up_and_down_in_bounded_memory(site: Site, demo01: Api) -> None:
    _big_round_trip(site, demo01, 2 << 30)

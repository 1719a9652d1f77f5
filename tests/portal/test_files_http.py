"""The Files page's routes over plain HTTP: hostile paths and file names, CSRF, one
user's files out of every other user's reach, downloads with ranges, cut uploads."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.client.conftest import PASSWORDS
from tests.portal.conftest import PortalSite, csrf_of

Sessions = Callable[..., httpx.Client]

BOUNDARY = "----portal-test-boundary-7MA4YWxk"


def error_of(answer: httpx.Response) -> dict[str, object]:
    """The JSON error envelope, checked for its fixed shape."""
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}
    return body["error"]  # type: ignore[no-any-return]


def raw_upload(filename: str, content: bytes, *, complete: bool = True) -> tuple[bytes, str]:
    """A multipart body with ``filename`` written into the header byte for byte (httpx
    would escape what a hostile client need not), optionally cut short."""
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode() if complete else b""
    return head + content + tail, f"multipart/form-data; boundary={BOUNDARY}"


def upload(client: httpx.Client, folder: str, filename: str, content: bytes, **params: str) -> httpx.Response:
    body, kind = raw_upload(filename, content)
    return client.post("/portal/api/files/upload", params={"folder": folder, **params}, content=body,
                       headers={"Content-Type": kind, "X-CSRF-Token": csrf_of(client)})


def new_folder(client: httpx.Client, name: str, parent: str = "") -> None:
    answer = client.post("/portal/api/files/folder", json={"path": parent, "name": name},
                         headers={"X-CSRF-Token": csrf_of(client)})
    assert answer.status_code == 201, answer.text


def remove(client: httpx.Client, path: str) -> None:
    client.post("/portal/api/files/delete", json={"path": path, "recursive": True},
                headers={"X-CSRF-Token": csrf_of(client)})


def fresh(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def user_dir(portal: PortalSite, user: str) -> Path:
    return portal.home / "storage" / user


def test_anonymous_visitors_are_sent_to_log_in(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions(None)
    for path in ("/portal/files", "/portal/files/download?path=a.txt"):
        answer = client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/portal/login?next=/portal/files")
    listed = client.get("/portal/api/files")
    assert listed.status_code == 401 and error_of(listed)["code"] == "login_required"
    made = client.post("/portal/api/files/folder", json={"path": "", "name": "x"},
                       headers={"X-CSRF-Token": csrf_of(client)})
    assert made.status_code == 401


def test_listing_shape_folders_first_and_usage(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions("demo00")
    top = fresh("shape")
    new_folder(client, top)
    new_folder(client, "zeta", top)
    assert upload(client, top, "alpha.txt", b"hello\n").status_code == 201
    listing = client.get("/portal/api/files", params={"path": f"vos://{top}"}).json()
    assert listing["path"] == top and listing["uri"] == f"vos://{top}" and listing["more"] is None
    assert listing["crumbs"] == [{"name": "vos://", "path": ""}, {"name": top, "path": top}]
    assert [n["name"] for n in listing["nodes"]] == ["zeta", "alpha.txt"]
    folder, data = listing["nodes"]
    assert set(data) == {"name", "path", "uri", "type", "size", "md5", "modified", "target"}
    assert data == {**data, "path": f"{top}/alpha.txt", "type": "data", "size": 6,
                    "md5": hashlib.md5(b"hello\n").hexdigest(), "target": None}
    assert data["modified"].endswith("+00:00")  # type: ignore[union-attr]
    assert folder["type"] == "container" and folder["size"] is None and folder["md5"] is None
    usage = client.get("/portal/api/files/usage").json()
    assert usage["used"] >= 6 and usage["limit"] == 10_000_000_000
    page = client.get("/portal/files", params={"path": top})
    assert page.status_code == 200 and "alpha.txt" in page.text
    remove(client, top)


def test_a_large_folder_comes_page_by_page(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions("demo00")
    top = fresh("many")
    new_folder(client, top)
    # Files put there behind the service's back are found like any others.
    folder = user_dir(portal, "demo00") / top
    for i in range(499):
        (folder / f"f{i:04d}.txt").write_text(str(i))
    (folder / "d_first").mkdir()
    (folder / "zz_last").mkdir()
    first = client.get("/portal/api/files", params={"path": top}).json()
    names = [n["name"] for n in first["nodes"]]
    assert len(names) == 500 and first["more"] == "f0498.txt"
    assert names[0] == "d_first" and "zz_last" not in names
    second = client.get("/portal/api/files", params={"path": top, "after": first["more"]}).json()
    assert [n["name"] for n in second["nodes"]] == ["zz_last"] and second["more"] is None
    remove(client, top)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("../", 400),
        ("..", 400),
        ("a/../../etc", 400),
        ("a\x00b", 400),
        ("a\\..\\b", 400),
        ("x" * 5000, 400),
        ("d/" * 2100, 400),
        (".datalab-upload-1234", 400),
        ("%2e%2e", 404),  # an ordinary (missing) name: URL decoding happened once, already
        ("/etc/passwd", 404),  # the user's own root, never the machine's
        ("<script>alert(1)</script>", 404),
    ],
)
def test_hostile_paths_get_clear_errors(
    portal: PortalSite, sessions: Sessions, path: str, status: int
) -> None:
    client = sessions("demo00")
    listed = client.get("/portal/api/files", params={"path": path})
    assert listed.status_code == status
    assert len(str(error_of(listed)["message"])) < 400
    for route in ("/portal/files", "/portal/files/download"):
        answer = client.get(route, params={"path": path})
        assert answer.status_code == status
        assert answer.headers["content-type"].startswith("text/html")
        assert "<script>alert(1)" not in answer.text
        assert "Traceback" not in answer.text
    headers = {"X-CSRF-Token": csrf_of(client)}
    assert client.post("/portal/api/files/delete", json={"path": path, "recursive": True},
                       headers=headers).status_code == status
    assert client.post("/portal/api/files/folder", json={"path": path, "name": "x"},
                       headers=headers).status_code == status
    assert not (portal.home / "storage" / "etc").exists()


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("../evil.txt", "a name cannot contain '/'"),
        ("/etc/evil.txt", "a name cannot contain '/'"),
        ("..", "'..' segment"),
        (".", "'.' segment"),
        ("a\\evil.txt", "backslash"),
        ("nul\x00evil.txt", "control character"),
        ("bell\x07evil.txt", "control character"),
        (".datalab-upload-evil", "reserved for the service"),
        ("e" * 300, "longer than 255 bytes"),
        ("", "give a name"),
        ("   ", "give a name"),
    ],
)
def test_hostile_upload_names_are_refused(
    portal: PortalSite, sessions: Sessions, filename: str, message: str
) -> None:
    client = sessions("demo00")
    top = fresh("names")
    new_folder(client, top)
    answer = upload(client, top, filename, b"evil content")
    assert answer.status_code == 400, answer.text
    assert message in str(error_of(answer)["message"])
    mine = user_dir(portal, "demo00")
    assert list((mine / top).iterdir()) == []
    assert not list(portal.home.parent.rglob("evil.txt"))
    remove(client, top)


def test_odd_but_legal_names_are_kept_as_given(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions("demo00")
    top = fresh("odd")
    new_folder(client, top)
    for name in ("%2e%2e", "<b>bold<b>.txt", "résumé ü.txt", "vos:x"):
        answer = upload(client, top, name, name.encode())
        assert answer.status_code == 201, answer.text
        assert answer.json()["name"] == name
        assert (user_dir(portal, "demo00") / top / name).read_bytes() == name.encode()
    remove(client, top)


def test_another_user_can_neither_see_nor_touch_files(portal: PortalSite, sessions: Sessions) -> None:
    owner, intruder = sessions("demo00"), sessions("demo01")
    top = fresh("iso")
    new_folder(owner, top)
    secret = b"demo00's private data\n"
    assert upload(owner, top, "secret.txt", secret).status_code == 201
    headers = {"X-CSRF-Token": csrf_of(intruder)}
    answers = [
        intruder.get("/portal/api/files", params={"path": top}),
        intruder.get("/portal/api/files/check", params={"path": f"{top}/secret.txt", "size": 1}),
        intruder.post("/portal/api/files/delete", json={"path": top, "recursive": True}, headers=headers),
        intruder.post("/portal/api/files/delete", json={"path": f"{top}/secret.txt"}, headers=headers),
        intruder.post("/portal/api/files/move", json={"path": f"{top}/secret.txt", "to": "mine.txt"},
                      headers=headers),
        upload(intruder, top, "planted.txt", b"x"),
    ]
    assert [a.status_code for a in answers] == [404] * len(answers), [a.text for a in answers]
    for route in ("/portal/files", "/portal/files/download"):
        denied = intruder.get(route, params={"path": f"{top}/secret.txt"})
        assert denied.status_code == 404 and secret not in denied.content
    # A link of demo01's own naming demo00's path leads back into demo01's space.
    token = httpx.get(f"{portal.url}/auth/login", params={"username": "demo01"},
                      headers={"X-DL-Password": PASSWORDS["demo01"]}, timeout=30).text.strip()
    made = httpx.get(f"{portal.url}/storage/ln", params={"from": "vos://trick", "to": f"vos://{top}/secret.txt"},
                     headers={"X-DL-AuthToken": token}, timeout=30)
    assert made.status_code == 201, made.text
    followed = intruder.get("/portal/files/download", params={"path": "trick"})
    assert followed.status_code == 404 and secret not in followed.content
    remove(intruder, "trick")
    assert top not in [n["name"] for n in intruder.get("/portal/api/files").json()["nodes"]]
    got = owner.get("/portal/files/download", params={"path": f"{top}/secret.txt"})
    assert got.status_code == 200 and got.content == secret
    assert not (user_dir(portal, "demo01") / top).exists()
    remove(owner, top)


def test_changes_need_the_csrf_token(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions("demo00")
    top = fresh("csrf")
    new_folder(client, top)
    assert upload(client, top, "keep.txt", b"keep").status_code == 201
    body, kind = raw_upload("new.txt", b"new")
    for headers in ({}, {"X-CSRF-Token": "not-the-token-of-this-browser-at-all"},
                    {"X-CSRF-Token": csrf_of(client), "Origin": "https://evil.example"}):
        answers = [
            client.post("/portal/api/files/folder", json={"path": top, "name": "made"}, headers=headers),
            client.post("/portal/api/files/delete", json={"path": top, "recursive": True}, headers=headers),
            client.post("/portal/api/files/move", json={"path": f"{top}/keep.txt", "to": "moved.txt"},
                        headers=headers),
            client.post("/portal/api/files/upload", params={"folder": top}, content=body,
                        headers={**headers, "Content-Type": kind}),
        ]
        assert [a.status_code for a in answers] == [403] * 4
        for answer in answers:
            error_of(answer)
    listing = client.get("/portal/api/files", params={"path": top}).json()
    assert [n["name"] for n in listing["nodes"]] == ["keep.txt"]
    remove(client, top)


def test_download_headers_and_ranges(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions("demo00")
    top = fresh("dl")
    new_folder(client, top)
    data = bytes(range(256)) * 64
    assert upload(client, top, "range.bin", data).status_code == 201
    assert upload(client, top, "résumé ü.txt", b"accents").status_code == 201
    whole = client.get("/portal/files/download", params={"path": f"vos://{top}/range.bin"})
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-disposition"] == 'attachment; filename="range.bin"'
    assert whole.headers["content-type"] == "application/octet-stream"
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get("/portal/files/download", params={"path": f"{top}/range.bin"},
                      headers={"Range": "bytes=1000-1099"})
    assert part.status_code == 206 and part.content == data[1000:1100]
    assert part.headers["content-range"] == f"bytes 1000-1099/{len(data)}"
    head = client.head("/portal/files/download", params={"path": f"{top}/range.bin"})
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    accents = client.get("/portal/files/download", params={"path": f"{top}/résumé ü.txt"})
    assert accents.content == b"accents"
    assert accents.headers["content-disposition"] == (
        "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20%C3%BC.txt")
    folder = client.get("/portal/files/download", params={"path": top})
    assert folder.status_code == 400 and "is a container" in folder.text
    root = client.get("/portal/files/download", params={"path": ""})
    assert root.status_code == 400
    remove(client, top)


def test_cut_and_malformed_uploads_leave_nothing(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions("demo00")
    top = fresh("cut")
    new_folder(client, top)
    headers = {"X-CSRF-Token": csrf_of(client)}
    body, kind = raw_upload("cut.bin", b"z" * 300_000, complete=False)
    cut = client.post("/portal/api/files/upload", params={"folder": top}, content=body,
                      headers={**headers, "Content-Type": kind})
    assert cut.status_code == 400
    assert "ended before the file was complete" in str(error_of(cut)["message"])
    garbage = client.post("/portal/api/files/upload", params={"folder": top}, content=b"garbage",
                          headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert garbage.status_code == 400 and "could not be read" in str(error_of(garbage)["message"])
    plain = client.post("/portal/api/files/upload", params={"folder": top}, content=b"raw bytes",
                        headers={**headers, "Content-Type": "application/octet-stream"})
    assert plain.status_code == 400 and "multipart/form-data" in str(error_of(plain)["message"])
    no_file = client.post("/portal/api/files/upload", params={"folder": top}, headers=headers,
                          files={"note": (None, b"only a field")})
    assert no_file.status_code == 400 and "holds no file" in str(error_of(no_file)["message"])
    missing = upload(client, f"{top}/nowhere", "a.txt", b"a")
    assert missing.status_code == 404 and f"no container vos://{top}/nowhere" in missing.text
    folder = user_dir(portal, "demo00") / top
    assert [p.name for p in folder.iterdir()] == []  # no temporary files left either
    remove(client, top)


def test_overwrite_check_and_the_form_field_token(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions("demo00")
    top = fresh("over")
    new_folder(client, top)
    assert upload(client, top, "f.txt", b"first").status_code == 201
    check = client.get("/portal/api/files/check", params={"path": f"{top}/f.txt", "size": 5})
    assert check.status_code == 409 and "already exists" in str(error_of(check)["message"])
    ok = client.get("/portal/api/files/check", params={"path": f"{top}/f.txt", "size": 5, "overwrite": "true"})
    assert ok.json() == {"path": f"{top}/f.txt", "uri": f"vos://{top}/f.txt"}
    again = upload(client, top, "f.txt", b"second")
    assert again.status_code == 409
    replaced = upload(client, top, "f.txt", b"second", overwrite="true")
    assert replaced.status_code == 201 and replaced.json()["md5"] == hashlib.md5(b"second").hexdigest()
    by_form = client.post("/portal/api/files/upload", params={"folder": top},
                          data={"csrf_token": csrf_of(client)}, files={"file": ("form.txt", b"by form")})
    assert by_form.status_code == 201, by_form.text
    assert client.get("/portal/files/download", params={"path": f"{top}/form.txt"}).content == b"by form"
    remove(client, top)


def test_rename_move_and_delete_rules(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions("demo00")
    headers = {"X-CSRF-Token": csrf_of(client)}
    top = fresh("mv")
    new_folder(client, top)
    new_folder(client, "sub", top)
    assert upload(client, top, "a.txt", b"a").status_code == 201

    def move(path: str, to: str) -> httpx.Response:
        return client.post("/portal/api/files/move", json={"path": path, "to": to}, headers=headers)

    renamed = move(f"{top}/a.txt", "b.txt")
    assert renamed.status_code == 200 and renamed.json()["path"] == f"{top}/b.txt"
    into = move(f"{top}/b.txt", f"vos://{top}/sub")
    assert into.json()["path"] == f"{top}/sub/b.txt"
    for to, status in (("../b.txt", 400), ("..", 400), ("vos://../x", 400), ("", 400), ("x\x00", 400)):
        assert move(f"{top}/sub/b.txt", to).status_code == status, to
    assert move(f"{top}/sub", f"vos://{top}/sub/inner").status_code == 400
    assert move("", "x").status_code == 400
    not_empty = client.post("/portal/api/files/delete", json={"path": top}, headers=headers)
    assert not_empty.status_code == 409 and "not empty" in str(error_of(not_empty)["message"])
    root = client.post("/portal/api/files/delete", json={"path": "vos://", "recursive": True}, headers=headers)
    assert root.status_code == 400
    gone = client.post("/portal/api/files/delete", json={"path": top, "recursive": True}, headers=headers)
    assert gone.json() == {"deleted": f"vos://{top}"}
    assert not (user_dir(portal, "demo00") / top).exists()
    huge = client.post("/portal/api/files/move", json={"path": "a" * 20_000, "to": "b"}, headers=headers)
    assert huge.status_code == 400

"""The storage quota as the Files page meets it, on an application of its own with a
1 MB quota (in-process: the real app, services and data directory, without the cost of
starting a second server and its user accounts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from datalab.config import Settings
from datalab.web import create_app
from tests.client.conftest import PASSWORDS
from tests.portal.test_files_http import raw_upload

QUOTA = 1_000_000


@pytest.fixture
def small(tmp_path: Path) -> Iterator[TestClient]:
    """A logged-in demo00 on a fresh data directory with a 1 MB storage quota."""
    app = create_app(Settings(home=tmp_path / "home", demo=False, storage_quota=QUOTA))
    with TestClient(app, follow_redirects=False) as client:
        app.state.services.accounts.add_user("demo00", PASSWORDS["demo00"])
        client.get("/portal/login")
        answer = client.post("/portal/login", data={
            "username": "demo00", "password": PASSWORDS["demo00"],
            "csrf_token": client.cookies["datalab_csrf"], "next": "/"})
        assert answer.status_code == 303
        yield client


def send(client: TestClient, name: str, content: bytes, overwrite: bool = False):  # type: ignore[no-untyped-def]
    body, kind = raw_upload(name, content)
    return client.post("/portal/api/files/upload", content=body,
                       params={"folder": "", "overwrite": str(overwrite).lower()},
                       headers={"Content-Type": kind, "X-CSRF-Token": client.cookies["datalab_csrf"]})


def test_quota_is_reported_before_and_during_an_upload(small: TestClient, tmp_path: Path) -> None:
    first = send(small, "first.bin", b"a" * 600_000)
    assert first.status_code == 201, first.text
    assert small.get("/portal/api/files/usage").json() == {"used": 600_000, "limit": QUOTA}

    check = small.get("/portal/api/files/check", params={"path": "second.bin", "size": 500_000})
    assert check.status_code == 400
    assert check.json()["error"]["message"] == (
        f"quota of {QUOTA} bytes exceeded: remove files to make room")
    assert small.get("/portal/api/files/check", params={"path": "second.bin", "size": 400_000}).status_code == 200

    # A client that skips the check is stopped while sending; nothing is kept of it.
    refused = send(small, "second.bin", b"b" * 500_000)
    assert refused.status_code == 400
    assert "quota of 1000000 bytes exceeded" in refused.json()["error"]["message"]
    folder = tmp_path / "home" / "storage" / "demo00"
    assert sorted(p.name for p in folder.iterdir()) == ["first.bin"]

    # Replacing a file counts only the difference; the old content stays on refusal.
    assert send(small, "first.bin", b"c" * 999_999, overwrite=True).status_code == 201
    too_much = send(small, "first.bin", b"d" * (QUOTA + 1), overwrite=True)
    assert too_much.status_code == 400
    assert (folder / "first.bin").read_bytes() == b"c" * 999_999
    page = small.get("/portal/files")
    assert page.status_code == 200 and '"limit": 1000000' in page.text

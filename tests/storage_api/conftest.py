"""A running Data Lab for the storage tests: the client tests' module-scoped ``site``
(users demo00 and demo01), and helpers to call ``/storage`` as the official client does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.client.conftest import PASSWORDS, Site, client_env, datalab, site

__all__ = ["PASSWORDS", "Api", "Site", "client_env", "datalab", "peak_rss", "site"]


def peak_rss(pid: int) -> int:
    """The process's high-water resident set size (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def login(url: str, user: str) -> str:
    answer = httpx.get(f"{url}/auth/login", params={"username": user},
                       headers={"X-DL-Password": PASSWORDS[user]}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.text


@dataclass
class Api:
    """``GET /storage/<verb>?…`` with a user's token, the query string sent raw as the
    official client writes it."""

    url: str
    token: str

    def __call__(self, verb: str, query: str = "", **headers: str) -> httpx.Response:
        sent = {"X-DL-AuthToken": self.token, **headers}
        target = f"{self.url}/storage/{verb}" + (f"?{query}" if query else "")
        return httpx.get(target, headers=sent, timeout=60)

    def upload(self, name: str, content: bytes) -> None:
        answer = self("put", f"name={name}")
        assert answer.status_code == 200, answer.text
        done = httpx.put(answer.text, content=content, timeout=60,
                         headers={"Content-Type": "application/octet-stream"})
        assert done.status_code in (200, 201), done.text

    def download(self, name: str) -> bytes:
        answer = self("get", f"name={name}")
        assert answer.status_code == 200, answer.text
        body = httpx.get(answer.text, timeout=60)  # no headers at all, as the official client
        assert body.status_code == 200, body.text
        return body.content


@pytest.fixture(scope="module")
def demo00(site: Site) -> Api:
    return Api(site.url, login(site.url, "demo00"))


@pytest.fixture(scope="module")
def demo01(site: Site) -> Api:
    return Api(site.url, login(site.url, "demo01"))

"""A real Data Lab for the portal's tests: a server on a copy of the demo catalog with
the demo images, users demo00 and demo01, and headless Chromium driven by Playwright.

Screenshots of every browser test are kept under ``test-artifacts/portal/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.client.conftest import PASSWORDS, datalab
from tests.conftest import RunningServer, copy_demo_with_images, start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"
# Chromium's own background traffic (updates, sync, lookups) has no place in a test, and
# on a machine without outside network it only slows every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class PortalSite:
    url: str
    home: Path
    server: RunningServer


@pytest.fixture(scope="session")
def portal_home(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo_home's catalog copied, with the demo images drawn and indexed."""
    home = tmp_path_factory.mktemp("portal-home")
    copy_demo_with_images(demo_home, home, hips=True)
    return home


@pytest.fixture(scope="session")
def portal(portal_home: Path) -> Iterator[PortalSite]:
    server = start_server(portal_home, env={"DATALAB_DEMO": "false"})
    try:
        for name, password in PASSWORDS.items():
            secret = portal_home.parent / f"{portal_home.name}-{name}.pw"
            secret.write_text(password + "\n")
            datalab("user", "add", name, "--password-file", str(secret), "--data-dir",
                    str(portal_home))
        yield PortalSite(url=server.url, home=portal_home, server=server)
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/test installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, portal: PortalSite, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context on the portal; any request that leaves this machine fails
    the test (a site may be air-gapped), and a screenshot is kept at the end."""
    context = browser.new_context(base_url=portal.url, viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def only_local(route, req) -> None:  # type: ignore[no-untyped-def]
        if re.match(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/", req.url) or req.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(req.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        finally:
            context.close()
    assert not outside, f"the page tried to reach other hosts: {outside}"
    assert not errors, f"script errors on the page: {errors}"


def login(page: Page, user: str = "demo00") -> None:
    """Log in through the portal's form, as a person would."""
    page.goto("/portal/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    assert page.locator("#account-link").inner_text() == user


@pytest.fixture
def sessions(portal: PortalSite) -> Iterator[Callable[..., httpx.Client]]:
    """Factory of httpx clients holding a portal session (``user`` None: anonymous, with
    only the CSRF cookie); all closed at the end of the test."""
    made: list[httpx.Client] = []

    def make(user: str | None = "demo00", **cookies: str) -> httpx.Client:
        client = http_session(portal, user, cookies=cookies)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def http_session(
    portal: PortalSite, user: str | None = "demo00", cookies: dict[str, str] | None = None
) -> httpx.Client:
    """An httpx client holding a portal session (and its CSRF token) for ``user``;
    the caller closes it."""
    client = httpx.Client(base_url=portal.url, follow_redirects=False, timeout=60, cookies=cookies)
    if cookies:
        return client
    client.get("/portal/login")
    if user is not None:
        answer = client.post(
            "/portal/login",
            data={"username": user, "password": PASSWORDS[user], "csrf_token": csrf_of(client), "next": "/"},
        )
        assert answer.status_code == 303, answer.text
    return client


def csrf_of(client: httpx.Client) -> str:
    return client.cookies.get("datalab_csrf") or ""

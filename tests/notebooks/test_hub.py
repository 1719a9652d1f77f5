"""JupyterHub on Data Lab accounts, end to end: logging in with a password or a token,
a sandboxed server per user that queries the catalog with no login, on the user's own
vos:// files and nobody else's; and JupyterLab in a real browser.

One server (and hub) for the module; demo00 is driven over the APIs, demo01 in Chromium.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.notebooks.conftest import (
    PASSWORDS,
    HubSite,
    Kernel,
    api_token,
    datalab,
    hub_client,
    hub_login,
    needs_bwrap,
    needs_proxy,
    notebook,
    start_notebook_server,
)

pytestmark = needs_proxy

HIP2_ROWS = "117955"
QUERY = (
    "from datalab.client import queryClient\n"
    'print(queryClient.query(sql="select count(*) from hipparcos.hip2", fmt="csv"))'
)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "notebooks"


def datalab_token(site: HubSite, user: str) -> str:
    answer = httpx.get(
        f"{site.url}/auth/login", params={"username": user},
        headers={"X-DL-Password": PASSWORDS[user]}, timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def as_user(site: HubSite, user: str, *args: str) -> str:
    """`datalab ARGS` as ``user`` (token from the environment), its standard output."""
    env = {"DATALAB_URL": site.url, "DATALAB_TOKEN": datalab_token(site, user)}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        return datalab(*args).stdout
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_password_login(hub_site: HubSite) -> None:
    with hub_client(hub_site.hub) as client:
        answer = hub_login(client, "demo00", PASSWORDS["demo00"])
        assert answer.status_code == 302
        assert client.get("hub/api/user", headers={
            "X-XSRFToken": client.cookies.get("_xsrf") or ""
        }).json()["name"] == "demo00"


def test_token_as_the_password(hub_site: HubSite) -> None:
    token = datalab_token(hub_site, "demo01")
    with hub_client(hub_site.hub) as client:
        assert hub_login(client, "demo01", token).status_code == 302
        assert client.get("hub/api/user").json()["name"] == "demo01"
    # Someone else's token does not log in as demo00.
    with hub_client(hub_site.hub) as client:
        assert hub_login(client, "demo00", token).status_code == 403


def test_wrong_password_is_refused(hub_site: HubSite) -> None:
    with hub_client(hub_site.hub) as client:
        answer = hub_login(client, "demo00", "not-the-password-123")
        assert answer.status_code == 403
        assert "Invalid username or password" in answer.text
        assert client.get("hub/api/user").status_code == 403
    with hub_client(hub_site.hub) as client:
        assert hub_login(client, "nobody", "whatever-it-is-42").status_code == 403


@pytest.fixture(scope="module")
def demo00_kernel(hub_site: HubSite) -> Iterator[Kernel]:
    """demo00 logged in with a password, their server started through the hub's REST
    API, a kernel in it. A file of demo01's and one of demo00's are stored first."""
    secret = hub_site.home.parent / "demo01-secret.txt"
    secret.write_text("demo01's secret\n")
    as_user(hub_site, "demo01", "put", "--fr", str(secret), "--to", "vos://secret.txt")
    mine = hub_site.home.parent / "demo00-mine.txt"
    mine.write_text("demo00's own\n")
    as_user(hub_site, "demo00", "put", "--fr", str(mine), "--to", "vos://mine.txt")
    with hub_client(hub_site.hub) as client:
        assert hub_login(client, "demo00", PASSWORDS["demo00"]).status_code == 302
        token = api_token(client, "demo00")
    server = start_notebook_server(hub_site.hub, "demo00", token)
    with Kernel(server, token) as kernel:
        yield kernel


@needs_bwrap
def test_a_notebook_queries_the_catalog_with_no_login(demo00_kernel: Kernel) -> None:
    out = demo00_kernel.run(QUERY)
    assert out.split() == ["count", HIP2_ROWS]
    who = demo00_kernel.run(
        "import os\nfrom datalab.client import authClient\n"
        "print(authClient.whoAmI(), os.path.exists(os.path.expanduser('~/.datalab/dl.conf')))"
    )
    assert who.split() == ["demo00", "False"]


@needs_bwrap
def test_other_users_files_and_the_state_are_out_of_reach(
    hub_site: HubSite, demo00_kernel: Kernel
) -> None:
    home = hub_site.home
    targets = [
        home / "storage" / "demo01" / "secret.txt",
        home / "state.sqlite",
        home / "mydb.duckdb",
        home / "notebooks" / "crypt_key",
        home / "notebooks" / "jupyterhub.sqlite",
    ]
    assert all(path.exists() for path in targets[:2])
    code = (
        "import json\nfound = {}\n"
        f"for path in {json.dumps([str(p) for p in targets])}:\n"
        "    try:\n"
        "        with open(path, 'rb') as fh:\n"
        "            found[path] = fh.read(20).decode('latin-1')\n"
        "    except OSError as exc:\n"
        "        found[path] = type(exc).__name__\n"
        "print(json.dumps(found))"
    )
    found = json.loads(demo00_kernel.run(code))
    assert set(found.values()) == {"FileNotFoundError"}, found
    listing = demo00_kernel.run(
        "import os\n"
        f"print(os.path.exists({str(home)!r}), sorted(os.listdir('/home')), "
        "os.path.exists('/vos/../storage'))"
    )
    assert listing.split() == ["False", "['demo00']", "False"]


@needs_bwrap
def test_own_files_both_ways(hub_site: HubSite, demo00_kernel: Kernel) -> None:
    out = demo00_kernel.run(
        "import os\nprint(open('mine.txt').read().strip(), os.getcwd())\n"
        "with open('/vos/from-the-notebook.txt', 'w') as fh:\n"
        "    fh.write('written in JupyterLab\\n')"
    )
    assert out.split() == ["demo00's", "own", "/vos"]
    listing = as_user(hub_site, "demo00", "ls", "--name", "vos://")
    assert "from-the-notebook.txt" in listing.strip().split(",")
    assert "secret.txt" not in listing
    # Storage finds size and checksum of the file written on disk behind its back.
    stat = demo00_kernel.run(
        "from datalab.client import storeClient\n"
        "s = storeClient.stat(name='vos://from-the-notebook.txt')\nprint(s['size'], s['md5'])"
    )
    expected = hashlib.md5(b"written in JupyterLab\n").hexdigest()
    assert stat.split() == [str(len("written in JupyterLab\n")), expected]


@needs_bwrap
def test_deleting_in_jupyterlab_deletes(hub_site: HubSite, demo00_kernel: Kernel) -> None:
    """No trash folder: a file deleted in JupyterLab is gone, as with `datalab rm`."""
    demo00_kernel.run("open('/vos/doomed.txt', 'w').write('x' * 1000)")
    answer = httpx.delete(f"{demo00_kernel.server_url}/api/contents/doomed.txt",
                          headers=demo00_kernel.headers, timeout=60)
    assert answer.status_code == 204, answer.text
    assert "doomed.txt" not in as_user(hub_site, "demo00", "ls", "--name", "vos://")
    home = hub_site.home / "notebooks" / "home" / "demo00"
    assert [*home.rglob("*Trash*"), *(hub_site.home / "storage").rglob("*Trash*")] == []


@needs_bwrap
def test_curated_notebooks_are_delivered(hub_site: HubSite, demo00_kernel: Kernel) -> None:
    listing = as_user(hub_site, "demo00", "ls", "--name", "vos://notebooks")
    assert listing.strip() == "welcome.ipynb"
    assert "welcome.ipynb" in demo00_kernel.run("import os; print(os.listdir('/vos/notebooks'))")


def wait_for_kernel(page: Page, server: str, path: str, timeout: float = 180) -> None:
    """Wait until JupyterLab has a running, idle kernel for the notebook ``path``
    (asked of the server with the page's own cookies): a cell run before that only
    moves the cursor on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sessions = page.request.get(f"{server}api/sessions").json()
        for session in sessions:
            if session["path"] == path and (session.get("kernel") or {}).get(
                "execution_state"
            ) == "idle":
                return
        time.sleep(0.5)
    raise AssertionError(f"no idle kernel for {path}: {sessions}")


@needs_bwrap
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed "
                    "(scripts/test installs it)")
def test_jupyterlab_in_a_browser(hub_site: HubSite) -> None:
    """demo01 logs into the portal, follows its link to the notebooks, logs in there,
    lands in JupyterLab, opens a notebook and runs its cell, which queries the catalog."""
    storage = hub_site.home / "storage" / "demo01"
    storage.mkdir(parents=True, exist_ok=True)
    (storage / "query.ipynb").write_text(json.dumps(notebook(QUERY)))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(180_000)
            # From the portal: log in there, follow its Notebooks link to the hub.
            page.goto(f"{hub_site.url}/portal/login")
            page.get_by_label("User name").fill("demo01")
            page.get_by_label("Password").fill(PASSWORDS["demo01"])
            page.get_by_role("button", name="Log in").click()
            expect(page.locator("#account-link")).to_have_text("demo01")
            page.get_by_role("link", name="Notebooks").click()
            page.fill("input[name=username]", "demo01")
            page.fill("input[name=password]", PASSWORDS["demo01"])
            page.click("[type=submit]")
            page.wait_for_url("**/user/demo01/lab**", timeout=240_000)
            page.goto(f"{hub_site.hub}user/demo01/lab/tree/query.ipynb")
            # Should JupyterLab still ask which kernel to start, take the one offered.
            page.add_locator_handler(
                page.get_by_role("dialog"),
                lambda dialog: dialog.locator(".jp-mod-accept").click(),
            )
            try:
                cell = page.locator(".jp-Notebook .jp-CodeCell").first
                expect(cell).to_contain_text("queryClient", timeout=120_000)
                wait_for_kernel(page, f"{hub_site.hub}user/demo01/", "query.ipynb")
                expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status=idle]")
                       ).to_be_visible(timeout=120_000)
                cell.locator(".cm-content").click()
                page.keyboard.press("Shift+Enter")
                output = cell.locator(".jp-OutputArea-output")
                expect(output).to_contain_text(HIP2_ROWS, timeout=120_000)
            finally:
                page.screenshot(path=str(ARTIFACTS / "jupyterlab-query.png"))
        finally:
            browser.close()
    # JupyterLab's checkpoints stay out of the user's files.
    assert ".ipynb_checkpoints" not in os.listdir(storage)


def test_the_portal_links_to_the_notebooks(hub_site: HubSite) -> None:
    page = httpx.get(hub_site.url + "/", timeout=30).text
    assert f'<a href="{hub_site.hub}">Notebooks</a>' in page

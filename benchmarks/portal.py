"""Portal pages in a real browser: how soon each page shows something, on the demo.

Builds (once) a data directory with the demo data as a first ``datalab serve`` does (the
real catalogs, the synthetic survey at ``--mock-rows`` field rows, the simulated images
and their HiPS), starts ``datalab serve`` on it, adds a user, and loads every portal page in
headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright), each
``--loads`` times in a fresh browser context (no cache, a new login cookie copied in),
after one warm-up load. For each page it reports the median and p95 of the browser's own
first-contentful-paint and load-event times, and the layout shift accumulated in the
first second.

    .venv/bin/python benchmarks/portal.py [--mock-rows N] [--loads N] [--home DIR]

Needs the test extra (Playwright): ``./scripts/test`` or ``pip install -e '.[test]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.support import free_port, summary
from benchmarks.tap import server

RESULTS = Path(__file__).parent / "results"
DEFAULT_HOME = Path("/tmp/datalab-bench-portal")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
USER, PASSWORD = "bench", "portal-benchmark-password"
PAGES = [
    ("/", False),
    ("/portal/tables", False),
    ("/portal/tables/gaia_dr3.gaia_source", False),
    ("/portal/sky", False),
    ("/portal/login", False),
    ("/portal/query", True),
    ("/portal/mydb", True),
    ("/portal/files", True),
    ("/portal/account", True),
]

TIMINGS = """() => new Promise((resolve) => {
  let shift = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (!e.hadRecentInput) shift += e.value;
  }).observe({type: 'layout-shift', buffered: true});
  setTimeout(() => {
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    const nav = performance.getEntriesByType('navigation')[0];
    resolve({fcp: paint ? paint.startTime : null, load: nav ? nav.loadEventEnd : null, shift});
  }, 1000);
})"""


def ensure_home(home: Path, mock_rows: int) -> None:
    """The demo as a first ``datalab serve`` makes it (catalogs, survey, images, HiPS),
    with the benchmark's user."""
    if (home / "catalog.duckdb").exists():
        return
    print(f"building {home} (first start, {mock_rows:,} mock rows)...", file=sys.stderr)
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATALAB_DEMO_MOCK_ROWS": str(mock_rows), "DATALAB_NOTEBOOKS": "false"}
    port = free_port()
    with (home.parent / "portal-bench-first-start.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "datalab", "serve", "--data-dir", str(home), "--port",
             str(port), "--demo"],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        try:
            while proc.poll() is None:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            else:
                raise RuntimeError(f"the first start failed; see {log.name}")
        finally:
            proc.terminate()
            proc.wait(30)
    secret = home.parent / f"{home.name}-{USER}.pw"
    secret.write_text(PASSWORD + "\n")
    subprocess.run(
        [sys.executable, "-m", "datalab", "user", "add", USER, "--password-file", str(secret),
         "--data-dir", str(home)],
        check=True,
    )  # fmt: skip


def session_cookie(base: str) -> dict[str, str]:
    """The portal's session and CSRF cookies after logging in over HTTP."""
    with httpx.Client(base_url=base, timeout=30) as client:
        client.get("/portal/login")
        csrf = client.cookies.get("datalab_csrf") or ""
        answer = client.post("/portal/login", data={
            "username": USER, "password": PASSWORD, "csrf_token": csrf, "next": "/"})
        if answer.status_code != 303:
            raise RuntimeError(f"login failed: {answer.status_code} {answer.text[:200]}")
        return {name: value for name, value in client.cookies.items()}


def measure(base: str, loads: int) -> list[dict[str, object]]:
    from playwright.sync_api import sync_playwright

    cookies = session_cookie(base)
    rows: list[dict[str, object]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for path, private in PAGES:
                fcp: list[float] = []
                load: list[float] = []
                shift = 0.0
                for i in range(loads + 1):
                    context = browser.new_context(base_url=base)
                    if private:
                        context.add_cookies([
                            {"name": k, "value": v, "url": base} for k, v in cookies.items()])
                    page = context.new_page()
                    answer = page.goto(path)
                    if answer is None or answer.status != 200 or (private and "/login" in page.url):
                        raise RuntimeError(f"{path}: the page did not load as itself "
                                           f"({answer.status if answer else 'no answer'})")
                    got = page.evaluate(TIMINGS)
                    context.close()
                    if i == 0:
                        continue  # warm-up: the server's first answer of this page
                    if got["fcp"] is not None:
                        fcp.append(got["fcp"] / 1e3)
                    if got["load"] is not None:
                        load.append(got["load"] / 1e3)
                    shift = max(shift, float(got["shift"]))
                fcp_median, fcp_p95 = summary(fcp)
                load_median, load_p95 = summary(load)
                rows.append({"page": path, "fcp_median_ms": fcp_median, "fcp_p95_ms": fcp_p95,
                             "load_median_ms": load_median, "load_p95_ms": load_p95,
                             "max_layout_shift": shift})
                print(f"{path}: first paint {fcp_median:.0f} ms (p95 {fcp_p95:.0f})", file=sys.stderr)
        finally:
            browser.close()
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    lines = ["| page | first paint median ms | p95 ms | load median ms | p95 ms | layout shift |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| `{r['page']}` | {r['fcp_median_ms']:.0f} | {r['fcp_p95_ms']:.0f} | "
                     f"{r['load_median_ms']:.0f} | {r['load_p95_ms']:.0f} | "
                     f"{r['max_layout_shift']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mock-rows", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    args = parser.parse_args()
    ensure_home(args.home, args.mock_rows)
    with server(args.home, args.home.parent / "portal-bench-server.log") as (base, _proc):
        started = time.time()
        rows = measure(base, args.loads)
    table = markdown(rows)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "portal.json"
    out.write_text(json.dumps({"machine": platform.platform(), "started": started,
                               "mock_rows": args.mock_rows, "loads": args.loads,
                               "pages": rows}, indent=2))
    print(f"written {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""The curated science notebooks (``notebooks/*.ipynb``) run top to bottom, unchanged,
against a real Data Lab, as they run in a user's JupyterLab.

One server for the module, on a copy of the test demo catalog (300,000 field rows of
ls_mock) with the demo images. Each notebook runs in its own Jupyter kernel with
``DATALAB_URL`` and ``DATALAB_TOKEN`` set, as the hub sets them; its last cell asserts
the science result and prints "All checks passed.". A failing cell fails the test with
the cell's traceback.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.client.conftest import datalab
from tests.conftest import RunningServer, copy_demo_with_images, start_server, stop_server

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SCIENCE_NOTEBOOKS = [
    "01-getting-started.ipynb",
    "02-colour-colour.ipynb",
    "03-star-galaxy-qso.ipynb",
    "04-dwarf-galaxies.ipynb",
    "05-rr-lyrae.ipynb",
    "06-gaia-hipparcos.ipynb",
]
DONE = "All checks passed."
USER, PASSWORD = "scientist", "Messier-45-Pleiades"


@dataclass(frozen=True)
class ScienceSite:
    url: str
    token: str
    server: RunningServer


@pytest.fixture(scope="module")
def science_site(
    demo_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScienceSite]:
    """`datalab serve` on a copy of the demo catalog with the demo images, one user, and
    that user's token from /auth/login."""
    home = tmp_path_factory.mktemp("science-home")
    copy_demo_with_images(demo_home, home)
    server = start_server(home, env={"DATALAB_DEMO": "false"})
    try:
        secret = home.parent / f"{home.name}-{USER}.pw"
        secret.write_text(PASSWORD + "\n")
        datalab("user", "add", USER, "--password-file", str(secret), "--data-dir", str(home))
        answer = httpx.get(f"{server.url}/auth/login", params={"username": USER},
                           headers={"X-DL-Password": PASSWORD}, timeout=30)
        assert answer.status_code == 200, answer.text
        yield ScienceSite(url=server.url, token=answer.text.strip(), server=server)
    finally:
        stop_server(server)


@pytest.fixture
def kernel_env(
    science_site: ScienceSite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """What a notebook's kernel inherits: the server and token (as the hub sets them), a
    private client configuration, and a ``python3`` kernelspec that is this Python (so
    a user-level kernelspec elsewhere cannot take its place). Returns the working folder."""
    kernels = tmp_path / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("DATALAB_URL", science_site.url)
    monkeypatch.setenv("DATALAB_TOKEN", science_site.token)
    monkeypatch.setenv("DATALAB_CONFIG_DIR", str(tmp_path / "dlconf"))
    work = tmp_path / "work"
    work.mkdir()
    return work


def run_notebook(name: str, work: Path) -> tuple[nbformat.NotebookNode, float]:
    """Execute the notebook in a fresh kernel; the executed notebook and its seconds."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    started = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{name} failed:\n{exc}", pytrace=False)
    return nb, time.monotonic() - started


def last_output(nb: nbformat.NotebookNode) -> str:
    """What the notebook's last code cell printed."""
    last = [cell for cell in nb.cells if cell.cell_type == "code"][-1]
    return "".join(out.get("text", "") for out in last.outputs if out.output_type == "stream")


@pytest.mark.parametrize("name", SCIENCE_NOTEBOOKS)
def test_notebook_runs_and_finds_its_result(
    name: str, kernel_env: Path, record_property: Callable[[str, object], None]
) -> None:
    nb, seconds = run_notebook(name, kernel_env)
    record_property("seconds", round(seconds, 1))
    output = last_output(nb)
    print(f"{name}: {seconds:.1f} s\n{output}")
    assert DONE in output, output
    # Every code cell ran, and none wrote an error.
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.execution_count is not None, cell.source[:80]
            assert not [o for o in cell.outputs if o.output_type == "error"]


def test_getting_started_runs_again(kernel_env: Path) -> None:
    """What the first notebook writes (a myDB table, a vos:// file) is replaced, not
    refused, when a user runs it a second time."""
    for _ in range(2):
        nb, _seconds = run_notebook("01-getting-started.ipynb", kernel_env)
        assert DONE in last_output(nb)


def test_notebooks_are_kept_without_outputs() -> None:
    """The curated copies are clean: no outputs, no execution counts, a python3 kernel."""
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(SCIENCE_NOTEBOOKS)
    for name in SCIENCE_NOTEBOOKS:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3", name
        assert nb.cells[0].cell_type == "markdown", name
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name
        last = [cell for cell in nb.cells if cell.cell_type == "code"][-1]
        assert "assert " in last.source and DONE in last.source, name

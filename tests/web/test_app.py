"""The web application in-process (TestClient runs the real lifespan on a real data dir)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from datalab.catalog import CatalogStore, TableSpec
from datalab.config import Settings
from datalab.web import create_app


def test_empty_data_directory_without_demo(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(home=tmp_path / "home", demo=False))) as client:
        assert client.get("/health").json()["status"] == "ok"
        page = client.get("/")
        assert page.status_code == 200
        assert "holds no catalogs yet" in page.text
    assert (tmp_path / "home" / "catalog.duckdb").exists()


def test_landing_page_lists_demo_tables(demo_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "copy"
    shutil.copytree(demo_home, home)
    with TestClient(create_app(Settings(home=home))) as client:
        page = client.get("/")
    assert page.status_code == 200
    for table in ("gaia_dr3.gaia_source", "hipparcos.hip2", "openngc.objects", "ls_mock.tractor"):
        assert table in page.text
    assert "482,176" in page.text
    assert "Gaia Data Release 3" in page.text
    assert "phot_bp_mean_mag" in page.text
    assert "tap_schema.columns" not in page.text


def test_landing_page_escapes_documentation(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with CatalogStore.open(home / "catalog.duckdb") as store:
        spec = TableSpec(
            schema="evil",
            name="t",
            description="<script>alert(1)</script>",
            schema_description="<img src=x onerror=alert(2)>",
        )
        store.load(spec, [pa.record_batch({"x": [1]})])
    with TestClient(create_app(Settings(home=home))) as client:
        text = client.get("/").text
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
    assert "<img src=x" not in text


def test_unknown_path_gets_the_json_error_envelope(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(home=tmp_path, demo=False))) as client:
        response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not Found", "detail": {}}
    }


def test_bad_method_is_a_clean_error(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(home=tmp_path, demo=False))) as client:
        response = client.post("/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "http_error"


@pytest.mark.parametrize("path", ["/", "/health"])
def test_demo_server_over_http(demo_server, path: str) -> None:  # type: ignore[no-untyped-def]
    import httpx

    response = httpx.get(demo_server.url + path, timeout=10)
    assert response.status_code == 200
    if path == "/":
        assert "gaia_dr3.gaia_source" in response.text

"""Small helpers for the image service tests: fields of the demo, VOTable checks."""

from __future__ import annotations

import io
import warnings

import httpx
from astropy.io import votable
from astropy.table import Table

# The Pleiades demo field (M45): centre of the cluster.
PLEIADES = (56.75, 24.1167)


def votable_table(content: bytes) -> Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return votable.parse_single_table(io.BytesIO(content)).to_table()


def assert_votable_error(response: httpx.Response, status: int | None = None) -> str:
    """The response is a DALI error document with a 4xx status; returns its message."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    if status is not None:
        assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/x-votable+xml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = votable.parse(io.BytesIO(response.content))
    infos = [i for i in doc.resources[0].infos if i.name == "QUERY_STATUS"]
    assert infos and infos[0].value == "ERROR"
    return str(infos[0].content)

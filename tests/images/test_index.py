"""Searching the image index (SIA's constraints) and finding files safely."""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

import pytest

from datalab.errors import NotFoundError, PermissionDeniedError, UsageError
from datalab.images import ImageIndex, ImageRecord
from datalab.sky import Box, Circle, Polygon


def _record(
    image_id: str, ra: float, dec: float, half: float = 0.5, **changes: object
) -> ImageRecord:
    """A square image of side 2*half degrees (small-angle corners) centred on ra, dec."""
    scale = 1.0 / max(abs(math.cos(math.radians(dec))), 1e-6)
    region = (
        (ra - half * scale, dec - half),
        (ra + half * scale, dec - half),
        (ra + half * scale, dec + half),
        (ra - half * scale, dec + half),
    )
    base = ImageRecord(
        image_id=image_id, path=f"s/{image_id}.fits", hdu=0, obs_id=image_id,
        obs_collection="survey", facility_name="Scope", instrument_name="Cam",
        target_name=None, dataproduct_type="image", calib_level=2, s_ra=ra, s_dec=dec,
        s_fov=2 * half * 1.42, s_region=region, s_resolution=1.0, s_xel1=100, s_xel2=100,
        t_min=57000.0, t_max=57000.001, t_exptime=90.0, em_min=4e-7, em_max=5.5e-7,
        band="g", proctype="InstCal", prodtype="image", pol_states=None,
        access_format="image/fits", access_estsize=40,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def index(tmp_path: Path) -> ImageIndex:
    return ImageIndex(
        [
            _record("big", 10.0, 10.0, half=1.0),
            _record("small", 10.0, 10.0, half=0.1, calib_level=3, proctype="Stacked",
                    t_exptime=900.0, s_resolution=2.5),
            _record("east", 11.5, 10.0, half=0.5, band="r", em_min=5.6e-7, em_max=7.2e-7,
                    t_min=58000.0, t_max=58000.01, obs_collection="other",
                    facility_name="Other", instrument_name="Cam2", pol_states="/I/Q/U/"),
            _record("far", 200.0, -30.0, dataproduct_type="cube"),
        ],
        tmp_path,
    )  # fmt: skip


def ids(found: list[ImageRecord]) -> list[str]:
    return [r.image_id for r in found]


def test_no_constraint_returns_everything_in_order(index: ImageIndex) -> None:
    assert ids(index.search()) == ["big", "small", "east", "far"]


def test_overlaps(index: ImageIndex) -> None:
    assert ids(index.search(Circle(10.0, 10.0, 0.05))) == ["big", "small"]
    assert ids(index.search(Circle(11.05, 10.0, 0.1), intersect="overlaps")) == ["big", "east"]
    assert ids(index.search(Circle(50.0, 50.0, 1.0))) == []


def test_covers_the_image_holds_the_whole_region(index: ImageIndex) -> None:
    assert ids(index.search(Circle(10.0, 10.0, 0.3), intersect="COVERS")) == ["big"]
    assert ids(index.search(Box(10.0, 10.0, 0.1, 0.1), intersect="COVERS")) == ["big", "small"]


def test_enclosed_the_image_lies_in_the_region(index: ImageIndex) -> None:
    assert ids(index.search(Circle(10.0, 10.0, 0.3), intersect="ENCLOSED")) == ["small"]
    assert ids(index.search(Circle(10.5, 10.0, 3.0), intersect="ENCLOSED")) == [
        "big", "small", "east",
    ]  # fmt: skip


def test_center_the_image_holds_the_region_centre(index: ImageIndex) -> None:
    # A large region centred in "big" but reaching over "east": only images holding
    # its centre.
    assert ids(index.search(Circle(10.5, 10.0, 1.5), intersect="CENTER")) == ["big"]
    square = Polygon([(9.99, 9.99), (10.01, 9.99), (10.01, 10.01), (9.99, 10.01)])
    assert ids(index.search(square, intersect="CENTER")) == ["big", "small"]


def test_an_unknown_intersect_mode_is_refused(index: ImageIndex) -> None:
    with pytest.raises(UsageError, match="INTERSECT"):
        index.search(Circle(10, 10, 1), intersect="TOUCHES")


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ({"band": (6e-7, 6.5e-7)}, ["east"]),
        ({"band": (5.5e-7, 5.6e-7)}, ["big", "small", "far", "east"]),
        ({"time": (57999.0, 58001.0)}, ["east"]),
        ({"calib": [3]}, ["small"]),
        ({"collection": ["other"]}, ["east"]),
        ({"facility": ["Other"]}, ["east"]),
        ({"instrument": ["Cam"]}, ["big", "small", "far"]),
        ({"dptype": ["cube"]}, ["far"]),
        ({"exptime": (100.0, 1000.0)}, ["small"]),
        ({"fov": (2.0, 5.0)}, ["big"]),
        ({"spatres": (2.0, 3.0)}, ["small"]),
        ({"pol": ["Q"]}, ["east"]),
        ({"ids": ["far", "ivo://datalab.local/images?small"]}, ["small", "far"]),
    ],
)
def test_each_filter(index: ImageIndex, constraint: dict, expected: list[str]) -> None:
    assert sorted(ids(index.search(**constraint))) == sorted(expected)


def test_filters_combine(index: ImageIndex) -> None:
    found = index.search(Circle(10.0, 10.0, 2.0), calib=[2], band=(4e-7, 4.5e-7))
    assert ids(found) == ["big"]


def test_maxrec(index: ImageIndex) -> None:
    assert ids(index.search(maxrec=2)) == ["big", "small"]
    assert index.search(maxrec=0) == []
    with pytest.raises(UsageError):
        index.search(maxrec=-1)


def test_get_by_id_or_publisher_did(index: ImageIndex) -> None:
    assert index.get("east").image_id == "east"
    assert index.get("ivo://datalab.local/images?east").image_id == "east"
    with pytest.raises(NotFoundError):
        index.get("nope")


def test_file_inside_the_images_directory(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "ok.fits").write_bytes(b"x")
    index = ImageIndex([_record("ok", 1, 1)], tmp_path)
    assert index.file("ok") == (tmp_path / "s" / "ok.fits").resolve()


def test_file_missing_is_not_found(tmp_path: Path) -> None:
    index = ImageIndex([_record("gone", 1, 1)], tmp_path)
    with pytest.raises(NotFoundError):
        index.file("gone")


@pytest.mark.parametrize("path", ["../secret.fits", "/etc/passwd", "s/../../secret.fits"])
def test_file_refuses_paths_leaving_the_directory(tmp_path: Path, path: str) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (tmp_path / "secret.fits").write_bytes(b"x")
    index = ImageIndex([_record("bad", 1, 1, path=path)], images)
    with pytest.raises(PermissionDeniedError):
        index.file("bad")


def test_file_refuses_a_symlink_out_of_the_directory(tmp_path: Path) -> None:
    images = tmp_path / "images"
    (images / "s").mkdir(parents=True)
    secret = tmp_path / "secret.fits"
    secret.write_bytes(b"x")
    os.symlink(secret, images / "s" / "link.fits")
    os.symlink(tmp_path, images / "up")
    index = ImageIndex(
        [_record("link", 1, 1), _record("dir", 1, 1, path="up/secret.fits")], images
    )
    with pytest.raises(PermissionDeniedError):
        index.file("link")
    with pytest.raises(PermissionDeniedError):
        index.file("dir")

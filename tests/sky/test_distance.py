"""angular_distance against astropy, and its metric properties."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from hypothesis import given
from hypothesis import strategies as st

from datalab.sky import angular_distance
from tests.sky.support import SKY_SETTINGS

TOLERANCE = 1e-9  # degrees

coord_ra = st.floats(-360.0, 720.0)
coord_dec = st.floats(-90.0, 90.0)


def astropy_separation(ra1, dec1, ra2, dec2) -> np.ndarray:
    first = SkyCoord(np.asarray(ra1) * u.deg, np.asarray(dec1) * u.deg)
    second = SkyCoord(np.asarray(ra2) * u.deg, np.asarray(dec2) * u.deg)
    return first.separation(second).deg


def test_random_pairs_match_astropy() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    ra1, ra2 = rng.uniform(-360, 720, n), rng.uniform(0, 360, n)
    dec1 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    dec2 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    ours = angular_distance(ra1, dec1, ra2, dec2)
    assert np.abs(ours - astropy_separation(ra1, dec1, ra2, dec2)).max() < TOLERANCE


def test_antipodes_and_near_antipodes() -> None:
    rng = np.random.default_rng(8)
    n = 5_000
    ra = rng.uniform(0, 360, n)
    dec = rng.uniform(-90, 90, n)
    offsets = rng.choice([0.0, 1e-9, 1e-6, 1e-3], n)
    ra2, dec2 = (ra + 180.0 + offsets) % 360.0, -dec
    ours = angular_distance(ra, dec, ra2, dec2)
    assert np.abs(ours - astropy_separation(ra, dec, ra2, dec2)).max() < TOLERANCE
    exact = angular_distance(ra, dec, (ra + 180.0) % 360.0, -dec)
    assert np.abs(exact - 180.0).max() < TOLERANCE


def test_tiny_separations() -> None:
    rng = np.random.default_rng(9)
    n = 5_000
    ra = rng.uniform(0, 360, n)
    dec = rng.uniform(-89, 89, n)
    step = 1e-9
    # A pure step in dec is exactly a great-circle step of the same size.
    assert np.abs(angular_distance(ra, dec, ra, dec + step) - step).max() < 1e-13
    ours = angular_distance(ra, dec, ra + step, dec - step)
    assert np.abs(ours - astropy_separation(ra, dec, ra + step, dec - step)).max() < 1e-12
    assert (ours > 0).all()


def test_known_values_and_special_places() -> None:
    assert angular_distance(0, 0, 0, 0) == 0.0
    assert abs(angular_distance(0, 0, 90, 0) - 90.0) < 1e-12
    assert abs(angular_distance(10, 90, 250, -90) - 180.0) < 1e-12
    # Every RA names the same pole; RA wraps at 360.
    assert angular_distance(0, 90, 123.4, 90) < 1e-12
    assert abs(angular_distance(359.5, 0, 0.5, 0) - 1.0) < 1e-12
    assert abs(angular_distance(-10, 5, 350, 5)) < 1e-12


def test_broadcasting_and_shapes() -> None:
    assert angular_distance(0, 0, 1, 0).shape == ()
    out = angular_distance(0.0, 0.0, np.array([[1.0, 2.0, 3.0]]), np.zeros((2, 1)))
    assert out.shape == (2, 3)
    assert np.allclose(out[0], [1, 2, 3])


@SKY_SETTINGS
@given(coord_ra, coord_dec, coord_ra, coord_dec)
def test_symmetric_and_bounded(ra1: float, dec1: float, ra2: float, dec2: float) -> None:
    there = angular_distance(ra1, dec1, ra2, dec2)
    back = angular_distance(ra2, dec2, ra1, dec1)
    assert abs(there - back) < 1e-12
    assert 0.0 <= there <= 180.0


@SKY_SETTINGS
@given(coord_ra, coord_dec, coord_ra, coord_dec, coord_ra, coord_dec)
def test_triangle_inequality(
    ra1: float, dec1: float, ra2: float, dec2: float, ra3: float, dec3: float
) -> None:
    ab = angular_distance(ra1, dec1, ra2, dec2)
    bc = angular_distance(ra2, dec2, ra3, dec3)
    ac = angular_distance(ra1, dec1, ra3, dec3)
    assert ac <= ab + bc + 1e-9

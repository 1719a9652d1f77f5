"""Unit-vector helpers shared by the shapes.

Great-circle geometry is simplest and most robust in Cartesian form: a great circle
is a plane through the origin, "which side of an edge" is the sign of a dot product
with the plane's normal, and nothing special happens at RA 0/360 or at the poles.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["local_coords", "local_frame", "normalize", "to_radec", "unit_vectors"]


def unit_vectors(ra: ArrayLike, dec: ArrayLike) -> NDArray[np.float64]:
    """Unit vectors, shape ``(..., 3)``, for (ra, dec) in degrees (broadcast)."""
    ra_rad = np.radians(np.asarray(ra, dtype=np.float64))
    dec_rad = np.radians(np.asarray(dec, dtype=np.float64))
    cos_dec = np.cos(dec_rad)
    return np.stack(
        np.broadcast_arrays(cos_dec * np.cos(ra_rad), cos_dec * np.sin(ra_rad), np.sin(dec_rad)),
        axis=-1,
    )


def to_radec(xyz: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(ra, dec) in degrees of vectors of shape ``(..., 3)``; ra in [0, 360)."""
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    ra = np.degrees(np.arctan2(y, x)) % 360.0
    ra = np.where(ra >= 360.0, 0.0, ra)
    dec = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return ra, dec


def normalize(xyz: NDArray[np.float64]) -> NDArray[np.float64]:
    """Scale vectors of shape ``(..., 3)`` to unit length."""
    return xyz / np.linalg.norm(xyz, axis=-1, keepdims=True)


def local_frame(ra: float, dec: float) -> NDArray[np.float64]:
    """Rows (centre, east, north): an orthonormal right-handed frame at (ra, dec).

    ``east`` points toward increasing RA and ``north`` toward increasing dec. At a
    pole these directions are the limits reached along the meridian ``ra``, so a
    shape centred on a pole still has a well defined orientation, chosen by its RA.
    """
    a, d = np.radians(ra), np.radians(dec)
    centre = [np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)]
    east = [-np.sin(a), np.cos(a), 0.0]
    north = [-np.sin(d) * np.cos(a), -np.sin(d) * np.sin(a), np.cos(d)]
    return np.array([centre, east, north], dtype=np.float64)


def local_coords(ra: ArrayLike, dec: ArrayLike, ra0: float, dec0: float) -> NDArray[np.float64]:
    """Unit vectors of (ra, dec) in the :func:`local_frame` of (ra0, dec0), shape (..., 3).

    Components are (along the centre, east, north). They are computed from the RA
    and dec *differences*, using ``1 - cos x = 2 sin^2(x/2)``, so the two small
    components of a point near the centre keep full relative precision. That is
    what lets sub-milliarcsecond shapes be tested exactly: rotating ordinary unit
    vectors would leave those components with an absolute error of 1e-16, which
    triple products of nearby points then amplify past the signal.
    """
    d_ra = np.radians(np.asarray(ra, dtype=np.float64) - ra0)
    lat = np.radians(np.asarray(dec, dtype=np.float64))
    lat0 = np.radians(dec0)
    cos_lat = np.cos(lat)
    one_minus_cos = 2.0 * np.sin(d_ra / 2.0) ** 2
    along = np.cos(lat - lat0) - cos_lat * np.cos(lat0) * one_minus_cos
    east = cos_lat * np.sin(d_ra)
    north = np.sin(lat - lat0) + cos_lat * np.sin(lat0) * one_minus_cos
    return np.stack(np.broadcast_arrays(along, east, north), axis=-1)

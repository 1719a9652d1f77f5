"""Angular distance on the celestial sphere."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["angular_distance"]


def angular_distance(
    ra1: ArrayLike, dec1: ArrayLike, ra2: ArrayLike, dec2: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distance in degrees between (ra1, dec1) and (ra2, dec2).

    All inputs are in degrees and broadcast against each other like any numpy
    ufunc; the result has the broadcast shape (a 0-d array for scalar inputs).

    The Vincenty formula in its ``atan2`` form is used because it stays accurate at
    every separation: the ``acos`` of a dot product loses all precision for tiny
    separations (cos is flat near 0) and the haversine form loses it near 180 degrees
    (antipodes). Here both the sine and the cosine of the separation are computed
    and ``atan2`` picks whichever is well conditioned.

    Non-finite inputs give NaN, as numpy arithmetic does.
    """
    lon1 = np.radians(np.asarray(ra1, dtype=np.float64))
    lat1 = np.radians(np.asarray(dec1, dtype=np.float64))
    lon2 = np.radians(np.asarray(ra2, dtype=np.float64))
    lat2 = np.radians(np.asarray(dec2, dtype=np.float64))

    delta = lon2 - lon1
    sin_d, cos_d = np.sin(delta), np.cos(delta)
    sin1, cos1 = np.sin(lat1), np.cos(lat1)
    sin2, cos2 = np.sin(lat2), np.cos(lat2)

    across = cos2 * sin_d
    along = cos1 * sin2 - sin1 * cos2 * cos_d
    numerator = np.hypot(across, along)
    denominator = sin1 * sin2 + cos1 * cos2 * cos_d
    return np.degrees(np.arctan2(numerator, denominator))

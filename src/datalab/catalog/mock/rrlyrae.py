"""Simulated RR Lyrae stars: pulsation periods, amplitudes, colours and light-curve shapes.

Everything here is a model, not a measurement. RR Lyrae are old horizontal-branch stars
whose brightness repeats with a period of hours; their nearly fixed luminosity makes them
distance markers, so the synthetic survey carries some for notebooks to find.

* **RRab** (fundamental mode, 75%): periods 0.45-0.70 d, g-band peak-to-peak amplitudes
  0.5-1.2 mag that fall with period (a Bailey diagram), a saw-tooth light curve that
  rises to maximum in a fifth of the cycle and fades slowly.
* **RRc** (first overtone, 25%): periods 0.26-0.42 d, g amplitudes 0.38-0.60 mag, a
  nearly sinusoidal curve with a slightly quicker rise.

Amplitudes shrink toward red bands (r 0.79 and z 0.57 times g); maximum light falls at
the same phase in every band. Mean magnitudes are intensity means (the magnitude of the
time-averaged flux), which is what a deep coadd such as the tractor catalog measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "AMPLITUDE_RATIO",
    "RRAB",
    "RRC",
    "VARIABLE_TYPE_NAMES",
    "RRLyrae",
    "draw_rrlyrae",
    "intensity_mean_offset",
    "template",
]

RRAB, RRC = 1, 2
VARIABLE_TYPE_NAMES = ("", "RRab", "RRc")
"""Variable types by code; 0 is a constant star."""

AMPLITUDE_RATIO = np.array([1.0, 0.79, 0.57])
"""Peak-to-peak amplitude in g, r, z relative to g."""

_RRC_SHARE = 0.25
_EPOCH_ZERO_MJD = 57000.0  # maxima are dated from here (2014 Dec 9)

# Light-curve shapes as Fourier series m(phase) = sum_k A_k cos(2 pi k phase + P_k), in
# magnitudes (larger is fainter). The coefficients were fitted to shapes drawn for this
# purpose: for RRab a decline from maximum to minimum over 80% of the cycle, fast at first
# and levelling off, a small bump near phase 0.7, then a smooth rise over the last 20%;
# for RRc a cosine-shaped decline over 58% of the cycle and rise over 42%.
_RRAB_SERIES = (
    np.array([0.3954, 0.1599, 0.0885, 0.0479, 0.0191, 0.0034]),
    np.array([2.465, 2.876, -2.900, -2.265, -1.596, -1.471]),
)
_RRC_SERIES = (np.array([0.4979, 0.0447, 0.0070]), np.array([2.890, -2.073, -0.754]))
_GRID = 4096


def _series(amps: np.ndarray, phases: np.ndarray, phase: np.ndarray) -> np.ndarray:
    k = np.arange(1, len(amps) + 1)
    angle = 2.0 * math.pi * np.multiply.outer(phase, k) + phases
    return np.asarray((amps * np.cos(angle)).sum(axis=-1))


def _normalised(series: tuple[np.ndarray, np.ndarray]) -> tuple[float, float, float]:
    """(phase of maximum light, magnitude there, peak-to-peak) of a Fourier shape."""
    grid = (np.arange(_GRID) + 0.5) / _GRID
    values = _series(*series, grid)
    brightest = int(values.argmin())
    return float(grid[brightest]), float(values[brightest]), float(np.ptp(values))


_SHAPES = {
    RRAB: (_RRAB_SERIES, _normalised(_RRAB_SERIES)),
    RRC: (_RRC_SERIES, _normalised(_RRC_SERIES)),
}


def template(kind: int, phase: np.ndarray) -> np.ndarray:
    """The light-curve shape of ``kind`` (:data:`RRAB` or :data:`RRC`) at ``phase``.

    Normalised so that maximum light is at phase 0 with value 0 and the faintest point is
    1: multiply by a peak-to-peak amplitude in magnitudes and add the magnitude at maximum.
    """
    series, (shift, brightest, ptp) = _SHAPES[kind]
    return (_series(*series, np.asarray(phase) + shift) - brightest) / ptp


def intensity_mean_offset(kind: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """Intensity-mean magnitude minus magnitude at maximum, per star (positive).

    For a curve ``m_max + A * template(phase)`` the magnitude of the mean flux is
    ``m_max - 2.5 log10 <10**(-0.4 A template)>``; averaged on a fine grid of phases.
    """
    grid = (np.arange(512) + 0.5) / 512
    out = np.empty(len(amplitude))
    for code in (RRAB, RRC):
        pick = kind == code
        if pick.any():
            shape = template(code, grid)
            mean_flux = np.power(10.0, -0.4 * np.multiply.outer(amplitude[pick], shape)).mean(1)
            out[pick] = -2.5 * np.log10(mean_flux)
    return out


@dataclass(frozen=True)
class RRLyrae:
    """Pulsation properties of simulated RR Lyrae stars, aligned arrays.

    ``amplitude`` has shape (3, n): peak-to-peak magnitudes in g, r, z. ``mjd_max`` is a
    time of maximum light. ``abs_mag_g`` is the intensity-mean absolute g magnitude and
    ``g_r`` the intensity-mean intrinsic colour.
    """

    kind: np.ndarray
    period: np.ndarray
    mjd_max: np.ndarray
    amplitude: np.ndarray
    abs_mag_g: np.ndarray
    g_r: np.ndarray

    def __len__(self) -> int:
        return len(self.kind)


def draw_rrlyrae(rng: np.random.Generator, count: int) -> RRLyrae:
    """``count`` RR Lyrae with types, periods, amplitudes and colours drawn from ``rng``.

    Periods follow Beta distributions inside the stated ranges (RRab centred near 0.57 d,
    RRc near 0.34 d); RRab amplitudes fall linearly with period with 0.08 mag of scatter,
    and longer periods are redder. Absolute magnitude M_g = 0.60 with 0.05 mag scatter, as
    for metal-poor horizontal-branch stars.
    """
    u_kind, u_amp, u_phase = rng.random((3, count))
    shape = rng.beta(3.0, 3.5, count)
    n_amp, n_col, n_mag = rng.standard_normal((3, count))
    kind = np.where(u_kind < _RRC_SHARE, RRC, RRAB).astype(np.int8)
    ab = kind == RRAB
    period = np.where(ab, 0.45 + 0.25 * shape, 0.26 + 0.16 * shape)
    amp_g = np.where(
        ab,
        np.clip(1.22 - 2.4 * (period - 0.45) + 0.08 * n_amp, 0.5, 1.2),
        0.38 + 0.22 * u_amp,
    )
    g_r = np.where(ab, 0.20 + 0.35 * (period - 0.45), 0.12) + 0.03 * n_col
    return RRLyrae(
        kind=kind,
        period=period,
        mjd_max=_EPOCH_ZERO_MJD + period * u_phase,
        amplitude=np.outer(AMPLITUDE_RATIO, amp_g),
        abs_mag_g=0.60 + 0.05 * n_mag,
        g_r=g_r,
    )

"""System frequency after a change in load: the aggregate system-frequency-response model.

Per unit on the online generation (``PowerSystem.base_mw``), frequency deviation ``df`` (per unit of the nominal
frequency) follows the swing equation of one equivalent machine with load damping, governors and fast frequency
response (Anderson and Mirheydar, "A low-order system frequency response model", IEEE Trans. Power Systems, 1990)::

    2H d(df)/dt = Pm + Pffr - dPload - D df
    Tg dg/dt    = -(share / R) df - g                    governor and turbine
    Tr dr/dt    = g - r ;  Pm = Fh g + (1 - Fh) r        reheat (Pm = g without it)
    Tf dPffr/dt = clip(-(|df| - deadband) / (full - deadband) sign(df), -1, 1) cap - Pffr

The linear part is integrated exactly for inputs held over each step (zero-order hold, by the matrix exponential);
the fast frequency response's target is read at the start of each step. For a step of ``dP`` (per unit) the
frequency settles at ``-dP / (D + share / R)`` and starts to fall at ``-dP / (2H)`` (per unit per second).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.linalg import expm

from wattscale.bisection import largest_passing
from wattscale.scenario.schema import PowerSystem

ROCOF_WINDOW_S = 0.5  # the window grid operators measure the rate of change of frequency over (ENTSO-E)
LARGEST_LOSS_HORIZON_S = 60.0
MAX_SUB_STEPS = 500_000_000  # sub-steps of one simulation (about a minute of work)  # the largest sudden loss keeps frequency within its limit over this long


@dataclass(frozen=True)
class FrequencyTrace:
    """Frequency after a load change, sampled every ``step_s`` from t = 0."""

    step_s: float
    nominal_hz: float
    deviation_hz: np.ndarray
    rocof_hz_per_s: np.ndarray  # d(frequency)/dt at each sample, from the model's state
    governor_mw: np.ndarray
    ffr_mw: np.ndarray

    @property
    def time_s(self) -> np.ndarray:
        return np.arange(len(self.deviation_hz)) * self.step_s

    @property
    def peak_deviation_hz(self) -> float:
        """The deviation farthest from zero, with its sign (a nadir when negative)."""
        return float(self.deviation_hz[np.argmax(np.abs(self.deviation_hz))])

    @property
    def rocof_window_hz_per_s(self) -> float:
        """Largest rate of change of frequency measured over ``ROCOF_WINDOW_S``."""
        n = int(round(ROCOF_WINDOW_S / self.step_s))
        f = self.deviation_hz
        if n < 1 or abs(n * self.step_s - ROCOF_WINDOW_S) > 1e-9 * ROCOF_WINDOW_S or len(f) <= n:
            return float("nan")  # samples that do not make up the window: not measured (null in summary.json)
        return float(np.abs(f[n:] - f[:-n]).max() / (n * self.step_s))

    def metrics(self) -> dict[str, float]:
        f = self.deviation_hz
        return {"frequency_min_hz": self.nominal_hz + float(f.min()),
                "frequency_max_hz": self.nominal_hz + float(f.max()),
                "peak_deviation_hz": self.peak_deviation_hz,
                "rocof_max_hz_per_s": float(np.abs(self.rocof_hz_per_s).max()),
                "rocof_500ms_hz_per_s": self.rocof_window_hz_per_s,
                "final_deviation_hz": float(f[-1])}


def with_ffr_mw(system: PowerSystem, capacity_mw: float) -> PowerSystem:
    """``system`` with its fast frequency response sized ``capacity_mw`` (none at 0)."""
    if system.ffr is None:
        return system
    if capacity_mw <= 0:
        return system.model_copy(update={"ffr": None})
    return system.model_copy(update={"ffr": system.ffr.model_copy(update={"capacity_mw": float(capacity_mw),
                                                                          "campus_batteries": False})})


def _matrices(system: PowerSystem) -> tuple[np.ndarray, np.ndarray]:
    """Continuous state-space ``dx/dt = A x + B [dPload, ffr target]``; x = [df, g, r, Pffr] (those present)."""
    h, d = system.inertia_s, system.damping
    governed, reheat, ffr = system.droop is not None, system.droop is not None and system.reheat_time_s > 0, \
        system.ffr is not None
    n = 1 + governed + reheat + ffr
    a, b = np.zeros((n, n)), np.zeros((n, 2))
    a[0, 0], b[0, 0] = -d / (2 * h), -1 / (2 * h)
    i = 1
    if governed:
        tg = system.governor_time_s
        a[i, 0], a[i, i] = -system.governor_share / system.droop / tg, -1 / tg
        if reheat:
            fh, tr = system.high_pressure_fraction, system.reheat_time_s
            a[0, i], a[0, i + 1] = fh / (2 * h), (1 - fh) / (2 * h)
            a[i + 1, i], a[i + 1, i + 1] = 1 / tr, -1 / tr
            i += 2
        else:
            a[0, i] = 1 / (2 * h)
            i += 1
    if ffr:
        tf = system.ffr.time_s
        a[0, i], a[i, i], b[i, 1] = 1 / (2 * h), -1 / tf, 1 / tf
    return a, b


def _discrete(a: np.ndarray, b: np.ndarray, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    n, m = b.shape
    big = np.zeros((n + m, n + m))
    big[:n, :n], big[:n, n:] = a, b
    e = expm(big * step_s)
    return e[:n, :n], e[:n, n:]


@njit(cache=True)
def _run(ad, bd, a, b, load_pu, sub, ffr_cap_pu, ffr_deadband_pu, ffr_full_pu):  # pragma: no cover - numba
    """Each sample: ``sub`` sub-steps (``ad``, ``bd`` discretise one of them), the fast response's target read at
    the start of each, so that its feedback stays stable and the result does not depend on the sample length."""
    n_states, n = ad.shape[0], len(load_pu)
    states = np.zeros((n, n_states))
    slope = np.zeros(n)
    x = np.zeros(n_states)
    for k in range(n):
        states[k] = x
        for j in range(sub):
            target = 0.0
            if ffr_cap_pu > 0.0:
                dev = abs(x[0]) - ffr_deadband_pu
                if dev > 0.0:
                    target = -np.sign(x[0]) * min(dev / (ffr_full_pu - ffr_deadband_pu), 1.0) * ffr_cap_pu
            if j == 0:
                s = b[0, 0] * load_pu[k] + b[0, 1] * target
                for i in range(n_states):
                    s += a[0, i] * x[i]
                slope[k] = s
            x = ad @ x + bd[:, 0] * load_pu[k] + bd[:, 1] * target
    return states, slope


def _sub_steps(system: PowerSystem, step_s: float) -> int:
    """Sub-steps per sample that keep the fast response's explicit feedback stable and accurate: a twentieth of its
    time constant and of the time its gain needs to move frequency across its linear band."""
    ffr = system.ffr
    if ffr is None:
        return 1
    gain = ffr.capacity_mw / system.base_mw / ((ffr.full_at_hz - ffr.deadband_hz) / system.frequency_hz)
    h_max = min(ffr.time_s, 2 * system.inertia_s / gain) / 20
    return max(1, int(np.ceil(step_s / h_max)))


def simulate_frequency(system: PowerSystem, load_change_mw: np.ndarray, step_s: float) -> FrequencyTrace:
    """Frequency deviation after ``load_change_mw`` (MW above the steady load at each step; a load lost is
    negative), held over each ``step_s``; the system starts in steady state."""
    if system.ffr is not None and system.ffr.capacity_mw is None:
        raise ValueError("fast frequency response from campus batteries: size it first (with_ffr_mw)")
    a, b = _matrices(system)
    sub = _sub_steps(system, step_s)
    if sub * len(load_change_mw) > MAX_SUB_STEPS:
        raise ValueError(f"{sub * len(load_change_mw):,} sub-steps: a shorter series or a slower fast response")
    ad, bd = (np.ascontiguousarray(m) for m in _discrete(a, b, step_s / sub))
    base, f0 = system.base_mw, system.frequency_hz
    ffr = system.ffr
    cap, band, full = (0.0, 0.0, 1.0) if ffr is None else \
        (ffr.capacity_mw / base, ffr.deadband_hz / f0, ffr.full_at_hz / f0)
    load_pu = np.ascontiguousarray(np.asarray(load_change_mw, dtype=float) / base)
    states, slope = _run(ad, bd, a, b, load_pu, sub, cap, band, full)
    governed = system.droop is not None
    if governed and system.reheat_time_s > 0:
        pm = system.high_pressure_fraction * states[:, 1] + (1 - system.high_pressure_fraction) * states[:, 2]
    else:
        pm = states[:, 1] if governed else np.zeros(len(load_pu))
    return FrequencyTrace(step_s, f0, states[:, 0] * f0, slope * f0, pm * base,
                          states[:, -1] * base if ffr is not None else np.zeros(len(load_pu)))


def settling_deviation_hz(system: PowerSystem, load_change_mw: float) -> float:
    """Where frequency settles after a step (without fast frequency response): ``-dP / (D + share / R)``."""
    beta = system.damping + (system.governor_share / system.droop if system.droop else 0.0)
    if beta == 0:
        return float("-inf") if load_change_mw > 0 else float("inf") if load_change_mw < 0 else 0.0
    return -load_change_mw / system.base_mw / beta * system.frequency_hz


def largest_step_mw(system: PowerSystem, limit_hz: float | None = None, *, horizon_s: float = LARGEST_LOSS_HORIZON_S,
                    step_s: float = 0.01) -> float:
    """The largest sudden load loss (MW) after which frequency stays within ``limit_hz`` of nominal over
    ``horizon_s`` (default limit: ``system.deviation_limit_hz``); a load gain of the same size mirrors it. A system
    with nothing to restore frequency (no damping, governors or fast response) drifts after any loss: 0 MW."""
    limit = system.deviation_limit_hz if limit_hz is None else limit_hz
    if system.damping == 0 and system.droop is None and system.ffr is None:
        return 0.0
    n = int(round(horizon_s / step_s))

    def peak(mw: float) -> float:
        return abs(simulate_frequency(system, np.full(n, -mw), step_s).peak_deviation_hz)

    return largest_passing(lambda mw: peak(mw) <= limit, 0.0, system.base_mw, 1e-8, rel_tol=1e-8, max_steps=60)

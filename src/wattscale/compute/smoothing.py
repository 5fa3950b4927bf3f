"""GPU power smoothing as vendors expose it (the parameters of NVIDIA's management library power smoothing): a
power floor as a share of TDP, ramp-up and ramp-down limits in W/s, and a ramp-down hysteresis in ms.

Per GPU, the power drawn follows an envelope: it rises at most ``ramp_up_w_per_s`` towards the power the workload
asks for (the work it cannot do meanwhile waits), holds for ``hysteresis_ms`` once the workload asks for less, then
falls at most ``ramp_down_w_per_s``, never below the floor. Above what the workload asks, the GPU first catches up
on the work that waited (up to TDP), then burns the rest. Work is counted as energy at the power the workload asks for, so the
same work is done: the work asked for equals the work done plus what still waits at the end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit


@dataclass(frozen=True)
class Smoothing:
    floor_fraction_of_tdp: float = 0.0
    ramp_up_w_per_s: float = float("inf")
    ramp_down_w_per_s: float = float("inf")
    hysteresis_ms: float = 0.0

    def describe(self) -> str:
        def rate(v: float) -> str:
            return "free" if not np.isfinite(v) else f"{v:,.0f} W/s"

        return (f"floor {self.floor_fraction_of_tdp:.0%} of TDP; per GPU up {rate(self.ramp_up_w_per_s)}, down "
                f"{rate(self.ramp_down_w_per_s)}; hysteresis {self.hysteresis_ms:g} ms")


@dataclass(frozen=True)
class Smoothed:
    """Per-GPU power (W) under smoothing, and the work that waited (J per GPU)."""

    power_w: np.ndarray
    asked_j: float
    waited_j: float  # work held back by the ramp-up limit, done later (an upper bound on the delay it causes)
    left_j: float  # work still waiting at the end
    burnt_j: float  # energy above what the workload asked for, with no work waiting


@njit(cache=True)
def _envelope(asked, step_s, floor_w, cap_w, up, down, hold_s):  # pragma: no cover - numba
    n = len(asked)
    out = np.empty(n)
    e = max(asked[0], floor_w)
    backlog = waited = burnt = 0.0
    hold_steps = int(round(hold_s / step_s))
    low_steps = 0
    per_s = 1.0 / step_s  # a product, not a division, in the loop's dependency chain
    up_step, down_step = up * step_s, down * step_s
    for k in range(n):
        d = asked[k]
        wanted = max(d, min(d + backlog * per_s, cap_w))  # catch up on waiting work, up to TDP
        if k > 0:
            if wanted >= e:
                e = min(wanted, e + up_step)
                low_steps = 0
            else:
                low_steps += 1
                if low_steps > hold_steps:
                    e = max(wanted, e - down_step)
            e = max(e, floor_w)
        out[k] = e
        if e < d:
            backlog += (d - e) * step_s
            waited += (d - e) * step_s
        else:
            spare = (e - d) * step_s
            caught = min(spare, backlog)
            backlog -= caught
            burnt += spare - caught
    return out, waited, backlog, burnt


def smooth_gpu_power(asked_w: np.ndarray, step_s: float, tdp_w: float, setting: Smoothing) -> Smoothed:
    """Per-GPU power under ``setting`` for a workload asking ``asked_w`` (W per GPU, every ``step_s``)."""
    big = 1e18  # an unlimited ramp
    up = setting.ramp_up_w_per_s if np.isfinite(setting.ramp_up_w_per_s) else big
    down = setting.ramp_down_w_per_s if np.isfinite(setting.ramp_down_w_per_s) else big
    asked = np.ascontiguousarray(asked_w, dtype=float)
    power, waited, left, burnt = _envelope(asked, step_s, setting.floor_fraction_of_tdp * tdp_w, tdp_w, up, down,
                                           setting.hysteresis_ms / 1000.0)
    return Smoothed(power, float(asked.sum() * step_s), float(waited), float(left), float(burnt))

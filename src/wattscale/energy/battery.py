"""Battery physics helpers: per-step limits and degradation (rainflow cycle counting + calendar fade).

Degradation model: rainflow-counted cycles of the state-of-charge fraction, each of depth d
consuming 1 / N(d) of life with N(d) = cycle_life_full_dod * d**-dod_exponent (Woehler curve);
life consumed maps linearly to capacity fade down to end_of_life_capacity; calendar fade adds
calendar_fade_per_year. Reported per calendar year; capacity is not reduced during a run.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import rainflow

from wattscale.scenario.schema import Battery


def self_discharge_per_step(battery: Battery, step_s: float) -> float:
    """Fraction of stored energy lost per step."""
    return 1.0 - (1.0 - battery.self_discharge_per_day) ** (step_s / 86400.0)


def cycle_fade_fraction(soc_fraction: np.ndarray, battery: Battery) -> tuple[float, float]:
    """(life consumed by cycling, rainflow equivalent full cycles) for a state-of-charge fraction series."""
    if len(soc_fraction) < 3:
        return 0.0, 0.0
    life = 0.0
    efc = 0.0
    for depth, _mean, count, _i0, _i1 in rainflow.extract_cycles(soc_fraction):
        if depth <= 0:
            continue
        life += count / (battery.cycle_life_full_dod * depth ** (-battery.dod_exponent))
        efc += count * depth
    return life, efc


def degradation_by_year(soc_mwh: np.ndarray, discharge_mwh: np.ndarray, index: pd.DatetimeIndex,
                        battery: Battery) -> pd.DataFrame:
    """Per calendar year: equivalent full cycles, life used, capacity fade and capacity at year end."""
    soc_fraction = soc_mwh / battery.energy_mwh
    years = index.year.to_numpy()
    rows = []
    capacity = 1.0
    span_fade = 1.0 - battery.end_of_life_capacity
    for year in np.unique(years):
        mask = years == year
        life, rainflow_efc = cycle_fade_fraction(_turning_points(soc_fraction[mask]), battery)
        days = mask.sum() * (index[1] - index[0]).total_seconds() / 86400.0 if len(index) > 1 else 0.0
        calendar = battery.calendar_fade_per_year * days / 365.0
        fade = life * span_fade + calendar
        capacity -= fade
        rows.append({"year": int(year),
                     "throughput_efc": float(discharge_mwh[mask].sum() / battery.energy_mwh),
                     "rainflow_efc": rainflow_efc, "cycle_life_used": life,
                     "cycle_fade_fraction": life * span_fade, "calendar_fade_fraction": calendar,
                     "capacity_end_fraction": capacity})
    return pd.DataFrame(rows)


def _turning_points(x: np.ndarray) -> np.ndarray:
    """Keep only local extrema (rainflow needs reversals; this makes long flat series cheap)."""
    if len(x) < 3:
        return x
    d = np.diff(x)
    keep = np.flatnonzero(d != 0)
    if len(keep) == 0:
        return x[:1]
    x2 = np.concatenate([[x[0]], x[keep + 1]])
    d2 = np.diff(x2)
    rev = np.flatnonzero(np.sign(d2[1:]) != np.sign(d2[:-1])) + 1
    return np.concatenate([[x2[0]], x2[rev], [x2[-1]]])

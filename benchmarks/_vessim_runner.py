"""Reference runner: one PV + battery + grid site simulated with the real Vessim library.

Used as a baseline for benchmarks. It needs ``vessim`` (written against 0.16.0, PyPI),
which is not a dependency of ``wattscale``. Install it in a separate environment, e.g.::

    python3 -m venv /tmp/vessim-venv && /tmp/vessim-venv/bin/pip install vessim
    /tmp/vessim-venv/bin/python benchmarks/_vessim_runner.py

Vessim 0.16 conventions this runner relies on (see vessim/actor.py, microgrid.py,
dispatchable.py):

* Actor power: generation positive, consumption negative. ``Consumer``/``Producer``
  take nonnegative magnitudes and apply the sign themselves.
* ``p_delta`` = sum of actor powers (positive = surplus). The dispatch policy
  splits it over the dispatchables, in list order, so that it balances exactly.
* Dispatchable power: positive = absorbs (battery charges / grid export),
  negative = supplies (battery discharges / grid import). So
  ``MicrogridState["p_grid"] > 0`` is export and ``< 0`` is import.
* A setpoint chosen at tick ``t`` is held over ``[t, t + step_size)`` and integrated
  at the next tick (and, for the last interval, by ``Environment.run``'s finish).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Optional

import numpy as np
import pandas as pd
import vessim as vs

__all__ = ["run_vessim"]

_MICROGRID = "site"


class _GridPowerRecorder(vs.Controller):
    """Stores the grid exchange power (W, + export / - import) of each tick in an array.

    Controllers run once per tick, after dispatch, and see the setpoints that are
    held over the following interval.
    """

    def __init__(self, n: int) -> None:
        self.p_grid = np.zeros(n)
        self.i = 0

    def step(self, now: datetime, microgrid_states: dict) -> None:
        self.p_grid[self.i] = microgrid_states[_MICROGRID]["p_grid"]
        self.i += 1


class _MeteredGridConnection(vs.GridConnection):
    """A GridConnection that integrates its own import/export energy (in W*s).

    ``step(duration)`` is called by the microgrid once the held setpoint has
    been applied for ``duration`` seconds, including a shortened final interval.
    Cheaper than a controller (no per-tick state snapshot), but a subclass leaves
    Vessim's built-in dispatch fast path.
    """

    def __init__(self, name: str = "grid") -> None:
        super().__init__(name)
        self.import_ws = 0.0
        self.export_ws = 0.0

    def step(self, duration: float) -> None:
        super().step(duration)
        p = self.current_power
        if p < 0:
            self.import_ws -= p * duration
        else:
            self.export_ws += p * duration


def _step_seconds(index: pd.DatetimeIndex) -> int:
    """Constant, whole-second spacing of ``index`` (Vessim's step_size is an int in s)."""
    if len(index) < 2:
        if index.freq is None:
            raise ValueError("A one-element index needs a freq to define the step size.")
        step = pd.Timedelta(index.freq)
    else:
        diffs = index[1:] - index[:-1]
        step = diffs[0]
        if not (diffs == step).all():
            raise ValueError("Vessim needs a regular time index (constant step).")
    seconds = step.total_seconds()
    if seconds <= 0 or seconds != int(seconds):
        raise ValueError(f"Step must be a positive whole number of seconds, got {step}.")
    return int(seconds)


def run_vessim(
    index: pd.DatetimeIndex,
    load_w: np.ndarray,
    pv_w: np.ndarray,
    battery_capacity_wh: float,
    battery_initial_soc: float,
    battery_min_soc: float,
    battery_c_rate: Optional[float],
    *,
    recording: str = "controller",
) -> dict:
    """Simulate one site (load, PV, ``SimpleBattery``, grid) over ``index`` with Vessim.

    Args:
        index: Regular DatetimeIndex (naive or tz-aware), one entry per step. Its
            spacing becomes Vessim's ``step_size`` and ``index[0]`` its ``sim_start``.
        load_w: Load power per step in W, >= 0 (held constant over the step).
        pv_w: PV power per step in W, >= 0.
        battery_capacity_wh: Battery capacity in Wh.
        battery_initial_soc: Initial state of charge, fraction 0..1.
        battery_min_soc: Minimum state of charge, fraction 0..1 (no discharge below).
        battery_c_rate: Max |power| in W = c_rate * capacity_wh (1/h). None = unlimited.
        recording: ``"controller"`` (default; a Controller stores p_grid per tick)
            or ``"grid_meter"`` (a GridConnection subclass integrates the energy;
            about 20% faster, no per-step series).

    Returns:
        dict with ``seconds`` (wall time of ``environment.run`` only), ``steps``,
        ``steps_per_s``, ``grid_import_wh``, ``grid_export_wh`` (both >= 0) and
        ``final_soc`` (0..1).
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError("index must be a pandas.DatetimeIndex")
    n = len(index)
    if n == 0:
        raise ValueError("index must not be empty")
    load = np.asarray(load_w, dtype=float)
    pv = np.asarray(pv_w, dtype=float)
    if load.shape != (n,) or pv.shape != (n,):
        raise ValueError("load_w and pv_w must be 1-D with one value per index entry")
    if recording not in ("controller", "grid_meter"):
        raise ValueError("recording must be 'controller' or 'grid_meter'")
    step = _step_seconds(index)

    # --- Set-up (not timed) ---------------------------------------------------------
    # Trace with a DatetimeIndex needs `anchor`, which must equal one of the index
    # entries; it becomes offset 0. Offsets are absolute, so tz-aware indexes work.
    anchor = index[0]
    load_trace = vs.Trace(pd.Series(load, index=index, name="load"), anchor=anchor)
    pv_trace = vs.Trace(pd.Series(pv, index=index, name="pv"), anchor=anchor)

    battery = vs.SimpleBattery(
        "battery",
        capacity=float(battery_capacity_wh),
        initial_soc=float(battery_initial_soc),
        min_soc=float(battery_min_soc),
        c_rate=None if battery_c_rate is None else float(battery_c_rate),
    )
    grid = _MeteredGridConnection("grid") if recording == "grid_meter" else vs.GridConnection("grid")

    # sim_start only labels ticks (controllers get `now = sim_start + timedelta(elapsed)`);
    # signals are sampled by elapsed seconds. A tz-aware zone with DST (e.g.
    # Europe/Berlin) makes that per-tick addition ~3x slower, so label in naive UTC.
    sim_start = anchor.tz_convert(None) if anchor.tz is not None else anchor
    env = vs.Environment(sim_start=sim_start, step_size=step)  # native backend, study mode
    env.add_microgrid(
        actors=[vs.Consumer("load", load_trace), vs.Producer("pv", pv_trace)],
        # Dispatch order = priority: the battery takes what it can, the grid the rest.
        dispatchables=[battery, grid],
        name=_MICROGRID,
    )
    recorder = env.add_controller(_GridPowerRecorder(n)) if recording == "controller" else None
    env.prepare()  # validation / freezing, outside the timed region

    # --- Run (timed) ----------------------------------------------------------------
    # Ticks at 0, step, ..., (n-1)*step; `until` is exclusive, and the last held
    # setpoint is integrated up to `until`, so the whole n*step horizon is covered.
    t0 = time.perf_counter()
    result = env.run(until=n * step)
    seconds = time.perf_counter() - t0

    if recorder is not None:
        p = recorder.p_grid
        hours = step / 3600.0
        grid_import_wh = float(-p[p < 0].sum() * hours)
        grid_export_wh = float(p[p > 0].sum() * hours)
    else:
        grid_import_wh = float(grid.import_ws / 3600.0)
        grid_export_wh = float(grid.export_ws / 3600.0)

    return {
        "seconds": seconds,
        "steps": int(result.steps),
        "steps_per_s": result.steps / seconds if seconds > 0 else float("inf"),
        "grid_import_wh": grid_import_wh,
        "grid_export_wh": grid_export_wh,
        "final_soc": float(battery.soc()),
    }


def _synthetic_year(step_minutes: int = 5, seed: int = 0):
    index = pd.date_range("2023-01-01", "2024-01-01", freq=f"{step_minutes}min", inclusive="left")
    n = len(index)
    rng = np.random.default_rng(seed)
    hour = (index.hour + index.minute / 60.0).to_numpy()
    doy = index.day_of_year.to_numpy()
    # Load: ~600 W base with an evening peak and noise.
    load = 600 + 400 * np.exp(-(((hour - 19) / 2.5) ** 2)) + 100 * rng.random(n)
    # PV: 5 kWp, seasonal day length and amplitude, random cloudiness per step.
    season = 0.5 - 0.5 * np.cos(2 * np.pi * (doy - 10) / 365)  # 0 in winter .. 1 in summer
    half_day = 4 + 4 * season
    shape = np.clip(np.cos((hour - 12.5) / half_day * np.pi / 2), 0, None)
    shape[np.abs(hour - 12.5) > half_day] = 0
    pv = 5000 * (0.4 + 0.6 * season) * shape * (0.6 + 0.4 * rng.random(n))
    return index, load, pv


if __name__ == "__main__":
    index, load, pv = _synthetic_year()
    params = dict(
        battery_capacity_wh=10_000.0,
        battery_initial_soc=0.5,
        battery_min_soc=0.1,
        battery_c_rate=0.5,
    )
    out = run_vessim(index, load, pv, **params)
    from importlib.metadata import version

    print(f"vessim {version('vessim')}")
    print(out)

    # Energy balance (SimpleBattery is lossless):
    # sum(pv - load) * dt = export - import + (E_final - E_initial)
    hours = (index[1] - index[0]).total_seconds() / 3600.0
    net_wh = float((pv - load).sum() * hours)
    d_batt = (out["final_soc"] - params["battery_initial_soc"]) * params["battery_capacity_wh"]
    residual = net_wh - (out["grid_export_wh"] - out["grid_import_wh"] + d_batt)
    print(f"energy balance residual: {residual:.6f} Wh (net pv-load {net_wh:.1f} Wh)")

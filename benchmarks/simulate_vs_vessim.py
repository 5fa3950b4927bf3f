"""Benchmark: one site (load, PV, battery, grid) for one year at 5-minute steps, wattscale vs Vessim.

Both simulators get the same per-step load and PV arrays (the PV from wattscale's pvlib model of the
reference campus weather) and the same lossless battery (Vessim's SimpleBattery semantics: power limit
= c_rate x capacity, SoC floor min_soc). The battery follows the residual (charge on surplus, discharge
on deficit); the grid takes the rest. Prints steps per second for both, the ratio (goal >= 10x), and
the grid energy each computed, which must agree.

    make bench          # installs vessim into .venv and runs this script
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from wattscale.decisions.operate.rules import RuleController  # noqa: E402
from wattscale.energy.solar import pv_power_mw  # noqa: E402
from wattscale.engine.inputs import SiteInputs  # noqa: E402
from wattscale.engine.simulate import simulate_site  # noqa: E402
from wattscale.scenario.schema import Battery, Facility, Grid, Site, Solar  # noqa: E402
from wattscale.timeseries.loading import align  # noqa: E402
from wattscale.timeseries.timeline import Timeline  # noqa: E402
from wattscale.timeseries.weather import read_weather, weather_for  # noqa: E402

CAPACITY_MWH, C_RATE, MIN_SOC, SOC0 = 400.0, 0.25, 0.1, 0.5


def inputs() -> tuple[SiteInputs, pd.DatetimeIndex]:
    tl = Timeline(pd.Timestamp("2023-01-01", tz="UTC"), 300, 365 * 288)
    w = read_weather(None, "tmy3", field="weather")
    pv = align(pv_power_mw(Solar(capacity_mwdc=480, capacity_mwac=400), weather_for(w, tl), w.latitude,
                           w.longitude, w.altitude_m), tl)
    rng = np.random.default_rng(1)
    load = 150 + 30 * np.sin(np.arange(tl.n_steps) / 288 * 2 * np.pi) + rng.normal(0, 5, tl.n_steps)
    n = tl.n_steps
    battery = Battery(power_mw=C_RATE * CAPACITY_MWH, energy_mwh=CAPACITY_MWH, charge_efficiency=1.0,
                      discharge_efficiency=1.0, soc_min=MIN_SOC, soc_max=1.0, soc_initial=SOC0,
                      self_discharge_per_day=0.0)
    site = Site(name="bench", facility=Facility(it_load_mw=0.0, pue=1.0), battery=battery,
                grid=Grid(import_limit_mw=1e6, export_limit_mw=1e6))
    z = np.zeros(n)
    return SiteInputs(site=site, timeline=tl, it_load_mw=load, pue=np.ones(n), load_mw=load, pv_mw=pv, wind_mw=z,
                      temp_air_c=z, price_usd_per_mwh=z + 50, export_price_usd_per_mwh=z + 50,
                      intensity_kg_per_mwh=z + 400, cfe_share=z, grid_up=np.ones(n, bool),
                      import_limit_mw=z + 1e6, export_limit_mw=z + 1e6), tl.index


def run_wattscale(si: SiteInputs) -> dict:
    ctrl = RuleController(n_generators=0, battery_power_mw=si.site.battery.power_mw,
                          block_steps=86400 // si.timeline.step_s)
    simulate_site(si, ctrl)  # compile / warm the cache once, as Vessim also gets prepared outside the timer
    t0 = time.perf_counter()
    frame = simulate_site(si, ctrl)
    seconds = time.perf_counter() - t0
    h = si.timeline.step_h
    return {"seconds": seconds, "steps": len(frame), "steps_per_s": len(frame) / seconds,
            "grid_import_mwh": frame["grid_import_mw"].sum() * h, "grid_export_mwh": frame["grid_export_mw"].sum() * h}


def main() -> None:
    si, index = inputs()
    ws = run_wattscale(si)
    try:
        from _vessim_runner import run_vessim
    except ImportError:
        print("vessim is not installed: pip install vessim  (or: make bench)")
        sys.exit(1)
    vs = run_vessim(index, si.load_mw * 1e6, si.pv_mw * 1e6, CAPACITY_MWH * 1e6, SOC0, MIN_SOC, C_RATE)
    vs_import, vs_export = vs["grid_import_wh"] / 1e6, vs["grid_export_wh"] / 1e6
    print(f"one site, {ws['steps']:,} steps of 5 min (one year): load + PV + battery + grid")
    print(f"{'':12}{'seconds':>10}{'steps/s':>14}{'import MWh':>14}{'export MWh':>14}")
    print(f"{'wattscale':12}{ws['seconds']:>10.3f}{ws['steps_per_s']:>14,.0f}{ws['grid_import_mwh']:>14,.1f}"
          f"{ws['grid_export_mwh']:>14,.1f}")
    print(f"{'vessim':12}{vs['seconds']:>10.3f}{vs['steps_per_s']:>14,.0f}{vs_import:>14,.1f}{vs_export:>14,.1f}")
    ratio = ws["steps_per_s"] / vs["steps_per_s"]
    agree = abs(ws["grid_import_mwh"] - vs_import) / max(vs_import, 1e-9)
    print(f"speed ratio wattscale / vessim: {ratio:,.1f}x (goal >= 10x: {'met' if ratio >= 10 else 'NOT met'})")
    print(f"grid import relative difference: {agree:.2e}")


if __name__ == "__main__":
    main()

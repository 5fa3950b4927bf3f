"""Builders of small in-memory sites for engine and KPI tests (no weather, no files)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from wattscale.engine.inputs import SiteInputs
from wattscale.scenario.schema import Battery, Facility, Generator, Grid, Site
from wattscale.timeseries.timeline import Timeline


def make_inputs(load_mw, *, pv_mw=None, wind_mw=None, step_s=3600, battery: Battery | None = None,
                generators: list[Generator] | None = None, import_limit_mw=1e6, export_limit_mw=0.0,
                grid_up=None, price=30.0, intensity=400.0, cfe_share=0.0, demand_charge=0.0,
                start="2023-01-01") -> SiteInputs:
    load = np.asarray(load_mw, dtype=float)
    n = len(load)
    tl = Timeline(pd.Timestamp(start, tz="UTC"), step_s, n)
    full = lambda v: np.full(n, float(v)) if np.isscalar(v) else np.asarray(v, dtype=float)  # noqa: E731
    site = Site(name="s", facility=Facility(it_load_mw=0.0, pue=1.0), battery=battery,
                generators=generators or [],
                grid=Grid(import_limit_mw=import_limit_mw, export_limit_mw=export_limit_mw,
                          demand_charge_usd_per_kw_month=demand_charge))
    return SiteInputs(site=site, timeline=tl, it_load_mw=load, pue=np.ones(n), load_mw=load,
                      pv_mw=full(0.0 if pv_mw is None else pv_mw), wind_mw=full(0.0 if wind_mw is None else wind_mw),
                      temp_air_c=np.full(n, 20.0), price_usd_per_mwh=full(price), export_price_usd_per_mwh=full(price),
                      intensity_kg_per_mwh=full(intensity), cfe_share=full(cfe_share),
                      grid_up=np.ones(n, bool) if grid_up is None else np.asarray(grid_up, bool),
                      import_limit_mw=np.full(n, float(import_limit_mw)),
                      export_limit_mw=np.full(n, float(export_limit_mw)), generators=list(generators or []))


class FixedController:
    """Replays given setpoints (for tests of the engine's response to arbitrary commands)."""

    def __init__(self, battery_mw, generator_mw, block_steps=7, grid_first=None):
        self.battery_mw = np.asarray(battery_mw, float)
        self.generator_mw = np.asarray(generator_mw, float)
        self.grid_first = grid_first
        self.block_steps = block_steps
        self.horizon_steps = block_steps
        self._t = 0

    def decide(self, state, forecast):
        from wattscale.decisions.protocol import Setpoints

        t0, n = state.step, len(forecast.load_mw)
        gf = np.zeros(n, bool) if self.grid_first is None else np.asarray(self.grid_first[t0:t0 + n], bool)
        return Setpoints(self.battery_mw[t0:t0 + n], self.generator_mw[:, t0:t0 + n], gf)

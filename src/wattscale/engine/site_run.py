"""One site advanced block by block through the kernel (``SiteRun``), and what a controller is told of it: its
fixed assets (``site_assets``) and the truth over a horizon (``site_forecast``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from wattscale.decisions.protocol import SiteAssets, SiteForecast, SiteState
from wattscale.engine import columns
from wattscale.engine.inputs import SiteInputs
from wattscale.engine.kernel import ON, STARTING, run_block
from wattscale.errors import ScenarioError


def site_assets(inputs: SiteInputs) -> SiteAssets:
    """The unchanging part of a site a controller plans with."""
    site = inputs.site
    return SiteAssets(name=site.name, battery=site.battery, generators=inputs.generators,
                      flex_names=[e.name for e in inputs.envelopes],
                      flex_cost_usd_per_it_mwh=[e.cost_usd_per_mwh for e in inputs.envelopes],
                      step_s=inputs.timeline.step_s,
                      demand_charge_usd_per_kw_month=site.grid.demand_charge_usd_per_kw_month,
                      paid_demand_response=any(e.payment_usd_per_mwh is not None for e in site.grid.demand_response))


def site_forecast(inputs: SiteInputs, t0: int = 0, t1: int | None = None, *, flex_mw: np.ndarray | None = None,
                  month: np.ndarray | None = None) -> SiteForecast:
    """The site's true inputs over steps [t0, t1): what a perfect forecast would say."""
    tl = inputs.timeline
    t1 = tl.n_steps if t1 is None else t1
    flex_mw = inputs.flex_params()[0] if flex_mw is None else flex_mw
    month = tl.month_groups() if month is None else month
    cut = lambda a: a[t0:t1] if a is not None else None  # noqa: E731
    return SiteForecast(step_h=tl.step_h, load_mw=cut(inputs.load_mw), pv_mw=cut(inputs.pv_mw),
                        wind_mw=cut(inputs.wind_mw), price_usd_per_mwh=cut(inputs.price_usd_per_mwh),
                        intensity_kg_per_mwh=cut(inputs.intensity_kg_per_mwh), grid_available=cut(inputs.grid_up),
                        export_price_usd_per_mwh=cut(inputs.export_price_usd_per_mwh),
                        import_limit_mw=cut(inputs.import_limit_mw), export_limit_mw=cut(inputs.export_limit_mw),
                        flex_mw=flex_mw[:, t0:t1], month=cut(month), time=tl.index[t0:t1], pue=cut(inputs.pue),
                        dr_soft_mw=cut(inputs.dr_soft_mw), dr_payment_usd_per_mwh=cut(inputs.dr_payment_usd_per_mwh))


class SiteRun:
    """One site's state and outputs, advanced block by block through the kernel: ``state``, ``forecast`` (the
    truth), ``run`` a block of setpoints, ``frame`` at the end. ``simulate_site`` drives it with one controller; a
    fleet's planner drives several in step."""

    def __init__(self, inputs: SiteInputs) -> None:
        self.inputs = inputs
        tl = inputs.timeline
        n, n_gen = tl.n_steps, len(inputs.generators)
        self.bp, self.gp = inputs.battery_params(), inputs.generator_params()
        battery = inputs.site.battery
        self.soc_state = np.array([battery.soc_initial * battery.energy_mwh if battery else 0.0])
        self.gen_state = np.zeros(n_gen, dtype=np.int64)
        self.gen_timer = np.zeros(n_gen, dtype=np.int64)
        self.gen_power = np.zeros(n_gen)
        self.flex_mw, self.flex_budget = inputs.flex_params()
        self.flex_shed = np.zeros_like(self.flex_mw)
        self.out = {k: np.zeros(n) for k in ("curtailed", "charge", "discharge", "soc", "import", "export",
                                             "unserved", "dumped")}
        self.gen_out = np.zeros((n_gen, n))
        self.gen_start = np.zeros((n_gen, n), dtype=np.int64)
        self.month = tl.month_groups()
        self.month_start = np.r_[0, np.flatnonzero(np.diff(self.month)) + 1]

    def state(self, t0: int) -> SiteState:
        """The site at the start of step ``t0``."""
        m0 = self.month_start[np.searchsorted(self.month_start, t0, side="right") - 1]
        return SiteState(step=t0, time=self.inputs.timeline.index[t0], soc_mwh=float(self.soc_state[0]),
                         generator_power_mw=self.gen_power.copy(), generator_on=self.gen_state == ON,
                         generator_warmup_left=np.where(self.gen_state == STARTING, self.gen_timer, 0),
                         month_peak_import_mw=float(self.out["import"][m0:t0].max()) if t0 > m0 else 0.0,
                         flex_budget_mwh=self.flex_budget.copy())

    def forecast(self, t0: int, t1: int) -> SiteForecast:
        """The truth over steps [t0, t1)."""
        return site_forecast(self.inputs, t0, t1, flex_mw=self.flex_mw, month=self.month)

    def run(self, t0: int, t1: int, points) -> None:
        """Steps [t0, t1) under ``points`` (a controller's Setpoints for at least that block)."""
        inputs, k, n_gen = self.inputs, t1 - t0, len(self.inputs.generators)
        bt = np.ascontiguousarray(points.battery_mw[:k], dtype=float)
        gf = points.battery_grid_first
        gf = np.zeros(k, dtype=np.bool_) if gf is None else np.ascontiguousarray(gf[:k], dtype=np.bool_)
        gt = np.ascontiguousarray(np.asarray(points.generator_mw, dtype=float)[:, :k])
        st = np.zeros((len(self.flex_mw), k)) if points.compute_shed_mw is None else \
            np.ascontiguousarray(np.asarray(points.compute_shed_mw, dtype=float)[:, :k])
        xt = np.full(k, np.inf) if points.export_limit_mw is None else \
            np.ascontiguousarray(np.asarray(points.export_limit_mw, dtype=float)[:k])
        if len(bt) != k or gt.shape != (n_gen, k) or st.shape != (len(self.flex_mw), k) or len(xt) != k:
            raise ScenarioError(f"controller returned setpoints of the wrong shape for a block of {k} steps",
                                field="controller")
        o = self.out
        run_block(t0, t1, inputs.timeline.step_h, inputs.load_mw, inputs.pv_mw, inputs.wind_mw, inputs.grid_up,
                  inputs.import_limit_mw, inputs.export_limit_mw, bt, gf, float(points.battery_reserve_mwh), gt,
                  self.bp, self.gp, st, xt, self.flex_mw, self.soc_state, self.gen_state, self.gen_timer,
                  self.gen_power, self.flex_budget, o["curtailed"], o["charge"], o["discharge"], o["soc"],
                  self.gen_out, self.gen_start, o["import"], o["export"], self.flex_shed, o["unserved"], o["dumped"])

    def block_results(self, t0: int, t1: int) -> dict:
        return {**{k: v[t0:t1] for k, v in self.out.items()}, "generators": self.gen_out[:, t0:t1].sum(axis=0),
                "shed": self.flex_shed[:, t0:t1].sum(axis=0)}

    def frame(self) -> pd.DataFrame:
        return _frame(self.inputs, self.out, self.gen_out, self.gen_start, self.flex_mw, self.flex_shed)


def _frame(inputs: SiteInputs, out: dict, gen_out: np.ndarray, gen_start: np.ndarray, flex_mw: np.ndarray,
           flex_shed: np.ndarray) -> pd.DataFrame:
    tl = inputs.timeline
    cols = {"it_load_mw": inputs.it_load_mw,
            **{columns.workload_it_mw(name): it_mw for name, it_mw in inputs.workload_it_mw.items()},
            "pue": inputs.pue, "load_mw": inputs.load_mw,
            "pv_mw": inputs.pv_mw, "wind_mw": inputs.wind_mw, "curtailed_mw": out["curtailed"],
            "battery_charge_mw": out["charge"], "battery_discharge_mw": out["discharge"],
            "battery_soc_mwh": out["soc"]}
    for g, gen in enumerate(inputs.generators):
        cols[columns.gen_mw(gen.name)] = gen_out[g]
        cols[columns.gen_starts(gen.name)] = gen_start[g]
        cols[columns.gen_fuel_mmbtu(gen.name)] = gen_out[g] * tl.step_h * gen.heat_rate_mmbtu_per_mwh
    cols["grid_import_mw"], cols["grid_export_mw"] = out["import"], out["export"]
    if inputs.envelopes:
        cols["flex_available_mw"] = flex_mw.sum(axis=0)
        cols["movable_it_mw"] = np.sum([e.movable_mw for e in inputs.envelopes], axis=0)
        for w, env in enumerate(inputs.envelopes):
            cols[columns.shed_mw(env.name)] = flex_shed[w]
        cols["compute_lost_usd_per_h"] = np.sum([flex_shed[w] / inputs.pue * e.cost_usd_per_mwh
                                                 for w, e in enumerate(inputs.envelopes)], axis=0)
    cols.update({
        "compute_shed_mw": flex_shed.sum(axis=0), "unserved_mw": out["unserved"],
        "dumped_mw": out["dumped"], "grid_available": inputs.grid_up, "import_limit_mw": inputs.import_limit_mw,
        "export_limit_mw": inputs.export_limit_mw, "price_usd_per_mwh": inputs.price_usd_per_mwh,
        "export_price_usd_per_mwh": inputs.export_price_usd_per_mwh,
        "intensity_kg_per_mwh": inputs.intensity_kg_per_mwh, "grid_cfe_share": inputs.cfe_share,
        "temp_air_c": inputs.temp_air_c,
    })
    if inputs.dr_soft_mw is not None and np.isfinite(inputs.dr_soft_mw).any():
        cols["dr_hold_mw"] = inputs.dr_soft_mw
        cols["dr_payment_usd_per_mwh"] = inputs.dr_payment_usd_per_mwh
    return pd.DataFrame(cols, index=tl.index)

"""Model-predictive control: re-plan the optimal dispatch over a rolling horizon and apply its first steps.

Every ``block_steps`` the controller forecasts the next ``horizon_steps``, builds the dispatch problem from
the site's state (battery energy, generators on, warming up or off, this month's peak import, the compute
budget left), solves it (the programme is built once per horizon length and then only re-filled), and
returns the plan's first block as setpoints: battery power, generator output (minimum load while warming
up), compute to shed, and an export cap where exporting would cost money. A plan that cannot be solved
falls back to the rules (the battery and generators follow; the engine sheds the least valuable compute
first) and the reason is logged.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from wattscale.decisions.operate import units
from wattscale.decisions.operate.dispatch import Dispatch, DispatchPlan, shortfall_report
from wattscale.decisions.operate.problem import DispatchProblem, dispatch_problem
from wattscale.decisions.protocol import Setpoints, SiteAssets, SiteForecast, SiteState
from wattscale.errors import PlanningError
from wattscale.scenario.schema import MpcController as MpcSpec

ON_TOL = 1e-6


class MpcController:
    def __init__(self, spec: MpcSpec, assets: SiteAssets, *, carbon_price_usd_per_t: float = 0.0,
                 value_of_lost_load_usd_per_mwh: float = 10_000.0) -> None:
        self.spec = spec
        self.assets = assets
        step_s = assets.step_s
        self.block_steps = max(1, round(spec.replan_every_h * 3600 / step_s))
        self.horizon_steps = max(self.block_steps, round(spec.horizon_h * 3600 / step_s))
        self.carbon_price = carbon_price_usd_per_t
        self.voll = value_of_lost_load_usd_per_mwh
        self._programmes: dict[int, Dispatch] = {}
        self.log: list[dict] = []

    # ------------------------------------------------------------ the protocol
    def decide(self, state: SiteState, forecast: SiteForecast) -> Setpoints:
        """Plan the horizon the engine's forecast covers; apply its first block."""
        problem = self.problem(state, _padded(forecast, self.horizon_steps))
        problem.active_steps = len(forecast.load_mw)
        n = problem.n_steps
        block = min(self.block_steps, len(forecast.load_mw))
        try:
            programme = self._programmes.get(n)
            if programme is None:
                programme = self._programmes[n] = Dispatch(problem, time_limit_s=self.spec.time_limit_s,
                                                           mip_rel_gap=self.spec.mip_rel_gap)
                plan = programme.plan()
            else:
                plan = programme.plan(problem)
        except PlanningError as exc:
            return self._fallback(state, block, f"{exc.detail}")
        if not plan.sites:
            return self._fallback(state, block, f"no plan (HiGHS: {plan.status})")
        self._record(state, plan, problem, block, forecast.time)
        return self.setpoints(plan, problem, block)

    # ------------------------------------------------------------ problem and setpoints
    def problem(self, state: SiteState, f: SiteForecast) -> DispatchProblem:
        """The dispatch problem of the horizon ``f`` covers, from the site's state (``problem.dispatch_problem``)."""
        return dispatch_problem(self.assets, state, f, carbon_price_usd_per_t=self.carbon_price,
                                value_of_lost_load_usd_per_mwh=self.voll, commitment=self.spec.commitment,
                                terminal_soc_fraction=self.spec.terminal_soc_fraction,
                                terminal_penalty_usd_per_mwh=self.spec.terminal_penalty_usd_per_mwh)

    def setpoints(self, plan: DispatchPlan, problem: DispatchProblem, block: int) -> Setpoints:
        return setpoints_of(plan, problem, block)

    # ------------------------------------------------------------ log
    def _record(self, state: SiteState, plan: DispatchPlan, problem: DispatchProblem, block: int, times) -> None:
        sp, dt = plan.sites[0], problem.step_h
        entry = {"time": str(state.time), "status": plan.status, "objective_usd": plan.objective_usd,
                 "solve_s": plan.solve_s, "mip_gap": plan.mip_gap,
                 "unserved_mwh": float(sp.unserved_mw[:block].sum() * dt),
                 "shed_mwh": float(sp.shed_mw[:, :block].sum() * dt), "note": ""}
        if entry["unserved_mwh"] > 1e-6:
            entry["note"] = "the plan sheds load: " + shortfall_report(problem, plan, times)
        self.log.append(entry)

    def _fallback(self, state: SiteState, block: int, reason: str) -> Setpoints:
        self.log.append({"time": str(state.time), "status": "fallback", "objective_usd": math.nan, "solve_s": 0.0,
                         "mip_gap": math.nan, "unserved_mwh": math.nan, "shed_mwh": math.nan,
                         "note": f"{reason}; rules applied (battery and generators follow, cheapest compute shed "
                                 f"first)"})
        return Setpoints.follow(block, len(self.assets.generators))

    def summary(self) -> dict:
        """Plans made, fallbacks and solve times, with the notes of the plans that shed load."""
        solved = [e for e in self.log if e["status"] != "fallback"]
        times = np.array([e["solve_s"] for e in solved]) if solved else np.zeros(1)
        notes = [f"{e['time']}: {e['note']}" for e in self.log if e["note"]]
        return {"kind": "mpc", "forecaster": self.spec.forecaster, "horizon_steps": self.horizon_steps,
                "replan_every_steps": self.block_steps, "plans": len(self.log),
                "fallbacks": len(self.log) - len(solved), "solve_s_total": float(times.sum()),
                "solve_s_mean": float(times.mean()), "solve_s_max": float(times.max()),
                "planned_unserved_mwh": float(sum(e["unserved_mwh"] for e in solved)),
                "notes": notes[:20], "notes_omitted": max(0, len(notes) - 20)}


def _padded(f: SiteForecast, n: int) -> SiteForecast:
    """The forecast stretched to ``n`` steps (near the end of the timeline): nothing runs in the padding."""
    have = len(f.load_mw)
    if have >= n:
        return f
    changes = {}
    for name, value in vars(f).items():
        if isinstance(value, np.ndarray) and value.shape[-1] == have:
            width = [(0, 0)] * (value.ndim - 1) + [(0, n - have)]
            edge = name in ("price_usd_per_mwh", "export_price_usd_per_mwh", "intensity_kg_per_mwh", "month", "pue",
                            "grid_available")
            changes[name] = np.pad(value, width, mode="edge" if edge else "constant")
    return replace(f, **{k: v for k, v in changes.items() if k != "time"})


def setpoints_of(plan: DispatchPlan, problem: DispatchProblem, block: int, site: int = 0) -> Setpoints:
    """Site ``site``'s setpoints for the first ``block`` steps of ``plan``: the planned battery power, generators on
    as committed in whole units (and warming up before a planned start), compute shed, and export capped where it
    is paid for."""
    sp, s = plan.sites[site], problem.sites[site]
    n = problem.n_steps
    gen_mw = np.zeros((len(s.generators), block))
    if problem.commitment == "none":
        on, groups = sp.generator_mw > ON_TOL, [[j] for j in range(len(s.generators))]
    else:
        groups = (units.identical_units(problem) or [[[j] for j in range(len(s.generators))]] * (site + 1))[site]
        on = units.whole_units(sp.generator_on, groups)
    for members in groups:
        running = on[members].sum(axis=0)
        group_mw = sp.generator_mw[members].sum(axis=0)
        for j in members:
            g = s.generators[j]
            if len(members) == 1:  # the plan's own starts
                starts = np.flatnonzero(sp.generator_start[j] > 0.5)
            else:  # where the unit comes on
                starts = np.flatnonzero(on[j] & ~np.concatenate([[bool(g.on)], on[j][:-1]]))
            warming = np.zeros(n, dtype=bool)
            for st in starts:  # the warm-up before a planned start needs a positive setpoint
                warming[max(0, st - g.start_steps): st] = True
            share = np.divide(group_mw, running, out=np.zeros(n), where=running > 0)
            gen_mw[j] = np.where(on[j], share, np.where(warming, max(g.min_mw, ON_TOL), 0.0))[:block]
    grid = problem.connection or s.grid
    export_cap = np.where(grid.export_price_usd_per_mwh[:block] < 0, sp.export_mw[:block], np.inf)
    return Setpoints(battery_mw=(sp.discharge_mw - sp.charge_mw)[:block], generator_mw=gen_mw,
                     battery_grid_first=np.zeros(block, dtype=bool), compute_shed_mw=sp.shed_mw[:, :block],
                     export_limit_mw=export_cap)

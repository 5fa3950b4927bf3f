"""A capacity-sizing study of one site: the chosen system, a sweep for the cost-carbon Pareto front, and the
chosen system simulated by the engine as a check.

The site's year is taken at hourly steps (means of finer steps; an hour with any outage counts as out).
PV is sized in MW DC with the site's array design (or a single-axis tracker at DC/AC 1.2), wind in MW of
the site's turbine type (or the default), rounded to whole turbines for the check.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from wattscale.decisions.operate.problem import (
    BatteryTerms,
    DispatchProblem,
    FlexTerms,
    GeneratorTerms,
    GridTerms,
    SiteProblem,
)
from wattscale.decisions.operate.sizing import Sizer, SizingProblem, SizingResult, Technology
from wattscale.energy import grid as grid_events
from wattscale.energy import wind as wind_model
from wattscale.engine.campus import Campus, prepare
from wattscale.engine.inputs import site_inputs
from wattscale.engine.simulate import simulate
from wattscale.errors import ScenarioError
from wattscale.scenario.schema import Battery, Scenario, Sizing, Solar, Wind
from wattscale.studies.simulation.kpi import attach_kpis


@dataclass
class SizingStudyResult:
    scenario: str
    site: str
    spec: Sizing
    chosen: SizingResult
    sweep: list[SizingResult]
    sized: Scenario  # the scenario with the chosen capacities
    check: dict = field(default_factory=dict)  # engine KPIs of the sized scenario
    hours: int = 0

    def summary(self) -> dict:
        def point(r: SizingResult) -> dict:
            return {"carbon_price_usd_per_t": r.carbon_price_usd_per_t, "cfe_target": r.cfe_target,
                    "capacities": r.capacities, "annual_usd": r.annual_usd,
                    "total_usd_per_year": r.total_usd_per_year, "co2_t_per_year": r.co2_t_per_year,
                    "embodied_t_per_year": r.embodied_t_per_year, "cfe_score": r.cfe_score,
                    "unserved_fraction": r.unserved_fraction, "solve_s": r.solve_s}
        return {"scenario": self.scenario, "site": self.site, "hours": self.hours, "chosen": point(self.chosen),
                "sweep": {"over": self.spec.sweep, "points": [point(r) for r in self.sweep]},
                "engine_check": self.check}


def run_sizing_study(campus: Campus | Scenario | str, *, check: bool = True,
                     progress=None) -> SizingStudyResult:
    campus = prepare(campus)
    scenario, scenario_file = campus.scenario, campus.file
    spec = scenario.sizing or Sizing()
    index, _ = scenario.site(spec.site, field="sizing.site", file=scenario_file)
    site = scenario.sites[index]
    problem, solar, wind = sizing_problem(campus, index, spec)
    sweep_cfe = spec.sweep == "cfe_target"
    target = spec.cfe_target if spec.cfe_target is not None else (0.0 if sweep_cfe else None)
    sizer = Sizer(replace(problem, cfe_target=target))
    chosen = sizer.solve()
    if progress:
        progress(1)
    sweep = []
    for value in (spec.cfe_targets if sweep_cfe else spec.carbon_prices_usd_per_t):
        sweep.append(sizer.solve(cfe_target=value) if sweep_cfe else sizer.solve(carbon_price_usd_per_t=value))
        if progress:
            progress(1)
    sized = sized_scenario(scenario, index, chosen, solar, wind)
    result = SizingStudyResult(scenario.name, site.name, spec, chosen, sweep, sized, hours=problem.dispatch.n_steps)
    if check:
        results = attach_kpis(simulate(Campus(sized, file=scenario_file)))
        k = results.kpis[site.name]
        capital = sum(v for key, v in chosen.annual_usd.items() if key in {t.label for t in problem.technologies})
        years = problem.year_fraction
        result.check = {"cfe_score_hourly": k["cfe_score_hourly"], "unserved_mwh": k["unserved_mwh"],
                        "unserved_fraction": k["unserved_mwh"] / k["load_mwh"] if k["load_mwh"] else 0.0,
                        "co2_t_per_year": k["co2_t"] / years,
                        "operating_usd_per_year": (k["system_cost_usd"] - k["carbon_cost_usd"]) / years,
                        "total_usd_per_year": capital + (k["system_cost_usd"] - k["carbon_cost_usd"]) / years,
                        "controller": sized.controller.kind}
    return result


def sizing_problem(campus: Campus | Scenario | str, index: int, spec: Sizing) -> tuple[SizingProblem, Solar, Wind]:
    """The site's hourly year with PV and wind per MW, and the candidate technologies."""
    campus = prepare(campus)
    scenario, scenario_file = campus.scenario, campus.file
    site = scenario.sites[index]
    timeline = campus.timeline
    if 3600 % timeline.step_s or timeline.n_steps * timeline.step_s < 7 * 86400:
        raise ScenarioError("sizing needs steps that divide an hour and at least a week of time", field="time",
                            expected="a step such as 5min, 15min or 1h over up to a year")
    solar = site.solar or Solar(capacity_mwdc=1.2, capacity_mwac=1.0, tracking=True)
    wind = site.wind or Wind(n_turbines=1)
    probe = site.model_copy(update={"solar": solar, "wind": wind})
    inputs = site_inputs(probe, timeline, index=index, scenario_file=scenario_file, catalog=campus.catalog)
    k = 3600 // timeline.step_s
    hours = timeline.n_steps // k

    def hourly(values, how="mean"):
        a = np.asarray(values, float)[: hours * k].reshape(hours, k)
        return getattr(a, how)(axis=1)

    hold, soft, pay = grid_events.demand_response(site.grid.demand_response, timeline,
                                                  field=f"sites[{index}].grid.demand_response")
    month = timeline.month_groups()[: hours * k: k]
    g = site.grid
    terms = GridTerms(
        up=hourly(inputs.grid_up, "min") > 0.5, import_limit_mw=np.full(hours, np.inf),
        export_limit_mw=np.full(hours, g.export_limit_mw), price_usd_per_mwh=hourly(inputs.price_usd_per_mwh),
        export_price_usd_per_mwh=hourly(inputs.export_price_usd_per_mwh),
        intensity_kg_per_mwh=hourly(inputs.intensity_kg_per_mwh),
        demand_charge_usd_per_mw_month=g.demand_charge_usd_per_kw_month * 1e3, month_slot=month - month[0],
        month_share=_month_coverage(timeline.index[: hours * k: k]),
        dr_hold_mw=hourly(hold, "min") if np.isfinite(hold).any() else None,
        dr_soft_mw=hourly(soft, "min") if np.isfinite(soft).any() else None,
        dr_soft_usd_per_mwh=hourly(pay, "max") if np.isfinite(soft).any() else None)
    b = site.battery or Battery(power_mw=1.0, energy_mwh=4.0)
    battery = BatteryTerms.of(b, 3600, power_mw=0.0, energy_mwh=1.0)  # sized: the window as fractions
    kinds = {x.kind: x for x in reversed(inputs.generators)}  # one candidate per kind (its cheapest unit)
    gens = [GeneratorTerms.of(x, 3600, name=kind) for kind, x in kinds.items()]  # capacity sized, no commitment
    pue = hourly(inputs.pue)
    flex_mw, budgets = inputs.flex_params()
    flex = [FlexTerms(e.name, hourly(flex_mw[w]), e.cost_usd_per_mwh / pue, float(budgets[w]))
            for w, e in enumerate(inputs.envelopes)]
    site_problem = SiteProblem(site.name, hourly(inputs.load_mw), hourly(inputs.pv_mw) / solar.capacity_mwdc,
                               hourly(inputs.wind_mw) / wind_model.capacity_mw(wind), terms, battery, gens, flex)
    dispatch = DispatchProblem([site_problem], 1.0, carbon_price_usd_per_t=scenario.carbon_price_usd_per_t,
                               value_of_lost_load_usd_per_mwh=scenario.value_of_lost_load_usd_per_mwh,
                               commitment="none")
    per_kw = lambda c, key, label: Technology(  # noqa: E731
        key, label, c.capex_usd_per_kw * 1e3, c.fixed_om_usd_per_kw_year * 1e3, c.lifetime_years, c.min_mw,
        c.max_mw, c.embodied_t_per_mw)
    techs = [per_kw(spec.solar, "pv_mw", "PV (MW DC)"), per_kw(spec.wind, "wind_mw", "wind (MW)"),
             per_kw(spec.battery_power, "battery_mw", "battery power (MW)"),
             per_kw(spec.battery_energy, "battery_mwh", "battery energy (MWh)"),
             per_kw(spec.grid, "grid_mw", "grid connection (MW)")]
    techs += [per_kw(spec.generators, f"gen:{kind}", f"{kind.replace('_', ' ')}s (MW)") for kind in kinds]
    problem = SizingProblem(dispatch, techs, hourly(inputs.cfe_share), discount_rate=spec.discount_rate,
                            max_unserved_fraction=spec.max_unserved_fraction, cfe_target=spec.cfe_target,
                            year_fraction=hours / 8760.0)
    return problem, solar, wind


def _month_coverage(hours) -> np.ndarray:
    """Per calendar month of the timeline: the share of its hours covered (a partial month pays its share)."""
    month = hours.year * 12 + hours.month
    _, first, counts = np.unique(month, return_index=True, return_counts=True)
    starts = [t.normalize().replace(day=1) for t in hours[first]]
    lengths_h = [((t + pd.DateOffset(months=1)) - t) / pd.Timedelta(hours=1) for t in starts]  # DST-aware
    return counts / np.array(lengths_h)


def sized_scenario(scenario: Scenario, index: int, r: SizingResult, solar: Solar, wind: Wind) -> Scenario:
    """The scenario with the site rebuilt at the chosen capacities (assets below 0.1 MW dropped)."""
    c = r.capacities
    site = scenario.sites[index]
    ratio = solar.capacity_mwdc / solar.capacity_mwac
    turbine_mw = wind_model.capacity_mw(wind) / wind.n_turbines
    n_turbines = int(round(c["wind_mw"] / turbine_mw))
    units = {g.kind: sum(1 for x in site.generators if x.kind == g.kind) for g in site.generators}
    share = {kind: c[f"gen:{kind}"] / count for kind, count in units.items()}  # split evenly among a kind's units
    update = {
        "solar": solar.model_copy(update={"capacity_mwdc": c["pv_mw"], "capacity_mwac": c["pv_mw"] / ratio})
        if c["pv_mw"] >= 0.1 else None,
        "wind": wind.model_copy(update={"n_turbines": n_turbines}) if n_turbines >= 1 else None,
        "battery": (site.battery or Battery(power_mw=1.0, energy_mwh=4.0)).model_copy(
            update={"power_mw": c["battery_mw"], "energy_mwh": c["battery_mwh"]})
        if min(c["battery_mw"], c["battery_mwh"]) >= 0.1 else None,
        "generators": [g.model_copy(update={"capacity_mw": share[g.kind],
                                            "ramp_mw_per_min": g.ramp_mw_per_min / g.capacity_mw * share[g.kind]})
                       for g in site.generators if share[g.kind] >= 0.1],
        "grid": site.grid.model_copy(update={"import_limit_mw": math.ceil(c["grid_mw"] * 1e3 - 1e-6) / 1e3,
                                             "export_limit_mw": min(site.grid.export_limit_mw, c["grid_mw"])}),
    }
    sites = list(scenario.sites)
    sites[index] = site.model_copy(update=update)
    return scenario.model_copy(update={"sites": sites, "name": f"{scenario.name}-sized", "swings": None})

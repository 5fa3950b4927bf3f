"""Key performance indicators of a simulated site: energy, cost, CO2, 24/7 carbon-free energy, reliability.

Carbon-free attribution uses proportional sharing at the site bus: every step, sinks (load, battery
charge, export) receive the same mix as the sources flowing in (on-site renewables, generators, grid
import at the grid's carbon-free share, battery discharge at the mix stored in it). The battery keeps
track of the carbon-free and renewable content of its stored energy; it starts with the mix it ends
with, as if the period repeated (found by a second pass). The hourly 24/7 CFE score is sum_h min(load_h, cfe_h) / sum_h load_h over clock hours.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from numba import njit

from wattscale.energy.battery import degradation_by_year, self_discharge_per_step
from wattscale.engine.columns import gen_fuel_mmbtu, gen_mw, gen_starts
from wattscale.engine.results import Results
from wattscale.scenario.schema import Site
from wattscale.studies.simulation.costs import (
    SYSTEM_COST_EXTRAS,
    TOTAL_COST_PARTS,
    emissions_kg,
    monthly_demand_charge_usd,
    step_costs_usd,
)
from wattscale.studies.simulation.kpi_registry import FLEET_ONLY, KPIS


def carbon_free_to_load(renew_used, gen, imp, dis, ch, load_served, grid_cfe, eta_c, eta_d, keep, dt_h, soc,
                        soc_initial_mwh=0.0):
    """Per step (MW): carbon-free and on-site-renewable power delivered to load (proportional sharing)."""
    args = (renew_used, gen, imp, dis, ch, load_served, grid_cfe, eta_c, eta_d, keep, dt_h, soc, soc_initial_mwh)
    _, _, b_cfe, b_ren = _sharing(*args, 0.0, 0.0)
    cfe, ren, _, _ = _sharing(*args, b_cfe, b_ren)  # start with the mix the period ends with
    return cfe, ren


@njit(cache=True)
def _sharing(renew_used, gen, imp, dis, ch, load_served, grid_cfe, eta_c, eta_d, keep, dt_h, soc, soc_initial_mwh,
             b_cfe, b_ren):
    """One pass of proportional sharing from a stored mix (carbon-free and renewable fractions)."""
    n = len(load_served)
    cfe = np.zeros(n)
    ren = np.zeros(n)
    e_prev = soc_initial_mwh
    for t in range(n):
        total_in = renew_used[t] + gen[t] + imp[t] + dis[t]
        mix_cfe = 0.0
        mix_ren = 0.0
        if total_in > 0.0:
            mix_cfe = (renew_used[t] + imp[t] * grid_cfe[t] + dis[t] * b_cfe) / total_in
            mix_ren = (renew_used[t] + dis[t] * b_ren) / total_in
        cfe[t] = load_served[t] * mix_cfe
        ren[t] = load_served[t] * mix_ren
        kept = max(e_prev * keep - dis[t] / eta_d * dt_h, 0.0)
        added = ch[t] * eta_c * dt_h
        if kept + added > 0.0:  # stored energy mixes what stayed with what was added
            b_cfe = (kept * b_cfe + added * mix_cfe) / (kept + added)
            b_ren = (kept * b_ren + added * mix_ren) / (kept + added)
        e_prev = soc[t]
    return cfe, ren, b_cfe, b_ren


def hourly_cfe_score(load_mwh_per_hour: np.ndarray, cfe_mwh_per_hour: np.ndarray) -> float:
    """24/7 carbon-free energy score: share of load matched hour by hour by carbon-free supply."""
    total = float(np.sum(load_mwh_per_hour))
    return float(np.sum(np.minimum(load_mwh_per_hour, cfe_mwh_per_hour)) / total) if total > 0 else 1.0


def site_kpis(frame: pd.DataFrame, site: Site, *, step_s: float, hour_groups: np.ndarray,
              month_groups: np.ndarray, voll_usd_per_mwh: float, carbon_price_usd_per_t: float = 0.0) -> dict:
    """KPIs of one site from its per-step frame."""
    dt_h = step_s / 3600.0
    col = lambda name: frame[name].to_numpy(dtype=float)  # noqa: E731
    load, pv, wind = col("load_mw"), col("pv_mw"), col("wind_mw")
    curtailed, imp, exp = col("curtailed_mw"), col("grid_import_mw"), col("grid_export_mw")
    ch, dis, unserved = col("battery_charge_mw"), col("battery_discharge_mw"), col("unserved_mw")
    gen_total = np.zeros(len(frame))
    k: dict[str, float | dict] = {}
    generators = {}
    for g in site.generators:
        p = col(gen_mw(g.name))
        fuel = col(gen_fuel_mmbtu(g.name)).sum()
        starts = int(frame[gen_starts(g.name)].sum())
        gen_total += p
        generators[g.name] = {"energy_mwh": float(p.sum() * dt_h), "starts": starts, "fuel_mmbtu": float(fuel),
                              "hours_running": float((p > 0).sum() * dt_h),
                              "co2_t": float(fuel * g.co2_kg_per_mmbtu / 1e3)}
    costs = {key: float(v) for key, v in step_costs_usd(frame, site, dt_h, voll_usd_per_mwh=voll_usd_per_mwh,
                                                       carbon_price_usd_per_t=carbon_price_usd_per_t).sum().items()}
    costs["demand_charge_usd"] = float(monthly_demand_charge_usd(frame, site, month_groups).sum())
    grid_co2, gen_co2 = emissions_kg(frame, site, dt_h)
    grid_co2_kg, gen_co2_kg = float(grid_co2.sum()), float(gen_co2.sum())
    renew_used = pv + wind - curtailed
    load_mwh = load.sum() * dt_h
    load_mwh = load.sum() * dt_h
    # carbon-free attribution
    b = site.battery
    eta_c, eta_d = (b.charge_efficiency, b.discharge_efficiency) if b else (1.0, 1.0)
    keep = 1.0 - self_discharge_per_step(b, step_s) if b else 1.0
    shed = col("compute_shed_mw") if "compute_shed_mw" in frame else np.zeros(len(frame))
    served = load - unserved - shed
    cfe, ren = carbon_free_to_load(renew_used, gen_total, imp, dis, ch, served, col("grid_cfe_share"),
                                   eta_c, eta_d, keep, dt_h, col("battery_soc_mwh"),
                                   b.soc_initial * b.energy_mwh if b else 0.0)
    load_h = pd.Series(load * dt_h).groupby(hour_groups).sum().to_numpy()
    cfe_h = pd.Series(cfe * dt_h).groupby(hour_groups).sum().to_numpy()
    unserved_h = pd.Series(unserved).groupby(hour_groups).max().to_numpy()
    total_cost = sum(costs[key] for key in TOTAL_COST_PARTS) - costs["export_revenue_usd"] + costs["demand_charge_usd"]
    k.update({
        "load_mwh": load_mwh,
        "it_load_mwh": float(col("it_load_mw").sum() * dt_h),
        "mean_pue": float(load.sum() / max(col("it_load_mw").sum(), 1e-12)),
        "peak_load_mw": float(load.max()),
        "pv_available_mwh": float(pv.sum() * dt_h),
        "wind_available_mwh": float(wind.sum() * dt_h),
        "curtailed_mwh": float(curtailed.sum() * dt_h),
        "generation_mwh": float(gen_total.sum() * dt_h),
        "grid_import_mwh": float(imp.sum() * dt_h),
        "grid_export_mwh": float(exp.sum() * dt_h),
        "dumped_mwh": float(col("dumped_mw").sum() * dt_h),
        "peak_import_mw": float(imp.max()),
        "unserved_mwh": float(unserved.sum() * dt_h),
        "unserved_hours": int((unserved_h > 1e-9).sum()),
        **costs,
        "total_cost_usd": total_cost,
        "cost_usd_per_mwh_load": total_cost / load_mwh if load_mwh > 0 else 0.0,
        "compute_shed_mwh": float(shed.sum() * dt_h),
        "system_cost_usd": total_cost + sum(costs[key] for key in SYSTEM_COST_EXTRAS),
        "grid_co2_t": grid_co2_kg / 1e3,
        "generator_co2_t": gen_co2_kg / 1e3,
        "co2_t": (grid_co2_kg + gen_co2_kg) / 1e3,
        "co2_kg_per_mwh_load": (grid_co2_kg + gen_co2_kg) / load_mwh if load_mwh > 0 else 0.0,
        "cfe_score_hourly": hourly_cfe_score(load_h, cfe_h),
        "renewable_share": float(ren.sum() / load.sum()) if load.sum() > 0 else 0.0,
        "battery_equivalent_cycles": float(dis.sum() * dt_h / b.energy_mwh) if b else 0.0,
        "generators": generators,
    })
    if "migrated_out_it_mw" in frame:  # a coupled site
        k["migrated_out_it_mwh"] = float(col("migrated_out_it_mw").sum() * dt_h)
        k["migrated_in_it_mwh"] = float(col("migrated_in_it_mw").sum() * dt_h)
    else:  # the fleet's KPIs are shown for coupled sites only (its cost is zero and counted in the system cost)
        for key in FLEET_ONLY:
            k.pop(key, None)
    if b:
        deg = degradation_by_year(col("battery_soc_mwh"), dis * dt_h, frame.index, b)
        k["battery_degradation"] = deg.to_dict(orient="records")
    return k


def combine_kpis(per_site: list[dict]) -> dict:
    """KPIs over several sites, as the registry says each combines: energies, costs and emissions add; shares
    are weighted by load (PUE by IT energy); per-MWh figures are recomputed from the totals."""
    out: dict = {}
    for kpi in KPIS:
        values = [k[kpi.key] for k in per_site if kpi.key in k]
        if not values or kpi.combine in ("none", "per_mwh_load"):
            continue
        if kpi.combine == "sum":
            out[kpi.key] = float(sum(values))
        elif kpi.combine == "max":
            out[kpi.key] = max(values)
        else:
            w = [k["it_load_mwh" if kpi.combine == "it_weighted" else "load_mwh"] for k in per_site]
            out[kpi.key] = float(np.average(values, weights=w)) if sum(w) > 0 else 0.0
    load = out.get("load_mwh", 0.0)
    out["cost_usd_per_mwh_load"] = out["total_cost_usd"] / load if load > 0 else 0.0
    out["co2_kg_per_mwh_load"] = out["co2_t"] * 1e3 / load if load > 0 else 0.0
    return out


def attach_kpis(results: Results) -> Results:
    """Compute every site's KPIs and the totals, in place; returns ``results``."""
    tl = results.timeline
    hours, months = tl.hour_groups(), tl.month_groups()
    for site in results.scenario.sites:
        results.kpis[site.name] = site_kpis(results.steps[site.name], site, step_s=tl.step_s, hour_groups=hours,
                                            month_groups=months,
                                            voll_usd_per_mwh=results.scenario.value_of_lost_load_usd_per_mwh,
                                            carbon_price_usd_per_t=results.scenario.carbon_price_usd_per_t)
        fleet = results.extra.get("workloads", {}).get(site.name)
        if fleet:  # a fleet sized for its SLO shows its size here too
            results.kpis[site.name]["gpus"] = float(sum(w["gpus"] for w in fleet.values()))
    results.extra["total"] = combine_kpis(list(results.kpis.values()))
    return results

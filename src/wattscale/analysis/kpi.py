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

from wattscale.engine.results import Results
from wattscale.energy.battery import degradation_by_year, self_discharge_per_step
from wattscale.scenario.schema import Site


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
    price, export_price = col("price_usd_per_mwh"), col("export_price_usd_per_mwh")
    intensity = col("intensity_kg_per_mwh")
    gen_total = np.zeros(len(frame))
    k: dict[str, float | dict] = {}
    fuel_usd = om_usd = start_usd = gen_co2_kg = 0.0
    generators = {}
    for g in site.generators:
        p = col(f"gen_{g.name}_mw")
        fuel = col(f"gen_{g.name}_fuel_mmbtu").sum()
        starts = int(frame[f"gen_{g.name}_starts"].sum())
        gen_total += p
        fuel_usd += fuel * g.fuel_price_usd_per_mmbtu
        om_usd += p.sum() * dt_h * g.variable_om_usd_per_mwh
        start_usd += starts * g.start_up_cost_usd
        gen_co2_kg += fuel * g.co2_kg_per_mmbtu
        generators[g.name] = {"energy_mwh": float(p.sum() * dt_h), "starts": starts, "fuel_mmbtu": float(fuel),
                              "hours_running": float((p > 0).sum() * dt_h),
                              "co2_t": float(fuel * g.co2_kg_per_mmbtu / 1e3)}
    renew_used = pv + wind - curtailed
    load_mwh = load.sum() * dt_h
    peaks = pd.Series(imp).groupby(month_groups).max()
    demand_charge = float(peaks.sum() * 1000.0 * site.grid.demand_charge_usd_per_kw_month)
    energy_usd = float((imp * price).sum() * dt_h)
    export_usd = float((exp * export_price).sum() * dt_h)
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
    grid_co2_kg = float((imp * intensity).sum() * dt_h)
    total_cost = energy_usd - export_usd + demand_charge + fuel_usd + om_usd + start_usd
    wear_usd = float(dis.sum() * dt_h * b.wear_cost_usd_per_mwh) if b else 0.0
    dr_usd = float((np.maximum(imp - col("dr_hold_mw"), 0.0) * col("dr_payment_usd_per_mwh")).sum() * dt_h) \
        if "dr_hold_mw" in frame else 0.0
    carbon_usd = (grid_co2_kg + gen_co2_kg) / 1e3 * carbon_price_usd_per_t
    unserved_usd = float(unserved.sum() * dt_h * voll_usd_per_mwh)
    lost_usd = float(frame["compute_lost_usd_per_h"].sum() * dt_h) if "compute_lost_usd_per_h" in frame else 0.0
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
        "energy_cost_usd": energy_usd,
        "export_revenue_usd": export_usd,
        "demand_charge_usd": demand_charge,
        "fuel_cost_usd": fuel_usd,
        "generator_om_usd": om_usd,
        "start_up_cost_usd": start_usd,
        "total_cost_usd": total_cost,
        "cost_usd_per_mwh_load": total_cost / load_mwh if load_mwh > 0 else 0.0,
        "unserved_cost_usd": unserved_usd,
        "compute_shed_mwh": float(shed.sum() * dt_h),
        "compute_lost_usd": lost_usd,
        "battery_wear_usd": wear_usd,
        "demand_response_forgone_usd": dr_usd,
        "carbon_cost_usd": carbon_usd,
        "system_cost_usd": total_cost + wear_usd + dr_usd + carbon_usd + unserved_usd + lost_usd,
        "grid_co2_t": grid_co2_kg / 1e3,
        "generator_co2_t": gen_co2_kg / 1e3,
        "co2_t": (grid_co2_kg + gen_co2_kg) / 1e3,
        "co2_kg_per_mwh_load": (grid_co2_kg + gen_co2_kg) / load_mwh if load_mwh > 0 else 0.0,
        "cfe_score_hourly": hourly_cfe_score(load_h, cfe_h),
        "renewable_share": float(ren.sum() / load.sum()) if load.sum() > 0 else 0.0,
        "battery_equivalent_cycles": float(dis.sum() * dt_h / b.energy_mwh) if b else 0.0,
        "generators": generators,
    })
    if b:
        deg = degradation_by_year(col("battery_soc_mwh"), dis * dt_h, frame.index, b)
        k["battery_degradation"] = deg.to_dict(orient="records")
    return k


ADDITIVE = ["load_mwh", "it_load_mwh", "pv_available_mwh", "wind_available_mwh", "curtailed_mwh",
            "generation_mwh", "grid_import_mwh", "grid_export_mwh", "dumped_mwh", "unserved_mwh",
            "compute_shed_mwh", "compute_lost_usd", "energy_cost_usd", "export_revenue_usd", "demand_charge_usd", "fuel_cost_usd", "generator_om_usd",
            "start_up_cost_usd", "total_cost_usd", "unserved_cost_usd", "battery_wear_usd",
            "demand_response_forgone_usd", "carbon_cost_usd", "system_cost_usd", "grid_co2_t", "generator_co2_t",
            "co2_t"]


def combine_kpis(per_site: list[dict]) -> dict:
    """KPIs over several sites: energies, costs and emissions add; ratios are load-weighted."""
    out = {key: float(sum(k[key] for k in per_site)) for key in ADDITIVE}
    load = out["load_mwh"]
    for key in ("cfe_score_hourly", "renewable_share", "mean_pue"):
        base = "it_load_mwh" if key == "mean_pue" else "load_mwh"
        w = [k[base] for k in per_site]
        out[key] = float(np.average([k[key] for k in per_site], weights=w)) if sum(w) > 0 else 0.0
    out["cost_usd_per_mwh_load"] = out["total_cost_usd"] / load if load > 0 else 0.0
    out["co2_kg_per_mwh_load"] = out["co2_t"] * 1e3 / load if load > 0 else 0.0
    out["unserved_hours"] = max(k["unserved_hours"] for k in per_site)
    out["peak_import_mw"] = float(sum(k["peak_import_mw"] for k in per_site))
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
    results.extra["total"] = combine_kpis(list(results.kpis.values()))
    return results

"""What a simulated site costs, computed once: per step for the costs that accrue by energy, per calendar month
for the demand charge. KPIs sum these; the report groups them by month."""
from __future__ import annotations

import numpy as np
import pandas as pd

from wattscale.engine.columns import gen_fuel_mmbtu, gen_mw, gen_starts
from wattscale.scenario.schema import Site

#: cost components per step (USD), by KPI key; the demand charge is per month (``monthly_demand_charge_usd``)
STEP_COSTS = ("energy_cost_usd", "export_revenue_usd", "fuel_cost_usd", "generator_om_usd", "start_up_cost_usd",
              "battery_wear_usd", "demand_response_forgone_usd", "carbon_cost_usd", "unserved_cost_usd",
              "compute_lost_usd", "migration_cost_usd")
#: what the total energy cost adds (export revenue counts against it)
TOTAL_COST_PARTS = ("energy_cost_usd", "fuel_cost_usd", "generator_om_usd", "start_up_cost_usd")
#: what the system cost adds to the total energy cost
SYSTEM_COST_EXTRAS = ("battery_wear_usd", "demand_response_forgone_usd", "carbon_cost_usd", "unserved_cost_usd",
                      "compute_lost_usd", "migration_cost_usd")


def emissions_kg(frame: pd.DataFrame, site: Site, step_h: float) -> tuple[np.ndarray, np.ndarray]:
    """CO2 per step (kg) from grid imports (location-based) and from generator fuel."""
    col = lambda name: frame[name].to_numpy(dtype=float)  # noqa: E731
    grid = col("grid_import_mw") * col("intensity_kg_per_mwh") * step_h
    gen = np.zeros(len(frame))
    for g in site.generators:
        gen = gen + col(gen_fuel_mmbtu(g.name)) * g.co2_kg_per_mmbtu
    return grid, gen


def step_costs_usd(frame: pd.DataFrame, site: Site, step_h: float, *, voll_usd_per_mwh: float = 0.0,
                   carbon_price_usd_per_t: float = 0.0) -> pd.DataFrame:
    """Each cost component of every step (USD), columns named by their KPI keys (``STEP_COSTS``)."""
    col = lambda name: frame[name].to_numpy(dtype=float)  # noqa: E731
    n = len(frame)
    zeros = np.zeros(n)
    imp = col("grid_import_mw")
    fuel = om = starts = zeros
    for g in site.generators:
        fuel = fuel + col(gen_fuel_mmbtu(g.name)) * g.fuel_price_usd_per_mmbtu
        om = om + col(gen_mw(g.name)) * step_h * g.variable_om_usd_per_mwh
        starts = starts + col(gen_starts(g.name)) * g.start_up_cost_usd
    b = site.battery
    grid_co2, gen_co2 = emissions_kg(frame, site, step_h)
    dr = (np.maximum(imp - col("dr_hold_mw"), 0.0) * col("dr_payment_usd_per_mwh") * step_h
          if "dr_hold_mw" in frame else zeros)
    return pd.DataFrame({
        "energy_cost_usd": imp * col("price_usd_per_mwh") * step_h,
        "export_revenue_usd": col("grid_export_mw") * col("export_price_usd_per_mwh") * step_h,
        "fuel_cost_usd": fuel,
        "generator_om_usd": om,
        "start_up_cost_usd": starts,
        "battery_wear_usd": col("battery_discharge_mw") * step_h * b.wear_cost_usd_per_mwh if b else zeros,
        "demand_response_forgone_usd": dr,
        "carbon_cost_usd": (grid_co2 + gen_co2) / 1e3 * carbon_price_usd_per_t,
        "unserved_cost_usd": col("unserved_mw") * step_h * voll_usd_per_mwh,
        "compute_lost_usd": col("compute_lost_usd_per_h") * step_h if "compute_lost_usd_per_h" in frame else zeros,
        "migration_cost_usd": col("migration_cost_usd_per_h") * step_h if "migration_cost_usd_per_h" in frame
        else zeros,
    }, index=frame.index)


def monthly_demand_charge_usd(frame: pd.DataFrame, site: Site, month: np.ndarray | None = None) -> pd.Series:
    """The demand charge of each calendar month (local time; ``month`` labels each step's, as
    ``Timeline.month_groups``): its peak import in kW times the rate."""
    month = frame.index.year * 12 + frame.index.month - 1 if month is None else month
    peaks = frame["grid_import_mw"].groupby(month).max()
    return peaks * 1000.0 * site.grid.demand_charge_usd_per_kw_month


def monthly_costs_usd(frame: pd.DataFrame, site: Site, step_h: float) -> pd.DataFrame:
    """The total energy cost by calendar month and component (net grid energy, demand charge, fuel, O&M,
    start-ups); its sum is the ``total_cost_usd`` KPI."""
    steps = step_costs_usd(frame, site, step_h)
    month = frame.index.tz_localize(None).to_period("M")
    by_month = steps.groupby(month).sum()
    out = pd.DataFrame({"grid energy": by_month["energy_cost_usd"] - by_month["export_revenue_usd"],
                        "demand charge": monthly_demand_charge_usd(frame, site).to_numpy(),
                        "fuel": by_month["fuel_cost_usd"], "generator O&M": by_month["generator_om_usd"],
                        "start-ups": by_month["start_up_cost_usd"]})
    out.index = out.index.strftime("%Y-%m")
    return out

"""Every KPI a run reports, once: its key, label, unit, format and how sites combine. The KPI code, the terminal
table and the HTML report all read this list, so nothing computed goes unshown."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Combine = Literal["sum", "load_weighted", "it_weighted", "max", "per_mwh_load", "none"]
MONEY = "money"  # a format: amounts in USD as 12.3 M USD, 45.6 k USD or 789 USD


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    unit: str
    fmt: str  # a format() spec for the value in its unit
    combine: Combine = "sum"  # how all sites together are formed from each site's value
    part_of: str | None = None  # shown indented under this KPI (a cost or emission component)

    @property
    def title(self) -> str:
        indent = "  " if self.part_of else ""
        shown_unit = self.unit and self.fmt != MONEY  # money carries its unit in the value: 12.3 M USD
        return f"{indent}{self.label} ({self.unit})" if shown_unit else f"{indent}{self.label}"


KPIS: tuple[Kpi, ...] = (
    Kpi("load_mwh", "Facility energy", "MWh", "{:,.0f}"),
    Kpi("it_load_mwh", "IT energy", "MWh", "{:,.0f}"),
    Kpi("gpus", "GPUs in the workloads (as simulated)", "", "{:,.0f}"),
    Kpi("mean_pue", "Mean PUE", "", "{:.3f}", "it_weighted"),
    Kpi("peak_load_mw", "Peak facility load", "MW", "{:,.1f}", "none"),
    Kpi("total_cost_usd", "Total energy cost", "USD", MONEY),
    Kpi("cost_usd_per_mwh_load", "Cost per MWh of load", "USD/MWh", "{:,.2f}", "per_mwh_load"),
    Kpi("energy_cost_usd", "grid energy", "USD", MONEY, part_of="total_cost_usd"),
    Kpi("export_revenue_usd", "export revenue", "USD", MONEY, part_of="total_cost_usd"),
    Kpi("demand_charge_usd", "demand charges", "USD", MONEY, part_of="total_cost_usd"),
    Kpi("fuel_cost_usd", "fuel", "USD", MONEY, part_of="total_cost_usd"),
    Kpi("generator_om_usd", "generator O&M", "USD", MONEY, part_of="total_cost_usd"),
    Kpi("start_up_cost_usd", "start-ups", "USD", MONEY, part_of="total_cost_usd"),
    Kpi("co2_t", "CO2, location-based", "t", "{:,.0f}"),
    Kpi("grid_co2_t", "from grid", "t", "{:,.0f}", part_of="co2_t"),
    Kpi("generator_co2_t", "from generators", "t", "{:,.0f}", part_of="co2_t"),
    Kpi("co2_kg_per_mwh_load", "CO2 per MWh of load", "kg/MWh", "{:,.1f}", "per_mwh_load"),
    Kpi("cfe_score_hourly", "24/7 CFE score (hourly)", "", "{:.1%}", "load_weighted"),
    Kpi("renewable_share", "On-site renewable share", "", "{:.1%}", "load_weighted"),
    Kpi("grid_import_mwh", "Grid import", "MWh", "{:,.0f}"),
    Kpi("grid_export_mwh", "Grid export", "MWh", "{:,.0f}"),
    Kpi("peak_import_mw", "Peak import", "MW", "{:,.1f}", "sum"),  # all sites: the sum of the sites' own peaks
    Kpi("pv_available_mwh", "PV available", "MWh", "{:,.0f}"),
    Kpi("wind_available_mwh", "Wind available", "MWh", "{:,.0f}"),
    Kpi("curtailed_mwh", "Curtailed", "MWh", "{:,.0f}"),
    Kpi("dumped_mwh", "Surplus dumped, not curtailable", "MWh", "{:,.1f}"),
    Kpi("generation_mwh", "Generator output", "MWh", "{:,.0f}"),
    Kpi("unserved_mwh", "Unserved energy", "MWh", "{:,.2f}"),
    Kpi("unserved_hours", "Hours with unserved load", "", "{:,.0f}", "max"),
    Kpi("compute_shed_mwh", "Compute shed, flexibility", "MWh", "{:,.1f}"),
    Kpi("battery_equivalent_cycles", "Battery equivalent full cycles", "", "{:,.1f}", "none"),
    Kpi("system_cost_usd", "System cost", "USD", MONEY),
    Kpi("compute_lost_usd", "+ value of compute given up", "USD", MONEY, part_of="system_cost_usd"),
    Kpi("unserved_cost_usd", "+ unserved energy at the value of lost load", "USD", MONEY,
        part_of="system_cost_usd"),
    Kpi("battery_wear_usd", "+ battery wear", "USD", MONEY, part_of="system_cost_usd"),
    Kpi("carbon_cost_usd", "+ carbon price x CO2", "USD", MONEY, part_of="system_cost_usd"),
    Kpi("demand_response_forgone_usd", "+ demand-response payments forgone", "USD", MONEY,
        part_of="system_cost_usd"),
    Kpi("migration_cost_usd", "+ moving compute to other sites", "USD", MONEY, part_of="system_cost_usd"),
    Kpi("migrated_out_it_mwh", "IT energy moved to other sites", "MWh", "{:,.0f}"),
    Kpi("migrated_in_it_mwh", "IT energy taken from other sites", "MWh", "{:,.0f}"),
)
BY_KEY = {k.key: k for k in KPIS}
#: KPIs of coupled sites only (a scenario with a fleet section)
FLEET_ONLY = ("migration_cost_usd", "migrated_out_it_mwh", "migrated_in_it_mwh")
ADDITIVE = [k.key for k in KPIS if k.combine == "sum"]


def format_kpi(key: str, value) -> str:
    """``value`` in the KPI's format (as text when it is not a number)."""
    kpi = BY_KEY.get(key)
    try:
        if kpi is not None and kpi.fmt == MONEY:
            return money(value)
        return kpi.fmt.format(value) if kpi else str(value)
    except (TypeError, ValueError):
        return str(value)


def money(usd: float) -> str:
    """An amount as people read it: 12.35 M USD, 45.6 k USD, 789 USD."""
    usd = float(usd)
    for scale, suffix, digits in ((1e9, " bn", 2), (1e6, " M", 2), (1e3, " k", 1)):
        if abs(usd) >= scale:
            return f"{usd / scale:,.{digits}f}{suffix} USD"
    return f"{usd:,.0f} USD"


def shown_kpis(*tables: dict) -> list[Kpi]:
    """The KPIs, in order, that at least one of ``tables`` holds."""
    return [k for k in KPIS if any(k.key in t for t in tables)]

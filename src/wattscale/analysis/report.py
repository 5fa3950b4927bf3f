"""Self-contained interactive HTML report of a simulation (plotly, inlined once)."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from wattscale.engine.results import Results
from wattscale.scenario.schema import Site

COLORS = {"pv": "#f5b700", "wind": "#4cb5ae", "battery": "#7b5ea7", "grid": "#8c8c8c", "gen": "#d1495b",
          "unserved": "#000000", "load": "#1f3b73", "curtailed": "#f3de8a"}

KPI_ROWS = [  # key, label, format
    ("load_mwh", "Facility energy (MWh)", "{:,.0f}"), ("it_load_mwh", "IT energy (MWh)", "{:,.0f}"),
    ("mean_pue", "Mean PUE", "{:.3f}"), ("peak_load_mw", "Peak facility load (MW)", "{:,.1f}"),
    ("total_cost_usd", "Total energy cost (USD)", "{:,.0f}"),
    ("cost_usd_per_mwh_load", "Cost per MWh of load (USD)", "{:,.2f}"),
    ("energy_cost_usd", "  grid energy (USD)", "{:,.0f}"), ("export_revenue_usd", "  export revenue (USD)", "{:,.0f}"),
    ("demand_charge_usd", "  demand charges (USD)", "{:,.0f}"), ("fuel_cost_usd", "  fuel (USD)", "{:,.0f}"),
    ("generator_om_usd", "  generator O&M (USD)", "{:,.0f}"), ("start_up_cost_usd", "  start-ups (USD)", "{:,.0f}"),
    ("co2_t", "CO2, location-based (t)", "{:,.0f}"), ("grid_co2_t", "  from grid (t)", "{:,.0f}"),
    ("generator_co2_t", "  from generators (t)", "{:,.0f}"),
    ("co2_kg_per_mwh_load", "CO2 per MWh of load (kg)", "{:,.1f}"),
    ("cfe_score_hourly", "24/7 CFE score (hourly)", "{:.1%}"), ("renewable_share", "On-site renewable share", "{:.1%}"),
    ("grid_import_mwh", "Grid import (MWh)", "{:,.0f}"), ("grid_export_mwh", "Grid export (MWh)", "{:,.0f}"),
    ("peak_import_mw", "Peak import (MW)", "{:,.1f}"), ("pv_available_mwh", "PV available (MWh)", "{:,.0f}"),
    ("wind_available_mwh", "Wind available (MWh)", "{:,.0f}"), ("curtailed_mwh", "Curtailed (MWh)", "{:,.0f}"),
    ("generation_mwh", "Generator output (MWh)", "{:,.0f}"), ("unserved_mwh", "Unserved energy (MWh)", "{:,.2f}"),
    ("unserved_hours", "Hours with unserved load", "{:,.0f}"),
    ("compute_shed_mwh", "Compute shed, flexibility (MWh)", "{:,.1f}"),
    ("compute_lost_usd", "  value of compute given up (USD)", "{:,.0f}"),
    ("battery_equivalent_cycles", "Battery equivalent full cycles", "{:,.1f}"),
    ("system_cost_usd", "System cost (USD)", "{:,.0f}"),
    ("battery_wear_usd", "  + battery wear (USD)", "{:,.0f}"),
    ("carbon_cost_usd", "  + carbon price x CO2 (USD)", "{:,.0f}"),
    ("demand_response_forgone_usd", "  + demand-response payments forgone (USD)", "{:,.0f}"),
]


def format_kpi(key: str, value) -> str:
    fmt = next((f for k, _, f in KPI_ROWS if k == key), "{}")
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


def _plot_resolution(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Frame to plot and its label: the steps up to 3 days, hourly means up to 60 days, daily means beyond."""
    span = frame.index[-1] - frame.index[0]
    if span <= pd.Timedelta(days=3):
        return frame, "per step"
    if span <= pd.Timedelta(days=60):
        return frame.resample("1h").mean(), "hourly means"
    return frame.resample("1D").mean(), "daily means"


def monthly_costs_usd(frame: pd.DataFrame, site: Site, step_h: float) -> pd.DataFrame:
    """Cost components per calendar month: net grid energy, demand charge, fuel, O&M and start-ups."""
    month = frame.index.tz_localize(None).to_period("M")  # calendar months in the local time zone
    energy = (frame["grid_import_mw"] * frame["price_usd_per_mwh"]
              - frame["grid_export_mw"] * frame["export_price_usd_per_mwh"]) * step_h
    out = pd.DataFrame({"grid energy": energy.groupby(month).sum(),
                        "demand charge": frame["grid_import_mw"].groupby(month).max() * 1000.0
                        * site.grid.demand_charge_usd_per_kw_month})
    fuel = om = starts = 0.0
    for g in site.generators:
        fuel = fuel + frame[f"gen_{g.name}_fuel_mmbtu"] * g.fuel_price_usd_per_mmbtu
        om = om + frame[f"gen_{g.name}_mw"] * step_h * g.variable_om_usd_per_mwh
        starts = starts + frame[f"gen_{g.name}_starts"] * g.start_up_cost_usd
    for label, series in (("fuel", fuel), ("generator O&M", om), ("start-ups", starts)):
        out[label] = series.groupby(month).sum() if isinstance(series, pd.Series) else 0.0
    out.index = out.index.strftime("%Y-%m")
    return out


def site_figures(frame: pd.DataFrame, site: Site, name: str, step_h: float) -> list[go.Figure]:
    f, resolution = _plot_resolution(frame)
    f = f.astype("float32")
    gens = [c for c in frame.columns if c.startswith("gen_") and c.endswith("_mw")]
    figs = []
    # supply stacked against load
    fig = go.Figure()
    layers = [("PV", f["pv_mw"] - np.minimum(f["curtailed_mw"], f["pv_mw"]), COLORS["pv"]),
              ("Wind", f["wind_mw"] - np.maximum(0, f["curtailed_mw"] - f["pv_mw"]), COLORS["wind"]),
              ("Battery discharge", f["battery_discharge_mw"], COLORS["battery"]),
              ("Generators", f[gens].sum(axis=1) if gens else 0 * f["load_mw"], COLORS["gen"]),
              ("Grid import", f["grid_import_mw"], COLORS["grid"]),
              ("Compute shed", f["compute_shed_mw"] if "compute_shed_mw" in f else 0 * f["load_mw"], "#e07a5f"),
              ("Unserved", f["unserved_mw"], COLORS["unserved"])]
    for label, y, color in layers:
        fig.add_trace(go.Scatter(x=f.index, y=y, name=label, stackgroup="supply", line=dict(width=0),
                                 fillcolor=color, mode="lines"))
    demand = f["load_mw"] + f["battery_charge_mw"] + f["grid_export_mw"]
    fig.add_trace(go.Scatter(x=f.index, y=f["load_mw"], name="Facility load", line=dict(color=COLORS["load"])))
    fig.add_trace(go.Scatter(x=f.index, y=demand, name="Load + charge + export",
                             line=dict(color=COLORS["load"], dash="dot", width=1)))
    fig.update_layout(title=f"{name}: supply stacked against load (MW, {resolution})", yaxis_title="MW")
    figs.append(fig)
    workloads = [c for c in frame.columns if c.startswith("workload_") and c.endswith("_it_mw")]
    if workloads:  # IT load by workload, and what flexibility could shed
        fig = go.Figure()
        for c in workloads:
            fig.add_trace(go.Scatter(x=f.index, y=f[c], name=c[len("workload_"):-len("_it_mw")],
                                     stackgroup="it", mode="lines", line=dict(width=0)))
        if "flex_available_mw" in f:
            fig.add_trace(go.Scatter(x=f.index, y=f["flex_available_mw"], name="sheddable (facility MW)",
                                     line=dict(color="#e07a5f", dash="dot", width=1)))
        fig.update_layout(title=f"{name}: IT load by workload and its flexibility envelope (MW, {resolution})",
                          yaxis_title="MW")
        figs.append(fig)
    # battery SoC and grid import against its limit
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, subplot_titles=("Battery state of charge (MWh)",
                                                                           "Grid import against its limit (MW)"))
    fig.add_trace(go.Scatter(x=f.index, y=f["battery_soc_mwh"], name="SoC", line=dict(color=COLORS["battery"])), 1, 1)
    fig.add_trace(go.Scatter(x=f.index, y=f["grid_import_mw"], name="Import", line=dict(color=COLORS["grid"])), 2, 1)
    fig.add_trace(go.Scatter(x=f.index, y=-f["grid_export_mw"], name="Export (negative)",
                             line=dict(color=COLORS["wind"])), 2, 1)
    fig.add_trace(go.Scatter(x=f.index, y=f["import_limit_mw"] * f["grid_available"], name="Import limit (0 = outage)",
                             line=dict(color="red", dash="dash")), 2, 1)
    fig.update_layout(title=f"{name}: storage and grid exchange ({resolution})", height=600)
    figs.append(fig)
    # price and carbon
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=f.index, y=f["price_usd_per_mwh"], name="Price (USD/MWh)",
                             line=dict(color="#2a9d8f")), secondary_y=False)
    fig.add_trace(go.Scatter(x=f.index, y=f["intensity_kg_per_mwh"], name="Grid carbon (kg/MWh)",
                             line=dict(color="#6c584c")), secondary_y=True)
    fig.update_yaxes(title_text="USD/MWh", secondary_y=False)
    fig.update_yaxes(title_text="kg CO2/MWh", secondary_y=True)
    fig.update_layout(title=f"{name}: grid price and carbon intensity ({resolution})")
    figs.append(fig)
    # monthly energy and cost
    m = frame.copy()
    m["gen_total_mw"] = m[gens].sum(axis=1) if gens else 0.0
    monthly = m.resample("MS").sum() * step_h
    costs = monthly_costs_usd(frame, site, step_h)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Monthly energy supplied (MWh)", "Monthly cost (USD)"))
    month = monthly.index.strftime("%Y-%m")
    for label, col, color in [("PV", "pv_mw", COLORS["pv"]), ("Wind", "wind_mw", COLORS["wind"]),
                              ("Generators", "gen_total_mw", COLORS["gen"]), ("Grid import", "grid_import_mw", COLORS["grid"]),
                              ("Curtailed", "curtailed_mw", COLORS["curtailed"])]:
        fig.add_trace(go.Bar(x=month, y=monthly[col], name=label, marker_color=color, offsetgroup="energy"), 1, 1)
    palette = ["#2a9d8f", "#e76f51", "#d1495b", "#f4a261", "#6c584c"]
    base = np.zeros(len(costs))
    for color, (label, values) in zip(palette, costs.items()):
        fig.add_trace(go.Bar(x=costs.index, y=values, base=base.copy(), name=label, marker_color=color,
                             offsetgroup="cost"), 1, 2)
        base += values.to_numpy()
    fig.update_layout(barmode="group", title=f"{name}: monthly energy and cost")
    figs.append(fig)
    # load duration curve
    n = len(frame)
    pick = np.unique(np.linspace(0, n - 1, min(n, 2000)).astype(int))  # 2,000 points draw the curve
    hours = (pick + 1) * step_h
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=hours, y=np.sort(frame["load_mw"].to_numpy())[::-1][pick], name="Facility load"))
    fig.add_trace(go.Scatter(x=hours, y=np.sort(frame["grid_import_mw"].to_numpy())[::-1][pick], name="Grid import"))
    fig.update_layout(title=f"{name}: load duration curve", xaxis_title="hours at or above", yaxis_title="MW")
    figs.append(fig)
    return figs


def kpi_table_html(kpis_by_name: dict[str, dict]) -> str:
    names = list(kpis_by_name)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for key, label, _ in KPI_ROWS:
        if not any(key in k for k in kpis_by_name.values()):
            continue
        cells = "".join(f"<td>{format_kpi(key, kpis_by_name[n].get(key, ''))}</td>" for n in names)
        rows.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    return f"<table class='kpi'><tr><th>KPI</th>{head}</tr>{''.join(rows)}</table>"


def render_report(results: Results) -> str:
    """The whole report as one HTML string (plotly.js inlined once, no network needed)."""
    sc, tl = results.scenario, results.timeline
    tables = dict(results.kpis)
    if len(tables) > 1 and results.total:
        tables["all sites"] = results.total
    parts = [f"<h1>wattscale report: {html.escape(sc.name)}</h1>",
             f"<p>{html.escape(sc.description)}</p>" if sc.description else "",
             f"<p>{tl.n_steps:,} steps of {tl.step_s} s from {tl.start} to {tl.end} "
             f"({html.escape(str(tl.tz))}); controller: {html.escape(sc.controller.kind)}.</p>",
             "<h2>Key performance indicators</h2>", kpi_table_html(tables)]
    first = True
    for site in sc.sites:
        kp = results.kpis[site.name]
        parts.append(f"<h2>Site {html.escape(site.name)}</h2>")
        for fig in site_figures(results.steps[site.name], site, site.name, tl.step_h):
            fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=60, b=40))
            parts.append(fig.to_html(full_html=False, include_plotlyjs="inline" if first else False))
            first = False
        if kp.get("battery_degradation"):
            deg = pd.DataFrame(kp["battery_degradation"])
            parts.append("<h3>Battery degradation by year</h3>" + deg.to_html(index=False, float_format="{:.4f}".format))
        if kp.get("generators"):
            parts.append("<h3>Generators</h3>" + pd.DataFrame(kp["generators"]).T.to_html(float_format="{:,.1f}".format))
    style = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}"
             "th:first-child{text-align:left}h2{border-bottom:2px solid #1f3b73;padding-top:1em}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>wattscale: {html.escape(sc.name)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}"
            "<p style='color:#888'>Generated by wattscale. Per-step data: steps_*.parquet; KPIs: summary.json.</p>"
            "</body></html>")

"""Self-contained interactive HTML report of a simulation (plotly, inlined once)."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from wattscale.engine.results import Results
from wattscale.scenario.notes import default_notes
from wattscale.scenario.schema import Site
from wattscale.studies.page import Figures, html_page
from wattscale.studies.simulation.costs import monthly_costs_usd
from wattscale.studies.simulation.kpi_registry import format_kpi, shown_kpis

COLORS = {"pv": "#f5b700", "wind": "#4cb5ae", "battery": "#7b5ea7", "grid": "#8c8c8c", "gen": "#d1495b",
          "unserved": "#000000", "load": "#1f3b73", "curtailed": "#f3de8a"}


def _plot_resolution(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Frame to plot and its label: the steps up to 3 days, hourly means up to 60 days, daily means beyond."""
    span = frame.index[-1] - frame.index[0]
    if span <= pd.Timedelta(days=3):
        return frame, "per step"
    if span <= pd.Timedelta(days=60):
        return frame.resample("1h").mean(), "hourly means"
    return frame.resample("1D").mean(), "daily means"


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
    pv_used = monthly["pv_mw"] - np.minimum(monthly["curtailed_mw"], monthly["pv_mw"])  # curtailment: PV first
    wind_used = monthly["wind_mw"] - np.maximum(0.0, monthly["curtailed_mw"] - monthly["pv_mw"])
    base = np.zeros(len(monthly))
    for label, values, color in [("PV used", pv_used, COLORS["pv"]), ("Wind used", wind_used, COLORS["wind"]),
                                 ("Battery discharge", monthly["battery_discharge_mw"], COLORS["battery"]),
                                 ("Generators", monthly["gen_total_mw"], COLORS["gen"]),
                                 ("Grid import", monthly["grid_import_mw"], COLORS["grid"])]:
        fig.add_trace(go.Bar(x=month, y=values, base=base.copy(), name=label, marker_color=color,
                             offsetgroup="supplied"), 1, 1)
        base = base + values.to_numpy()
    fig.add_trace(go.Bar(x=month, y=monthly["curtailed_mw"], name="Curtailed (not supplied)",
                         marker_color=COLORS["curtailed"], offsetgroup="curtailed"), 1, 1)
    palette = ["#2a9d8f", "#e76f51", "#d1495b", "#f4a261", "#6c584c"]
    base = np.zeros(len(costs))
    for color, (label, values) in zip(palette, costs.items()):
        fig.add_trace(go.Bar(x=costs.index, y=values, base=base.copy(), name=label, marker_color=color,
                             offsetgroup="cost"), 1, 2)
        base += values.to_numpy()
    fig.update_yaxes(title_text="MWh", row=1, col=1)
    fig.update_yaxes(title_text="USD", row=1, col=2)
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


REASON_COLORS = {"outage": "#d1495b", "headroom": "#edae49", "price": "#00798c"}


def fleet_figures(results: Results) -> list[go.Figure]:
    """Where the load went: IT power each site sent to the others over time, and the MWh moved by reason."""
    moves = pd.DataFrame(results.extra.get("fleet", {}).get("moves", []))
    sent = {name: f["migrated_out_it_mw"] for name, f in results.steps.items() if "migrated_out_it_mw" in f}
    if not sent:
        return []
    frame, resolution = _plot_resolution(pd.DataFrame(sent))
    fig = go.Figure()
    for name in frame.columns:
        fig.add_trace(go.Scatter(x=frame.index, y=frame[name], name=f"sent by {name}", stackgroup="sent",
                                 mode="lines", line=dict(width=0)))
    fig.update_layout(title=f"Fleet: IT power each site sent to others (MW, {resolution})", yaxis_title="MW")
    figs = [fig]
    if not moves.empty:
        moves["link"] = moves["from"] + " → " + moves["to"]
        bars = go.Figure()
        for reason, part in moves.groupby("reason", sort=False):
            bars.add_trace(go.Bar(x=part["link"], y=part["it_mwh"], name=reason,
                                  marker_color=REASON_COLORS.get(reason)))
        bars.update_layout(title="Fleet: IT energy moved, by link and reason (MWh)", barmode="stack",
                           yaxis_title="MWh", xaxis_title="from → to")
        figs.append(bars)
    return figs


def kpi_table_html(kpis_by_name: dict[str, dict]) -> str:
    names = list(kpis_by_name)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for kpi in shown_kpis(*kpis_by_name.values()):
        cells = "".join(f"<td>{format_kpi(kpi.key, kpis_by_name[n].get(kpi.key, ''))}</td>" for n in names)
        indent = " style='padding-left:2em'" if kpi.part_of else ""
        rows.append(f"<tr><th{indent}>{html.escape(kpi.title.strip())}</th>{cells}</tr>")
    return f"<table class='kpi'><tr><th>KPI</th>{head}</tr>{''.join(rows)}</table>"


def report_figures(results: Results) -> dict[str, go.Figure]:
    """Every figure of the run report as a plotly figure, by its title (``"<site>: <what> ..."``; show one with
    ``.show()``, save it with ``.write_html(path)``)."""
    out = {}
    for fig in fleet_figures(results):
        fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=60, b=40))
        out[fig.layout.title.text] = fig
    for site in results.scenario.sites:
        for k, fig in enumerate(site_figures(results.steps[site.name], site, site.name, results.timeline.step_h)):
            fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=60, b=40))
            out[fig.layout.title.text or f"{site.name}: figure {k + 1}"] = fig
    return out


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
             *(f"<p class='note'>Note: {html.escape(n)}.</p>" for n in default_notes(sc)),
             "<h2>Key performance indicators</h2>", kpi_table_html(tables)]
    figures = Figures()
    fleet_figs = fleet_figures(results)
    if fleet_figs:
        parts.append("<h2>Fleet: where the load went</h2>")
        moves = pd.DataFrame(results.extra["fleet"]["moves"])
        if sc.controller.kind == "mpc":
            parts.append("<p>The fleet is planned at once: inference moves between linked sites where the plan "
                         "(over its horizon, with every site's assets) finds it cheapest; shared connections are split "
                         "by the planned imports and exports.</p>")
        else:
            parts.append("<p>Inference moves between linked sites when a site's grid is out, when its connection "
                         "cannot carry its load, or where serving an IT MWh (energy and carbon at the scenario's "
                         "price, times the PUE) costs less by more than the link's cost; shared connections are "
                         "split step by step.</p>")
        if moves.empty:
            parts.append("<p>No inference moved.</p>")
        for fig in fleet_figs:
            fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=60, b=40))
            parts.append(figures.html(fig))
        if not moves.empty:
            parts.append(moves.rename(columns={"it_mwh": "IT MWh", "cost_usd": "cost USD"})
                         .to_html(index=False, float_format="{:,.1f}".format))
    for site in sc.sites:
        kp = results.kpis[site.name]
        parts.append(f"<h2>Site {html.escape(site.name)}</h2>")
        for fig in site_figures(results.steps[site.name], site, site.name, tl.step_h):
            fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=60, b=40))
            parts.append(figures.html(fig))
        if kp.get("battery_degradation"):
            deg = pd.DataFrame(kp["battery_degradation"])
            parts.append("<h3>Battery degradation by year</h3>" + deg.to_html(index=False, float_format="{:.4f}".format))
        fleet = results.extra.get("workloads", {}).get(site.name)
        if fleet:
            table = pd.DataFrame(fleet).T.rename(columns={"gpus": "GPUs", "sized": "sized for its SLO",
                                                          "peak_it_mw": "peak IT MW", "mean_it_mw": "mean IT MW"})
            parts.append("<h3>Workloads as simulated</h3>" + table.to_html(float_format="{:,.1f}".format))
        if kp.get("generators"):
            parts.append("<h3>Generators</h3>" + pd.DataFrame(kp["generators"]).T.to_html(float_format="{:,.1f}".format))
    parts.append("<p class='note'>Per-step data: steps_*.parquet; KPIs: summary.json.</p>")
    return html_page(f"wattscale: {sc.name}", parts)

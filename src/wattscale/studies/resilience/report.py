"""HTML report of a resilience study: the survival curve with its interval, and the compute lost, with and without
flexible compute."""
from __future__ import annotations

import html

import plotly.graph_objects as go

from wattscale.studies.page import Figures, html_page, table_html
from wattscale.studies.resilience.study import ResilienceResult

COLOURS = {True: "#2e86ab", False: "#d1495b"}


def _survival_figure(r: ResilienceResult) -> go.Figure:
    t = r.table()
    fig = go.Figure()
    for flexible in (True, False):
        part = t[t.flexible_compute == flexible]
        name = "with flexible compute" if flexible else "without"
        fig.add_trace(go.Scatter(x=part.duration_h, y=part.survival_probability, mode="lines+markers", name=name,
                                 line=dict(color=COLOURS[flexible], width=2),
                                 error_y=dict(type="data", symmetric=False, array=part.high - part.survival_probability,
                                              arrayminus=part.survival_probability - part.low, thickness=1)))
    fig.update_layout(title="Probability of riding out the whole outage on site (95 % interval)",
                      xaxis=dict(title="outage length (h)", type="log"),
                      yaxis=dict(title="survival probability", range=[0, 1.02]), height=420,
                      margin=dict(l=70, r=20, t=50, b=50))
    return fig


def _lost_figure(r: ResilienceResult) -> go.Figure:
    t = r.table()
    fig = go.Figure()
    for flexible in (True, False):
        part = t[t.flexible_compute == flexible]
        fig.add_trace(go.Bar(x=[f"{d:g} h" for d in part.duration_h], y=part.gpu_hours_lost,
                             name="with flexible compute" if flexible else "without",
                             marker_color=COLOURS[flexible]))
    fig.update_layout(title="GPU-hours lost per outage (mean; restart penalty included)", barmode="group",
                      xaxis_title="outage length", yaxis=dict(title="GPU-hours (log scale)", type="log"), height=380,
                      margin=dict(l=70, r=20, t=50, b=50))
    return fig


def render_resilience_report(r: ResilienceResult) -> str:
    b, s = r.backup, r.study
    figures = Figures()
    body = [f"<h1>{html.escape(r.scenario)}: resilience of site {html.escape(r.site)}</h1>",
            f"<p>Backup: {len(b.generator_mw)} generators, {b.generator_mw.sum():,.0f} MW (fail to start "
            f"{b.failure_to_start:.2%}, fail while running {b.failure_to_run_per_h:.5f}/h); battery "
            f"{b.battery_mw:,.0f} MW / {b.battery_mwh:,.0f} MWh at the start; fuel "
            + ("unlimited" if b.fuel_mwh == float("inf") else f"{b.fuel_mwh:,.0f} MWh")
            + f". Load: peak {r.peak_load_mw:,.0f} MW, mean {r.mean_load_mw:,.0f} MW; {r.gpus:,} GPUs.</p>",
            f"<p><b>Texas SB 6:</b> on-site backup generation of {r.backup_mw:,.0f} MW (the battery not counted) "
            + ("covers" if r.sb6_met else "does <b>not</b> cover")
            + f" half the peak demand ({0.5 * r.peak_load_mw:,.0f} MW).</p>",
            figures.html(_survival_figure(r)), figures.html(_lost_figure(r)),
            table_html(r.table(), "Outcomes by outage length"),
            f"<p class='note'>{s.trials:,} outages per length, each from a random hour of the year. Generator "
            "defaults from NREL REopt's outage simulator (Marqusee and Jenket 2020); a unit that fails stays down. "
            "Compute lost counts shed and unserved load as a share of the fleet, plus a restart penalty of "
            f"{s.restart_penalty_h:g} h of the fleet when any load goes unserved; valued at "
            f"{s.gpu_hour_value_usd:g} USD per GPU-hour.</p>"]
    return html_page(f"{r.scenario}: resilience", body)

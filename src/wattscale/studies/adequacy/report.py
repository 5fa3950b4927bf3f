"""HTML report of an adequacy study: the indices by method, the capacity outage table, the hours at risk through the
year, the length of shortfalls, and the campus headroom."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from wattscale.studies.adequacy.study import AdequacyResult
from wattscale.studies.page import Figures, html_page, table_html


def _copt_figure(r: AdequacyResult) -> go.Figure:
    c = r.copt
    keep = c.probability > 1e-12
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=c.outage_mw[keep], y=c.exceed[keep], mode="lines", name="P(outage > x)",
                             line=dict(color="#1f3b73", width=2)))
    margin = c.installed_mw - float(r.system.load_mw.max())
    fig.add_vline(x=margin, line_dash="dash", line_color="#d1495b",
                  annotation_text=f"reserve at the peak: {margin:,.0f} MW", annotation_position="top right")
    fig.update_layout(title="Capacity outage probability table (cumulative)", xaxis_title="capacity out (MW)",
                      yaxis=dict(title="probability of more out", type="log", exponentformat="power"),
                      height=420, margin=dict(l=70, r=20, t=50, b=50), showlegend=False)
    return fig


def _risk_figure(r: AdequacyResult) -> go.Figure:
    lolp = r.exact.hourly_lolp
    days = len(lolp) // 24
    daily = lolp[: days * 24].reshape(days, 24).sum(axis=1)
    fig = go.Figure(go.Bar(x=np.arange(1, days + 1), y=daily, marker_color="#d1495b", name="expected hours short"))
    fig.update_layout(title="Hours at risk through the year: expected hours of loss of load, day by day",
                      xaxis_title="day of the year", yaxis_title="hours per day (expected)", height=360,
                      margin=dict(l=70, r=20, t=50, b=50))
    return fig


def _durations_figure(r: AdequacyResult) -> go.Figure | None:
    seq = next((m for m in r.monte_carlo if m.method.startswith("sequential")), None)
    if seq is None or seq.durations_h[1:].sum() == 0:
        return None
    d = seq.durations_h[1:]
    last = int(np.flatnonzero(d)[-1]) + 1
    fig = go.Figure(go.Bar(x=np.arange(1, last + 1), y=d[:last] / seq.years, marker_color="#2e86ab"))
    fig.update_layout(title=f"Length of loss-of-load events (sequential Monte Carlo, {seq.years:,} years)",
                      xaxis_title="event length (h)", yaxis_title="events per year", height=360,
                      margin=dict(l=70, r=20, t=50, b=50))
    return fig


def _headroom_figure(r: AdequacyResult) -> go.Figure:
    h = pd.DataFrame(r.headroom)
    fig = go.Figure()
    for b, colour in zip(sorted(h.backup_fraction.unique()), ("#2e86ab", "#4cb5ae")):
        part = h[h.backup_fraction == b]
        fig.add_trace(go.Bar(x=[f"{s:.2%}" for s in part.curtail_share], y=part.largest_campus_mw,
                             name=f"on-site backup for {b:.0%} of demand", marker_color=colour))
    fig.update_layout(title="Largest campus the system takes at its own LOLE, by the share of its energy it curtails",
                      barmode="group", xaxis_title="curtailment, share of the campus's annual energy",
                      yaxis_title="campus (MW)", height=380, margin=dict(l=70, r=20, t=50, b=50))
    return fig


def render_adequacy_report(r: AdequacyResult) -> str:
    s, h = r.system, r.headline
    figures = Figures()
    body = [f"<h1>{html.escape(s.name)}: generation adequacy</h1>",
            f"<p>{s.units.count.sum():,} units, {s.units.installed_mw:,.0f} MW; {len(s.load_mw):,} hours of load, "
            f"peak {s.load_mw.max():,.0f} MW{' (net of renewables)' if s.spec.renewables else ''}"
            + (f"; a {s.campus_mw:,.0f} MW campus" if s.flexible else "")
            + (f"; storage {s.storage.power_mw:,.0f} MW / {s.storage.energy_mwh:,.0f} MWh" if s.storage else "")
            + f".</p><p><b>LOLE {h['lole_h_per_year']:.4g} h/yr, {h['lole_d_per_year']:.4g} d/yr; EUE "
            f"{h['eue_mwh_per_year']:,.1f} MWh/yr; NEUE {h['neue_ppm']:.3g} ppm</b> ({html.escape(h['method'])}).</p>"]
    body.append(table_html(r.index_table(), "Indices by method (Monte Carlo: mean and standard error over the years)"))
    body.append(figures.html(_copt_figure(r)))
    if r.exact is not None:
        body.append(figures.html(_risk_figure(r)))
    durations = _durations_figure(r)
    if durations is not None:
        body.append(figures.html(durations))
    if r.campus is not None:
        c = r.campus
        body.append(f"<h2>The campus</h2><p>A {c.campus_mw:,.0f} MW campus that never curtails raises LOLE from "
                    f"{c.lole_h_per_year - c.lole_increase_h_per_year:.4g} to {c.lole_h_per_year:.4g} h/yr and EUE by "
                    f"{c.eue_increase_mwh_per_year:,.0f} MWh/yr. Curtailing when the system is short keeps LOLE at the "
                    "system's own level; the compute it gives up is what the headroom below is measured by.</p>")
        body.append(figures.html(_headroom_figure(r)))
        body.append(table_html(pd.DataFrame(r.headroom), "Headroom (exact, from the capacity outage table)"))
    body.append("<p class='note'>Exact: recursive convolution of two-state units into the capacity outage table; LOLE "
                "in days uses each day's peak hour. Non-sequential Monte Carlo draws every unit's state each hour; "
                "sequential Monte Carlo follows exponential failure and repair times (MTTF from the forced outage "
                "rate and the MTTR), with storage and the campus's curtailment dispatched in shortfalls. Headroom "
                "after Norris et al., 'Rethinking Load Growth' (Duke University, 2025).</p>")
    return html_page(f"{s.name}: adequacy", body)

"""HTML report of a grid-code study: the dips against the envelope, each campus on and off the grid, the MW the
grid loses, and system frequency."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from wattscale.energy.ride_through import voltage_pu
from wattscale.studies.gridcode.study import GridcodeResult
from wattscale.studies.page import Figures, html_page, table_html

PALETTE = ["#2e86ab", "#d1495b", "#f5b700", "#4cb5ae", "#7b5ea7", "#8c8c8c", "#222222"]
MAX_POINTS = 6000


def corners(y: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices that draw ``y`` exactly as a line: where it changes (and the sample before), or an even stride for
    a series that changes everywhere."""
    change = np.flatnonzero(np.abs(np.diff(y)) > 1e-9 * max(1.0, float(np.abs(y).max())))
    idx = np.unique(np.concatenate([[0, len(y) - 1], change, change + 1]))
    if len(idx) > max_points:
        idx = np.unique(np.concatenate([np.linspace(0, len(y) - 1, max_points).astype(int), idx[:: len(idx) // 1000]]))
    return idx


def _dips_figure(r: GridcodeResult) -> go.Figure:
    """Each dip as voltage against duration, over the envelope's ride-through region."""
    fig = go.Figure()
    if r.envelope is not None:
        v, d = np.array(r.envelope.voltage_pu), np.array(r.envelope.duration_s)
        top = max(10.0, 10 * max(dip.duration_s for dip in r.dips))
        x = np.concatenate([[1e-3], np.repeat(np.minimum(d, top), 2)])
        y = np.concatenate([[v[0]], np.column_stack([v, np.append(v[1:], 1.0)]).ravel()])
        fig.add_trace(go.Scatter(x=np.append(x, 1e-3), y=np.append(y, 1.0), fill="toself", mode="lines",
                                 line=dict(color="#4cb5ae", width=1.5), fillcolor="rgba(76,181,174,0.18)",
                                 name=f"must ride through ({html.escape(r.envelope.name)})"))
    moved = {i for c in r.campuses for i in c.outcome.causing_dips}
    points: dict[tuple[float, float], list[int]] = {}  # dips of the same depth and length share a marker
    for i, d in enumerate(r.dips):
        points.setdefault((d.duration_s, d.voltage_pu), []).append(i)
    fig.add_trace(go.Scatter(x=[k[0] for k in points], y=[k[1] for k in points], mode="markers+text",
                             text=[", ".join(str(i + 1) for i in v) for v in points.values()],
                             textposition="top center",
                             marker=dict(size=11, color=["#d1495b" if moved.intersection(v) else "#222222"
                                                         for v in points.values()]),
                             name="dip (red: moved a campus off the grid)"))
    fig.update_layout(title="Dips against the ride-through envelope (number: order in the sequence)",
                      xaxis=dict(title="duration (s)", type="log"), yaxis=dict(title="voltage during the dip (pu)",
                                                                                 range=[0, 1.05]),
                      height=420, margin=dict(l=60, r=20, t=50, b=50), legend=dict(orientation="h", y=-0.2))
    return fig


def _timeline_figure(r: GridcodeResult) -> go.Figure:
    rows = 3 if r.frequency is not None else 2
    titles = ["Voltage at the campuses (pu)", "Each campus's draw from the grid (MW) and the load lost"]
    if r.frequency is not None:
        titles.append(f"System frequency ({html.escape(r.system.name)})")
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.07, subplot_titles=titles)
    t = r.time_s
    edges = sorted({0.0, float(t[-1]), *[d.time_s for d in r.dips], *[d.end_s for d in r.dips]})
    tv = np.repeat(edges, 2)[1:-1]
    vv = np.repeat(voltage_pu(r.dips, np.array(edges[:-1])), 2)
    fig.add_trace(go.Scatter(x=tv, y=vv, mode="lines", line=dict(color="#222222", width=1.2), name="voltage",
                             showlegend=False), row=1, col=1)
    for i, (c, draw) in enumerate(zip(r.campuses, r.draw_mw)):
        idx = corners(draw)
        fig.add_trace(go.Scatter(x=t[idx], y=draw[idx], mode="lines", name=c.site,
                                 line=dict(color=PALETTE[i % len(PALETTE)], width=2, shape="linear")), row=2, col=1)
    lost = r.lost_mw
    idx = corners(lost)
    fig.add_trace(go.Scatter(x=t[idx], y=lost[idx], mode="lines", name="load lost (all campuses)", fill="tozeroy",
                             line=dict(color="#d1495b", width=1, dash="dot"), fillcolor="rgba(209,73,91,0.12)"),
                  row=2, col=1)
    if r.frequency is not None:
        f = r.frequency.nominal_hz + r.frequency.deviation_hz
        idx = corners(f)
        fig.add_trace(go.Scatter(x=t[idx], y=f[idx], mode="lines", name="frequency", showlegend=False,
                                 line=dict(color="#1f3b73", width=1.5)), row=3, col=1)
        for sign in (-1, 1):
            fig.add_hline(y=r.frequency.nominal_hz + sign * r.system.deviation_limit_hz, line_dash="dash",
                          line_color="#d1495b", row=3, col=1)
        fig.update_yaxes(title_text="Hz", row=3, col=1)
    fig.update_yaxes(title_text="pu", range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(title_text="MW", row=2, col=1)
    fig.update_xaxes(title_text="time from the first dip (s)", row=rows, col=1)
    fig.update_layout(height=260 * rows + 120, margin=dict(l=60, r=20, t=60, b=50),
                      legend=dict(orientation="h", y=-0.08))
    return fig


def _verdict(r: GridcodeResult) -> str:
    k = r.kpis()
    lost = [c for c in r.campuses if c.outcome.left_grid]
    parts = [f"{k['campuses_left_grid']} of {k['campuses']} campuses ({k['peak_load_lost_mw']:,.0f} of "
             f"{k['load_mw']:,.0f} MW) left the grid; {k['load_lost_at_end_mw']:,.0f} MW were still off at the end."]
    if lost:
        parts.append("Lost: " + "; ".join(f"<b>{html.escape(c.site)}</b> ({html.escape('; '.join(c.outcome.causes))})"
                                          for c in lost) + ".")
    if r.envelope is not None:
        broke = [c.site for c in r.campuses if c.met_envelope is False]
        parts.append(("Broke the envelope (left the grid in a dip they must ride through): <b>"
                      + html.escape(", ".join(broke)) + "</b>.") if broke else "Every campus met the envelope.")
    if r.frequency is not None:
        m = r.frequency.metrics()
        limit = r.system.deviation_limit_hz
        parts.append(f"Frequency: peak deviation {m['peak_deviation_hz'] * 1000:+,.1f} mHz (limit "
                     f"{limit * 1000:,.0f} mHz), fastest change {m['rocof_max_hz_per_s'] * 1000:,.1f} mHz/s; the "
                     f"system can lose {r.largest_loss_mw:,.0f} MW at once and stay within the limit.")
    return " ".join(f"<p>{p}</p>" for p in parts)


def _shown(frame):
    """Yes and no for flags, a dash where there is no value."""
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == bool or out[c].map(lambda v: isinstance(v, bool) or v is None).all():
            out[c] = out[c].map({True: "yes", False: "no", None: "-"})
    return out.rename(columns=lambda c: c.replace("_", " "))


def render_gridcode_report(r: GridcodeResult) -> str:
    figures = Figures()
    campuses = _shown(r.campus_table()[["campus", "load_mw", "left_at_s", "back_at_s", "off_grid_s", "locked_out",
                                        "met_envelope", "transfer_below_pu", "transfer_after_s", "lockout",
                                        "backup_mw", "unserved_mwh"]])
    body = [f"<h1>{html.escape(r.scenario)}: ride-through and system frequency</h1>",
            f"<p>{len(r.dips)} dips from {r.start:%Y-%m-%d %H:%M %Z}, simulated for {r.time_s[-1]:,.0f} s at "
            f"{r.step_s * 1000:g} ms.</p>", _verdict(r),
            figures.html(_timeline_figure(r)), figures.html(_dips_figure(r)),
            table_html(campuses, "Campuses"), table_html(_shown(r.dip_table()), "Dips")]
    if r.system is not None:
        s = r.system
        gov = "none" if s.droop is None else (f"droop {s.droop:g} on {s.governor_share:.0%} of generation, "
                                              f"{s.governor_time_s:g} s" + (f", reheat {s.reheat_time_s:g} s"
                                                                          if s.reheat_time_s else ""))
        body.append(f"<h2>System</h2><p>{html.escape(s.name)}: {s.base_mw:,.0f} MW online at {s.frequency_hz:g} Hz, "
                    f"H = {s.inertia_s:g} s, D = {s.damping:g}, governors: {html.escape(gov)}"
                    + (f", fast frequency response {s.ffr.capacity_mw:,.0f} MW (full at {s.ffr.full_at_hz:g} Hz)"
                       if s.ffr else "") + ".</p>")
    body.append("<p class='note'>Each campus's UPS moves it onto backup when a dip below its threshold lasts longer "
                "than its transfer time, and locks it there after its count of dips within its window. Frequency is "
                "the aggregate system-frequency-response model (Anderson and Mirheydar 1990) driven by the load lost; "
                "a load lost raises frequency.</p>")
    return html_page(f"{r.scenario}: ride-through", body)

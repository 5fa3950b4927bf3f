"""HTML report of a swing study: waveform, spectrum with band limits, and each mitigation before/after."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from wattscale.studies.page import Figures, html_page
from wattscale.studies.swings.study import SwingStudyResult

PALETTE = ["#222222", "#d1495b", "#2e86ab", "#f5b700", "#4cb5ae", "#7b5ea7", "#8c8c8c"]
MAX_POINTS = 4000


def min_max(power_mw: np.ndarray, step_s: float, max_points: int = MAX_POINTS):
    """(time s, min, max) per bucket, so a long high-rate waveform plots small without hiding its swings."""
    k = max(1, int(np.ceil(len(power_mw) / max_points)))
    m = len(power_mw) // k * k
    b = power_mw[:m].reshape(-1, k)
    t = np.arange(b.shape[0]) * k * step_s
    return t, b.min(axis=1), b.max(axis=1)


def _waveform_figure(r: SwingStudyResult) -> go.Figure:
    fig = go.Figure()
    step = r.load.step_s
    for i, o in enumerate(r.options):
        t, lo, hi = min_max(o.power_mw, step)
        color = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=np.concatenate([t, t[::-1]]), y=np.concatenate([hi, lo[::-1]]), fill="toself",
                                 line=dict(width=0.5, color=color), name=o.name, legendgroup=o.name,
                                 visible=True if i in (0, 1) else "legendonly", opacity=0.6))
    fig.update_layout(title="Facility power over the window (min-max per plotted point)", xaxis_title="time (s)",
                      yaxis_title="MW", height=420, margin=dict(l=60, r=20, t=50, b=50))
    return fig


def _zoom_figure(r: SwingStudyResult, seconds: float = 20.0) -> go.Figure:
    step = r.load.step_s
    n = min(len(r.options[0].power_mw), int(seconds / step))
    fig = go.Figure()
    t = np.arange(n) * step
    for i, o in enumerate(r.options):
        fig.add_trace(go.Scatter(x=t, y=o.power_mw[:n], mode="lines", name=o.name,
                                 line=dict(width=1.2, color=PALETTE[i % len(PALETTE)]),
                                 visible=True if i in (0, 1) else "legendonly"))
    fig.update_layout(title=f"First {n * step:g} s at full resolution ({step * 1000:g} ms)", xaxis_title="time (s)",
                      yaxis_title="MW", height=380, margin=dict(l=60, r=20, t=50, b=50))
    return fig


def _spectrum_figure(r: SwingStudyResult) -> go.Figure:
    fig = go.Figure()
    for i, o in enumerate(r.options):
        a = o.analysis
        sel = a.frequency_hz > 0
        fig.add_trace(go.Scatter(x=a.frequency_hz[sel], y=np.maximum(a.amplitude_mw[sel], 1e-6), mode="lines",
                                 name=o.name, line=dict(width=1, color=PALETTE[i % len(PALETTE)]),
                                 visible=True if i in (0, 1) else "legendonly"))
    for b in r.limits.bands:
        fig.add_vrect(x0=b.low_hz, x1=b.high_hz, fillcolor="#2e86ab", opacity=0.06, line_width=0,
                      annotation_text=b.name, annotation_position="top left")
        if b.max_amplitude_mw is not None:
            fig.add_trace(go.Scatter(x=[b.low_hz, b.high_hz], y=[b.max_amplitude_mw] * 2, mode="lines",
                                     name=f"limit {b.name}", line=dict(color="#d1495b", dash="dash", width=2)))
    f = r.options[0].analysis.frequency_hz
    fig.update_layout(title="Amplitude spectrum (flat-top, worst segment) with band limits",
                      xaxis=dict(title="frequency (Hz)", type="log", range=[np.log10(f[1]), np.log10(f[-1])]), yaxis=dict(title="amplitude (MW)", type="log"),
                      height=460, margin=dict(l=60, r=20, t=50, b=50))
    return fig


def _fmt(v, unit="") -> str:
    if v is None:
        return "-"
    return f"{v:,.3g}{unit}" if abs(v) < 100 else f"{v:,.0f}{unit}"


def _options_table(r: SwingStudyResult) -> str:
    chosen = r.chosen
    rows = []
    for o in r.options:
        s = o.storage
        storage = "-" if s is None else f"{s.tech}: {s.power_mw:.1f} MW, {s.energy_mwh * 1000:.0f} kWh, " \
                                        f"{s.cycles_per_day:,.0f} cycles/day, life {s.life_y:.1f} y"
        mark = " (chosen)" if chosen is o else ""
        rows.append(f"<tr><td><b>{html.escape(o.name)}</b>{mark}</td><td>{html.escape(o.setting)}</td>"
                    f"<td class={'ok' if o.complies else 'bad'}>{'yes' if o.complies else 'no'}</td>"
                    f"<td>{o.energy_overhead_fraction:.2%}</td><td>{o.slowdown_fraction:.2%}</td>"
                    f"<td>{html.escape(storage)}</td><td>{_fmt(o.total_cost_usd_per_year)}</td></tr>")
    return ("<table><tr><th>option</th><th>setting</th><th>complies</th><th>energy overhead</th>"
            "<th>training slowdown</th><th>storage</th><th>cost (USD/year)</th></tr>" + "".join(rows) + "</table>")


def _checks_table(r: SwingStudyResult) -> str:
    names = [c.name for c in r.options[0].analysis.checks]
    head = "".join(f"<th>{html.escape(o.name)}</th>" for o in r.options)
    rows = []
    for j, name in enumerate(names):
        c0 = r.options[0].analysis.checks[j]
        cells = "".join(
            f"<td class={'ok' if o.analysis.checks[j].passed else 'bad'}>{_fmt(o.analysis.checks[j].value)}</td>"
            for o in r.options)
        rows.append(f"<tr><td>{html.escape(name)} ({c0.unit})</td><td>{_fmt(c0.limit)}</td>{cells}</tr>")
    return f"<table><tr><th>check</th><th>limit</th>{head}</tr>" + "".join(rows) + "</table>"


def _frequency_line(r: SwingStudyResult) -> str:
    if not r.peak_deviation_hz:
        return ""
    parts = ", ".join(f"{html.escape(k)} {v * 1000:+,.2f} mHz" for k, v in r.peak_deviation_hz.items())
    return f"<p>Peak frequency deviation of the system these swings cause (power_system section): {parts}.</p>"


def render_swing_report(r: SwingStudyResult) -> str:
    chosen = r.chosen
    verdict = (f"Cheapest compliant option: <b>{html.escape(chosen.name)}</b> ({html.escape(chosen.setting)}), "
               f"{_fmt(chosen.total_cost_usd_per_year)} USD/year." if chosen else
               "<b>No option meets the limits.</b>")
    work = "".join(f"<li><b>{html.escape(n)}</b>: {s['kind']}, {s['gpus']:,} x {html.escape(s['gpu'])}, "
                   f"mean {s['mean_it_mw']:.1f} MW IT</li>" for n, s in r.workload_stats.items())
    figs = [_waveform_figure(r), _zoom_figure(r), _spectrum_figure(r)]
    figures = Figures()
    parts = [figures.html(f) for f in figs]
    return html_page(f"{r.scenario}: power swings", [f"""<h1>{html.escape(r.scenario)}: power swings at site {html.escape(r.site)}</h1>
<p>Window {r.start:%Y-%m-%d %H:%M:%S %Z}, {r.study.duration_s:g} s at {r.study.resolution_s * 1000:g} ms;
limits: {html.escape(r.limits.name)}. {verdict}</p>
<ul>{work}</ul>
<h2>Mitigations</h2>{_options_table(r)}{_frequency_line(r)}
<h2>Checks (value per option; red = violates)</h2>{_checks_table(r)}
{''.join(parts)}
<p class="note">Ramps compare adjacent window means. Band amplitudes are the largest
flat-top spectral line in the band over half-overlapping segments. Storage is a first-order smoother sized for
the shortest time constant that complies; costs are annualised as described in the README.</p>"""])

"""HTML report of a sizing study: chosen capacities and costs, the cost-carbon Pareto front, and the check by
simulation."""
from __future__ import annotations

import html

import plotly.graph_objects as go

from wattscale.decisions.operate.sizing import SizingResult
from wattscale.studies.page import Figures, html_page
from wattscale.studies.sizing.study import SizingStudyResult


def point_label(r: SizingResult, over: str) -> str:
    return f"CFE {r.cfe_target:.0%}" if over == "cfe_target" else f"{r.carbon_price_usd_per_t:g} USD/t"


def _pareto(study: SizingStudyResult) -> go.Figure:
    over = study.spec.sweep
    pts = study.sweep
    fig = go.Figure(go.Scatter(
        x=[r.co2_t_per_year / 1e3 for r in pts], y=[r.total_usd_per_year / 1e6 for r in pts], mode="lines+markers+text",
        text=[point_label(r, over) for r in pts], textposition="top right", name="sweep",
        customdata=[[r.cfe_score * 100] for r in pts],
        hovertemplate="%{text}<br>%{x:,.1f} kt CO2/yr<br>%{y:,.2f} M USD/yr<br>CFE %{customdata[0]:.1f} %"))
    c = study.chosen
    fig.add_trace(go.Scatter(x=[c.co2_t_per_year / 1e3], y=[c.total_usd_per_year / 1e6], mode="markers",
                             marker=dict(size=14, symbol="star", color="#d1495b"), name="chosen"))
    fig.update_layout(title="Cost against carbon (each point a least-cost system)", xaxis_title="operational CO2 (kt/yr)",
                      yaxis_title="annualised cost without carbon price (M USD/yr)", height=460,
                      template="plotly_white")
    return fig


def _capacities(study: SizingStudyResult) -> go.Figure:
    over = study.spec.sweep
    labels = [point_label(r, over) for r in study.sweep]
    fig = go.Figure()
    for key in study.chosen.capacities:
        fig.add_trace(go.Bar(x=labels, y=[r.capacities[key] for r in study.sweep], name=key))
    fig.update_layout(barmode="group", title="Capacities along the sweep (MW; battery energy in MWh)", height=420,
                      template="plotly_white")
    return fig


def _table(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def render_sizing_report(study: SizingStudyResult) -> str:
    c = study.chosen
    caps = _table([(k, f"{max(v, 0.0):,.1f}") for k, v in c.capacities.items()])
    costs = _table([(k, f"{v:,.0f}") for k, v in c.annual_usd.items() if abs(v) > 0.5]
                   + [("total without carbon price", f"<b>{c.total_usd_per_year:,.0f}</b>")])
    check = study.check
    check_html = "<p>Not simulated (--no-check).</p>" if not check else _table([
        ("24/7 CFE score: sizing / engine", f"{c.cfe_score:.1%} / {check['cfe_score_hourly']:.1%}"),
        ("unserved share: sizing / engine", f"{c.unserved_fraction:.4%} / {check['unserved_fraction']:.4%}"),
        ("operational CO2 (t/yr): sizing / engine", f"{c.co2_t_per_year:,.0f} / {check['co2_t_per_year']:,.0f}"),
        ("annual cost (USD): sizing / engine", f"{c.total_usd_per_year:,.0f} / {check['total_usd_per_year']:,.0f}"),
        ("engine controller", html.escape(check["controller"]))])
    figs = [_pareto(study), _capacities(study)]
    figures = Figures()
    parts = [figures.html(f) for f in figs]
    target = "none" if c.cfe_target is None else f"{c.cfe_target:.0%}"
    return html_page(f"{study.scenario}: sizing", [f"""<h1>{html.escape(study.scenario)}: capacity sizing of site {html.escape(study.site)}</h1>
<p>{study.hours:,} hourly steps; carbon price {c.carbon_price_usd_per_t:g} USD/t; 24/7 CFE target {target};
unserved energy at most {study.spec.max_unserved_fraction:.3%} of load; discount rate {study.spec.discount_rate:.1%}.</p>
<h2>Chosen capacities</h2>{caps}
<h2>Annual costs (USD)</h2>{costs}
<h2>Checked by simulation</h2>
<p>The chosen system, rebuilt as a scenario (<code>sized.yaml</code>) and run through the engine at the scenario's
own step with its controller.</p>{check_html}
{''.join(parts)}
<p class="note">Capital costs are annualised with the capital recovery factor; operation is one
year of optimal hourly dispatch (generators without unit commitment). The carbon-free share of an hour counts
on-site renewables, the battery and the carbon-free share of grid imports reaching the load.</p>"""])

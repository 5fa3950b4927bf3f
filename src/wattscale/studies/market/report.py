"""HTML report of a market study: prices and volumes, each site's bill, ADMM's convergence, and VPP calls."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from wattscale.studies.market.study import EventOutcome, MarketStudy
from wattscale.studies.page import page


def _prices(study: MarketStudy) -> go.Figure:
    iv = study.intervals
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=iv["time"], y=iv["price_usd_per_mwh"], name="peer-to-peer price", mode="lines+markers",
                             marker=dict(size=4)), row=1, col=1)
    fig.add_trace(go.Scatter(x=iv["time"], y=iv["grid_price_usd_per_mwh"], name="grid price", line=dict(dash="dot")),
                  row=1, col=1)
    fig.add_trace(go.Bar(x=iv["time"], y=iv["volume_mwh"], name="traded (MWh)"), row=2, col=1)
    fig.update_yaxes(title_text="USD/MWh", row=1, col=1)
    fig.update_yaxes(title_text="MWh", row=2, col=1)
    fig.update_layout(title=f"Each interval's clearing ({study.market.mechanism.replace('_', '-')})", height=520,
                      template="plotly_white")
    return fig


def _bills(study: MarketStudy) -> go.Figure:
    b = study.bills
    fig = make_subplots(rows=1, cols=2, subplot_titles=("energy traded (MWh)", "saving against planning alone (k USD)"))
    fig.add_trace(go.Bar(x=b["site"], y=b["bought_mwh"], name="bought (MWh)"), 1, 1)
    fig.add_trace(go.Bar(x=b["site"], y=b["sold_mwh"], name="sold (MWh)"), 1, 1)
    fig.add_trace(go.Bar(x=b["site"], y=b["saving_usd"] / 1e3, name="saving (k USD)", marker_color="#2a9d8f"), 1, 2)
    fig.update_yaxes(title_text="MWh", row=1, col=1)
    fig.update_yaxes(title_text="k USD", row=1, col=2)
    fig.update_layout(barmode="group", title="What each site traded and saved", height=420, template="plotly_white")
    return fig


def _admm(study: MarketStudy) -> go.Figure:
    h = study.admm.history
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=[s.iteration for s in h], y=[max(abs(s.gap), 1e-9) * 100 for s in h],
                             name="|gap| to the central optimum (%)"))
    fig.add_trace(go.Scatter(x=[s.iteration for s in h], y=[max(s.residual_mw, 1e-9) for s in h],
                             name="coupling residual (MW)", line=dict(dash="dot")), secondary_y=True)
    fig.add_hline(y=study.market.admm_tolerance * 100, line=dict(color="#999", dash="dash"))
    fig.update_yaxes(type="log", title_text="gap (%)")
    fig.update_yaxes(type="log", title_text="MW", secondary_y=True)
    fig.update_layout(title="Price-coordinated dispatch (ADMM): each site plans alone, only prices and quantities "
                            "travel", xaxis_title="iteration", height=420, template="plotly_white")
    return fig


def _event(study: MarketStudy, e: EventOutcome) -> go.Figure:
    idx = np.flatnonzero(e.steps)
    day = max(1, int(round(24 / study.step_h)))
    lo, hi = max(0, idx[0] - day), min(len(study.times), idx[-1] + day)
    t = study.times[lo:hi]
    fig = go.Figure([go.Scatter(x=t, y=e.counterfactual_mw[lo:hi], name="without the call"),
                     go.Scatter(x=t, y=e.actual_mw[lo:hi], name="with the call"),
                     go.Scatter(x=t, y=e.baseline_mw[lo:hi], name="baseline (CBL)", mode="markers+lines",
                                line=dict(dash="dash")),
                     go.Scatter(x=t, y=(e.baseline_mw - e.event.reduce_mw)[lo:hi], name="baseline - call",
                                line=dict(dash="dot"))])
    fig.update_layout(title=f"VPP call at {e.event.start}: {e.event.reduce_mw:g} MW for {e.event.duration or ''} "
                            f"({e.event.notice_h:g} h notice)", yaxis_title="sites' net grid draw (MW)", height=420,
                      template="plotly_white")
    return fig


def render_market_report(study: MarketStudy) -> str:
    s = study.summary()
    notes = [f"{len(study.bills)} sites, {len(study.intervals)} intervals of {study.step_h:g} h; "
             f"{s['traded_mwh']:,.1f} MWh traded, welfare {s['welfare_usd']:,.0f} USD. Bids are each site's "
             "marginal value of energy from its own optimal dispatch; offers its surplus, curtailed renewables and "
             "spare generator capacity at their marginal cost.",
             f"Ledger: {s['ledger']['entries']:,} signed entries in {s['ledger']['blocks']:,} blocks, head "
             f"{s['ledger']['head_hash'][:16]}..., verified: {s['ledger']['verified']}. Check it with "
             "'wattscale ledger verify ledger.sqlite --trust trust.json --checkpoint checkpoint.json', with copies of "
             "trust.json and checkpoint.json kept away from the ledger (whoever can rewrite the ledger can rewrite "
             "files beside it)."]
    figs = [_prices(study), _bills(study)]
    tables = [("Each site's trades and bill (USD; saving = surplus from trade)", study.bills)]
    if study.admm is not None:
        a = study.admm
        notes.append(f"ADMM: {a.iterations} iterations, gap {a.gap:+.4%} to the central optimum "
                     f"({a.central_usd:,.0f} USD), {a.admm_s:.1f} s against {a.central_s:.1f} s for the central "
                     f"solve; {'converged' if a.converged else 'NOT converged'}.")
        figs.append(_admm(study))
    for e in study.events:
        notes.append(f"VPP call at {e.event.start}: delivered {e.delivered_mwh:,.1f} MWh against the baseline "
                     f"({e.cut_vs_counterfactual_mwh:,.1f} MWh against the plan without the call); revenue "
                     f"{e.revenue_usd:,.0f} USD, extra operating cost {e.extra_cost_usd:,.0f} USD, compute given up "
                     f"{e.compute_given_up_mwh:,.1f} MWh; the sites could offer {e.offer_mw:,.1f} MW for its length.")
        figs.append(_event(study, e))
        tables.append((f"Who cut what in the call at {e.event.start} (MW, mean over the call)", e.by_site))
    iv = study.intervals.copy()
    iv["time"] = iv["time"].astype(str)
    tables.append(("Intervals", iv))
    return page(f"{study.scenario}: peer-to-peer market", figs, tables, notes)


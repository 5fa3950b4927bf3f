"""HTML reports of forecasting studies: skill against seasonal naive, error by lead time, forecasts against what
happened, and the value of forecasting in operation."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from wattscale.studies.forecast.study import BacktestStudy, ValueStudy
from wattscale.studies.page import page


def render_backtest_report(study: BacktestStudy) -> str:
    table = study.table
    skill = go.Figure([go.Bar(name=f"skill ({s.upper()})", x=table.index, y=table[f"skill_{s}"])
                       for s in ("mae", "rmse", "crps") if f"skill_{s}" in table])
    skill.update_layout(title="Skill against seasonal naive (1 - score / reference; higher is better)",
                        barmode="group", yaxis_tickformat=".0%")
    per_h = pd.Timedelta(hours=1) / (study.series.index[1] - study.series.index[0])
    lead = go.Figure()
    for r in study.results:
        by = r.by_lead()
        lead.add_scatter(x=by.index / per_h, y=by["mae"], name=r.model, mode="lines")
    lead.update_layout(title=f"Mean absolute error by lead time ({study.unit})", xaxis_title="lead (h)",
                       yaxis_title=f"MAE ({study.unit})")
    return page(f"Forecast backtest: {study.target} at {study.site} ({study.scenario})",
                [skill, lead, _recent(study)],
                [("Scores over every issue time and lead", table.reset_index(names="model"))],
                [f"Rolling origin: {study.summary()['issues']} issue times from {study.first_issue}, every "
                 f"{study.issue_every_steps} steps, each forecasting {study.horizon_steps} steps; models refitted "
                 f"every {study.refit_every_steps} steps ({study.refit_every_h:g} h) on the history before the issue "
                 "time, the latest fit forecasting every issue in between. Known in advance: "
                 "calendar and clear-sky irradiance; observed weather is used only up to the issue time.",
                 "CRPS is twice the mean pinball loss over the quantile levels 10, 25, 50, 75 and 90 %."])


def _recent(study: BacktestStudy, days: int = 7) -> go.Figure:
    """The last ``days`` of first-period forecasts (lead < issue spacing) stitched, against the actual series."""
    fig = go.Figure()
    best = study.table["crps"].idxmin()
    for r in study.results:
        f = r.forecasts[r.forecasts["lead"] < study.issue_every_steps]
        f = f[f["time"] >= f["time"].max() - pd.Timedelta(days=days)]
        if r.model == best and "q10" in f:
            fig.add_scatter(x=f["time"], y=f["q90"], line_width=0, showlegend=False, hoverinfo="skip")
            fig.add_scatter(x=f["time"], y=f["q10"], fill="tonexty", line_width=0, fillcolor="rgba(99,110,250,0.2)",
                            name=f"{r.model} 10-90 %")
        fig.add_scatter(x=f["time"], y=f["point"], name=r.model, mode="lines")
    tail = study.series[study.series.index >= f["time"].min()]
    fig.add_scatter(x=tail.index, y=tail.to_numpy(), name="actual", line=dict(color="black", width=2))
    fig.update_layout(title=f"The last {days} days: forecasts against what happened", yaxis_title=study.unit)
    return fig


def render_value_report(study: ValueStudy) -> str:
    t = study.table
    fig = make_subplots(rows=1, cols=2, subplot_titles=("extra cost (M USD)", "extra CO2 (t)"))
    fig.add_trace(go.Bar(name="extra cost (M USD)", x=t.index, y=t["extra_cost_usd"] / 1e6), 1, 1)
    fig.add_trace(go.Bar(name="extra CO2 (t)", x=t.index, y=t["extra_co2_t"], marker_color="#6c584c"), 1, 2)
    fig.update_yaxes(title_text="M USD", row=1, col=1)
    fig.update_yaxes(title_text="t CO2", row=1, col=2)
    fig.update_layout(title="Cost and emissions above perfect foresight", barmode="group", showlegend=False)
    return page(f"Value of forecasting: {study.scenario}", [fig],
                [("One run of the scenario per forecaster", t.reset_index(names="forecaster"))],
                ["The same MPC controller and year, changing only what it is told about the future. Learned "
                 "models see only what has been observed; until they have enough history the daily seasonal "
                 "naive stands in. 'gap_closed_vs_persistence' is the share of persistence's extra cost a "
                 "forecaster recovers."])

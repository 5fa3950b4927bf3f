"""The sweep's report: each headline KPI against the parameters, the Pareto front of cost against CO2 where a
study reports both, and the table of cases (failed ones with their message)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from wattscale.studies.page import page
from wattscale.studies.simulation.kpi_registry import BY_KEY, MONEY
from wattscale.sweep.spec import CASE_COLUMNS

PREFERRED = ("total_cost_usd", "co2_t", "system_cost_usd", "cfe_score_hourly", "unserved_mwh", "compute_shed_mwh",
             "saidi_h_per_customer_yr", "saifi_per_customer_yr", "ens_mwh_per_yr")
COST_KEYS = ("total_cost_usd", "system_cost_usd", "annualised_cost_usd", "cost_usd")
CO2_KEYS = ("co2_t", "co2_t_per_year")
MAX_FIGURES = 4
MAX_ROWS = 200
MAX_TRACES = 12


def sweep_report(plan, table: pd.DataFrame) -> str:
    """The report as one self-contained HTML page."""
    params = list(plan.sweep.parameters)
    ok = table[table.status == "ok"]
    kpis = headline_kpis(ok, params)
    figures = [_against_parameters(ok, k, params) for k in kpis]
    pareto = _pareto_figure(ok, params)
    if pareto is not None:
        figures.append(pareto)
    failed = table[table.status != "ok"]
    notes = [f"Study '{plan.sweep.study}', {plan.sweep.mode} of {len(params)} parameter(s): {len(table)} cases, "
             f"{len(ok)} ok, {len(failed)} failed or not run."]
    if len(failed):
        notes.append("Failed cases keep their message below; running the sweep again into the same folder runs "
                     "only what is not done.")
    shown = table[["case", *params, "status", "seconds", *kpis]].head(MAX_ROWS)
    tables = [(f"Cases (first {MAX_ROWS} of {len(table)})" if len(table) > MAX_ROWS else "Cases",
               shown.rename(columns=_title))]
    if len(failed):
        tables.append(("Failed cases", failed[["case", *params, "error"]].head(MAX_ROWS)))
    title = f"Sweep: {plan.name}"
    return page(title, figures, tables, notes)


def headline_kpis(ok: pd.DataFrame, parameters: list[str]) -> list[str]:
    """Up to four KPIs that vary across the cases (``ok``, rows of the table of cases), the usual headline first."""
    exclude = {*parameters, *CASE_COLUMNS}
    numeric = [c for c in ok.columns if c not in exclude and pd.api.types.is_numeric_dtype(ok[c])]
    varying = [c for c in numeric if ok[c].nunique(dropna=True) > 1] or numeric
    ordered = [k for k in PREFERRED if k in varying] + [k for k in varying if k not in PREFERRED]
    return ordered[:MAX_FIGURES]


def pareto_front(cost: np.ndarray, co2: np.ndarray) -> np.ndarray:
    """Indices of the cases no other case beats on both cost and CO2 (lower is better), by increasing cost."""
    order = np.lexsort((co2, cost))
    front, best = [], np.inf
    for i in order:
        if co2[i] < best:
            front.append(i)
            best = co2[i]
    return np.array(front, dtype=int)


def _title(key: str) -> str:
    if key not in BY_KEY:
        return key
    kpi = BY_KEY[key]
    return f"{kpi.title} (USD)" if kpi.fmt == MONEY else kpi.title


def _against_parameters(ok: pd.DataFrame, kpi: str, params: list[str]) -> go.Figure:
    x = params[0]
    fig = go.Figure()
    group = params[1] if len(params) > 1 and ok[params[1]].nunique() <= MAX_TRACES else None
    numeric_x = pd.api.types.is_numeric_dtype(ok[x])
    if group is None:
        data = ok.sort_values(x) if numeric_x else ok
        fig.add_trace(go.Scatter(x=data[x], y=data[kpi], mode="markers+lines" if len(params) == 1 else "markers",
                                 name=_title(kpi)))
    else:
        for value, data in ok.groupby(group, sort=True):
            data = data.sort_values(x) if numeric_x else data
            fig.add_trace(go.Scatter(x=data[x], y=data[kpi], mode="markers+lines", name=f"{group} = {value}"))
    fig.update_layout(title=f"{_title(kpi)} against {x}", xaxis_title=x, yaxis_title=_title(kpi), height=380,
                      legend_title_text=None, margin={"t": 50, "b": 40})
    return fig


def _pareto_figure(ok: pd.DataFrame, params: list[str]) -> go.Figure | None:
    cost = next((k for k in COST_KEYS if k in ok.columns and ok[k].notna().any()), None)
    co2 = next((k for k in CO2_KEYS if k in ok.columns and ok[k].notna().any()), None)
    if cost is None or co2 is None or len(ok) < 2:
        return None
    data = ok.dropna(subset=[cost, co2])
    labels = data[params].astype(str).apply(lambda r: ", ".join(f"{p}={v}" for p, v in r.items()), axis=1)
    front = pareto_front(data[cost].to_numpy(), data[co2].to_numpy())
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=data[cost], y=data[co2], mode="markers", name="cases", text=labels,
                             marker={"color": "#9aa5b1", "size": 8}))
    fig.add_trace(go.Scatter(x=data[cost].iloc[front], y=data[co2].iloc[front], mode="markers+lines",
                             name="Pareto front", text=labels.iloc[front], marker={"color": "#c0392b", "size": 10}))
    fig.update_layout(title=f"Pareto front: {_title(cost)} against {_title(co2)}", xaxis_title=_title(cost),
                      yaxis_title=_title(co2), height=420, margin={"t": 50, "b": 40})
    return fig

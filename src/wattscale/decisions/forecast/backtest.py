"""Rolling-origin backtests with issue-time discipline, scored against the daily seasonal-naive reference.

At every issue time the model sees the history before it (and observed covariates before it), is refitted when
a refit is due, and forecasts the next ``horizon_steps``; the forecasts are then scored against what happened.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wattscale.decisions.forecast import metrics
from wattscale.decisions.forecast.interface import NO_COVARIATES, Covariates, Forecaster, check_history
from wattscale.errors import ForecastError
from wattscale.guards import excerpt
from wattscale.parallel import map_tasks

REFERENCE = "seasonal_naive"
REFIT_EVERY_H = 168.0  # default hours between refits: weekly, the latest fit forecasting every issue in between


@dataclass
class Backtest:
    """Every forecast of one model (long table: issue_time, lead, time, actual, point, q10 ...) and its timing."""

    model: str
    forecasts: pd.DataFrame
    levels: tuple[float, ...]
    fit_s: float = 0.0
    predict_s: float = 0.0
    fits: int = 0
    scores: dict = field(default_factory=dict)

    def quantiles(self, frame: pd.DataFrame | None = None) -> dict[float, np.ndarray]:
        f = self.forecasts if frame is None else frame
        return {q: f[f"q{round(q * 100):02d}"].to_numpy() for q in self.levels}

    def score(self, frame: pd.DataFrame | None = None) -> dict:
        f = self.forecasts if frame is None else frame
        actual, point, quant = f["actual"].to_numpy(), f["point"].to_numpy(), self.quantiles(f)
        return {"mae": metrics.mae(actual, point), "rmse": metrics.rmse(actual, point),
                "pinball": metrics.mean_pinball(actual, quant), "crps": metrics.crps(actual, quant)}

    def by_lead(self) -> pd.DataFrame:
        return pd.DataFrame({lead: self.score(g) for lead, g in self.forecasts.groupby("lead")}).T


def issue_times(series: pd.Series, *, first_issue: int, horizon_steps: int, issue_every_steps: int) -> np.ndarray:
    """Positions of the issue times: from ``first_issue`` while a whole horizon of actuals follows."""
    check_steps(horizon_steps, "horizon_steps")
    check_steps(issue_every_steps, "issue_every_steps")
    last = len(series) - horizon_steps
    if horizon_steps > len(series) - 1:
        raise ForecastError(f"horizon of {horizon_steps} steps is longer than the data ({len(series)} steps)",
                            field="horizon", expected="a horizon shorter than the series")
    if first_issue > last:
        raise ForecastError(f"no issue time: the first needs {first_issue} steps of history and a {horizon_steps}-step "
                            f"horizon after it, but the series has {len(series)} steps", field="history",
                            expected="a longer series, a shorter horizon or fewer training days")
    return np.arange(first_issue, last + 1, issue_every_steps)


def run(series: pd.Series, model: Forecaster, issues: np.ndarray, horizon_steps: int, *, refit_every_steps: int,
        covariates: Covariates = NO_COVARIATES, progress: Callable[[int], None] | None = None) -> Backtest:
    """Backtest ``model`` on ``series`` from each issue position (see :func:`issue_times`). The issues between
    two refits are one task (a whole model's issues when its fits build on the one before): on the Dask client in
    use (``wattscale.parallel``) they run across its workers, with the same forecasts."""
    check_history(series, 2, model=model.name)
    check_steps(refit_every_steps, "refit_every_steps")
    check_steps(horizon_steps, "horizon_steps")
    blocks = refit_blocks(issues, refit_every_steps)
    if model.warm_starts:
        blocks = [np.asarray(issues)]
    sizes = [len(b) for b in blocks]

    def tick(what: str, done: int, total: int | None) -> None:
        if progress is not None:
            progress(sizes[done - 1])

    parts = map_tasks(_run_block, blocks, shared=(series, model, horizon_steps, refit_every_steps, covariates),
                      progress=tick, what=model.name)
    forecasts = pd.concat([frame for frames, *_ in parts for frame in frames]).rename_axis("time").reset_index()
    fit_s, predict_s, fits = (sum(p[k] for p in parts) for k in (1, 2, 3))
    result = Backtest(model.name, forecasts, model.levels, fit_s, predict_s, fits)
    result.scores = result.score()
    return result


def check_steps(value, name: str) -> int:
    """``value`` if it is a whole number of steps, at least one; a clear error otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ForecastError(f"{name} is {excerpt(value, 30)}", field=name, expected="a whole number of steps, at least 1")
    return int(value)


def refit_blocks(issues: np.ndarray, refit_every_steps: int) -> list[np.ndarray]:
    """The issues split where the model is fitted again: the first issue, then each issue at least
    ``refit_every_steps`` after the last fit."""
    check_steps(refit_every_steps, "refit_every_steps")
    starts, last = [], None
    for k, i in enumerate(issues):
        if last is None or i - last >= refit_every_steps:
            starts.append(k)
            last = i
    return [np.asarray(b) for b in np.split(np.asarray(issues), starts[1:])]


def _run_block(issues: np.ndarray, shared) -> tuple[list[pd.DataFrame], float, float, int]:
    """Forecasts from each issue of a block, with a copy of the unfitted model (fitted at the block's first
    issue, and again as the refit interval says)."""
    series, model, horizon_steps, refit_every_steps, covariates = shared
    model = copy.deepcopy(model)
    rows, fit_s, predict_s, fits, last_fit = [], 0.0, 0.0, 0, None
    actual = series.to_numpy(dtype=float)
    for i in issues:
        history = series.iloc[:i]
        if last_fit is None or i - last_fit >= refit_every_steps:
            t = time.perf_counter()
            model.fit(history, covariates)
            fit_s += time.perf_counter() - t
            fits, last_fit = fits + 1, i
        t = time.perf_counter()
        f = model.predict(history, horizon_steps, covariates)
        predict_s += time.perf_counter() - t
        frame = f.frame()
        frame.insert(0, "actual", actual[i:i + horizon_steps])
        frame.insert(0, "lead", np.arange(horizon_steps))
        frame.insert(0, "issue_time", f.issue_time)
        rows.append(frame)
    return rows, fit_s, predict_s, fits


def skill_table(results: list[Backtest]) -> pd.DataFrame:
    """Scores of every model, and skill (1 - score / reference) against the seasonal-naive run among them."""
    table = pd.DataFrame({r.model: {**r.scores, "fit_s": r.fit_s, "predict_s": r.predict_s, "fits": r.fits}
                          for r in results}).T
    if REFERENCE in table.index:
        ref = table.loc[REFERENCE]
        for score in ("mae", "rmse", "crps"):
            table[f"skill_{score}"] = [metrics.skill(v, ref[score]) for v in table[score]]
    return table

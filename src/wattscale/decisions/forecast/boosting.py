"""Gradient boosting (LightGBM): one direct multi-horizon model with the lead time as a feature.

Each training row is an issue time and a lead: calendar of the target step, the last value, the value at the
same time on the last observed day and week, the past day's and week's means and spread, known covariates at the
target step (clear-sky irradiance), and observed weather at the issue time (its last value and past day's mean).
The point forecast is the median (an absolute-error model, robust to price spikes); each other quantile level
is a quantile-loss model. Training issue times are ``issue_every_h`` apart over the last ``window_days``. On the
2023 ERCOT price and carbon, 100 small trees (7 leaves) at a learning rate of 0.1 on issues 12 h apart forecast
better than 200 trees of 31 leaves at 0.05 on issues 4 h apart, in an eighth of the time. One thread, for fitting
and predicting.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from wattscale.decisions.forecast.interface import QUANTILES, Covariates, Forecaster, calendar, steps_per_day
from wattscale.errors import ForecastError


class LightGbm(Forecaster):
    name = "lgbm"
    min_history_days = 14.0

    def __init__(self, quantiles: tuple[float, ...] = QUANTILES, *, horizon_steps: int | None = None,
                 window_days: float = 365.0, issue_every_h: float = 12.0, n_estimators: int = 100,
                 learning_rate: float = 0.1, num_leaves: int = 7, seed: int = 0) -> None:
        super().__init__(quantiles)
        self.horizon_steps = horizon_steps
        self.window_days = window_days
        self.issue_every_h = issue_every_h
        self.rounds = n_estimators
        self.params = {"learning_rate": learning_rate, "num_leaves": num_leaves, "min_data_in_leaf": 20,
                       "bagging_fraction": 0.8, "bagging_freq": 1, "feature_fraction": 0.9, "seed": seed,
                       "deterministic": True, "force_row_wise": True, "verbose": -1, "num_threads": 1}
        self.models: dict[str | float, object] = {}

    def _fit(self, history: pd.Series, covariates: Covariates) -> None:
        import lightgbm

        y = history.to_numpy(dtype=float)
        d = steps_per_day(history.index)
        horizon = self.horizon_steps or 2 * d
        self.trained_horizon = horizon
        n = len(y)
        stride = max(1, round(self.issue_every_h * d / 24))
        first = max(7 * d, n - int(self.window_days * d))
        issues = np.arange(n - 1, first - 1, -stride)[::-1]
        issue, lead = (a.ravel() for a in np.meshgrid(issues, np.arange(horizon), indexing="ij"))
        keep = issue + lead < n
        issue, lead = issue[keep], lead[keep]
        if len(issue) < 10 * len(self.levels or (0,)):
            raise ForecastError(f"model 'lgbm' has only {len(issue)} training rows", field="history",
                                expected="a longer history")
        names, X = _features(history.index, y, issue, lead, covariates, d)
        target = y[issue + lead] - X[:, names.index("past_day_mean")]
        data = lightgbm.Dataset(X, target, feature_name=names, free_raw_data=False)

        def train(**objective):
            return lightgbm.train({**self.params, **objective}, data, self.rounds)

        self.models = {"point": train(objective="regression_l1")}
        for q in self.levels:
            self.models[q] = self.models["point"] if q == 0.5 else train(objective="quantile", alpha=q)

    def _predict(self, history, index, covariates):
        if len(index) > self.trained_horizon:
            raise ForecastError(f"model 'lgbm' was trained for {self.trained_horizon} steps ahead, asked for "
                                f"{len(index)}", field="horizon", expected=f"at most {self.trained_horizon} steps "
                                "(set horizon_steps when creating the model)")
        y = history.to_numpy(dtype=float)
        n = len(y)
        full = history.index.append(index)
        lead = np.arange(len(index))
        names, X = _features(full, y, np.full(len(index), n), lead, covariates, steps_per_day(history.index))
        level = X[:, names.index("past_day_mean")]
        # one thread: LightGBM's default (a thread per core) costs 50 times more on a 48-row forecast
        threads = self.params["num_threads"]
        point = level + self.models["point"].predict(X, num_threads=threads)
        return point, {q: level + self.models[q].predict(X, num_threads=threads) for q in self.levels}


def _features(index: pd.DatetimeIndex, y: np.ndarray, issue: np.ndarray, lead: np.ndarray, covariates: Covariates,
              d: int) -> tuple[list[str], np.ndarray]:
    """Feature names and rows for (issue, lead) pairs; only ``y[:issue]`` and observed covariates before the issue
    are read."""
    target = issue + lead
    week = 7 * d
    csum = np.concatenate([[0.0], np.cumsum(y)])
    csq = np.concatenate([[0.0], np.cumsum(y * y)])

    def past_mean(span):
        lo = np.maximum(issue - span, 0)
        count = issue - lo
        mean = (csum[issue] - csum[lo]) / count
        return mean, np.sqrt(np.maximum((csq[issue] - csq[lo]) / count - mean ** 2, 0.0))

    day_mean, day_std = past_mean(d)
    week_mean, _ = past_mean(week)
    hour, weekday = calendar(index[target])
    cols = {"lead": lead, "hour": hour, "weekday": weekday,
            "past_day_mean": day_mean, "past_day_std": day_std,
            "last": y[issue - 1] - day_mean,  # the lags relative to the past day's mean, as the target is
            "same_time_last_day": y[target - d * (lead // d + 1)] - day_mean,
            "same_time_last_week": y[target - week * (lead // week + 1)] - day_mean,
            "past_week_mean": week_mean - day_mean}
    if covariates.known is not None:
        known = covariates.known.reindex(index)
        for c in known.columns:
            cols[f"known_{c}"] = known[c].to_numpy(dtype=float)[target]
    if covariates.observed is not None:
        obs = covariates.observed.reindex(index[: int(issue.max())])
        for c in obs.columns:
            v = obs[c].to_numpy(dtype=float)
            vsum = np.concatenate([[0.0], np.cumsum(np.nan_to_num(v))])
            cols[f"observed_{c}_last"] = v[issue - 1]
            cols[f"observed_{c}_past_day_mean"] = (vsum[issue] - vsum[np.maximum(issue - d, 0)]) / d
    return list(cols), np.column_stack([np.asarray(v, float) for v in cols.values()])

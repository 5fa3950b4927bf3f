"""Naive forecasters: persistence (the last value stays) and seasonal naive (the same time one season ago).

Both repeat a past value at a lag that depends on the lead time; their quantiles are the empirical quantiles of
the same rule's errors at that lag over the recent history (the last ``error_window_days``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from wattscale.decisions.forecast.interface import QUANTILES, Forecaster, steps_per_day


class _LagRule(Forecaster):
    error_window_days = 28.0

    def lags(self, history: pd.Series, horizon_steps: int) -> np.ndarray:
        raise NotImplementedError

    def _predict(self, history, index, covariates):
        y = history.to_numpy(dtype=float)
        lags = self.lags(history, len(index))
        n, h = len(y), np.arange(len(index))
        point = y[n - lags + h]
        window = int(self.error_window_days * steps_per_day(history.index))
        quantiles = {q: np.empty(len(index)) for q in self.levels}
        for lag in np.unique(lags):
            at = lags == lag
            recent = y[max(0, n - window - lag):]
            errors = recent[lag:] - recent[:-lag] if len(recent) > lag else np.zeros(1)
            for q in self.levels:
                quantiles[q][at] = point[at] + np.quantile(errors, q)
        return point, quantiles


class Persistence(_LagRule):
    """The last observed value, held over the whole horizon."""

    name = "persistence"
    min_history_days = 0.0

    def lags(self, history, horizon_steps):
        return np.arange(horizon_steps) + 1


class SeasonalNaive(_LagRule):
    """The value at the same time of day ``season_days`` ago (the latest such day that has been observed)."""

    name = "seasonal_naive"

    def __init__(self, quantiles: tuple[float, ...] = QUANTILES, season_days: int = 1) -> None:
        super().__init__(quantiles)
        self.season_days = int(season_days)
        self.min_history_days = float(season_days)

    def lags(self, history, horizon_steps):
        season = self.season_days * steps_per_day(history.index)
        return season * (np.arange(horizon_steps) // season + 1)


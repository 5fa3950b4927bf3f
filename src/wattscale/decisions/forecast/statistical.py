"""Statistical forecasting (statsforecast): MSTL, daily and weekly seasonality removed by STL, the rest by AutoETS.

The model is re-estimated at every forecast on the last ``window_days`` (statistical models are cheap to fit and
their state is the recent history); quantiles come from its 50 % and 80 % prediction intervals.
"""
from __future__ import annotations

import numpy as np

from wattscale.decisions.forecast.interface import QUANTILES, Forecaster, steps_per_day
from wattscale.errors import ForecastError

LEVELS = {0.1: ("lo", 80), 0.25: ("lo", 50), 0.5: ("mean", None), 0.75: ("hi", 50), 0.9: ("hi", 80)}


class Mstl(Forecaster):
    name = "mstl"
    min_history_days = 14.0

    def __init__(self, quantiles: tuple[float, ...] = QUANTILES, *, window_days: float = 56.0) -> None:
        unknown = sorted(set(quantiles) - set(LEVELS))
        if unknown:
            raise ForecastError(f"model 'mstl' gives quantiles {sorted(LEVELS)}, not {unknown}", field="quantiles",
                                expected=f"levels among {sorted(LEVELS)}")
        super().__init__(quantiles)
        self.window_days = window_days

    def _predict(self, history, index, covariates):
        from statsforecast.models import MSTL, AutoETS

        d = steps_per_day(history.index)
        y = history.to_numpy(dtype=float)[-int(self.window_days * d):]
        model = MSTL(season_length=[d, 7 * d], trend_forecaster=AutoETS(model="ZZN"))
        levels = sorted({pct for side, pct in (LEVELS[q] for q in self.levels) if pct})
        out = model.forecast(y=y, h=len(index), level=levels or None)
        quantiles = {q: out["mean"] if pct is None else out[f"{side}-{pct}"]
                     for q, (side, pct) in ((q, LEVELS[q]) for q in self.levels)}
        return np.asarray(out["mean"]), quantiles

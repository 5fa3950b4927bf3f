"""Learned forecasts for the MPC controller: one forecaster per series, fed only what has been observed.

At each plan the present step is measured; everything after it comes from the named model (see ``registry``)
fitted on the observations so far and refitted every ``refit_every_steps``. Until a model has the history it
needs, the daily seasonal naive (or, within the first day, the present value) stands in. A series that has
never changed (no wind turbines, a flat tariff) is forecast as that constant.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from wattscale.decisions.forecast.baseline import FORECAST_FIELDS
from wattscale.decisions.forecast.naive import Persistence, SeasonalNaive
from wattscale.decisions.forecast.registry import make_forecaster
from wattscale.decisions.protocol import SiteForecast, SiteState


class Learned:
    def __init__(self, model: str, *, horizon_steps: int, block_steps: int, refit_every_steps: int) -> None:
        self.name = model
        self.horizon = max(1, int(horizon_steps))
        self.block = max(1, int(block_steps))
        self.refit_every = max(1, int(refit_every_steps))
        self.models = {f: make_forecaster(model, horizon_steps=self.horizon, quantiles=()) for f in FORECAST_FIELDS}
        self._times: list[np.ndarray] = []  # the observed steps' times (ns since the epoch, UTC)
        self._values: dict[str, list[np.ndarray]] = {f: [] for f in FORECAST_FIELDS}
        self._fitted_at: dict[str, int] = {}
        self.fallbacks = 0

    def forecast(self, state: SiteState, truth: SiteForecast) -> SiteForecast:
        n = len(truth.load_mw)
        index = pd.DatetimeIndex(np.concatenate(self._times + [truth.time[:1].asi8]), tz=truth.time.tz)
        seen, changes = {}, {}
        for name in FORECAST_FIELDS:
            actual = getattr(truth, name)
            if actual is None:
                continue
            seen[name] = np.concatenate(self._values[name] + [actual[:1]])
            if n > 1:
                same = name == "export_price_usd_per_mwh" and np.array_equal(seen[name], seen["price_usd_per_mwh"])
                rest = changes["price_usd_per_mwh"][1:] if same else \
                    self._ahead(name, pd.Series(seen[name], index=index), n - 1, state.step)
                guess = np.r_[actual[:1], rest]
                changes[name] = np.maximum(guess, 0.0) if name.endswith("_mw") else guess
            self._values[name].append(actual[:self.block])
        self._times.append(truth.time[:self.block].asi8)
        return replace(truth, **changes)

    def _ahead(self, name: str, history: pd.Series, steps: int, now: int) -> np.ndarray:
        """The next ``steps`` values after ``history`` (which ends with the present)."""
        values = history.to_numpy()
        if len(values) < 2 or np.ptp(values) == 0.0:
            return np.full(steps, values[-1])
        model = self.models[name]
        if len(history) < model.min_history_steps(history):
            self.fallbacks += 1
            daily = SeasonalNaive(quantiles=())
            model = daily if len(history) >= daily.min_history_steps(history) else Persistence(quantiles=())
        elif name not in self._fitted_at or now - self._fitted_at[name] >= self.refit_every:
            model.fit(history)
            self._fitted_at[name] = now
        return model.predict(history, steps).point

"""Reference forecasters for the MPC controller: perfect foresight, and the truth with growing noise.

A forecaster turns the truth the engine hands over (``SiteForecast``) into what the controller may know.
The first step of the horizon is the present and is taken as measured. Own compute (the flexibility
envelopes, PUE) and the grid's limits are the operator's schedule and stay known; load, renewables,
prices and carbon intensity are forecast (learned and naive models: ``feed.Learned``).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from wattscale.decisions.protocol import SiteForecast, SiteState

FORECAST_FIELDS = ("load_mw", "pv_mw", "wind_mw", "price_usd_per_mwh", "export_price_usd_per_mwh",
                   "intensity_kg_per_mwh")


class PerfectForesight:
    name = "perfect"

    def forecast(self, state: SiteState, truth: SiteForecast) -> SiteForecast:
        return truth


class Noisy:
    """The truth with multiplicative Gaussian errors whose spread grows as the square root of lead time,
    reaching ``sigma_at_day`` one period ahead (and staying there); the present is exact."""

    name = "noisy"

    def __init__(self, period_steps: int, sigma_at_day: float, seed: int = 0) -> None:
        self.period = max(1, int(period_steps))
        self.sigma = float(sigma_at_day)
        self.seed = int(seed)

    def forecast(self, state: SiteState, truth: SiteForecast) -> SiteForecast:
        n = len(truth.load_mw)
        rng = np.random.default_rng([self.seed, state.step])
        spread = self.sigma * np.sqrt(np.minimum(np.arange(n), self.period) / self.period)
        changes = {}
        for name in FORECAST_FIELDS:
            actual = getattr(truth, name)
            if actual is not None:
                guess = actual * (1.0 + spread * rng.standard_normal(n))
                changes[name] = np.maximum(guess, 0.0) if name.endswith("_mw") else guess
        return replace(truth, **changes)

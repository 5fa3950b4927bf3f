"""Forecasters by name: the names the CLI, the scenario's MPC controller and the benchmarks use."""
from __future__ import annotations

from wattscale.decisions.forecast.interface import QUANTILES, Forecaster
from wattscale.errors import ForecastError

MODELS = {
    "persistence": "the last value, held",
    "seasonal_naive": "the same hour of the last observed day",
    "mstl": "statsforecast MSTL (daily and weekly STL, AutoETS trend)",
    "lgbm": "LightGBM, direct multi-horizon, calendar, lag and weather features",
    "nhits": "PyTorch N-HiTS-style quantile network, quantiles calibrated on held-out days (extra wattscale[neural])",
}


def make_forecaster(name: str, *, horizon_steps: int | None = None,
                    quantiles: tuple[float, ...] = QUANTILES) -> Forecaster:
    """A fresh forecaster called ``name`` that can forecast ``horizon_steps`` ahead."""
    if name == "persistence":
        from wattscale.decisions.forecast.naive import Persistence
        return Persistence(quantiles)
    if name == "seasonal_naive":
        from wattscale.decisions.forecast.naive import SeasonalNaive
        return SeasonalNaive(quantiles)
    if name == "mstl":
        from wattscale.decisions.forecast.statistical import Mstl
        return Mstl(quantiles)
    if name == "lgbm":
        from wattscale.decisions.forecast.boosting import LightGbm
        return LightGbm(quantiles, horizon_steps=horizon_steps)
    if name == "nhits":
        from wattscale.decisions.forecast.neural import NHits, require_torch
        require_torch()
        return NHits(quantiles, horizon_steps=horizon_steps)
    from wattscale.guards import excerpt
    raise ForecastError(f"unknown model '{excerpt(name, 40)}'", field="model", expected="one of " + ", ".join(MODELS))

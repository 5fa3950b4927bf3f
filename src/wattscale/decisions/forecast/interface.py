"""The one forecaster interface: fit on history, then predict from an issue time for a horizon.

``history`` is a regular, gap-free ``pd.Series`` whose last value is the last observation; the issue time is
one step after it and the forecast covers ``horizon_steps`` steps from the issue time. Models see the future
only through ``Covariates.known`` (calendar and astronomy: clear-sky irradiance), and see observed weather
(``Covariates.observed``) only before the issue time: :func:`before_issue` cuts it there.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wattscale.errors import ForecastError

QUANTILES: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class Covariates:
    """Series besides the target: ``known`` in advance (must reach the end of the horizon) and ``observed``
    (weather actuals, used only up to the issue time)."""

    known: pd.DataFrame | None = None
    observed: pd.DataFrame | None = None


NO_COVARIATES = Covariates()


@dataclass(frozen=True)
class Forecast:
    """A point forecast and quantiles (level -> values) over ``index`` (its first step is the issue time)."""

    index: pd.DatetimeIndex
    point: np.ndarray
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)

    @property
    def issue_time(self) -> pd.Timestamp:
        return self.index[0]

    def frame(self) -> pd.DataFrame:
        cols = {"point": self.point, **{f"q{round(q * 100):02d}": v for q, v in sorted(self.quantiles.items())}}
        return pd.DataFrame(cols, index=self.index)


class Forecaster:
    """Base class: subclasses set ``name`` and ``min_history_days`` and implement ``_fit`` and ``_predict``."""

    name = "forecaster"
    min_history_days: float = 1.0
    warm_starts: bool = False  # a fit builds on the one before (a backtest then runs its refits in order)

    def __init__(self, quantiles: tuple[float, ...] = QUANTILES) -> None:
        self.levels = tuple(sorted(quantiles))
        self.fitted = False

    def fit(self, history: pd.Series, covariates: Covariates = NO_COVARIATES) -> Forecaster:
        check_history(history, self.min_history_steps(history), model=self.name)
        issue_time = history.index[-1] + step_of(history.index)
        self._fit(history, Covariates(covariates.known, before_issue(covariates.observed, issue_time)))
        self.fitted = True
        return self

    def predict(self, history: pd.Series, horizon_steps: int,
                covariates: Covariates = NO_COVARIATES) -> Forecast:
        """Forecast ``horizon_steps`` steps from one step after the end of ``history``."""
        if not self.fitted:
            self.fit(history, covariates)  # checks the history
        else:
            check_history(history, self.min_history_steps(history), model=self.name)
        if horizon_steps < 1:
            raise ForecastError(f"horizon of {horizon_steps} steps", field="horizon", expected="at least one step")
        index = future_index(history, horizon_steps)
        cov = Covariates(_covering(covariates.known, history.index[0], index, self.name),
                         before_issue(covariates.observed, index[0]))
        point, quantiles = self._predict(history, index, cov)
        return Forecast(index, np.asarray(point, float), ordered(quantiles))

    def min_history_steps(self, history: pd.Series) -> int:
        return max(1, int(np.ceil(self.min_history_days * steps_per_day(history.index))))

    def _fit(self, history: pd.Series, covariates: Covariates) -> None:
        pass

    def _predict(self, history: pd.Series, index: pd.DatetimeIndex,
                 covariates: Covariates) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------- helpers
def step_of(index: pd.DatetimeIndex) -> pd.Timedelta:
    if len(index) < 2:
        raise ForecastError("a series of fewer than two values has no time step", field="history",
                            expected="a regular series")
    return index[1] - index[0]


def steps_per_day(index: pd.DatetimeIndex) -> int:
    return max(1, round(pd.Timedelta(days=1) / step_of(index)))


def future_index(history: pd.Series, horizon_steps: int) -> pd.DatetimeIndex:
    step = step_of(history.index)
    return pd.date_range(history.index[-1] + step, periods=horizon_steps, freq=step, tz=history.index.tz)


def check_history(history: pd.Series, min_steps: int, *, model: str) -> None:
    """A regular, gap-free history of at least ``min_steps`` values, with a clear error otherwise."""
    if not isinstance(history.index, pd.DatetimeIndex):
        raise ForecastError("history is not indexed by time", field="history",
                            expected="a pd.Series on a DatetimeIndex")
    if len(history) < max(2, min_steps):
        days = min_steps * (step_of(history.index) / pd.Timedelta(days=1)) if len(history) > 1 else float("nan")
        raise ForecastError(f"model '{model}' needs at least {min_steps} steps ({days:.1f} days) of history, "
                            f"got {len(history)}", field="history", expected="a longer history (or a simpler model)")
    gaps = np.flatnonzero(np.diff(history.index.asi8) != history.index.asi8[1] - history.index.asi8[0])
    if len(gaps):
        i = gaps[0]
        raise ForecastError(f"gap or irregular spacing between {history.index[i]} and {history.index[i + 1]}",
                            field="history", expected="evenly spaced timestamps with no gaps")
    bad = np.flatnonzero(~np.isfinite(history.to_numpy(dtype=float)))
    if len(bad):
        raise ForecastError(f"missing (NaN) value at {history.index[bad[0]]}", field="history",
                            expected="a finite value at every step (fill gaps before forecasting)")


def before_issue(frame: pd.DataFrame | None, issue_time: pd.Timestamp) -> pd.DataFrame | None:
    """Observed covariates up to (not including) the issue time: what was known when the forecast was made."""
    return None if frame is None else frame.loc[frame.index < issue_time]


def _covering(known: pd.DataFrame | None, start: pd.Timestamp, index: pd.DatetimeIndex,
              model: str) -> pd.DataFrame | None:
    if known is None:
        return None
    if known.index[0] > start or known.index[-1] < index[-1]:
        raise ForecastError(f"known covariates cover {known.index[0]} .. {known.index[-1]} but model '{model}' "
                            f"needs {start} .. {index[-1]}", field="covariates.known",
                            expected="known covariates reaching the end of the horizon")
    return known.loc[(known.index >= start) & (known.index <= index[-1])]


def ordered(quantiles: dict[float, np.ndarray]) -> dict[float, np.ndarray]:
    """Quantiles sorted across levels at every step (rearrangement: never crossing)."""
    if not quantiles:
        return {}
    levels = sorted(quantiles)
    values = np.sort(np.vstack([np.asarray(quantiles[q], float) for q in levels]), axis=0)
    return dict(zip(levels, values))


NS_PER_DAY = 86_400_000_000_000


def calendar(index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Local hour of day (fractional) and day of week (Monday 0): features known for any future step."""
    ns = (index.tz_localize(None) if index.tz is not None else index).as_unit("ns").asi8
    day = ns // NS_PER_DAY
    return (ns - day * NS_PER_DAY) / 3.6e12, (day + 3) % 7  # 1970-01-01 was a Thursday

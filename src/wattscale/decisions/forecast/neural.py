"""A neural quantile forecaster in PyTorch, in the style of N-HiTS (Challu et al., 2023), trained on the CPU.

Input: the last ``context_days`` of the series, scaled by that window's mean and spread, the calendar at the issue
time (hour and weekday as sine and cosine) and known covariates over the horizon (clear-sky irradiance). Three
stacks look at the context through max-pooling of 24, 6 and 1 steps, each emits a backcast (removed from what the
next stack sees) and a coarse forecast of every quantile at a rate of 1/24, 1/6 and 1 per step, interpolated
to the horizon; the forecasts add up. Trained with the pinball loss over all levels (and the median for the
point), small and with dropout: a larger network, or the calendar and covariates over the whole context, fits the
training windows far better than it forecasts. Each refit trains a new network.

Calibration: the last ``calibration_days`` of the training window are held out of training; the network's
quantiles on those issues, against what happened, give one split-conformal shift per lead and level (see
``conformal``), in units of the context's spread, added to every forecast until the next fit. The median is not
shifted (the held-out days are a noisy estimate of its bias). Needs the extra ``wattscale[neural]`` (PyTorch).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from wattscale.decisions.forecast import conformal
from wattscale.decisions.forecast.interface import QUANTILES, Forecaster, calendar, steps_per_day
from wattscale.errors import ForecastError
from wattscale.guards import check_number

POOLS = (24, 6, 1)  # per day of 24 steps; scaled with the step
MIN_CALIBRATION = 24  # held-out issues needed to calibrate


def require_torch():
    try:
        import torch
    except ImportError:
        raise ForecastError("model 'nhits' needs PyTorch, which is not installed", field="model",
                            expected="the neural extra: pip install 'wattscale[neural]' (CPU PyTorch 2.13.0)") from None
    return torch


class NHits(Forecaster):
    name = "nhits"
    min_history_days = 21.0

    def __init__(self, quantiles: tuple[float, ...] = QUANTILES, *, horizon_steps: int | None = None,
                 context_days: float = 7.0, window_days: float = 365.0, hidden: int = 128, steps: int = 300,
                 batch: int = 128, learning_rate: float = 1e-3, dropout: float = 0.2, calibration_days: float = 28.0,
                 pool_steps: int = 3, seed: int = 0) -> None:
        super().__init__(quantiles)
        check_number(calibration_days, "calibration_days", low=0.0, low_inclusive=True, high=3660.0)
        check_number(dropout, "dropout", low=0.0, low_inclusive=True, high=0.9)
        check_number(pool_steps, "pool_steps", low=0, low_inclusive=True, integer=True)
        self.horizon_steps, self.context_days, self.window_days = horizon_steps, context_days, window_days
        self.hidden, self.steps, self.batch, self.dropout = hidden, steps, batch, dropout
        self.learning_rate, self.seed = learning_rate, seed
        self.calibration_days, self.pool_steps = calibration_days, int(pool_steps)
        self.net = None
        self.shift: np.ndarray | None = None  # (leads, outputs) in units of the context's spread, or None

    @property
    def outputs(self) -> tuple[float, ...]:
        return tuple(sorted(set(self.levels) | {0.5}))

    def _fit(self, history, covariates):
        torch = require_torch()
        torch.manual_seed(self.seed)
        d = steps_per_day(history.index)
        self.context = int(self.context_days * d)
        self.horizon = self.horizon_steps or 2 * d
        y = history.to_numpy(dtype=float)
        n = len(y)
        first = max(self.context, n - int(self.window_days * d))
        tail = self._tail(n - first, d)
        issues = np.arange(first, n - tail - self.horizon + 1)  # targets before the held-out tail
        if len(issues) < self.batch:
            raise ForecastError(f"model 'nhits' has only {len(issues)} training windows", field="history",
                                expected=f"at least {(self.context + self.horizon + self.batch) / d:.0f} days "
                                         "of history")
        x = self._windows(y, history.index, issues, covariates.known)
        target = _scaled_targets(y, issues, self.context, self.horizon)
        self.net = _Net(torch, x.shape[1], self.context, self.horizon, len(self.outputs), self.hidden, d,
                        self.dropout)
        levels = torch.tensor(self.outputs, dtype=torch.float32)
        optimiser = torch.optim.Adam(self.net.parameters(), lr=self.learning_rate)
        xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(target, dtype=torch.float32)
        generator = torch.Generator().manual_seed(self.seed)
        self.net.train()
        for _ in range(self.steps):
            pick = torch.randint(0, len(xt), (self.batch,), generator=generator)
            out = self.net(xt[pick])  # (batch, horizon, quantiles)
            diff = yt[pick].unsqueeze(-1) - out
            loss = torch.maximum(levels * diff, (levels - 1.0) * diff).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        self.net.eval()
        self.shift = self._calibrate(torch, y, history.index, np.arange(n - tail, n - self.horizon + 1),
                                     covariates.known) if tail else None

    def _tail(self, windows: int, d: int) -> int:
        """Steps held out for calibration: ``calibration_days``, fewer if the history is short (a batch of training
        windows stays), none if that leaves fewer than ``MIN_CALIBRATION`` issues or no level to calibrate."""
        if all(q == 0.5 for q in self.levels):
            return 0
        tail = min(round(self.calibration_days * d), windows - self.horizon - self.batch + 1)
        return tail if tail - self.horizon + 1 >= MIN_CALIBRATION else 0

    def _calibrate(self, torch, y, index, issues, known) -> np.ndarray:
        """Conformal shifts (leads, outputs) from the held-out ``issues``; zero for the median."""
        with torch.no_grad():
            out = self.net(torch.tensor(self._windows(y, index, issues, known), dtype=torch.float32)).numpy()
        z = _scaled_targets(y, issues, self.context, self.horizon)
        shift = conformal.shifts(z[:, :, None] - out, self.outputs, pool_steps=self.pool_steps)
        shift[:, self.outputs.index(0.5)] = 0.0
        return shift

    def _predict(self, history, index, covariates):
        torch = require_torch()
        if len(index) > self.horizon:
            raise ForecastError(f"model 'nhits' was trained for {self.horizon} steps ahead, asked for {len(index)}",
                                field="horizon", expected=f"at most {self.horizon} steps (set horizon_steps)")
        y = history.to_numpy(dtype=float)
        n = len(y)
        full = history.index.append(pd.date_range(index[0], periods=self.horizon, freq=index.freq or
                                                  (history.index[1] - history.index[0]), tz=index.tz))
        known = covariates.known.reindex(full, method="nearest") if covariates.known is not None else None
        x = self._windows(np.r_[y, np.zeros(self.horizon)], full, np.array([n]), known)
        with torch.no_grad():
            out = self.net(torch.tensor(x, dtype=torch.float32))[0].numpy()
        if self.shift is not None:
            out = out + self.shift
        out = out[:len(index)]
        mean, spread = _scale(y[n - self.context:])
        values = {q: mean + spread * out[:, k] for k, q in enumerate(self.outputs)}
        return values[0.5], {q: values[q] for q in self.levels}

    def _windows(self, y: np.ndarray, index: pd.DatetimeIndex, issues: np.ndarray,
                 known: pd.DataFrame | None) -> np.ndarray:
        """One row per issue: the scaled context, the calendar at the issue time, known covariates over the
        horizon."""
        ctx = y[issues[:, None] + np.arange(-self.context, 0)[None, :]]
        mean, spread = _scale(ctx)
        hour, weekday = calendar(index[issues])
        angle_h, angle_w = 2 * np.pi * hour / 24, 2 * np.pi * (weekday + hour / 24) / 7
        parts = [(ctx - mean) / spread, np.column_stack([np.sin(angle_h), np.cos(angle_h), np.sin(angle_w),
                                                         np.cos(angle_w)])]
        if known is not None:
            ahead = issues[:, None] + np.arange(self.horizon)[None, :]
            for c in known.columns:
                v = known[c].reindex(index).to_numpy(dtype=float)
                parts.append(v[ahead] / (np.nanmax(np.abs(v)) or 1.0))
        return np.nan_to_num(np.hstack(parts)).astype(np.float32)


def _scale(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = window.mean(axis=-1, keepdims=True)
    spread = window.std(axis=-1, keepdims=True)
    return mean, np.maximum(spread, 1e-3 * np.maximum(np.abs(mean), 1.0))


def _scaled_targets(y: np.ndarray, issues: np.ndarray, context: int, horizon: int) -> np.ndarray:
    mean, spread = _scale(y[issues[:, None] + np.arange(-context, 0)[None, :]])
    return (y[issues[:, None] + np.arange(horizon)[None, :]] - mean) / spread


def _Net(torch, inputs: int, context: int, horizon: int, n_quantiles: int, hidden: int, steps_per_day: int,
         dropout: float):
    nn = torch.nn

    class Stack(nn.Module):
        def __init__(self, pool: int, rate: int):
            super().__init__()
            self.pool = nn.MaxPool1d(pool, ceil_mode=True) if pool > 1 else nn.Identity()
            pooled = -(-context // pool)
            self.coarse = max(1, -(-horizon // rate))
            self.mlp = nn.Sequential(nn.Linear(pooled + inputs - context, hidden), nn.ReLU(), nn.Dropout(dropout),
                                     nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout))
            self.backcast = nn.Linear(hidden, context)
            self.forecast = nn.Linear(hidden, self.coarse * n_quantiles)

        def forward(self, ctx, extra):
            h = self.mlp(torch.cat([self.pool(ctx.unsqueeze(1)).squeeze(1), extra], dim=1))
            coarse = self.forecast(h).view(-1, n_quantiles, self.coarse)
            fine = nn.functional.interpolate(coarse, size=horizon, mode="linear", align_corners=True) \
                if self.coarse > 1 else coarse.expand(-1, -1, horizon)
            return self.backcast(h), fine.transpose(1, 2)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inputs = inputs
            scale = max(1, steps_per_day // 24)
            self.stacks = nn.ModuleList([Stack(p * scale, p * scale) for p in POOLS])

        def forward(self, x):
            ctx, extra = x[:, :context], x[:, context:]
            total = 0
            for stack in self.stacks:
                back, fore = stack(ctx, extra)
                ctx = ctx - back
                total = total + fore
            return total

    return Net()

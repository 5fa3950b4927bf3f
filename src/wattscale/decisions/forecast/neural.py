"""A neural quantile forecaster in PyTorch, in the style of N-HiTS (Challu et al., 2023), trained on the CPU.

Input: the last ``context_days`` of the series, scaled by that window's mean and spread, with the calendar of the
context and horizon (hour and weekday as sine and cosine) and known covariates (clear-sky irradiance). Three
stacks look at the context through max-pooling of 24, 6 and 1 steps, each emits a backcast (removed from what the
next stack sees) and a coarse forecast of every quantile at a rate of 1/24, 1/6 and 1 per step, interpolated
to the horizon; the forecasts add up. Trained with the pinball loss over all levels (and the median for the
point). Refits continue from the previous weights. Needs the extra ``wattscale[neural]`` (PyTorch).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from wattscale.decisions.forecast.interface import QUANTILES, Forecaster, calendar, steps_per_day
from wattscale.errors import ForecastError

POOLS = (24, 6, 1)  # per day of 24 steps; scaled with the step


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
    warm_starts = True  # a refit continues training the network it has

    def __init__(self, quantiles: tuple[float, ...] = QUANTILES, *, horizon_steps: int | None = None,
                 context_days: float = 7.0, window_days: float = 365.0, hidden: int = 256, steps: int = 600,
                 refit_steps: int = 150, batch: int = 128, learning_rate: float = 1e-3, seed: int = 0) -> None:
        super().__init__(quantiles)
        self.horizon_steps, self.context_days, self.window_days = horizon_steps, context_days, window_days
        self.hidden, self.steps, self.refit_steps, self.batch = hidden, steps, refit_steps, batch
        self.learning_rate, self.seed = learning_rate, seed
        self.net = None

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
        issues = np.arange(first, n - self.horizon + 1)
        if len(issues) < self.batch:
            raise ForecastError(f"model 'nhits' has only {len(issues)} training windows", field="history",
                                expected=f"at least {(self.context + self.horizon + self.batch) / d:.0f} days "
                                         "of history")
        full = history.index
        x, target = self._windows(y, full, issues, covariates.known), _scaled_targets(y, issues, self.context,
                                                                                       self.horizon)
        if self.net is None or self.net.inputs != x.shape[1]:
            self.net = _Net(torch, x.shape[1], self.context, self.horizon, len(self.outputs), self.hidden, d)
            steps = self.steps
        else:
            steps = self.refit_steps
        levels = torch.tensor(self.outputs, dtype=torch.float32)
        optimiser = torch.optim.Adam(self.net.parameters(), lr=self.learning_rate)
        xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(target, dtype=torch.float32)
        generator = torch.Generator().manual_seed(self.seed)
        self.net.train()
        for _ in range(steps):
            pick = torch.randint(0, len(xt), (self.batch,), generator=generator)
            out = self.net(xt[pick])  # (batch, horizon, quantiles)
            diff = yt[pick].unsqueeze(-1) - out
            loss = torch.maximum(levels * diff, (levels - 1.0) * diff).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()

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
        self.net.eval()
        with torch.no_grad():
            out = self.net(torch.tensor(x, dtype=torch.float32))[0].numpy()[:len(index)]
        mean, spread = _scale(y[n - self.context:])
        values = {q: mean + spread * out[:, k] for k, q in enumerate(self.outputs)}
        return values[0.5], {q: values[q] for q in self.levels}

    def _windows(self, y: np.ndarray, index: pd.DatetimeIndex, issues: np.ndarray,
                 known: pd.DataFrame | None) -> np.ndarray:
        """One row per issue: the scaled context, then calendar and known covariates over context and horizon."""
        span = np.arange(-self.context, self.horizon)
        at = issues[:, None] + span[None, :]
        ctx = y[issues[:, None] + np.arange(-self.context, 0)[None, :]]
        mean, spread = _scale(ctx)
        parts = [(ctx - mean) / spread]
        cal = calendar(index)
        angle_h = 2 * np.pi * cal["hour"].to_numpy() / 24
        angle_w = 2 * np.pi * (cal["weekday"].to_numpy() + cal["hour"].to_numpy() / 24) / 7
        for series in (np.sin(angle_h), np.cos(angle_h), np.sin(angle_w), np.cos(angle_w)):
            parts.append(series[at])
        if known is not None:
            for c in known.columns:
                v = known[c].reindex(index).to_numpy(dtype=float)
                parts.append(v[at] / (np.nanmax(np.abs(v)) or 1.0))
        return np.nan_to_num(np.hstack(parts)).astype(np.float32)


def _scale(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = window.mean(axis=-1, keepdims=True)
    spread = window.std(axis=-1, keepdims=True)
    return mean, np.maximum(spread, 1e-3 * np.maximum(np.abs(mean), 1.0))


def _scaled_targets(y: np.ndarray, issues: np.ndarray, context: int, horizon: int) -> np.ndarray:
    mean, spread = _scale(y[issues[:, None] + np.arange(-context, 0)[None, :]])
    return (y[issues[:, None] + np.arange(horizon)[None, :]] - mean) / spread


def _Net(torch, inputs: int, context: int, horizon: int, n_quantiles: int, hidden: int, steps_per_day: int):
    nn = torch.nn

    class Stack(nn.Module):
        def __init__(self, pool: int, rate: int):
            super().__init__()
            self.pool = nn.MaxPool1d(pool, ceil_mode=True) if pool > 1 else nn.Identity()
            pooled = -(-context // pool)
            self.coarse = max(1, -(-horizon // rate))
            self.mlp = nn.Sequential(nn.Linear(pooled + inputs - context, hidden), nn.ReLU(),
                                     nn.Linear(hidden, hidden), nn.ReLU())
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

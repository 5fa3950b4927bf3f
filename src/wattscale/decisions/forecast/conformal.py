"""Split-conformal calibration of quantile forecasts: one shift per lead and level, from held-out residuals.

A model's quantile forecasts on a calibration set it was not trained on (a held-out tail of its training window)
are compared with what happened. For each level ``q`` and lead, the shift is the split-conformal ``q`` quantile of
the residuals ``actual - forecast`` (the ``ceil((n + 1) q)``-th smallest of ``n`` for ``q >= 0.5``, the
``floor((n + 1) q)``-th below): added to the forecast, the fraction of actuals below it is ``q`` on exchangeable
data, whatever the model. It is also the shift that minimises the level's pinball loss on the calibration set.
Residuals of neighbouring leads (``pool_steps`` either side) are pooled, so each shift rests on more than one
lead's sample.
"""
from __future__ import annotations

import numpy as np

from wattscale.errors import ForecastError


def shifts(residuals: np.ndarray, levels: tuple[float, ...], *, pool_steps: int = 0) -> np.ndarray:
    """Shifts of shape (leads, levels) from residuals of shape (issues, leads, levels) (actual - forecast)."""
    r = np.asarray(residuals, float)
    if r.ndim != 3 or r.shape[2] != len(levels):
        raise ForecastError(f"residuals of shape {r.shape}", field="residuals",
                            expected=f"an array (issues, leads, {len(levels)} levels)")
    if r.shape[0] < 1 or not np.all(np.isfinite(r)):
        raise ForecastError("no finite calibration residuals", field="residuals",
                            expected="at least one issue with finite residuals at every lead")
    if pool_steps < 0:
        raise ForecastError(f"pool_steps is {pool_steps}", field="pool_steps", expected="0 or more leads")
    leads = r.shape[1]
    out = np.empty((leads, len(levels)))
    for h in range(leads):
        near = r[:, max(0, h - pool_steps):h + pool_steps + 1, :].reshape(-1, len(levels))
        out[h] = [conformal_quantile(near[:, k], q) for k, q in enumerate(levels)]
    return out


def conformal_quantile(values: np.ndarray, level: float) -> float:
    """The split-conformal ``level`` quantile of ``values``: with finite-sample correction, outward from 0.5."""
    v = np.sort(np.asarray(values, float))
    n = len(v)
    if level >= 0.5:
        k = int(np.ceil((n + 1) * level))
        return float(v[min(k, n) - 1])
    k = int(np.floor((n + 1) * level))
    return float(v[max(k, 1) - 1])

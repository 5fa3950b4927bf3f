"""Forecast scores: MAE, RMSE, pinball loss, CRPS from quantiles, and skill against a reference.

CRPS is approximated from the quantile forecast as twice the mean pinball loss over its levels (the integral of
the quantile score over all levels, by the rule of midpoints; exact as the levels become dense).
"""
from __future__ import annotations

import numpy as np


def mae(actual: np.ndarray, point: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(point))))


def rmse(actual: np.ndarray, point: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(actual) - np.asarray(point)) ** 2)))


def pinball(actual: np.ndarray, quantile: np.ndarray, level: float) -> float:
    """Mean quantile (pinball) loss of the ``level`` quantile."""
    diff = np.asarray(actual) - np.asarray(quantile)
    return float(np.mean(np.maximum(level * diff, (level - 1.0) * diff)))


def mean_pinball(actual: np.ndarray, quantiles: dict[float, np.ndarray]) -> float:
    return float(np.mean([pinball(actual, v, q) for q, v in quantiles.items()])) if quantiles else float("nan")


def crps(actual: np.ndarray, quantiles: dict[float, np.ndarray]) -> float:
    """CRPS approximated by twice the mean pinball loss over the levels given."""
    return 2.0 * mean_pinball(actual, quantiles)


def skill(score: float, reference: float) -> float:
    """1 - score / reference: positive when better than the reference, 0 when equal."""
    return float(1.0 - score / reference) if reference > 0 else float("nan")

"""Facility load: IT load times a PUE that rises with outdoor temperature.

PUE(T) = clip(pue_min + slope_per_c * max(0, T - free_cooling_below_c), pue_min, pue_max):
below the threshold the plant runs on free (economiser) cooling at its best PUE; above it the
chillers' share grows linearly with dry-bulb temperature. A constant PUE is also accepted.
"""
from __future__ import annotations

import numpy as np

from wattscale.scenario.schema import TemperaturePUE


def pue(model: float | TemperaturePUE, temp_air_c: np.ndarray) -> np.ndarray:
    """PUE at each step for the outdoor dry-bulb temperatures ``temp_air_c``."""
    if isinstance(model, (int, float)):
        return np.full(len(temp_air_c), float(model))
    raw = model.pue_min + model.slope_per_c * np.maximum(0.0, temp_air_c - model.free_cooling_below_c)
    return np.clip(raw, model.pue_min, model.pue_max)


def facility_load_mw(it_load_mw: np.ndarray, pue_values: np.ndarray) -> np.ndarray:
    """Total facility power = IT power x PUE (cooling and power-delivery losses on top of IT)."""
    return it_load_mw * pue_values

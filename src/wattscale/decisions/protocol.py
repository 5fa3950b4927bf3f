"""The one protocol between the engine and controllers: ``decide(state, forecast) -> Setpoints``.

A controller is asked every ``block_steps`` steps for the setpoints of the next block. A setpoint
is a power in MW, or NaN meaning *follow*: the asset balances the site in merit order within its
limits (battery absorbs surplus / covers deficit; a generator covers what the grid cannot).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

FOLLOW = np.nan


@dataclass(frozen=True)
class SiteState:
    """Where the site stands at the start of a block."""

    step: int
    time: pd.Timestamp
    soc_mwh: float
    generator_power_mw: np.ndarray
    generator_on: np.ndarray


@dataclass(frozen=True)
class SiteForecast:
    """What the controller may know about the coming ``horizon`` steps (arrays of equal length)."""

    step_h: float
    load_mw: np.ndarray
    pv_mw: np.ndarray
    wind_mw: np.ndarray
    price_usd_per_mwh: np.ndarray
    intensity_kg_per_mwh: np.ndarray
    grid_available: np.ndarray


@dataclass
class Setpoints:
    """Setpoints for one block: battery (MW, + discharge, - charge) and generators (MW), NaN = follow.

    ``battery_grid_first``: where True, a following battery discharges only for the deficit the grid
    cannot supply (import limit or outage) and keeps its energy otherwise. ``battery_reserve_mwh``:
    energy that discharge setpoints leave in the battery for shortfalls and outages.
    """

    battery_mw: np.ndarray
    generator_mw: np.ndarray  # shape (n_generators, block)
    battery_grid_first: np.ndarray | None = None
    battery_reserve_mwh: float = 0.0

    @classmethod
    def follow(cls, n_steps: int, n_generators: int) -> "Setpoints":
        return cls(np.full(n_steps, FOLLOW), np.full((n_generators, n_steps), FOLLOW), np.zeros(n_steps, bool))


@runtime_checkable
class Controller(Protocol):
    block_steps: int
    horizon_steps: int

    def decide(self, state: SiteState, forecast: SiteForecast) -> Setpoints: ...

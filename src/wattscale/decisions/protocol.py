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

from wattscale.scenario.schema import Battery, Generator

FOLLOW = np.nan


@dataclass(frozen=True)
class SiteState:
    """Where the site stands at the start of a block."""

    step: int
    time: pd.Timestamp
    soc_mwh: float
    generator_power_mw: np.ndarray
    generator_on: np.ndarray
    generator_warmup_left: np.ndarray | None = None  # steps until a starting generator produces (0: not starting)
    month_peak_import_mw: float = 0.0  # highest import so far in the current calendar month
    flex_budget_mwh: np.ndarray | None = None  # energy each flexible workload may still shed (facility MWh)


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
    export_price_usd_per_mwh: np.ndarray | None = None
    import_limit_mw: np.ndarray | None = None  # demand-response holds included
    export_limit_mw: np.ndarray | None = None
    flex_mw: np.ndarray | None = None  # (workloads, horizon): facility power each workload could shed
    month: np.ndarray | None = None  # calendar month number of each step (changes mark month boundaries)
    time: pd.DatetimeIndex | None = None
    pue: np.ndarray | None = None
    dr_soft_mw: np.ndarray | None = None  # paid demand response: import above this (inf: no event) ...
    dr_payment_usd_per_mwh: np.ndarray | None = None  # ... forgoes this payment per MWh


@dataclass
class Setpoints:
    """Setpoints for one block: battery (MW, + discharge, - charge) and generators (MW), NaN = follow.

    ``battery_grid_first``: where True, a following battery discharges only for the deficit the grid
    cannot supply (import limit or outage) and keeps its energy otherwise. ``battery_reserve_mwh``:
    energy that discharge setpoints leave in the battery for shortfalls and outages.
    ``compute_shed_mw`` (workloads, block): flexible compute to shed on purpose (facility MW, within each
    workload's envelope and budget). ``export_limit_mw``: at most this much export (curtail the rest).
    """

    battery_mw: np.ndarray
    generator_mw: np.ndarray  # shape (n_generators, block)
    battery_grid_first: np.ndarray | None = None
    battery_reserve_mwh: float = 0.0
    compute_shed_mw: np.ndarray | None = None
    export_limit_mw: np.ndarray | None = None

    @classmethod
    def follow(cls, n_steps: int, n_generators: int) -> "Setpoints":
        return cls(np.full(n_steps, FOLLOW), np.full((n_generators, n_steps), FOLLOW), np.zeros(n_steps, bool))


@runtime_checkable
class Controller(Protocol):
    block_steps: int
    horizon_steps: int

    def decide(self, state: SiteState, forecast: SiteForecast) -> Setpoints: ...


@dataclass(frozen=True)
class SiteAssets:
    """What the controller knows of a site that does not change: its assets and prices of compute."""

    name: str
    battery: Battery | None
    generators: list[Generator]  # in the engine's merit order
    flex_names: list[str]
    flex_cost_usd_per_it_mwh: list[float]
    step_s: int
    demand_charge_usd_per_kw_month: float = 0.0
    paid_demand_response: bool = False

"""The dispatch problem as plain numbers: one or several sites over a horizon of equal steps.

Everything is per step on the horizon (arrays of length ``n``) or per asset; powers in MW, energies in MWh,
prices in USD/MWh, intensities in kg CO2/MWh. The optimisation layer (``dispatch``) turns it into a
linear or mixed-integer programme; the MPC controller and the sizing study fill it from forecasts and
scenarios.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from wattscale.decisions.protocol import SiteAssets, SiteForecast, SiteState
from wattscale.energy import generator as figures
from wattscale.energy.battery import self_discharge_per_step
from wattscale.scenario.schema import Battery, Generator

Commitment = Literal["milp", "relaxed", "none"]


@dataclass
class GridTerms:
    """A grid connection: availability, limits, prices, carbon, demand charge and demand-response caps."""

    up: np.ndarray  # bool
    import_limit_mw: np.ndarray
    export_limit_mw: np.ndarray
    price_usd_per_mwh: np.ndarray
    export_price_usd_per_mwh: np.ndarray
    intensity_kg_per_mwh: np.ndarray
    demand_charge_usd_per_mw_month: float = 0.0
    month_slot: np.ndarray | None = None  # month of each step, numbered 0.. within the horizon
    peak_so_far_mw: np.ndarray | None = None  # per month slot: the peak import already paid for
    month_share: np.ndarray | None = None  # per month slot: the share of the month's charge this horizon bears
    dr_hold_mw: np.ndarray | None = None  # hard demand response: import held at or below (inf: no event)
    dr_soft_mw: np.ndarray | None = None  # paid demand response: import above this ...
    dr_soft_usd_per_mwh: np.ndarray | None = None  # ... costs this (the payment forgone)

    def import_cap_mw(self) -> np.ndarray:
        cap = np.where(self.up, self.import_limit_mw, 0.0)
        return cap if self.dr_hold_mw is None else np.minimum(cap, self.dr_hold_mw)

    def export_cap_mw(self) -> np.ndarray:
        return np.where(self.up, self.export_limit_mw, 0.0)

    def monthly_rates(self, k: int) -> np.ndarray:
        """The demand charge of each of ``k`` month slots (USD per MW of peak)."""
        share = np.ones(k) if self.month_share is None else np.asarray(self.month_share, float)[:k]
        return self.demand_charge_usd_per_mw_month * np.pad(share, (0, k - len(share)), constant_values=1.0)

    def slots(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        slot = np.zeros(n, dtype=int) if self.month_slot is None else np.asarray(self.month_slot, dtype=int)
        k = int(slot.max()) + 1 if n else 1
        so_far = np.zeros(k) if self.peak_so_far_mw is None else np.asarray(self.peak_so_far_mw, float)
        if len(so_far) < k:
            so_far = np.concatenate([so_far, np.zeros(k - len(so_far))])
        return slot, so_far


@dataclass
class BatteryTerms:
    power_mw: float
    energy_min_mwh: float
    energy_max_mwh: float
    charge_efficiency: float
    discharge_efficiency: float
    keep_per_step: float  # 1 - self-discharge per step
    soc_initial_mwh: float
    wear_usd_per_mwh: float = 0.0  # per MWh discharged
    terminal_mwh: float | None = None  # energy wanted at the end (shortfall penalised)
    terminal_penalty_usd_per_mwh: float = 1000.0

    @classmethod
    def of(cls, b: Battery, step_s: float, *, power_mw: float | None = None, energy_mwh: float | None = None,
           soc_mwh: float | None = None, **kw) -> "BatteryTerms":
        """A scenario battery on steps of ``step_s`` (``energy_mwh=1`` gives the window as fractions, for sizing)."""
        energy = b.energy_mwh if energy_mwh is None else energy_mwh
        return cls(b.power_mw if power_mw is None else power_mw, b.soc_min * energy, b.soc_max * energy,
                   b.charge_efficiency, b.discharge_efficiency, 1.0 - self_discharge_per_step(b, step_s),
                   b.soc_initial * energy if soc_mwh is None else soc_mwh, wear_usd_per_mwh=b.wear_cost_usd_per_mwh,
                   **kw)


@dataclass
class GeneratorTerms:
    name: str
    capacity_mw: float
    min_mw: float
    ramp_mw_per_step: float
    start_steps: int  # steps of warm-up with no output after a start command
    cost_usd_per_mwh: float  # fuel + variable O&M
    co2_kg_per_mwh: float
    start_usd: float = 0.0
    on: bool | float = False  # producing at the step before the horizon (a fraction with relaxed commitment)
    power_mw: float = 0.0  # output at the step before the horizon
    warmup_left: int = 0  # a start in progress: steps until it produces (0: none)

    @classmethod
    def of(cls, g: Generator, step_s: float, **state) -> "GeneratorTerms":
        """A scenario generator on steps of ``step_s``; ``state`` sets on, power_mw, warmup_left (or name)."""
        return cls(state.pop("name", g.name), g.capacity_mw, g.min_load_fraction * g.capacity_mw,
                   figures.ramp_mw_per_step(g, step_s), figures.start_steps(g, step_s),
                   figures.marginal_cost_usd_per_mwh(g), figures.co2_kg_per_mwh(g), g.start_up_cost_usd, **state)


@dataclass
class FlexTerms:
    """Compute that may be shed (facility MW per step), at a price and within an energy budget."""

    name: str
    reducible_mw: np.ndarray
    cost_usd_per_mwh: float | np.ndarray  # per facility MWh shed (per step, or one figure)
    budget_mwh: float = np.inf


@dataclass
class SiteProblem:
    name: str
    load_mw: np.ndarray  # facility load at full compute
    pv_mw: np.ndarray  # available (per MW of capacity when sizing)
    wind_mw: np.ndarray
    grid: GridTerms
    battery: BatteryTerms | None = None
    generators: list[GeneratorTerms] = field(default_factory=list)
    flex: list[FlexTerms] = field(default_factory=list)

    @property
    def n_steps(self) -> int:
        return len(self.load_mw)


@dataclass
class MigrationTerms:
    """Inference that may move from site ``src`` to site ``dst`` (indices in the problem): at most ``cap_it_mw`` of
    IT power per step, leaving ``src``'s load at its PUE and joining ``dst``'s at its PUE, at a cost per MWh."""

    src: int
    dst: int
    cap_it_mw: np.ndarray
    cost_usd_per_mwh: float
    pue_src: np.ndarray
    pue_dst: np.ndarray


@dataclass
class GroupCap:
    """Sites (indices) under one shared connection: their imports (exports) together at most these MW."""

    sites: list[int]
    import_mw: float
    export_mw: float


@dataclass
class DispatchProblem:
    sites: list[SiteProblem]
    step_h: float
    carbon_price_usd_per_t: float = 0.0
    value_of_lost_load_usd_per_mwh: float = 10_000.0
    allow_unserved: bool = True
    commitment: Commitment = "milp"
    connection: GridTerms | None = None  # shared by all sites; their own grid terms then only limit each tie
    active_steps: int | None = None  # steps after these are padding (nothing runs; keeps the programme's shape)
    portfolio_cap_mw: np.ndarray | None = None  # the sites' net draw together at most this per step (inf: free) ...
    portfolio_shortfall_usd_per_mwh: float = 0.0  # ... or pay this per MWh above it
    migration: list[MigrationTerms] = field(default_factory=list)  # inference that may move between the sites
    movable_it_mw: dict[int, np.ndarray] = field(default_factory=dict)  # site -> IT MW it may send in all
    group_caps: list[GroupCap] = field(default_factory=list)  # shared connections over some of the sites

    def active(self) -> np.ndarray:
        n = self.n_steps
        return np.arange(n) < (n if self.active_steps is None else self.active_steps)

    @property
    def n_steps(self) -> int:
        return self.sites[0].n_steps


def dispatch_problem(assets: SiteAssets, state: SiteState, f: SiteForecast, *, carbon_price_usd_per_t: float = 0.0,
                     value_of_lost_load_usd_per_mwh: float = 10_000.0, commitment: Commitment = "milp",
                     terminal_soc_fraction: float | None = None,
                     terminal_penalty_usd_per_mwh: float = 100.0) -> DispatchProblem:
    """A site's dispatch problem over the horizon its forecast ``f`` covers, from its state and assets: the one
    translation from a scenario's site to an optimisation (MPC, the market's agents and the VPP call use it). The
    battery should end the horizon at ``terminal_soc_fraction`` of its energy (default: where it started)."""
    a, n, step_h = assets, len(f.load_mw), f.step_h
    month = f.month if f.month is not None else np.zeros(n, dtype=int)
    grid = GridTerms(
        up=np.asarray(f.grid_available, bool), import_limit_mw=_or(f.import_limit_mw, np.inf, n),
        export_limit_mw=_or(f.export_limit_mw, 0.0, n), price_usd_per_mwh=f.price_usd_per_mwh,
        export_price_usd_per_mwh=_or(f.export_price_usd_per_mwh, f.price_usd_per_mwh, n),
        intensity_kg_per_mwh=f.intensity_kg_per_mwh,
        demand_charge_usd_per_mw_month=a.demand_charge_usd_per_kw_month * 1e3,
        month_slot=(month != month[0]).astype(int), peak_so_far_mw=np.array([state.month_peak_import_mw, 0.0]),
        dr_soft_mw=_or(f.dr_soft_mw, np.inf, n) if a.paid_demand_response else None,
        dr_soft_usd_per_mwh=_or(f.dr_payment_usd_per_mwh, 0.0, n) if a.paid_demand_response else None)
    battery = None
    if a.battery is not None:
        b = a.battery
        terminal = b.soc_initial if terminal_soc_fraction is None else terminal_soc_fraction
        battery = BatteryTerms.of(b, a.step_s, soc_mwh=state.soc_mwh, terminal_mwh=terminal * b.energy_mwh,
                                  terminal_penalty_usd_per_mwh=terminal_penalty_usd_per_mwh)
    warm = state.generator_warmup_left if state.generator_warmup_left is not None else np.zeros(len(a.generators))
    gens = [GeneratorTerms.of(g, a.step_s, on=bool(state.generator_on[j]), power_mw=float(state.generator_power_mw[j]),
                              warmup_left=int(warm[j]))
            for j, g in enumerate(a.generators)]
    pue = _or(f.pue, 1.0, n)
    budget = state.flex_budget_mwh if state.flex_budget_mwh is not None else np.full(len(a.flex_names), np.inf)
    flex = [FlexTerms(name, f.flex_mw[w], a.flex_cost_usd_per_it_mwh[w] / pue, float(budget[w]))
            for w, name in enumerate(a.flex_names)] if f.flex_mw is not None else []
    site = SiteProblem(a.name, f.load_mw, f.pv_mw, f.wind_mw, grid, battery, gens, flex)
    return DispatchProblem([site], step_h, carbon_price_usd_per_t=carbon_price_usd_per_t,
                           value_of_lost_load_usd_per_mwh=value_of_lost_load_usd_per_mwh, commitment=commitment)


def _or(values, default, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(default if values is None else values, float), (n,)).copy()

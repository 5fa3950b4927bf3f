"""The same dispatch problem built in PyPSA (an independent formulation to check wattscale's against).

Each site is a bus. Renewables, grid import, unserved load and flexible compute are generators with
time-varying availability; export and dumping are generators with negative output; the battery is a Store
with charge and discharge Links; engines and turbines are committable generators. A demand charge, which
PyPSA lacks, is added as extra functionality on its linopy model.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from wattscale.decisions.operate.problem import DispatchProblem, GridTerms, SiteProblem


def _pu(values: np.ndarray) -> tuple[float, np.ndarray]:
    values = np.asarray(values, float)
    nom = max(float(values.max()), 1e-9)
    return nom, values / nom


def build_network(problem: DispatchProblem):
    import pypsa

    n_steps, dt = problem.n_steps, problem.step_h
    net = pypsa.Network()
    net.set_snapshots(pd.RangeIndex(n_steps))
    net.snapshot_weightings.loc[:, :] = dt
    cp = problem.carbon_price_usd_per_t
    shared = problem.connection is not None
    if shared:
        net.add("Bus", "tie")
        _grid(net, "tie", "tie", problem.connection, cp)
    for s in problem.sites:
        _site(net, s, problem, priced=not shared)
        if shared:
            up = s.grid.import_cap_mw()
            down = s.grid.export_cap_mw()
            nom = max(up.max(), down.max(), 1e-9)
            net.add("Link", f"{s.name}-tie", bus0="tie", bus1=s.name, p_nom=nom, p_max_pu=up / nom,
                    p_min_pu=-down / nom, efficiency=1.0)
    return net


def _site(net, s: SiteProblem, problem: DispatchProblem, *, priced: bool) -> None:
    bus = s.name
    net.add("Bus", bus)
    net.add("Load", f"{bus}-load", bus=bus, p_set=s.load_mw)
    nom, pu = _pu(s.pv_mw + s.wind_mw)
    net.add("Generator", f"{bus}-renewable", bus=bus, p_nom=nom, p_max_pu=pu, marginal_cost=0.0)
    if priced:
        _grid(net, bus, bus, s.grid, problem.carbon_price_usd_per_t)
    if problem.allow_unserved:
        nom, pu = _pu(s.load_mw)
        net.add("Generator", f"{bus}-unserved", bus=bus, p_nom=nom, p_max_pu=pu,
                marginal_cost=problem.value_of_lost_load_usd_per_mwh)
    net.add("Generator", f"{bus}-dump", bus=bus, p_nom=1e5, p_min_pu=-1.0, p_max_pu=0.0, marginal_cost=0.0)
    b = s.battery
    if b is not None:
        store = f"{bus}-battery"
        net.add("Bus", store)
        keep_per_h = b.keep_per_step ** (1.0 / problem.step_h)
        net.add("Store", store, bus=store, e_nom=b.energy_max_mwh, e_min_pu=b.energy_min_mwh / b.energy_max_mwh,
                e_initial=b.soc_initial_mwh * b.keep_per_step,  # PyPSA applies no standing loss to e_initial
                standing_loss=1.0 - keep_per_h, e_cyclic=False)
        net.add("Link", f"{store}-charge", bus0=bus, bus1=store, p_nom=b.power_mw, efficiency=b.charge_efficiency)
        net.add("Link", f"{store}-discharge", bus0=store, bus1=bus, p_nom=b.power_mw / b.discharge_efficiency,
                efficiency=b.discharge_efficiency, marginal_cost=b.wear_usd_per_mwh * b.discharge_efficiency)
    committable = problem.commitment != "none"
    for g in s.generators:
        kw = dict(committable=True, p_min_pu=g.min_mw / g.capacity_mw, start_up_cost=g.start_usd,
                  up_time_before=0, min_up_time=0, min_down_time=0,
                  ramp_limit_start_up=min(1.0, (g.min_mw + g.ramp_mw_per_step) / g.capacity_mw),
                  ramp_limit_shut_down=min(1.0, (g.min_mw + g.ramp_mw_per_step) / g.capacity_mw)) \
            if committable else {}
        net.add("Generator", f"{bus}-{g.name}", bus=bus, p_nom=g.capacity_mw,
                marginal_cost=g.cost_usd_per_mwh + problem.carbon_price_usd_per_t * g.co2_kg_per_mwh / 1e3,
                ramp_limit_up=g.ramp_mw_per_step / g.capacity_mw, ramp_limit_down=g.ramp_mw_per_step / g.capacity_mw,
                **kw)
    for f in s.flex:
        nom, pu = _pu(f.reducible_mw)
        net.add("Generator", f"{bus}-shed-{f.name}", bus=bus, p_nom=nom, p_max_pu=pu,
                marginal_cost=f.cost_usd_per_mwh,
                e_sum_max=f.budget_mwh if np.isfinite(f.budget_mwh) else np.inf)


def _grid(net, bus: str, name: str, g: GridTerms, cp: float) -> None:
    nom, pu = _pu(g.import_cap_mw())
    net.add("Generator", f"{name}-import", bus=bus, p_nom=nom, p_max_pu=pu,
            marginal_cost=g.price_usd_per_mwh + cp * g.intensity_kg_per_mwh / 1e3)
    nom, pu = _pu(g.export_cap_mw())
    net.add("Generator", f"{name}-export", bus=bus, p_nom=nom, p_min_pu=-pu, p_max_pu=0.0,
            marginal_cost=g.export_price_usd_per_mwh)


def _extras(problem: DispatchProblem):
    """extra_functionality: a monthly peak variable per priced connection, charged at its rate; and, for
    generators without commitment, the ramp from the output before the horizon (PyPSA leaves the first
    snapshot free unless it runs a rolling horizon)."""
    def extra(net, snapshots):
        m = net.model
        p = m["Generator-p"]
        if problem.commitment == "none":
            for s in problem.sites:
                for g in s.generators:
                    first = p.sel(name=f"{s.name}-{g.name}", snapshot=0)
                    m.add_constraints(first <= g.power_mw + g.ramp_mw_per_step, name=f"ramp0-up-{s.name}-{g.name}")
                    m.add_constraints(first >= g.power_mw - g.ramp_mw_per_step, name=f"ramp0-dn-{s.name}-{g.name}")
        priced = [("tie", problem.connection)] if problem.connection is not None else \
            [(s.name, s.grid) for s in problem.sites]
        for name, g in priced:
            if g.demand_charge_usd_per_mw_month <= 0:
                continue
            slot, so_far = g.slots(problem.n_steps)
            rates = g.monthly_rates(len(so_far))
            imp = p.sel(name=f"{name}-import")
            for k in range(len(so_far)):
                peak = m.add_variables(lower=so_far[k], name=f"peak-{name}-{k}")
                steps = np.flatnonzero(slot == k)
                m.add_constraints(imp.sel(snapshot=steps) - peak <= 0, name=f"peak-rows-{name}-{k}")
                m.objective = m.objective + float(rates[k]) * peak
    return extra


def solve_with_pypsa(problem: DispatchProblem, *, io_api: str | None = None) -> tuple[float, float, object]:
    """(objective USD, seconds to build and solve, network)."""
    t0 = time.perf_counter()
    net = build_network(problem)
    kwargs = dict(solver_name="highs", extra_functionality=_extras(problem),
                  linearized_unit_commitment=problem.commitment == "relaxed",
                  solver_options={"output_flag": False, "threads": 1, "mip_rel_gap": 1e-6},
                  include_objective_constant=False)
    if io_api:
        kwargs["io_api"] = io_api
    status, condition = net.optimize(**kwargs)
    seconds = time.perf_counter() - t0
    if status != "ok":
        raise RuntimeError(f"PyPSA: {status} {condition}")
    constant = 0.0
    for s in ([problem.connection] if problem.connection is not None else [site.grid for site in problem.sites]):
        if s.demand_charge_usd_per_mw_month > 0:
            so_far = s.slots(problem.n_steps)[1]
            constant -= float((s.monthly_rates(len(so_far)) * so_far).sum())
    return float(net.objective) + float(getattr(net, "objective_constant", 0.0)) + constant, seconds, net


def rolling_with_pypsa(problem: DispatchProblem, horizon_steps: int, block_steps: int) -> tuple[list[float], float,
                                                                                                  object]:
    """PyPSA's own rolling horizon (``optimize_with_rolling_horizon``) over ``problem``: (each window's optimum in
    USD, seconds to build and solve them all, network). PyPSA carries a store's energy and a generator's output
    from one window to the next and rebuilds the model for every window.

    Only a problem whose windows PyPSA states as wattscale does: no demand charge (PyPSA lacks it), no energy
    budget on flexible compute (``e_sum_max`` would hold for each window afresh), no commitment (PyPSA carries a
    relaxed on-state into its ramp rows but a whole one into its start-up rows) and no self-discharge (PyPSA
    applies no standing loss between a window's ``e_initial`` and its first snapshot)."""
    for s in problem.sites:
        if s.grid.demand_charge_usd_per_mw_month > 0 or any(np.isfinite(f.budget_mwh) for f in s.flex) or \
                (s.battery is not None and s.battery.keep_per_step != 1.0):
            raise ValueError("PyPSA's rolling horizon differs on demand charges, budgets and self-discharge")
    if problem.commitment != "none" or problem.connection is not None:
        raise ValueError("PyPSA's rolling horizon carries relaxed commitment differently")
    net = build_network(problem)
    for s in problem.sites:  # the first window's ramps start from the output before the horizon
        for g in s.generators:
            net.generators.loc[f"{s.name}-{g.name}", "p_init"] = g.power_mw
    objectives: list[float] = []

    def record(n, snapshots):  # called before each window is solved: the previous window's optimum is on record
        if snapshots[0] != n.snapshots[0]:
            objectives.append(float(n.objective))

    t0 = time.perf_counter()
    net.optimize.optimize_with_rolling_horizon(
        horizon=horizon_steps, overlap=horizon_steps - block_steps, solver_name="highs", extra_functionality=record,
        solver_options={"output_flag": False, "threads": 1}, include_objective_constant=False)
    seconds = time.perf_counter() - t0
    objectives.append(float(net.objective))
    return objectives, seconds, net

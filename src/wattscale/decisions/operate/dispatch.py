"""Optimal dispatch and compute scheduling over a horizon, as a linopy programme solved by HiGHS.

For each site and step ``t`` (powers in MW, step ``dt`` hours) the balance is
    renewables used + discharge - charge + sum(generators) + import - export + sum(compute shed)
    + unserved - dumped = load,
with the battery's energy ``e_t = keep * e_{t-1} + dt * (eta_c * charge - discharge / eta_d)`` in its window,
renewables used up to what is available (the rest curtailed), imports and exports within the connection's
limits (zero in an outage, imports at or below a demand-response hold), and flexible compute shed within
its envelope and its deadline's energy budget. Generators follow unit commitment (``milp``: on/start
binaries; ``relaxed``: the same constraints with the binaries relaxed to [0, 1]; ``none``: output anywhere
from zero to capacity): minimum load, ramp limits (a start or stop may move up to minimum load plus one
ramp), and a warm-up of ``start_steps`` steps without output after a start command.

The objective is the cost of the horizon: energy bought minus sold, demand charge on the month's peak
import (beyond the peak already paid for), fuel and variable O&M, start-ups, battery wear, the carbon
price times emissions, the value of compute given up, the value of lost load, payments forgone in paid
demand-response events, and a penalty for ending below a wanted battery energy. Several sites may share
one grid connection; each site's own grid terms then limit its tie to that connection.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from collections.abc import Callable
from typing import Protocol

import numpy as np
import xarray as xr

from wattscale.decisions.operate import units
from wattscale.decisions.operate.lp import INF, Programme, Solution, StructureChanged
from wattscale.decisions.operate.problem import DispatchProblem, GridTerms, SiteProblem
from wattscale.errors import PlanningError

SHORT_TOL_MW = 1e-6


#: your own constraints on a dispatch or sizing programme: ``extra(prog, problem)`` is called after the model is
#: formulated (and again, for its numbers, on every re-plan); add rows with ``prog.con(name, lambda: ..., sign,
#: rhs)`` over ``prog.variable(name)`` (``prog.variable_names`` lists them: site i's are ``"{i}.import"``,
#: ``"{i}.discharge"``, ...), as PyPSA's ``extra_functionality`` does. ``prog.con`` rows are re-filled on each
#: re-plan; an edit of the linopy model itself (``prog.model``) must happen only ``if prog.building``
ExtraConstraints = Callable[["Programme", DispatchProblem], None]


class CapacityHook(Protocol):
    """Turns dispatch into capacity planning: declares capacity variables (per site, by asset key: pv_mw,
    wind_mw, battery_mw, battery_mwh, grid_mw, gen:<name>) before the sites, and adds constraints after."""

    def declare(self, prog: Programme) -> list[dict]: ...

    def constrain(self, prog: Programme) -> None: ...


@dataclass
class SitePlan:
    """The optimal schedule of one site (arrays over the horizon, MW unless named otherwise)."""

    name: str
    renewable_used_mw: np.ndarray
    curtailed_mw: np.ndarray
    charge_mw: np.ndarray
    discharge_mw: np.ndarray
    soc_mwh: np.ndarray
    generator_mw: np.ndarray  # (G, n)
    generator_on: np.ndarray  # (G, n) 0..1
    generator_start: np.ndarray  # (G, n) 0..1
    import_mw: np.ndarray
    export_mw: np.ndarray
    shed_mw: np.ndarray  # (W, n)
    unserved_mw: np.ndarray
    dumped_mw: np.ndarray


@dataclass
class DispatchPlan:
    status: str
    objective_usd: float
    sites: list[SitePlan]
    costs_usd: dict[str, float] = field(default_factory=dict)
    co2_t: float = 0.0
    solve_s: float = 0.0
    build_s: float = 0.0
    mip_gap: float = 0.0
    marginal_usd_per_mwh: list[np.ndarray] | None = None  # per site: the value of one more MWh at each step (LPs)
    migration_it_mw: list[np.ndarray] = field(default_factory=list)  # per migration term: IT MW moved per step

    @property
    def unserved_mwh(self) -> float:
        return float(sum(s.unserved_mw.sum() for s in self.sites))


class Dispatch:
    """A dispatch programme for one problem structure; ``plan(problem)`` re-solves with new numbers."""

    def __init__(self, problem: DispatchProblem, *, time_limit_s: float = 60.0, mip_rel_gap: float = 1e-6,
                 capacity: "CapacityHook | None" = None, extra: ExtraConstraints | None = None) -> None:
        self.problem = problem
        self.capacity = capacity
        self.extra = extra
        self._options = {"time_limit_s": time_limit_s, "mip_rel_gap": mip_rel_gap}
        # identical generators are planned as one (units.py), unless your rows or capacities name them
        self._merging = capacity is None and extra is None
        self._programmes: dict[object, Programme] = {}
        self.build_s = 0.0  # the last build's
        self.builds, self.build_s_total = 0, 0.0  # programmes built (one per grouping of units, or on a change)
        self._use(problem)

    def _use(self, problem: DispatchProblem) -> None:
        """Make the programme of ``problem``'s structure current (built once per grouping of its units) and give
        it ``problem``'s numbers."""
        import time

        self.problem = problem
        self._groups = units.identical_units(problem) if self._merging else None
        self._formulated = units.merged(problem, self._groups) if self._groups else problem
        key = None if self._groups is None else tuple(tuple(map(tuple, site)) for site in self._groups)
        prog = self._programmes.get(key)
        if prog is not None:
            try:
                prog.update()
            except StructureChanged:  # e.g. a month's end moved past the rows a long horizon was built with
                prog = None
        if prog is None:
            t0 = time.perf_counter()
            prog = self._programmes[key] = Programme(self._formulate, **self._options)
            self.build_s = time.perf_counter() - t0
            self.builds += 1
            self.build_s_total += self.build_s
        self.programme = prog

    @property
    def last_values(self) -> dict[str, np.ndarray]:
        """The last solution's values by variable name, each generator on its own."""
        values = self.programme.last_values
        return units.split(values, self.problem, self._groups) if self._groups else values

    # ------------------------------------------------------------ formulation
    def _formulate(self, prog: Programme) -> None:
        p = self._formulated
        sizes = self.capacity.declare(prog) if self.capacity else [{} for _ in p.sites]
        moved = [[] for _ in p.sites]  # per site: terms of supply (+) or demand (-) from moved inference
        sent = [[] for _ in p.sites]
        for k, m in enumerate(p.migration):
            var = prog.var(f"move{k}", {"t": p.n_steps}, 0.0, np.maximum(m.cap_it_mw, 0.0) * p.active(),
                           cost=p.step_h * m.cost_usd_per_mwh)
            moved[m.src].append(lambda var=var, m=m: var * _arr(m.pue_src))
            moved[m.dst].append(lambda var=var, m=m: -1.0 * var * _arr(m.pue_dst))
            sent[m.src].append(var)
        for i, limit in p.movable_it_mw.items():  # over all its links, a site sends at most what it may move
            if len(sent[i]) > 1:
                prog.con(f"{i}.movable", lambda i=i: sum(sent[i]), "<=", np.maximum(limit, 0.0))
        flows = []
        for i, site in enumerate(p.sites):
            flows.append(self._site(prog, f"{i}.", site, sizes[i], moved[i]))
        for k, cap in enumerate(p.group_caps):
            prog.con(f"group{k}.import", lambda cap=cap: sum(flows[i][0] for i in cap.sites), "<=",
                     np.full(p.n_steps, cap.import_mw))
            prog.con(f"group{k}.export", lambda cap=cap: sum(flows[i][1] for i in cap.sites), "<=",
                     np.full(p.n_steps, cap.export_mw))
        if p.portfolio_cap_mw is not None:  # a virtual power plant's promise: the sites' net draw together
            short = prog.var("portfolio_short", {"t": p.n_steps}, 0.0, INF,
                             cost=p.step_h * p.portfolio_shortfall_usd_per_mwh)
            prog.con("portfolio_cap", lambda: sum(f[0] - f[1] for f in flows) - short, "<=", p.portfolio_cap_mw)
        if p.connection is not None:
            n = p.n_steps
            imp, exp = grid_exchange(prog, "tie.", p.connection, p)
            prog.con("tie.balance", lambda: imp - exp - sum(f[0] - f[1] for f in flows), "==", np.zeros(n))
        if self.capacity is not None:
            self.capacity.constrain(prog)
        if self.extra is not None:
            self.extra(prog, p)

    def _site(self, prog: Programme, pre: str, s: SiteProblem, sizes: dict, moved: list | None = None) -> tuple:
        p = self._formulated
        n, dt = s.n_steps, p.step_h
        T = {"t": n}
        act = p.active()  # padded steps: every upper bound zero
        # renewables
        sized_ren = "pv_mw" in sizes or "wind_mw" in sizes
        ren = prog.var(pre + "renewable", T, 0.0, INF if sized_ren else (s.pv_mw + s.wind_mw) * act)
        if sized_ren:
            prog.con(pre + "renewable_cap", lambda: ren - _scaled(sizes.get("pv_mw"), s.pv_mw)
                     - _scaled(sizes.get("wind_mw"), s.wind_mw), "<=", 0.0)
        supply = [lambda: ren]
        # battery
        b = s.battery
        if b is not None:
            sized_p, sized_e = "battery_mw" in sizes, "battery_mwh" in sizes
            ch = prog.var(pre + "charge", T, 0.0, INF if sized_p else b.power_mw * act)
            dis = prog.var(pre + "discharge", T, 0.0, INF if sized_p else b.power_mw * act,
                           cost=dt * b.wear_usd_per_mwh)
            soc = prog.var(pre + "soc", T, 0.0 if sized_e else b.energy_min_mwh * act,
                           INF if sized_e else b.energy_max_mwh)
            first = np.zeros(n)
            first[0] = 1.0
            if sized_e:
                e_var = sizes["battery_mwh"]
                frac0 = b.soc_initial_mwh  # a fraction of the sized energy when sizing
                prog.con(pre + "soc_balance", lambda: soc - b.keep_per_step * soc.shift(t=1).fillna(0)
                         - b.charge_efficiency * dt * ch + dt / b.discharge_efficiency * dis
                         - _arr(first * b.keep_per_step * frac0) * e_var, "==", 0.0)
                prog.con(pre + "soc_min", lambda: soc - b.energy_min_mwh * e_var, ">=", 0.0)
                prog.con(pre + "soc_max", lambda: soc - b.energy_max_mwh * e_var, "<=", 0.0)
            else:
                prog.con(pre + "soc_balance", lambda: soc - b.keep_per_step * soc.shift(t=1).fillna(0)
                         - b.charge_efficiency * dt * ch + dt / b.discharge_efficiency * dis, "==",
                         first * b.keep_per_step * b.soc_initial_mwh)
            if sized_p:
                pw = sizes["battery_mw"]
                prog.con(pre + "charge_cap", lambda: ch - pw, "<=", 0.0)
                prog.con(pre + "discharge_cap", lambda: dis - pw, "<=", 0.0)
            if b.terminal_mwh is not None:
                short = prog.var(pre + "terminal_short", {"k": 1}, 0.0, INF, cost=b.terminal_penalty_usd_per_mwh)
                prog.con(pre + "terminal", lambda: soc.isel(t=n - 1) + short.sum(), ">=", b.terminal_mwh)
            supply.append(lambda: dis - ch)
        # generators
        if s.generators:
            supply.append(self._generators(prog, pre, s, sizes))
        # flexible compute
        if s.flex:
            W = {"w": len(s.flex), "t": n}
            reducible = np.array([f.reducible_mw for f in s.flex]).reshape(len(s.flex), n)
            cost = np.array([np.broadcast_to(np.asarray(f.cost_usd_per_mwh, float) * dt, (n,)) for f in s.flex])
            shed = prog.var(pre + "shed", W, 0.0, reducible * act, cost=cost)
            budget = np.array([f.budget_mwh for f in s.flex])
            prog.con(pre + "shed_budget", lambda: dt * shed.sum("t"), "<=", budget,
                     mask=xr.DataArray(np.isfinite(budget), dims=["w"]))  # no row for work without a deadline
            supply.append(lambda: shed.sum("w"))
        supply += moved or []
        uns = prog.var(pre + "unserved", T, 0.0, s.load_mw if p.allow_unserved else 0.0,
                       cost=dt * p.value_of_lost_load_usd_per_mwh)
        dump = prog.var(pre + "dumped", T, 0.0, INF, cost=dt * dump_penalty_usd_per_mwh(p.connection or s.grid, p))
        imp, exp = grid_exchange(prog, pre, s.grid, p, sizes, priced=p.connection is None)
        prog.con(pre + "balance", lambda: sum(f() for f in supply) + imp - exp + uns - dump, "==", s.load_mw)
        return imp, exp

    def _generators(self, prog: Programme, pre: str, s: SiteProblem, sizes: dict):
        p = self._formulated
        n, dt, gens = s.n_steps, p.step_h, s.generators
        G = {"g": len(gens), "t": n}
        col = lambda values: np.array(values, float).reshape(len(gens), 1)  # noqa: E731
        cap = col([g.capacity_mw for g in gens])
        marginal = col([g.cost_usd_per_mwh + p.carbon_price_usd_per_t * g.co2_kg_per_mwh / 1e3 for g in gens])
        sized = [f"gen:{g.name}" in sizes for g in gens]
        act = p.active()
        power = prog.var(pre + "gen", G, 0.0, np.where(col(sized), INF, cap) * act, cost=dt * marginal)
        if any(sized):
            cap_vars = [sizes.get(f"gen:{g.name}") for g in gens]
            for j, g in enumerate(gens):
                if cap_vars[j] is not None:
                    prog.con(f"{pre}gen_cap.{j}", lambda j=j: power.isel(g=j) - cap_vars[j], "<=", 0.0)
            return lambda: power.sum("g")  # sizing: no commitment or ramps
        first = np.zeros((1, n))
        first[0, 0] = 1.0
        p0, on0 = col([g.power_mw for g in gens]), col([float(g.on) for g in gens])
        ramp = col([g.ramp_mw_per_step for g in gens])
        free = np.where(act, 0.0, INF)  # no ramp limits into padding
        # a unit that can ramp its whole capacity in one step needs no ramp rows (the structure stays fixed)
        ramping = xr.DataArray(np.broadcast_to(ramp < cap, (len(gens), n)), dims=["g", "t"])
        if p.commitment == "none":
            prog.con(pre + "ramp_up", lambda: power - power.shift(t=1).fillna(0), "<=", _gt(ramp + first * p0 + free),
                     mask=ramping)
            prog.con(pre + "ramp_down", lambda: power.shift(t=1).fillna(0) - power, "<=", _gt(ramp - first * p0 + free),
                     mask=ramping)
            return lambda: power.sum("g")
        binary = p.commitment == "milp"
        pmin = col([g.min_mw for g in gens])
        rsu = np.minimum(cap, pmin + ramp)  # a start or a stop moves at most minimum load plus one ramp
        delay = [int(g.start_steps) for g in gens]
        on_upper = np.ones((len(gens), n)) * act
        start_upper = np.ones((len(gens), n)) * act
        for j, g in enumerate(gens):
            start_upper[j, : delay[j]] = 0.0  # too late to warm up for these steps ...
            if 0 < g.warmup_left <= n:  # ... unless a start is already under way
                start_upper[j, g.warmup_left - 1] = 1.0
                on_upper[j, : g.warmup_left - 1] = 0.0
        start_cost = np.repeat(col([g.start_usd for g in gens]), n, axis=1)
        for j, g in enumerate(gens):
            if 0 < g.warmup_left <= n:
                start_cost[j, g.warmup_left - 1] = 0.0  # already paid when the start was commanded
        on = prog.var(pre + "gen_on", G, 0.0, on_upper, binary=binary)
        start = prog.var(pre + "gen_start", G, 0.0, start_upper, cost=start_cost, binary=binary)
        c = _arr
        prog.con(pre + "gen_max", lambda: power - c(cap) * on, "<=", 0.0)
        prog.con(pre + "gen_min", lambda: power - c(pmin) * on, ">=", 0.0)
        prog.con(pre + "gen_started", lambda: start - on + on.shift(t=1).fillna(0), ">=", _gt(-first * on0 + 0 * ramp))
        prog.con(pre + "ramp_up", lambda: power - power.shift(t=1).fillna(0) - c(rsu) * on
                 + c(rsu - ramp) * on.shift(t=1).fillna(0), "<=", _gt(first * (p0 - (rsu - ramp) * on0) + free),
                 mask=ramping)
        prog.con(pre + "ramp_down", lambda: power.shift(t=1).fillna(0) - power + c(rsu - ramp) * on
                 - c(rsu) * on.shift(t=1).fillna(0), "<=", _gt(first * (rsu * on0 - p0) + free), mask=ramping)
        for lag in range(1, max(delay, default=0) + 1):
            warming = col([1.0 if d >= lag else 0.0 for d in delay])
            prog.con(f"{pre}warmup.{lag}", lambda w=warming, lag=lag: start + c(w) * on.shift(t=lag).fillna(0),
                     "<=", 1.0)
        return lambda: power.sum("g")

    # ------------------------------------------------------------ solving
    def plan(self, problem: DispatchProblem | None = None) -> DispatchPlan:
        """Solve (with ``problem``'s numbers if given; it must have this programme's structure)."""
        if problem is not None:
            self._use(problem)
        sol = self.programme.solve()
        if sol.status != "optimal" and not sol.values:
            return DispatchPlan(sol.status, float("nan"), [], solve_s=sol.solve_s, build_s=self.build_s)
        if self._groups:
            sol = replace(sol, values=units.split(sol.values, self.problem, self._groups))
        return plan_of_solution(self.problem, sol, self.build_s)


def dump_penalty_usd_per_mwh(g: GridTerms, p: DispatchProblem) -> float:
    """What dumping a MWh costs the plan: nothing while energy has a price, and just more than the most negative
    price of the horizon otherwise, so that energy is never bought only to be thrown away (dumping is for
    generation that cannot be turned down; renewables are curtailed instead). A number, not a row: a horizon
    without negative prices solves the same programme as before."""
    import_cost = g.price_usd_per_mwh + p.carbon_price_usd_per_t * g.intensity_kg_per_mwh / 1e3
    lowest = float(np.min(import_cost, initial=0.0))
    return 0.0 if lowest >= 0 else 1.0 - lowest


def grid_exchange(prog: Programme, pre: str, g: GridTerms, p: DispatchProblem, sizes: dict | None = None, *,
                  priced: bool = True):
    """Import and export variables of a connection over ``p``'s horizon: limits, and when ``priced`` their energy
    and carbon costs, paid demand response and demand charge. Returns (import, export)."""
    sizes = sizes or {}
    n = p.n_steps
    dt = p.step_h
    T = {"t": n}
    import_cost = dt * (g.price_usd_per_mwh + p.carbon_price_usd_per_t * g.intensity_kg_per_mwh / 1e3)
    sized = "grid_mw" in sizes
    act = p.active()
    imp = prog.var(pre + "import", T, 0.0, np.where(g.up & act, INF, 0.0) if sized else g.import_cap_mw() * act,
                   cost=import_cost if priced else 0.0)
    exp = prog.var(pre + "export", T, 0.0, g.export_cap_mw() * act,
                   cost=-dt * g.export_price_usd_per_mwh if priced else 0.0)
    if sized:
        cap = sizes["grid_mw"]
        prog.con(pre + "import_cap", lambda: imp - cap, "<=", 0.0)
        prog.con(pre + "export_cap", lambda: exp - cap, "<=", 0.0)
        if g.dr_hold_mw is not None:
            prog.con(pre + "dr_hold", lambda: imp, "<=", g.dr_hold_mw)
    if priced and g.dr_soft_mw is not None:
        excess = prog.var(pre + "dr_excess", T, 0.0, INF, cost=dt * g.dr_soft_usd_per_mwh)
        prog.con(pre + "dr_soft", lambda: imp - excess, "<=", g.dr_soft_mw)
    if priced and g.demand_charge_usd_per_mw_month > 0:
        slot, so_far = g.slots(n)
        rate = g.monthly_rates(len(so_far))
        peak = prog.var(pre + "peak", {"m": len(so_far)}, so_far, INF, cost=rate)
        prog.constant_usd -= float((rate * so_far).sum())
        in_month = slot[None, :] == np.arange(len(so_far))[:, None]
        # rows for every (month, step) keep the programme's shape when a horizon slides over a month's end;
        # a long horizon builds only the rows of each step's own month
        mask = xr.DataArray(in_month, dims=["m", "t"]) if n * dt > 31 * 24 else None
        prog.con(pre + "peak_rows", lambda: imp - peak, "<=",
                 xr.DataArray(np.where(in_month, 0.0, INF), dims=["m", "t"]), mask=mask)
    return imp, exp


def plan_dispatch(problem: DispatchProblem, *, time_limit_s: float = 300.0, mip_rel_gap: float = 1e-6,
                  extra_constraints: ExtraConstraints | None = None) -> DispatchPlan:
    """Solve ``problem`` once (with your ``extra_constraints``, see ``ExtraConstraints``); raise a clear
    ``PlanningError`` when load must be shed and that is not allowed."""
    dispatch = Dispatch(problem, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, extra=extra_constraints)
    plan = dispatch.plan()
    if plan.status == "infeasible" and not problem.allow_unserved:
        relaxed = Dispatch(replace(problem, allow_unserved=True), time_limit_s=time_limit_s,
                           mip_rel_gap=mip_rel_gap, extra=extra_constraints).plan()
        raise PlanningError("the must-serve load cannot be met: " + shortfall_report(problem, relaxed),
                            field="dispatch")
    if not plan.sites:
        raise PlanningError(f"the dispatch could not be solved (HiGHS: {plan.status})", field="dispatch")
    return plan


def _scaled(size, profile: np.ndarray):
    return 0.0 if size is None else _arr(profile) * size


def _gt(values: np.ndarray):
    """A (generators, steps) right-hand side."""
    return xr.DataArray(np.asarray(values, float), dims=["g", "t"])


def _arr(values: np.ndarray):
    """An array as an xarray over (g, t), (t,) or (g, 1) dims for linopy arithmetic."""
    values = np.asarray(values, float)
    if values.ndim == 1:
        return xr.DataArray(values, dims=["t"])
    if values.shape[1] == 1:
        return xr.DataArray(values[:, 0], dims=["g"])
    return xr.DataArray(values, dims=["g", "t"])


# ---------------------------------------------------------------- results
def plan_of_solution(problem: DispatchProblem, sol: Solution, build_s: float) -> DispatchPlan:
    v = sol.values
    dt = problem.step_h
    sites: list[SitePlan] = []
    costs = dict.fromkeys(("energy", "export_revenue", "demand_charge", "fuel_and_om", "start_up", "battery_wear",
                           "carbon", "compute_lost", "unserved", "demand_response", "terminal_energy"), 0.0)
    co2_kg = 0.0
    cp = problem.carbon_price_usd_per_t
    for i, s in enumerate(problem.sites):
        pre = f"{i}."
        n, G, W = s.n_steps, len(s.generators), len(s.flex)
        z = np.zeros(n)
        get = lambda name, default: v.get(pre + name, default)  # noqa: E731
        ren = get("renewable", z)
        gen = get("gen", np.zeros((G, n)))
        on = get("gen_on", (gen > SHORT_TOL_MW).astype(float))
        shed = get("shed", np.zeros((W, n)))
        plan = SitePlan(s.name, ren, np.maximum(s.pv_mw + s.wind_mw - ren, 0.0), get("charge", z),
                        get("discharge", z), get("soc", z), gen, on, get("gen_start", np.zeros((G, n))),
                        get("import", z), get("export", z), shed, get("unserved", z), get("dumped", z))
        sites.append(plan)
        for j, g in enumerate(s.generators):
            costs["fuel_and_om"] += float(gen[j].sum() * dt * g.cost_usd_per_mwh)
            starts = plan.generator_start[j].copy()
            if 0 < g.warmup_left <= n:
                starts[g.warmup_left - 1] = 0.0
            costs["start_up"] += float(starts.sum() * g.start_usd)
            co2_kg += float(gen[j].sum() * dt * g.co2_kg_per_mwh)
        if s.battery is not None:
            costs["battery_wear"] += float(plan.discharge_mw.sum() * dt * s.battery.wear_usd_per_mwh)
            costs["terminal_energy"] += float(get("terminal_short", np.zeros(1)).sum()
                                              * s.battery.terminal_penalty_usd_per_mwh)
        for w, f in enumerate(s.flex):
            costs["compute_lost"] += float((shed[w] * f.cost_usd_per_mwh).sum() * dt)
        costs["unserved"] += float(plan.unserved_mw.sum() * dt * problem.value_of_lost_load_usd_per_mwh)
        if problem.connection is None:
            co2_kg += _grid_costs(costs, s.grid, plan.import_mw, plan.export_mw, v, pre, dt)
    if problem.connection is not None:
        co2_kg += _grid_costs(costs, problem.connection, v["tie.import"], v["tie.export"], v, "tie.", dt)
    costs["carbon"] = co2_kg / 1e3 * cp
    if problem.portfolio_cap_mw is not None:
        costs["portfolio_shortfall"] = float(v.get("portfolio_short", np.zeros(1)).sum() * dt
                                             * problem.portfolio_shortfall_usd_per_mwh)
    moves = [v.get(f"move{k}", np.zeros(problem.n_steps)) for k in range(len(problem.migration))]
    for k, m in enumerate(problem.migration):
        costs.setdefault("migration", 0.0)
        costs["migration"] += float(moves[k].sum() * dt * m.cost_usd_per_mwh)
    marginal = None
    if sol.duals is not None:
        marginal = [sol.duals[f"{i}.balance"] / dt for i in range(len(problem.sites))]
    return DispatchPlan(sol.status, sol.objective, sites, costs, co2_kg / 1e3, sol.solve_s, build_s, sol.mip_gap,
                        marginal, moves)


def _grid_costs(costs: dict, g: GridTerms, imp: np.ndarray, exp: np.ndarray, v: dict, pre: str, dt: float) -> float:
    costs["energy"] += float((imp * g.price_usd_per_mwh).sum() * dt)
    costs["export_revenue"] -= float((exp * g.export_price_usd_per_mwh).sum() * dt)
    if g.demand_charge_usd_per_mw_month > 0:
        _slot, so_far = g.slots(len(imp))
        costs["demand_charge"] += float(((v[pre + "peak"] - so_far) * g.monthly_rates(len(so_far))).sum())
    if g.dr_soft_mw is not None and pre + "dr_excess" in v:
        costs["demand_response"] += float((v[pre + "dr_excess"] * g.dr_soft_usd_per_mwh).sum() * dt)
    return float((imp * g.intensity_kg_per_mwh).sum() * dt)


# ---------------------------------------------------------------- diagnosis
def shortfall_report(problem: DispatchProblem, plan: DispatchPlan, times=None) -> str:
    """Which limits bind where load is shed, and how much: one readable paragraph (``times`` names the steps)."""
    if not plan.sites:
        return f"the relaxed problem could not be solved either (HiGHS: {plan.status})"
    dt = problem.step_h
    parts = []
    for s, sp in zip(problem.sites, plan.sites):
        short = sp.unserved_mw > SHORT_TOL_MW
        if not short.any():
            continue
        steps = np.flatnonzero(short)
        reasons = []
        cap = s.grid.import_cap_mw()
        if s.grid.dr_hold_mw is not None and np.any(np.isfinite(s.grid.dr_hold_mw[steps])):
            reasons.append(f"a demand-response hold of {np.nanmin(s.grid.dr_hold_mw[steps]):g} MW")
        at_limit = steps[sp.import_mw[steps] >= cap[steps] - 1e-6]
        if len(at_limit):
            out = int((~s.grid.up[at_limit]).sum())
            reasons.append(f"grid import at its limit ({np.min(cap[at_limit]):g}-{np.max(cap[at_limit]):g} MW) in "
                           f"{len(at_limit)} of them" + (f", {out} in a grid outage" if out else ""))
        if s.generators:
            total = sum(g.capacity_mw for g in s.generators)
            full = (sp.generator_mw[:, steps].sum(axis=0) >= total - 1e-6).sum()
            reasons.append(f"generators at full output ({total:g} MW) in {full}")
        else:
            reasons.append("no backup generation")
        if s.battery is not None:
            empty = (sp.soc_mwh[steps] <= s.battery.energy_min_mwh + 1e-6).sum()
            reasons.append(f"the battery empty in {empty}")
        if s.flex:
            budget_left = [f.budget_mwh - sp.shed_mw[w].sum() * dt for w, f in enumerate(s.flex)]
            reasons.append("flexible compute shed to its limit" + (
                " and its deadline budget spent" if any(b <= 1e-6 for b in budget_left) else ""))
        mwh = float(sp.unserved_mw.sum() * dt)
        parts.append(f"site '{s.name}': {mwh:,.1f} MWh of load would be shed in {len(steps)} step(s) "
                     f"(peak {sp.unserved_mw.max():,.1f} MW, first at "
                     f"{times[steps[0]] if times is not None and steps[0] < len(times) else f'step {steps[0]}'}); binding: "
                     + "; ".join(reasons))
    return " | ".join(parts) if parts else "no load is shed"

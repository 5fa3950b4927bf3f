"""Rolling-horizon dispatch of a known problem: plan a window, keep its first block, carry the state on.

Windows start every ``block_steps`` and cover ``horizon_steps`` (the last ones are cut at the problem's end, as
PyPSA's ``optimize_with_rolling_horizon`` cuts them). The programme is built once per window length and only
re-filled for each window (``Dispatch.plan(problem)``), so a year of daily re-plans costs little more than its
solves. Carried from one window to the next, as planned at the last step kept: the battery's energy, each
generator's output, whether it is on (the fraction, with relaxed commitment) and a start under way, the energy
each flexible workload may still shed, and each month's peak import paid for so far.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass, replace

import numpy as np

from wattscale.decisions.operate.dispatch import Dispatch, DispatchPlan, plan_of_solution
from wattscale.decisions.operate.lp import Solution
from wattscale.decisions.operate.problem import DispatchProblem, GridTerms
from wattscale.errors import PlanningError


@dataclass
class Window:
    start: int
    stop: int
    objective_usd: float  # the window's optimum (its whole horizon)
    solve_s: float


@dataclass
class RollingPlan:
    """The schedule kept from every window, its cost, and each window's optimum."""

    schedule: DispatchPlan  # the kept blocks end to end, costed on the whole problem
    windows: list[Window]
    build_s: float
    seconds: float

    @property
    def solve_s(self) -> float:
        return float(sum(w.solve_s for w in self.windows))


def rolling_dispatch(problem: DispatchProblem, horizon_steps: int, block_steps: int, *, time_limit_s: float = 60.0,
                     mip_rel_gap: float = 1e-6,
                     progress: Callable[[int, int], None] | None = None) -> RollingPlan:
    """Plan ``problem`` window by window (``horizon_steps`` each, one every ``block_steps``)."""
    n = problem.n_steps
    if n < 1:
        raise PlanningError("the problem has no steps to plan", field="rolling")
    if not 0 < block_steps <= horizon_steps:
        raise PlanningError(f"a block of {block_steps} steps does not fit a horizon of {horizon_steps}",
                            field="rolling", expected="0 < block_steps <= horizon_steps")
    t0 = time.perf_counter()
    programmes: dict[int, Dispatch] = {}
    state = _State(problem, horizon_steps)
    kept: list[dict[str, np.ndarray]] = []
    windows: list[Window] = []
    starts = range(0, n, block_steps)
    for k, start in enumerate(starts):
        stop = min(n, start + horizon_steps)
        part = state.window(problem, start, stop)
        dispatch = programmes.get(stop - start)
        if dispatch is None:
            dispatch = programmes[stop - start] = Dispatch(part, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap)
            plan = dispatch.plan()
        else:
            plan = dispatch.plan(part)
        if not plan.sites:
            raise PlanningError(f"window {start}-{stop} could not be solved (HiGHS: {plan.status})",
                                field="rolling")
        keep = min(block_steps, stop - start)
        prog = dispatch.programme
        values = {name: v[..., :keep] for name, v in dispatch.last_values.items() if "t" in prog.variable(name).dims}
        kept.append(values)
        state.advance(part, plan, values, start)
        windows.append(Window(start, stop, plan.objective_usd, plan.solve_s))
        if progress is not None:
            progress(k + 1, len(starts))
    build_s = sum(d.build_s_total for d in programmes.values())
    values = {name: np.concatenate([v[name] for v in kept], axis=-1) for name in kept[0]}
    schedule = _costed(problem, values, build_s, sum(w.solve_s for w in windows))
    return RollingPlan(schedule, windows, build_s, time.perf_counter() - t0)


def window_of(problem: DispatchProblem, start: int, stop: int, *, soc_mwh: list[float] | None = None,
              generator_mw: list[list[float]] | None = None) -> DispatchProblem:
    """``problem`` over steps ``start:stop``, from its own initial state or, per site, the battery energy and
    generator outputs given (a generator producing is on; no start is under way)."""
    if not 0 <= start < stop <= problem.n_steps:
        raise PlanningError(f"steps {start}:{stop} are not within the problem's {problem.n_steps}", field="rolling")
    state = _State(problem, stop - start)
    for i, s in enumerate(problem.sites):
        if soc_mwh is not None:
            state.soc[i] = float(soc_mwh[i])
        if generator_mw is not None:
            state.gens[i] = [(mw > 1e-6, float(mw), 0) for mw in generator_mw[i]]
    return state.window(problem, start, stop)


class _State:
    """What one window leaves to the next."""

    def __init__(self, p: DispatchProblem, horizon_steps: int | None = None) -> None:
        self.soc = [s.battery.soc_initial_mwh if s.battery else 0.0 for s in p.sites]
        self.gens = [[(g.on, g.power_mw, g.warmup_left) for g in s.generators] for s in p.sites]
        self.budget = [[f.budget_mwh for f in s.flex] for s in p.sites]
        # per priced connection with a demand charge: its month slot per step, and each month's peak paid so far
        # and how many month slots a window may span (one programme keeps one shape)
        self.slot, self.peak, self.width = {}, {}, {}
        n, h = p.n_steps, horizon_steps or p.n_steps
        for key, g in _priced(p):
            if g.demand_charge_usd_per_mw_month > 0:
                self.slot[key], so_far = g.slots(n)
                self.peak[key] = so_far.copy()
                starts = np.arange(n)
                spans = self.slot[key][np.minimum(n, starts + h) - 1] - self.slot[key][starts] + 1
                self.width[key] = int(spans.max())

    def window(self, p: DispatchProblem, start: int, stop: int) -> DispatchProblem:
        """The problem of steps ``start:stop``, starting from this state."""
        cut = lambda x: _cut(x, p.n_steps, start, stop)  # noqa: E731
        sites = []
        for i, s in enumerate(p.sites):
            battery = replace(s.battery, soc_initial_mwh=self.soc[i]) if s.battery else None
            gens = [replace(g, on=on, power_mw=mw, warmup_left=warm)
                    for g, (on, mw, warm) in zip(s.generators, self.gens[i])]
            flex = [replace(cut(f), budget_mwh=b) for f, b in zip(s.flex, self.budget[i])]
            sites.append(replace(s, load_mw=cut(s.load_mw), pv_mw=cut(s.pv_mw), wind_mw=cut(s.wind_mw),
                                 grid=self._grid(f"{i}.", cut(s.grid), start, stop), battery=battery,
                                 generators=gens, flex=flex))
        active = None if p.active_steps is None else max(0, min(p.active_steps, stop) - start)
        return replace(p, sites=sites, active_steps=active, portfolio_cap_mw=cut(p.portfolio_cap_mw),
                       connection=self._grid("tie.", cut(p.connection), start, stop) if p.connection else None,
                       migration=[cut(m) for m in p.migration],
                       movable_it_mw={i: cut(v) for i, v in p.movable_it_mw.items()})

    def _grid(self, key: str, g: GridTerms, start: int, stop: int) -> GridTerms:
        if key not in self.slot:
            return g
        slot = self.slot[key][start:stop]
        first, width = int(slot[0]), self.width[key]
        fit = lambda a, fill: np.pad(a[first:first + width], (0, max(0, width - len(a[first:]))),  # noqa: E731
                                     constant_values=fill)
        share = None if g.month_share is None else fit(np.asarray(g.month_share, float), 1.0)
        return replace(g, month_slot=slot - first, peak_so_far_mw=fit(self.peak[key], 0.0), month_share=share)

    def advance(self, part: DispatchProblem, plan: DispatchPlan, kept: dict[str, np.ndarray], start: int) -> None:
        """Take the state at the last kept step of ``plan`` (the solution of ``part``)."""
        keep = next(iter(kept.values())).shape[-1]
        last = keep - 1
        for i, (s, sp) in enumerate(zip(part.sites, plan.sites)):
            if s.battery is not None:
                self.soc[i] = float(sp.soc_mwh[last])
            gens = []
            for j, g in enumerate(s.generators):
                mw = float(sp.generator_mw[j, last])
                on = {"none": mw > 1e-6, "milp": bool(sp.generator_on[j, last] > 0.5),
                      "relaxed": float(np.clip(sp.generator_on[j, last], 0.0, 1.0))}[part.commitment]
                # a start planned within the warm-up after the block was commanded inside it: carry it on
                later = np.flatnonzero(sp.generator_start[j, keep:keep + g.start_steps] > 0.5)
                gens.append((on, mw, int(later[0]) + 1 if len(later) and not on else 0))
            self.gens[i] = gens
            self.budget[i] = [max(0.0, b - part.step_h * float(sp.shed_mw[w, :keep].sum()))
                              for w, b in enumerate(self.budget[i])]
        for key, slot in self.slot.items():
            here, imp = slot[start:start + keep], kept[key + "import"]
            for k in np.unique(here):
                self.peak[key][k] = max(self.peak[key][k], float(imp[here == k].max()))


def _priced(p: DispatchProblem) -> list[tuple[str, GridTerms]]:
    """The connections whose imports are paid for, by their variables' prefix."""
    if p.connection is not None:
        return [("tie.", p.connection)]
    return [(f"{i}.", s.grid) for i, s in enumerate(p.sites)]


def _cut(x, n: int, start: int, stop: int):
    """``x`` (an array over the steps, a dataclass of them, or None) over steps ``start:stop``."""
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        return x[..., start:stop] if x.ndim and x.shape[-1] == n else x
    if is_dataclass(x):
        return replace(x, **{f.name: _cut(getattr(x, f.name), n, start, stop) for f in fields(x)
                             if isinstance(getattr(x, f.name), np.ndarray)})
    return x


def _costed(problem: DispatchProblem, values: dict[str, np.ndarray], build_s: float, solve_s: float) -> DispatchPlan:
    """The kept schedule costed on the whole problem (peaks from the imports kept)."""
    for i, s in enumerate(problem.sites):  # the energy the battery ends short of its target
        if s.battery is not None and s.battery.terminal_mwh is not None:
            values[f"{i}.terminal_short"] = np.array([max(0.0, s.battery.terminal_mwh - values[f"{i}.soc"][-1])])
    for pre, g in _priced(problem):
        if g.demand_charge_usd_per_mw_month > 0:
            slot, so_far = g.slots(problem.n_steps)
            imp = values[pre + "import"]
            values[pre + "peak"] = np.array([max(so_far[k], float(imp[slot == k].max(initial=0.0)))
                                             for k in range(len(so_far))])
    plan = plan_of_solution(problem, Solution("optimal", 0.0, values, solve_s), build_s)
    plan.objective_usd = float(sum(plan.costs_usd.values()))
    return plan

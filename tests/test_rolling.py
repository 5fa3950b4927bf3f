"""Rolling-horizon dispatch: against PyPSA's own rolling horizon, and what it carries from window to window."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from test_dispatch import site
from wattscale.decisions.operate.dispatch import Dispatch, plan_dispatch
from wattscale.decisions.operate.problem import DispatchProblem, GeneratorTerms
from wattscale.decisions.operate.rolling import rolling_dispatch, window_of
from wattscale.errors import PlanningError

sys.path.insert(0, str(Path(__file__).parent))
from pypsa_twin import rolling_with_pypsa  # noqa: E402


def agreeing(n: int, seed: int = 3) -> DispatchProblem:
    """A site both rolling schemes state alike: no demand charge, budget, commitment or self-discharge."""
    s = site(n=n, seed=seed, demand_charge=0.0)
    s = replace(s, battery=replace(s.battery, keep_per_step=1.0),
                flex=[replace(f, budget_mwh=np.inf) for f in s.flex])
    for g in s.generators:
        g.ramp_mw_per_step = 25.0  # ramps that bind, carried across windows
    return DispatchProblem([s], 1.0, carbon_price_usd_per_t=40.0, commitment="none")


@pytest.mark.parametrize("seed", [2, 3])
def test_every_window_states_pypsas_window(seed):
    """Each window, started from the state PyPSA carried into it, has PyPSA's optimum (ties between equally good
    plans may carry different states, so the windows themselves are compared from the same state)."""
    problem = agreeing(24 * 6, seed)
    theirs, _, net = rolling_with_pypsa(problem, 48, 24)
    soc = net.stores_t.e.iloc[:, 0].to_numpy()
    gens = net.generators_t.p[[f"a-{g.name}" for g in problem.sites[0].generators]].to_numpy()
    assert len(theirs) == 6
    for k, start in enumerate(range(0, problem.n_steps, 24)):
        stop = min(problem.n_steps, start + 48)
        part = window_of(problem, start, stop) if k == 0 else \
            window_of(problem, start, stop, soc_mwh=[soc[start - 1]], generator_mw=[gens[start - 1]])
        assert plan_dispatch(part).objective_usd == pytest.approx(theirs[k], rel=1e-6)


def test_rolling_carries_the_state_its_own_windows_start_from():
    problem = agreeing(24 * 6)
    ours = rolling_dispatch(problem, 48, 24)
    sp = ours.schedule.sites[0]
    for w in ours.windows[1:]:
        part = window_of(problem, w.start, w.stop, soc_mwh=[sp.soc_mwh[w.start - 1]],
                         generator_mw=[sp.generator_mw[:, w.start - 1]])
        assert plan_dispatch(part).objective_usd == pytest.approx(w.objective_usd, rel=1e-9)
    assert np.abs(np.diff(sp.generator_mw, axis=1)).max() <= 25.0 + 1e-6  # ramps hold across the seams too
    assert sp.generator_mw.max() > 0


def test_one_window_over_everything_is_the_full_plan():
    problem = DispatchProblem([site(n=72)], 1.0, carbon_price_usd_per_t=50, commitment="relaxed")
    full = plan_dispatch(problem)
    rolled = rolling_dispatch(problem, 72, 72)
    assert rolled.windows[0].objective_usd == pytest.approx(full.objective_usd, rel=1e-9)
    assert rolled.schedule.objective_usd == pytest.approx(full.objective_usd, rel=1e-6)


def test_windows_share_one_budget_and_one_monthly_peak():
    n = 24 * 8
    problem = DispatchProblem([site(n=n, seed=4)], 1.0, commitment="none")
    s = problem.sites[0]
    s.grid.price_usd_per_mwh[:] = 500.0  # shedding (300 USD/MWh) beats buying every hour ...
    s.flex[0].budget_mwh = 100.0  # ... up to a budget for the whole run
    rolled = rolling_dispatch(problem, 48, 24)
    shed_mwh = rolled.schedule.sites[0].shed_mw.sum()
    assert shed_mwh == pytest.approx(100.0, abs=1e-6)  # each window alone would shed 40 MW all day
    imp = rolled.schedule.sites[0].import_mw
    slot, so_far = s.grid.slots(n)
    paid = [max(so_far[k], imp[slot == k].max()) for k in range(2)]
    assert rolled.schedule.costs_usd["demand_charge"] == pytest.approx(8000.0 * sum(paid - so_far), rel=1e-9)
    assert sum(rolled.schedule.costs_usd.values()) == pytest.approx(rolled.schedule.objective_usd, rel=1e-12)


def test_a_window_of_a_problem_keeps_its_starting_state():
    problem = DispatchProblem([site(n=72)], 1.0)
    part = window_of(problem, 0, 24)
    assert part.n_steps == 24 and part.sites[0].battery.soc_initial_mwh == 200
    assert np.array_equal(part.sites[0].load_mw, problem.sites[0].load_mw[:24])
    with pytest.raises(PlanningError, match="within"):
        window_of(problem, 60, 80)
    with pytest.raises(PlanningError, match="does not fit"):
        rolling_dispatch(problem, 24, 48)


def three_units(commitment: str, n: int = 96) -> DispatchProblem:
    """Two identical units with a 3-step warm-up and a ramp that binds, and an engine already running."""
    s = site(n=n, seed=4)
    s.grid.import_limit_mw[:] = 120.0
    s.grid.month_slot = (np.arange(n) >= 50).astype(int)
    gt = GeneratorTerms("gt1", 100, 30, 25.0, 3, 45, 530, start_usd=3000)
    s = replace(s, generators=[gt, replace(gt, name="gt2"),
                               GeneratorTerms("recip", 40, 12, 40, 0, 40, 450, start_usd=500, on=True, power_mw=20)])
    return DispatchProblem([s], 1.0, carbon_price_usd_per_t=60, commitment=commitment)


def test_relaxed_commitment_carries_the_on_fraction_and_pays_each_start_once():
    problem = three_units("relaxed", 36)
    rolled = rolling_dispatch(problem, 36, 12)  # a rounded on-state with a fractional output made windows infeasible
    sp = rolled.schedule.sites[0]
    paid = 0.0
    for j, g in enumerate(problem.sites[0].generators):
        before = np.concatenate([[float(g.on)], sp.generator_on[j][:-1]])
        paid += np.maximum(sp.generator_on[j] - before, 0.0).sum() * g.start_usd
    assert rolled.schedule.costs_usd["start_up"] == pytest.approx(paid, rel=1e-9)


def test_one_window_costs_what_the_full_plan_costs_with_padding_a_target_and_a_promise():
    problem = DispatchProblem([site(n=48)], 1.0, carbon_price_usd_per_t=50, commitment="none", active_steps=30,
                              portfolio_cap_mw=np.full(48, 50.0), portfolio_shortfall_usd_per_mwh=200.0)
    problem.sites[0].battery.terminal_mwh = 380.0
    problem.sites[0].battery.terminal_penalty_usd_per_mwh = 10.0
    full = plan_dispatch(problem)
    assert sum(full.costs_usd.values()) == pytest.approx(full.objective_usd, rel=1e-9)
    rolled = rolling_dispatch(problem, 48, 48)
    assert rolled.schedule.objective_usd == pytest.approx(full.objective_usd, rel=1e-9)


def test_a_window_longer_than_a_month_is_rebuilt_when_a_month_end_moves():
    n = 70  # days; windows of 35 days see a month's end at different steps
    s = site(n=n, seed=3, flex=False)
    s.grid.month_slot = np.where(np.arange(n) < 31, 0, np.where(np.arange(n) < 59, 1, 2))
    s.grid.peak_so_far_mw = np.zeros(3)
    problem = DispatchProblem([s], 24.0, commitment="none")
    first, later = window_of(problem, 0, 35), window_of(problem, 7, 42)
    dispatch = Dispatch(first)
    dispatch.plan()
    assert dispatch.plan(later).objective_usd == pytest.approx(Dispatch(later).plan().objective_usd, rel=1e-9)
    assert dispatch.builds == 2

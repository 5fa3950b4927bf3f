"""Identical generators planned as one: the same optimum as PyPSA's unit-by-unit model, in a smaller programme."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from test_dispatch import site
from wattscale.decisions.operate.dispatch import Dispatch
from wattscale.decisions.operate.problem import DispatchProblem, GeneratorTerms
from wattscale.decisions.operate.units import identical_units, whole_units

sys.path.insert(0, str(Path(__file__).parent))
from pypsa_twin import solve_with_pypsa  # noqa: E402


def twins(commitment: str, n: int = 72) -> DispatchProblem:
    s = site(n=n, seed=7)
    gt = GeneratorTerms("gt", 100, 30, 35, 0, 45, 530, start_usd=3000)
    s = replace(s, generators=[replace(gt, name="gt1"), replace(gt, name="gt2"), replace(gt, name="gt3"),
                               GeneratorTerms("recip", 40, 12, 40, 0, 40, 450, start_usd=500)])
    s.grid.import_limit_mw[:] = 90.0  # the units must run
    return DispatchProblem([s], 1.0, carbon_price_usd_per_t=60, commitment=commitment)


@pytest.mark.parametrize("commitment", ["relaxed", "none"])
def test_merged_units_reach_pypsas_optimum_in_a_smaller_programme(commitment):
    problem = twins(commitment)
    assert identical_units(problem) == [[[0, 1, 2], [3]]]
    merged = Dispatch(problem)
    unit_by_unit = Dispatch(problem, extra=lambda prog, p: None)  # your own rows keep every unit
    ours, theirs = merged.plan(), solve_with_pypsa(problem)[0]
    assert ours.objective_usd == pytest.approx(theirs, rel=1e-6)
    assert unit_by_unit.plan().objective_usd == pytest.approx(theirs, rel=1e-6)
    h, h_all = merged.programme._highs, unit_by_unit.programme._highs
    assert h.getNumCol() < h_all.getNumCol() and h.getNumRow() < h_all.getNumRow()
    assert sum(ours.costs_usd.values()) == pytest.approx(ours.objective_usd, rel=1e-9)


def test_split_units_each_keep_their_limits():
    problem = twins("relaxed")
    plan = Dispatch(problem).plan()
    sp, gens = plan.sites[0], problem.sites[0].generators
    mw, on = sp.generator_mw[:3], sp.generator_on[:3]
    assert mw.sum() > 100  # the three units do run
    assert np.all(mw <= 100 * on + 1e-6) and np.all(mw >= 30 * on - 1e-6)  # each within its own window
    assert np.all((on >= -1e-9) & (on <= 1 + 1e-9))
    assert np.allclose(on, on[0]) and np.allclose(mw, mw[0])  # equal shares of the group's plan
    whole = whole_units(np.array([[0.3, 0.9, 0.1], [0.3, 0.9, 0.1], [0.3, 0.9, 0.1]]), [[0, 1, 2]])
    assert whole.sum(axis=0).tolist() == [1, 3, 0]  # round(3 f) units on, the first ones listed
    starts = sp.generator_start[:3].sum()
    assert plan.costs_usd["start_up"] == pytest.approx(starts * gens[0].start_usd + sp.generator_start[3].sum()
                                                       * gens[3].start_usd, rel=1e-9)


def test_units_in_different_states_or_whole_unit_commitment_stay_apart():
    problem = twins("relaxed")
    problem.sites[0].generators[1].on, problem.sites[0].generators[1].power_mw = True, 50.0
    assert identical_units(problem) == [[[0, 2], [1], [3]]]
    assert identical_units(twins("milp")) is None
    d = Dispatch(twins("relaxed"))
    again = twins("relaxed")
    again.sites[0].generators[0].on, again.sites[0].generators[0].power_mw = True, 40.0
    first = d.programme
    plan = d.plan(again)  # another grouping: its own programme, built once
    assert d.programme is not first and plan.status == "optimal"
    assert d.plan(twins("relaxed")).status == "optimal" and d.programme is first


def test_each_unit_of_a_split_plan_keeps_its_own_ramps():
    problem = twins("relaxed")
    plan = Dispatch(problem).plan()
    sp, g = plan.sites[0], problem.sites[0].generators[0]
    rsu = min(g.capacity_mw, g.min_mw + g.ramp_mw_per_step)
    for j in range(3):
        p, on = sp.generator_mw[j], sp.generator_on[j]
        p0, on0 = np.concatenate([[g.power_mw], p[:-1]]), np.concatenate([[float(g.on)], on[:-1]])
        assert np.all(p - p0 <= rsu * on - (rsu - g.ramp_mw_per_step) * on0 + 1e-6)
        assert np.all(p0 - p <= rsu * on0 - (rsu - g.ramp_mw_per_step) * on + 1e-6)

"""A year of rolling-horizon dispatch (48 h windows, one every 24 h, perfect foresight): wattscale against PyPSA.

PyPSA's ``optimize_with_rolling_horizon`` builds a model for every window and carries each store's energy and
each generator's output into the next. wattscale's ``rolling_dispatch`` builds its programme once per window
length and re-fills it. Both solve with HiGHS on one thread and are checked window by window: each window's
optimum must agree to 1e-6 relative.

The problem both solve: the reference campus placed in Texas (examples/llm-campus-ercot-2023.yaml: its load,
240 MW DC of PV, 30 turbines, the 200 MW / 800 MWh battery, four gas units, a 350 MW connection, real 2023
ERCOT prices and carbon) at hourly steps, with a carbon price of 50 USD/t, in the variant where the two
rolling schemes state the same windows (tests/pypsa_twin.py ``rolling_with_pypsa`` says why):
- no demand charge (PyPSA has none; the twin adds it to a single model, not to a rolling one);
- no energy budget on flexible compute (PyPSA's ``e_sum_max`` would hold afresh in every window);
- no unit commitment (PyPSA carries a relaxed on-state into its ramp rows but a whole one into its start-up
  rows); generators keep their ramp limits, carried from the output at the end of the kept block;
- no self-discharge (PyPSA applies no standing loss between ``e_initial`` and a window's first snapshot).
The embedded reference campus (examples/llm-campus.yaml) is not used for the check: its prices repeat day
after day, so a window's optimum often leaves the battery at any of several levels at the end of the kept day
and the two solvers' carried states (and later windows) legitimately differ.

Then, for scale: the time of wattscale's MPC controller on that campus with everything on (relaxed commitment,
demand charge, the engine simulating every step) under the same 48 h / 24 h scheme.

Run: make bench   (or .venv/bin/python benchmarks/mpc_vs_pypsa.py [--days N] [--skip-engine])
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
warnings.simplefilter("ignore")
logging.disable(logging.WARNING)
os.environ.setdefault("WATTSCALE_DATA", str(ROOT.parent / "shared" / "data"))

from dispatch_vs_pypsa import campus_problem  # noqa: E402
from pypsa_twin import rolling_with_pypsa  # noqa: E402
from wattscale.decisions.operate.dispatch import Dispatch  # noqa: E402
from wattscale.decisions.operate.problem import DispatchProblem  # noqa: E402
from wattscale.decisions.operate.rolling import rolling_dispatch, window_of  # noqa: E402
from wattscale.engine.simulate import simulate  # noqa: E402
from wattscale.scenario import load_scenario  # noqa: E402
from wattscale.scenario.schema import Scenario  # noqa: E402
from wattscale.studies.simulation.kpi import attach_kpis  # noqa: E402

SCENARIO = ROOT / "examples" / "llm-campus-ercot-2023.yaml"
HORIZON_H, EVERY_H = 48, 24


def agreeing_variant(problem: DispatchProblem, days: int) -> DispatchProblem:
    """The first ``days`` of ``problem`` without what the two rolling schemes state differently."""
    part = window_of(problem, 0, min(problem.n_steps, days * 24))
    s = part.sites[0]
    site = replace(s, grid=replace(s.grid, demand_charge_usd_per_mw_month=0.0),
                   battery=replace(s.battery, keep_per_step=1.0) if s.battery else None,
                   flex=[replace(f, budget_mwh=np.inf) for f in s.flex])
    return replace(part, sites=[site], commitment="none")


def optima_from(problem: DispatchProblem, soc_mwh: np.ndarray, generator_mw: np.ndarray) -> list[float]:
    """Each window's optimum from the battery energy and generator outputs given per step (the step before it)."""
    programmes: dict[int, Dispatch] = {}
    out = []
    for start in range(0, problem.n_steps, EVERY_H):
        stop = min(problem.n_steps, start + HORIZON_H)
        part = window_of(problem, start, stop) if start == 0 else \
            window_of(problem, start, stop, soc_mwh=[soc_mwh[start - 1]], generator_mw=[generator_mw[start - 1]])
        dispatch = programmes.get(stop - start)
        if dispatch is None:
            plan = (programmes.setdefault(stop - start, Dispatch(part))).plan()
        else:
            plan = dispatch.plan(part)
        out.append(plan.objective_usd)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--skip-engine", action="store_true")
    args = ap.parse_args()
    problem = agreeing_variant(campus_problem(SCENARIO), args.days)
    n_windows = len(range(0, problem.n_steps, EVERY_H))
    print(f"rolling horizon: {problem.n_steps:,} hourly steps, {n_windows} windows of {HORIZON_H} h, one every "
          f"{EVERY_H} h (ERCOT 2023 campus; variant without demand charge, budgets, commitment, self-discharge)")

    ours = rolling_dispatch(problem, HORIZON_H, EVERY_H)
    print(f"wattscale: {ours.seconds:7.2f} s (programme built once in {ours.build_s:.2f} s, {n_windows} solves "
          f"{ours.solve_s:.2f} s), kept schedule costs {ours.schedule.objective_usd:,.2f} USD")
    theirs, theirs_s, net = rolling_with_pypsa(problem, HORIZON_H, EVERY_H)
    w = net.snapshot_weightings.objective.to_numpy()[:, None]
    cost = lambda c: net.get_switchable_as_dense(c, "marginal_cost")  # noqa: E731
    kept_usd = float((net.generators_t.p * cost("Generator") * w).sum().sum()
                     + (net.links_t.p0 * cost("Link") * w).sum().sum())
    print(f"PyPSA:     {theirs_s:7.2f} s (a model built and solved per window, {theirs_s / n_windows * 1e3:.0f} ms "
          f"each), kept schedule costs {kept_usd:,.2f} USD ({kept_usd / ours.schedule.objective_usd - 1:+.1e})")
    a, b = np.array([w.objective_usd for w in ours.windows]), np.array(theirs)
    same = np.abs(a - b) <= 1e-6 * np.abs(b)
    first = int(np.argmin(same)) if not same.all() else len(a)
    print(f"window optima: {len(a)} vs {len(b)}; the first {first} agree to 1e-6 relative"
          + ("" if first == len(a) else f" (window {first} starts from a state a tie left different: both "
             f"solvers' plans were optimal, with different battery energy or generator output kept)"))
    soc = net.stores_t.e.iloc[:, 0].to_numpy()
    site = problem.sites[0]
    gens = net.generators_t.p[[f"{site.name}-{g.name}" for g in site.generators]].to_numpy()
    again = np.array(optima_from(problem, soc, gens))
    rel = np.abs(again - b) / np.abs(b)
    print(f"every window re-solved by wattscale from the state PyPSA carried into it: largest relative difference "
          f"{rel.max():.1e} (goal 1e-6)")
    print(f"time ratio PyPSA / wattscale: {theirs_s / ours.seconds:.1f}x (goal >= 10x)")

    if args.skip_engine:
        return
    doc = load_scenario(SCENARIO).model_dump()
    doc["time"]["step"] = "1h"
    if args.days < 365:
        doc["time"]["end"] = str(np.datetime64(doc["time"]["start"], "D") + np.timedelta64(args.days, "D"))
    doc["swings"] = None
    doc["controller"] = {"kind": "mpc", "horizon_h": HORIZON_H, "replan_every_h": EVERY_H, "commitment": "relaxed",
                         "forecaster": "perfect"}
    doc["carbon_price_usd_per_t"] = 50.0
    t0 = time.perf_counter()
    results = attach_kpis(simulate(Scenario.model_validate(doc), scenario_file=SCENARIO))
    elapsed = time.perf_counter() - t0
    log = next(iter(results.extra["controller"].values()))
    print(f"wattscale MPC controller in the engine, everything on (relaxed commitment, demand charge): "
          f"{elapsed:.1f} s for {log['plans']} plans ({log['solve_s_total']:.1f} s in HiGHS), system cost "
          f"{results.total['system_cost_usd']:,.0f} USD; PyPSA's rolling horizon on the simpler variant took "
          f"{theirs_s / elapsed:.1f}x as long")


if __name__ == "__main__":
    main()

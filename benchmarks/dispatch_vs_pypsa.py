"""One year of hourly dispatch of the reference campus, built and solved by wattscale and by PyPSA.

The problem: examples/llm-campus.yaml at hourly steps (the facility load of its training job and inference
fleet, 240 MW DC of PV, 30 wind turbines, a 200 MW / 800 MWh battery, two gas turbines and two engines with
minimum load, ramps and start-up costs as the LP relaxation of unit commitment, a 350 MW import and 100 MW
export limit with a demand charge, and the training job's deadline budget as deferrable compute) with a
carbon price of 50 USD/t. PyPSA gets the identical problem (tests/pypsa_twin.py) and both use HiGHS with
one thread. wattscale plans each pair of identical units as one (decisions/operate/units.py), a programme
about 40 % smaller for the same optimum; the sizes of both models are printed beside the times. Prints both times (build and solve), both objectives and the ratio (goal: at most 0.5x), then
the total time of a one-year MPC run (48 h horizon, re-planned every hour) of the hourly campus.

Run: make bench   (or .venv/bin/python benchmarks/dispatch_vs_pypsa.py [--skip-mpc])
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
warnings.simplefilter("ignore")
logging.disable(logging.WARNING)

from pypsa_twin import solve_with_pypsa  # noqa: E402
from wattscale.decisions.operate.dispatch import Dispatch  # noqa: E402
from wattscale.decisions.operate.problem import BatteryTerms, GeneratorTerms  # noqa: E402
from wattscale.energy import wind as wind_model  # noqa: E402
from wattscale.engine.simulate import simulate  # noqa: E402
from wattscale.scenario import load_scenario  # noqa: E402
from wattscale.scenario.schema import Scenario, Sizing  # noqa: E402
from wattscale.studies.simulation.kpi import attach_kpis  # noqa: E402
from wattscale.studies.sizing.study import sizing_problem  # noqa: E402

SCENARIO = ROOT / "examples" / "llm-campus.yaml"


def campus_problem(scenario: Path = SCENARIO):
    """The reference campus as a fixed-capacity dispatch problem over its year at hourly steps."""
    sc = load_scenario(scenario)
    site = sc.sites[0]
    sizing, solar, wind = sizing_problem(scenario, 0, Sizing())
    sp = sizing.dispatch.sites[0]
    sp.pv_mw = sp.pv_mw * site.solar.capacity_mwdc
    sp.wind_mw = sp.wind_mw * wind_model.capacity_mw(site.wind)
    n = sp.n_steps
    sp.grid = replace(sp.grid, import_limit_mw=np.full(n, site.grid.import_limit_mw))
    sp.battery = BatteryTerms.of(site.battery, 3600)
    # no warm-up steps: PyPSA has no start-up delay to match
    sp.generators = [replace(GeneratorTerms.of(g, 3600), start_steps=0) for g in site.generators]
    return replace(sizing.dispatch, carbon_price_usd_per_t=50.0, commitment="relaxed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-mpc", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    problem = campus_problem()
    s = problem.sites[0]
    print(f"problem: {problem.n_steps:,} hourly steps, {len(s.generators)} generators, battery, PV, wind, grid, "
          f"{len(s.flex)} flexible workloads ({', '.join(f.name for f in s.flex)}), relaxed unit commitment")

    ours, theirs, direct = [], [], []
    for _ in range(args.repeats):  # alternated, so that a busy spell on a shared machine hits both
        t0 = time.perf_counter()
        dispatch = Dispatch(problem, time_limit_s=3600)
        plan = dispatch.plan()
        ours.append(time.perf_counter() - t0)
        theirs_obj, seconds, net = solve_with_pypsa(problem)
        theirs.append(seconds)
        direct_obj, seconds, _ = solve_with_pypsa(problem, io_api="direct")
        direct.append(seconds)
    h, m = dispatch.programme._highs, net.model
    med = lambda xs: float(np.median(xs))  # noqa: E731
    print(f"wattscale: {med(ours):6.2f} s (last: build {plan.build_s:.2f} s, solve {plan.solve_s:.2f} s), objective "
          f"{plan.objective_usd:,.2f} USD; {h.getNumRow():,} rows, {h.getNumCol():,} columns, {h.getNumNz():,} "
          f"non-zeros")
    print(f"PyPSA:     {med(theirs):6.2f} s, objective {theirs_obj:,.2f} USD; {m.ncons:,} rows, {m.nvars:,} columns, "
          f"{m.matrices.A.nnz:,} non-zeros")
    print(f"PyPSA (io_api='direct'): {med(direct):6.2f} s, objective {direct_obj:,.2f} USD")
    rel = abs(plan.objective_usd - theirs_obj) / abs(theirs_obj)
    print(f"objective relative difference: {rel:.2e}")
    print(f"time ratio wattscale / PyPSA (medians of {args.repeats}): {med(ours) / med(theirs):.2f}x (goal <= 0.5x); "
          f"against PyPSA with direct solver input: {med(ours) / med(direct):.2f}x")

    if args.skip_mpc:
        return
    sc = load_scenario(SCENARIO)
    doc = sc.model_dump()
    doc["time"]["step"] = "1h"
    doc["swings"] = None
    doc["controller"] = {"kind": "mpc", "horizon_h": 48, "replan_every_h": 1, "commitment": "relaxed"}
    doc["carbon_price_usd_per_t"] = 50.0
    mpc = Scenario.model_validate(doc)
    t0 = time.perf_counter()
    results = attach_kpis(simulate(mpc, scenario_file=SCENARIO))
    elapsed = time.perf_counter() - t0
    log = results.extra["controller"]["campus"]
    k = results.total
    print(f"one-year MPC (48 h horizon, re-planned every hour, relaxed commitment, perfect foresight): "
          f"{elapsed:.1f} s for {log['plans']:,} plans ({log['solve_s_total']:.1f} s in HiGHS, "
          f"mean {log['solve_s_mean'] * 1000:.1f} ms, {log['fallbacks']} fallbacks); "
          f"system cost {k['system_cost_usd']:,.0f} USD vs {plan.objective_usd:,.0f} USD for the full-year plan")


if __name__ == "__main__":
    main()

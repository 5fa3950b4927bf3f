"""Environment steps per second: ``CampusEnv`` on the reference campus (5-minute steps) against the same
environment with its kernel run as plain Python (the numba kernel's own source through the interpreter: a plain
Python step loop of the same physics). CityLearn, the field's building-energy environment, is not the peer: its
3.0 release pins gymnasium <= 0.28.1, numpy < 2 and scikit-learn <= 1.2.2, and pulls torchvision and OpenStudio, so
it does not install beside this project on Python 3.11.

Work: 20,000 steps of the reference campus from 1 January with every asset following (the rule controller's
default), median of 5 runs each. Then the fleet example (three campuses, a month at hourly steps, rule coordinator
and rule controllers) timed end to end; the fleet under MPC is not built yet.

Run: python benchmarks/env.py [--runs 5] [--steps 20000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wattscale.engine import kernel  # noqa: E402
from wattscale.rl import CampusEnv  # noqa: E402
from wattscale.rl import env as env_module  # noqa: E402

GOAL_STEPS_PER_S = 50_000


def rate(env: CampusEnv, steps: int) -> float:
    follow = {"follow": np.ones(1 + env.n_gen, dtype=np.int8), "battery_mw": np.zeros(1),
              "generator_mw": np.zeros(env.n_gen), "compute_shed_mw": np.zeros(env.n_flex)}
    env.reset(options={"start_step": 0})
    start = time.perf_counter()
    for _ in range(steps):
        env.step(follow)
    return steps / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20_000)
    args = ap.parse_args()
    env = CampusEnv(ROOT / "examples" / "llm-campus.yaml", episode_steps=args.steps, start_step=0)
    rate(env, 100)  # compile
    ours = statistics.median(rate(env, args.steps) for _ in range(args.runs))
    env_module.run_block = kernel.run_block.py_func  # the same kernel, interpreted
    try:
        peer_steps = max(200, args.steps // 50)
        peer = statistics.median(rate(env, peer_steps) for _ in range(args.runs))
    finally:
        env_module.run_block = kernel.run_block
    print(f"CampusEnv (numba kernel):       median {ours:>10,.0f} steps/s over {args.steps:,} steps")
    print(f"same env, kernel in plain Python: median {peer:>8,.0f} steps/s over {peer_steps:,} steps")
    print(f"ratio: {ours / peer:,.1f}x; goal >= {GOAL_STEPS_PER_S:,} steps/s: "
          f"{'met' if ours >= GOAL_STEPS_PER_S else 'not met'}")
    if os.environ.get("WATTSCALE_DATA") or (ROOT.parent / "shared" / "data").is_dir():
        from wattscale.studies.registry import run_study

        times = []
        for _ in range(3):
            start = time.perf_counter()
            result = run_study("run", ROOT / "examples" / "fleet-us.yaml")
            times.append(time.perf_counter() - start)
        moved = result.kpis.get("migrated_out_it_mwh", 0.0)
        print(f"fleet-us (3 campuses, 744 hourly steps, rules, migration): median {statistics.median(times):.2f} s; "
              f"{moved:,.0f} MWh of IT energy moved")


if __name__ == "__main__":
    main()

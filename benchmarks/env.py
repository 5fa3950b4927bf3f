"""Environment steps per second: ``CampusEnv`` on the reference campus (5-minute steps) against the same
environment with numba switched off (``NUMBA_DISABLE_JIT=1``, in a second process): the kernel's own source
through the interpreter, a plain Python step loop of the same physics. CityLearn, the field's building-energy environment, is not the peer: its
3.0 release pins gymnasium <= 0.28.1, numpy < 2 and scikit-learn <= 1.2.2, and pulls torchvision and OpenStudio, so
it does not install beside this project on Python 3.11.

Work: 20,000 steps of the reference campus from 1 January with every asset following (the rule controller's
default), median of 5 runs each. Then the fleet example (three campuses, a month at hourly steps) timed end to
end under the rule coordinator and rule controllers, and under the fleet MPC.

Run: python benchmarks/env.py [--runs 5] [--steps 20000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wattscale.rl import CampusEnv  # noqa: E402

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
    ap.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    env = CampusEnv(ROOT / "examples" / "llm-campus.yaml", episode_steps=args.steps, start_step=0)
    if args.peer:  # in the second process, numba off: print the median rate
        print(statistics.median(rate(env, args.steps) for _ in range(args.runs)))
        return
    rate(env, 100)  # compile
    ours = statistics.median(rate(env, args.steps) for _ in range(args.runs))
    peer_steps = max(200, args.steps // 50)
    run = subprocess.run([sys.executable, __file__, "--peer", "--steps", str(peer_steps), "--runs", str(args.runs)],
                         env={**os.environ, "NUMBA_DISABLE_JIT": "1"}, capture_output=True, text=True, check=True)
    peer = float(run.stdout.strip().splitlines()[-1])
    print(f"CampusEnv (numba kernel):       median {ours:>10,.0f} steps/s over {args.steps:,} steps")
    print(f"same env, numba off (plain Python): median {peer:>6,.0f} steps/s over {peer_steps:,} steps")
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
        mpc = {"controller": {"kind": "mpc", "horizon_h": 48, "replan_every_h": 24, "forecaster": "perfect",
                              "commitment": "relaxed"}}
        start = time.perf_counter()
        planned = run_study("run", ROOT / "examples" / "fleet-us.yaml", changes=mpc)
        log = planned.value.extra["controller"]["fleet"]
        print(f"fleet-us under the fleet MPC (48 h, daily): {time.perf_counter() - start:.1f} s, {log['plans']} plans, "
              f"{log['solve_s_total']:.2f} s in HiGHS (the rest: building each plan's programme and the inputs); "
              f"{planned.kpis['migrated_out_it_mwh']:,.0f} MWh moved")


if __name__ == "__main__":
    main()

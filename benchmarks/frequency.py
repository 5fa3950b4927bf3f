"""System frequency after a sudden campus load loss: wattscale's aggregate model against ANDES on the same case.

Work: one machine (H = 5 s, D = 1.5, TGOV1 governor with reheat, droop 0.05 on 40 % of generation) loses a 10 %
load at 1 s; 40 s simulated. ANDES integrates the full differential-algebraic system (GENCLS, TGOV1, network) at
10 ms with its implicit trapezoidal method; wattscale integrates the aggregate model exactly over each 10 ms
step. Printed: each one's median time over the runs, the ratio, and the largest difference in frequency. Then
the whole grid-code example (four campuses, six dips, frequency, largest loss) timed end to end.

Run: python benchmarks/frequency.py [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.andes_twin import run_andes  # noqa: E402
from wattscale.network.frequency import largest_step_mw, simulate_frequency  # noqa: E402
from wattscale.scenario.schema import PowerSystem  # noqa: E402

SYSTEM = PowerSystem(base_mw=20_000, inertia_s=5.0, damping=1.5, droop=0.05, governor_share=0.4,
                     governor_time_s=0.4, reheat_time_s=7.0, high_pressure_fraction=0.3)
LOSS_PU, STEP_S, END_S = 0.1, 0.01, 40.0


def ours() -> tuple[np.ndarray, np.ndarray, float]:
    n = int(round(END_S / STEP_S)) + 1
    load = np.where(np.arange(n) * STEP_S >= 1.0, -LOSS_PU * SYSTEM.base_mw, 0.0)
    start = time.perf_counter()
    trace = simulate_frequency(SYSTEM, load, STEP_S)
    return trace.time_s, trace.deviation_hz, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    ours()  # compile the numba loop once
    ours_s, andes_s, diff_hz = [], [], 0.0
    for _ in range(runs):
        t, f, s = ours()
        ours_s.append(s)
        ta, fa, sa = run_andes(SYSTEM, 0.9, LOSS_PU, t_loss_s=1.0, t_end_s=END_S, step_s=STEP_S)
        andes_s.append(sa)
        diff_hz = float(np.abs(np.interp(ta, t, f) - fa).max())
        peak_ours, peak_andes = float(f.max()), float(fa.max())
    mo, ma = statistics.median(ours_s), statistics.median(andes_s)
    print(f"load loss of {LOSS_PU:.0%} on a single machine, {END_S:g} s at {STEP_S * 1000:g} ms, {runs} runs")
    print(f"  wattscale (aggregate model, exact ZOH): median {mo * 1000:9.2f} ms")
    print(f"  ANDES (GENCLS + TGOV1, trapezoidal):    median {ma * 1000:9.2f} ms")
    print(f"  ratio wattscale / ANDES: {mo / ma:.4f}  ({ma / mo:,.0f}x faster)")
    print(f"  peak deviation: wattscale {peak_ours * 1000:.3f} mHz, ANDES {peak_andes * 1000:.3f} mHz; "
          f"largest difference {diff_hz * 1000:.4f} mHz")
    start = time.perf_counter()
    largest = largest_step_mw(SYSTEM, 0.2)
    print(f"  largest sudden loss within 0.2 Hz: {largest:,.1f} MW in {time.perf_counter() - start:.3f} s "
          "(bisection, 60 s per trial)")

    from wattscale.studies.registry import run_study

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run_study("gridcode", ROOT / "examples" / "gridcode-virginia-2024.yaml")
        times.append(time.perf_counter() - start)
    print(f"gridcode example (4 campuses, 6 dips, 32,200 samples, frequency, largest loss): median "
          f"{statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()

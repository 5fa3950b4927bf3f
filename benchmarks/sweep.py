"""Sweeps on Dask: the same 16 cases one after another in this process, and on a LocalCluster of 2 workers.

Work: 16 cases of the reference campus year (``examples/llm-campus.yaml``, 105,120 five-minute steps, study
``run``): four battery energies by four battery powers. Both runs go through ``wattscale.sweep.run_sweep`` (the
cluster's workers started and warmed up before the clock starts), so the ratio is what the cluster adds. Goal:
parallel efficiency = sequential time / (workers x parallel time) of at least 0.85 on 2 cores.

Also: the scheduler's overhead per task on 2,000 trivial tasks fed through ``wattscale.parallel.completed``
(batched submission, as a sweep does), against ``client.map`` + ``client.gather`` of the same tasks at once.
Goal: under 5 ms per task. Run: python benchmarks/sweep.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "examples" / "llm-campus.yaml")
SWEEPS = {  # storage only: every case reuses the site's year of inputs (built once per worker)
    "storage (inputs shared)": {"study": "run", "scenario": SCENARIO, "mode": "grid", "parameters": {
        "sites[0].battery.energy_mwh": [400, 800, 1200, 1600], "sites[0].battery.power_mw": [100, 150, 200, 250]}},
    # solar too: every case builds its own year of inputs, as 16 separate 'wattscale run' commands would
    "solar and storage (nothing shared)": {"study": "run", "scenario": SCENARIO, "mode": "grid", "parameters": {
        "sites[0].solar.capacity_mwac": [150, 175, 200, 225], "sites[0].battery.energy_mwh": [400, 800, 1200, 1600]}},
}
TRIVIAL = 2_000


def plus_one(x: int) -> int:
    return x + 1


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from wattscale.parallel import completed
    from wattscale.sweep import plan_sweep, run_sweep
    from wattscale.sweep.cluster import connect

    work = Path(tempfile.mkdtemp(prefix="wattscale-bench-sweep-"))
    times: dict[str, dict[str, list[float]]] = {name: {"seq": [], "par": []} for name in SWEEPS}
    overhead, peer_overhead = [], []
    workers = 2
    try:
        with connect(workers=workers) as client:  # the LocalCluster 'wattscale sweep' starts
            run_sweep(plan_sweep(SWEEPS["storage (inputs shared)"]), work / "warm", client=client)
            for r in range(args.repeats):
                for name, sweep in SWEEPS.items():
                    seq_plan, par_plan = plan_sweep(sweep), plan_sweep(sweep)  # each with its own scenario copy
                    times[name]["seq"].append(timed(lambda p=seq_plan, o=work / f"seq{r}": run_sweep(p, o)))
                    times[name]["par"].append(timed(lambda p=par_plan, o=work / f"par{r}": run_sweep(p, o,
                                                                                               client=client)))
                overhead.append(timed(lambda: list(completed(plus_one, range(TRIVIAL), client=client))) / TRIVIAL)
                peer_overhead.append(timed(lambda: client.gather(client.map(plus_one, range(TRIVIAL), pure=False)))
                                     / TRIVIAL)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"16 cases of the reference campus year (study 'run'), median of {args.repeats}; "
          f"one after another in this process against a LocalCluster of {workers} workers:")
    for name, t in times.items():
        s, p = statistics.median(t["seq"]), statistics.median(t["par"])
        print(f"  {name:36s}: {s:6.2f} s ({s / 16:.2f} s per case) against {p:6.2f} s; speed-up {s / p:.2f}x, "
              f"parallel efficiency {s / (workers * p):.2f} (goal >= 0.85)")
    o, po = statistics.median(overhead), statistics.median(peer_overhead)
    print(f"scheduler overhead on {TRIVIAL:,} trivial tasks: {o * 1e3:.2f} ms per task through wattscale's batched "
          f"feed; {po * 1e3:.2f} ms with client.map all at once (ratio {o / po:.2f}; goal < 5 ms)")


if __name__ == "__main__":
    main()

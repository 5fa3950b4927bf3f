"""Generation adequacy of the IEEE RTS-79 (8,736 hours): wattscale's exact indices against gen_adequacy (an
independent library) and a plain NumPy convolution (the floor), then 1,000 years of sequential Monte Carlo.

Goals: the exact table and indices in at most 0.1 s; 1,000 sequential years in at most 10 s on 2 cores.
Run: python benchmarks/adequacy.py [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wattscale.network.adequacy import Units, exact_indices, outage_table  # noqa: E402
from wattscale.network.adequacy_mc import sequential  # noqa: E402

DATA = Path(os.environ.get("WATTSCALE_DATA", ROOT.parent / "shared" / "data")) / "power_system_testcases"


def numpy_floor(caps: np.ndarray, q: np.ndarray, load: np.ndarray) -> float:
    """LOLE by np.convolve, one unit at a time: the least any implementation does."""
    p = np.array([1.0])
    for c, r in zip(caps.astype(int), q):
        k = np.zeros(c + 1)
        k[0], k[c] = 1 - r, r
        p = np.convolve(p, k)
    exceed = 1 - np.cumsum(p)
    margin = np.floor(caps.sum() - load).astype(int)
    return float(np.where(margin < 0, 1.0, exceed[np.clip(margin, 0, len(p) - 1)]).sum())


def timed(f, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    u = pd.read_csv(DATA / "rts79_units.csv")
    load = pd.read_csv(DATA / "rts79_hourly_load.csv")["load_MW"].to_numpy()
    units = Units(u.n_units.to_numpy(), u.unit_MW.to_numpy(float), u.FOR.to_numpy(float))
    caps, q = units.each()
    ours_s, ours = timed(lambda: exact_indices(outage_table(units), load), runs)
    floor_s, floor = timed(lambda: numpy_floor(caps, q, load), runs)
    print(f"IEEE RTS-79, {len(load):,} hours, {runs} runs (medians)")
    print(f"  wattscale exact: {ours_s * 1000:8.2f} ms  LOLE {ours.lole_h_per_year:.6f} h/yr, "
          f"{ours.lole_d_per_year:.5f} d/yr, EUE {ours.eue_mwh_per_year:,.2f} MWh/yr (goal <= 100 ms)")
    print(f"  NumPy convolution floor: {floor_s * 1000:8.2f} ms  LOLE {floor:.6f} h/yr; "
          f"ratio wattscale / floor {ours_s / floor_s:.2f}")
    try:
        import gen_adequacy as ga

        gens = [ga.Generator(float(c), 1.0 - float(r), 1000.0, int(n))
                for n, c, r in zip(units.count, units.capacity_mw, units.forced_outage_rate)]
        peer_s, peer = timed(lambda: ga.SingleNodeSystem(gens, load, resolution=1).lole(), runs)
        print(f"  gen_adequacy: {peer_s * 1000:8.2f} ms  LOLE {peer:.6f} h/yr; ratio wattscale / gen_adequacy "
              f"{ours_s / peer_s:.3f}")
    except ImportError:
        print("  gen_adequacy not installed (pip install gen_adequacy): no peer timing")
    sequential(units, load, 2, seed=0)  # compile the kernels once
    seq_s, seq = timed(lambda: sequential(units, load, 1000, seed=1), max(1, runs // 2))
    print(f"  sequential Monte Carlo, 1,000 years: {seq_s:.2f} s (goal <= 10 s); LOLE {seq.lole_h_per_year:.3f} "
          f"+/- {seq.lole_h_se:.3f} h/yr, LOLF {seq.lolf_per_year:.2f} /yr")


if __name__ == "__main__":
    main()

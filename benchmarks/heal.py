"""Restoration decisions and Monte Carlo reliability throughput on the IEEE 33-bus feeder.

1. For every single-line fault: wattscale's FLISR decision (trip, locate from IEC 60909 currents, isolate,
   reclose, pick up through ties only where a dead part meets a live one, zone by zone if needed) against a
   brute-force search over all 2^5 tie-switch states with a full pandapower power flow each (after the same
   isolation), keeping the radial state within limits that serves the most load. Same faults, same run.
2. Sequential Monte Carlo reliability: simulated years per second (goal: >= 1,000 years in <= 60 s), counting
   the FLISR outcome table it needs.

Run: .venv/bin/python benchmarks/heal.py
"""
from __future__ import annotations

import itertools
import time

from wattscale.network.build import load_network
from wattscale.network.faults import locate, switch_load_ka
from wattscale.network.flow import solve
from wattscale.network.reliability import analytical, monte_carlo, outcome_table
from wattscale.network.restoration import restore
from wattscale.network.topology import is_radial, switch_graph


def brute_force(network, fault: str, pre) -> float:
    """Isolation as FLISR does it, then every on/off combination of the ties; returns MW served by the best."""
    work = network.copy()
    net = work.net
    g = switch_graph(work)
    loc = locate(work, g, work.element(fault), pre)  # the same trip, location and isolation as FLISR
    net.switch.loc[list(loc.isolate), "closed"] = False
    zone_has_breaker = any(g.edges[u, v]["switch"] == loc.tripped for u in loc.located for v in g.neighbors(u))
    net.switch.loc[loc.tripped, "closed"] = not zone_has_breaker
    touching = {g.edges[u, v]["switch"] for u in loc.located for v in g.neighbors(u)}
    ties = [t for t in net.switch.index[net.switch.kind == "tie"] if t not in touching]  # never into the fault
    best = -1.0
    for states in itertools.product([False, True], repeat=len(ties)):
        net.switch.loc[ties, "closed"] = states
        if not is_radial(work, g):
            continue
        try:
            s = solve(work)
        except Exception:  # noqa: BLE001
            continue
        if s.ok:
            best = max(best, s.load_served_mw)
    return best


def main() -> None:
    network = load_network("ieee33")
    faults = list(network.net.line.name[network.net.line.failures_per_yr > 0])
    pre = switch_load_ka(network)
    t0 = time.perf_counter()
    ours = {f: restore(network, f, pre_ka=pre) for f in faults}
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    brute = {f: brute_force(network, f, pre) for f in faults}
    t_brute = time.perf_counter() - t0
    served = {f: r.mw("restored") + r.mw("unaffected") + r.mw("islanded") for f, r in ours.items()}
    worse = [f for f in faults if served[f] < brute[f] - 1e-6]
    flows = sum(r.power_flows for r in ours.values())
    print(f"restoration decisions for {len(faults)} single-line faults on IEEE 33-bus")
    print(f"  wattscale FLISR        {t_ours:7.2f} s  ({flows} power flows)")
    print(f"  brute force (2^5 ties) {t_brute:7.2f} s  (same trip/locate/isolate, then every tie state)")
    print(f"  ratio wattscale/brute  {t_ours / t_brute:7.2f}x")
    print(f"  faults where brute force serves more load: {len(worse)} {worse[:5]}")
    print("  (brute force switches whole ties only; FLISR may also open sectionalisers to fit a tie's capacity)")

    t0 = time.perf_counter()
    table = outcome_table(network, "flisr")
    t_table = time.perf_counter() - t0
    years = 100_000
    t0 = time.perf_counter()
    mc = monte_carlo(table, years, seed=1)
    t_mc = time.perf_counter() - t0
    a = analytical(table).as_dict()
    print(f"\nMonte Carlo reliability, IEEE 33-bus, FLISR ({len(table.components)} failing elements)")
    print(f"  outcome table (FLISR per element)  {t_table:6.2f} s")
    print(f"  {years:,} simulated years          {t_mc:6.2f} s  -> {years / t_mc:,.0f} years/s sampling, "
          f"{years / (t_mc + t_table):,.0f} years/s with the table")
    print(f"  1,000 years incl. the table: {t_table + t_mc * 1000 / years:.2f} s (goal <= 60 s)")
    print(f"  SAIFI analytical {a['SAIFI']:.4f} vs MC {mc.mean['SAIFI']:.4f} +- {mc.half_width['SAIFI']:.4f}; "
          f"SAIDI {a['SAIDI_h']:.4f} vs {mc.mean['SAIDI_h']:.4f} +- {mc.half_width['SAIDI_h']:.4f} h")

    rbts_bus2()


def rbts_bus2(runs: int = 3) -> None:
    """RBTS Bus 2: the analytical indices and 1,000 Monte Carlo years for all three restoration modes, in this
    process (warm), against the 10 s goal; the published SAIFI and SAIDI beside them."""
    import statistics

    from wattscale.studies.registry import run_study

    path = "examples/networks/rbts-bus2.yaml"
    run_study("grid-reliability", path, years=10)  # imports and compiled kernels, once
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = run_study("grid-reliability", path, years=1000)
        times.append(time.perf_counter() - start)
    flisr = result.tables["indices"] if "indices" in result.tables else None
    print(f"\nRBTS Bus 2, analytical + 1,000 Monte Carlo years, modes none/manual/flisr, one process: median "
          f"{statistics.median(times):.2f} s over {runs} runs (goal <= 10 s)")
    if flisr is not None:
        print(flisr.head(6).to_string(index=False))


if __name__ == "__main__":
    main()

"""Ledger, market clearing and ADMM throughput, each against a peer doing the same work in the same run.

- Signed appends/s (goal >= 10,000) and verified entries/s (goal >= 5,000): the ledger (Ed25519 + Merkle +
  SQLite WAL) against the floor set by the peer, the bare Ed25519 sign and verify calls of ``cryptography``.
- Clearing 100 sites x 96 intervals: merit-order pay-as-clear against the same welfare from the network
  linear programme (linopy + HiGHS) on a copper plate.
- ADMM for 10 and 100 sites behind one shared connection against the centralised solve (HiGHS), to a 0.1 % gap.

Run: .venv/bin/python benchmarks/ledger_market.py [--quick]
"""
from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_dispatch import site  # noqa: E402
from wattscale.decisions.market import entries  # noqa: F401 - the market's kinds of entry
from wattscale.decisions.market.admm import coordinate  # noqa: E402
from wattscale.decisions.market.auction import Order, clear, clear_with_limits  # noqa: E402
from wattscale.decisions.operate.problem import DispatchProblem  # noqa: E402
from wattscale.ledger.book import Ledger, make  # noqa: E402
from wattscale.ledger.canonical import canonical  # noqa: E402
from wattscale.ledger.keys import Identity  # noqa: E402


def ledger_bench(n_entries: int, block: int = 1000) -> None:
    op = Identity.generate("operator")
    sites = [Identity.generate(f"site-{i}") for i in range(100)]
    with tempfile.TemporaryDirectory() as d:
        led = Ledger.create(Path(d) / "ledger.sqlite", op)
        led.append([make("participant", {"name": s.name, "public_key": s.public_hex}, op, s) for s in sites], op)
        t = time.perf_counter()
        entries = [make("order", {"id": f"o{k}", "participant": sites[k % 100].name, "interval": "2023-07-01T00:00Z",
                                  "side": "buy" if k % 2 else "sell", "quantity_mwh": 1.5 + k % 7,
                                  "price_usd_per_mwh": 40.0 + k % 13}, sites[k % 100]) for k in range(n_entries)]
        sign_s = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(0, n_entries, block):
            led.append(entries[i: i + block], op)
        append_s = time.perf_counter() - t
        t = time.perf_counter()
        rep = led.verify()
        verify_s = time.perf_counter() - t
        assert rep.ok, rep.problem
        led.close()
    payload = canonical({"kind": "order", "body": entries[0].body})
    t = time.perf_counter()
    sigs = [sites[0].key.sign(payload) for _ in range(n_entries)]
    bare_sign_s = time.perf_counter() - t
    pub = sites[0].key.public_key()
    t = time.perf_counter()
    for s in sigs:
        pub.verify(s, payload)
    bare_verify_s = time.perf_counter() - t
    print(f"ledger, {n_entries:,} orders in blocks of {block}:")
    print(f"  append (check every signature, Merkle root, one SQLite transaction per block): "
          f"{n_entries / append_s:,.0f} entries/s (goal >= 10,000)")
    print(f"  sign by the parties + append: {n_entries / (sign_s + append_s):,.0f} entries/s")
    print(f"  verify the whole ledger: {rep.entries / verify_s:,.0f} entries/s (goal >= 5,000)")
    print(f"  peer: bare Ed25519 in one thread: sign {n_entries / bare_sign_s:,.0f}/s, verify "
          f"{n_entries / bare_verify_s:,.0f}/s; ledger append / bare verify = "
          f"{(n_entries / append_s) / (n_entries / bare_verify_s):.2f}x, verify / bare verify = "
          f"{(rep.entries / verify_s) / (n_entries / bare_verify_s):.2f}x")


def clearing_bench(n_sites: int = 100, n_intervals: int = 96) -> None:
    rng = np.random.default_rng(7)
    books = []
    for t in range(n_intervals):
        books.append([Order(f"{t}/{i}", f"s{i}", "buy" if rng.random() < 0.5 else "sell",
                            float(rng.uniform(0.5, 20)), float(rng.uniform(10, 120))) for i in range(n_sites)])
    t0 = time.perf_counter()
    ours = [clear(b) for b in books]
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    lp = [clear_with_limits(b, {o.participant: "bus" for o in b}, []) for b in books]
    lp_s = time.perf_counter() - t0
    gap = max(abs(a.welfare_usd - b.welfare_usd) for a, b in zip(ours, lp))
    print(f"clearing {n_sites} sites x {n_intervals} intervals: merit order {ours_s * 1e3:,.1f} ms, "
          f"LP (linopy + HiGHS) {lp_s:,.2f} s: {lp_s / ours_s:,.0f}x slower; largest welfare difference "
          f"{gap:.2e} USD")


def admm_bench(n_sites: int, n_steps: int = 24) -> None:
    sites = [site(n=n_steps, name=f"s{i}", seed=i + 1, demand_charge=0.0, flex=i % 2 == 0) for i in range(n_sites)]
    for s in sites:
        s.grid.import_limit_mw[:] = 150.0
        s.grid.up[:] = True
    tie = copy.deepcopy(sites[0].grid)
    tie.import_limit_mw[:] = 65.0 * n_sites
    tie.demand_charge_usd_per_mw_month = 8000.0
    problem = DispatchProblem(sites, 1.0, carbon_price_usd_per_t=30, commitment="none", connection=tie)
    res = coordinate(problem, tolerance=1e-3, max_iterations=400)
    print(f"ADMM, {n_sites} sites x {n_steps} h: {res.iterations} iterations, gap {res.gap:+.4%}, "
          f"{'converged' if res.converged else 'NOT converged'} in {res.admm_s:,.1f} s; central solve "
          f"{res.central_s:,.2f} s ({res.admm_s / res.central_s:,.0f}x)")


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    ledger_bench(20_000 if quick else 100_000)
    clearing_bench()
    admm_bench(10)
    if not quick:
        admm_bench(100)

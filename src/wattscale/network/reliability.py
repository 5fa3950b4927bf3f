"""Distribution reliability: load-point and system indices (SAIFI, SAIDI, CAIDI, ASAI, MAIFI, ENS) and compute
lost, analytically (RELRAD-style) and by sequential Monte Carlo, for a restoration mode.

Both methods read one outcome table: for every failing element, the restoration simulation (FLISR) says
which loads it interrupts and whether each is back after switching (a fixed time) or after the repair.
Durations up to ``momentary_threshold_min`` count as momentary (MAIFI), not sustained (IEEE 1366).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wattscale.network.build import Network
from wattscale.network.faults import switch_load_ka
from wattscale.network.restoration import restore
from wattscale.network.topology import energised, switch_graph
from wattscale.parallel import map_tasks, seeds

H_PER_YR = 8760.0
CHUNK_YEARS = 1_000  # Monte Carlo years per task (and per seed: fixed, so results do not depend on the workers)


@dataclass
class OutcomeTable:
    """Per failing element c and load i: interrupted, and hours to restore by switching (NaN: waits for repair)."""

    components: list[str]
    failures_per_yr: np.ndarray  # (c,)
    repair_h: np.ndarray  # (c,)
    affected: np.ndarray  # (c, i) bool
    switched_h: np.ndarray  # (c, i) hours, NaN where the load waits for the repair
    loads: pd.DataFrame  # name, customers, average_mw, gpus, restart_h
    mode: str
    momentary_h: float


def outcome_table(network: Network, mode: str, *, progress: Callable[[int, int], None] | None = None
                  ) -> OutcomeTable:
    """Run the restoration for a fault on every element with a failure rate (and add each load's own
    equipment, which interrupts only that load until repaired). The restorations are independent tasks: on the
    Dask client in use (``wattscale.parallel``) they run across its workers. ``progress(done, total)`` counts
    them."""
    net = network.net
    ld = net.load
    names, lam, rep, aff, sw = [], [], [], [], []
    pre = switch_load_ka(network)
    live = energised(network, switch_graph(network))
    elements = [(table, int(i)) for table in ("line", "trafo")
                for i in net[table].index[net[table].in_service & (net[table].failures_per_yr > 0)]]
    faulted = [e for e in elements if e in live]  # a de-energised element interrupts no one
    outcomes = dict(zip(faulted, map_tasks(_restoration_outcome, faulted, shared=(network, mode, pre),
                                           progress=(lambda what, done, total: progress(done, total))
                                           if progress else None,
                                           what="restorations")))
    for table, i in elements:
        df = net[table]
        a, h = outcomes.get((table, i), (np.zeros(len(ld), bool), np.full(len(ld), np.nan)))
        names.append(f"{table} {df.name[i]}")
        lam.append(float(df.failures_per_yr[i]))
        rep.append(float(df.repair_h[i]))
        aff.append(a)
        sw.append(h)
    for k in np.flatnonzero(ld.failures_per_yr.to_numpy() > 0):
        a = np.zeros(len(ld), bool)
        a[k] = True
        names.append(f"load {ld.name.iloc[k]} equipment")
        lam.append(float(ld.failures_per_yr.iloc[k]))
        rep.append(float(ld.repair_h.iloc[k]))
        aff.append(a)
        sw.append(np.full(len(ld), np.nan))
    loads = pd.DataFrame({"name": ld.name.to_numpy(), "customers": ld.customers.to_numpy(float),
                          "average_mw": ld.average_mw.to_numpy(float), "gpus": ld.gpus.to_numpy(float),
                          "restart_h": ld.restart_h.to_numpy(float)})
    n = len(ld)
    return OutcomeTable(names, np.array(lam), np.array(rep), np.array(aff).reshape(-1, n),
                        np.array(sw).reshape(-1, n), loads, mode,
                        network.reliability.momentary_threshold_min / 60)


def _duration_h(t: OutcomeTable) -> np.ndarray:
    """Expected outage hours per (component, load): switching time, or the mean repair time."""
    return np.where(t.affected, np.where(np.isnan(t.switched_h), t.repair_h[:, None], t.switched_h), 0.0)


@dataclass
class Indices:
    load_points: pd.DataFrame  # name, failures_per_yr, unavailability_h_per_yr, outage_h, momentary_per_yr
    saifi: float
    saidi_h: float
    caidi_h: float
    asai: float
    maifi: float
    ens_mwh: float
    gpu_hours_lost: float

    def as_dict(self) -> dict[str, float]:
        return {"SAIFI": self.saifi, "SAIDI_h": self.saidi_h, "CAIDI_h": self.caidi_h, "ASAI": self.asai,
                "MAIFI": self.maifi, "ENS_MWh": self.ens_mwh, "GPU_hours_lost": self.gpu_hours_lost}


def _system(loads: pd.DataFrame, lam: np.ndarray, u: np.ndarray, momentary: np.ndarray) -> dict[str, float]:
    n = loads.customers.to_numpy()
    total = max(n.sum(), 1e-12)
    saifi = float(lam @ n / total)
    saidi = float(u @ n / total)
    return {"saifi": saifi, "saidi_h": saidi, "caidi_h": saidi / saifi if saifi > 0 else 0.0,
            "asai": 1 - saidi / H_PER_YR, "maifi": float(momentary @ n / total),
            "ens_mwh": float(u @ loads.average_mw.to_numpy()),
            "gpu_hours_lost": float(loads.gpus.to_numpy() @ (u + lam * loads.restart_h.to_numpy()))}


def analytical(t: OutcomeTable) -> Indices:
    """RELRAD: failure rate and unavailability of every load point summed over the failing elements."""
    d = _duration_h(t)
    sustained = t.affected & (d > t.momentary_h)
    lam = t.failures_per_yr @ sustained
    u = t.failures_per_yr @ np.where(sustained, d, 0.0)
    mom = t.failures_per_yr @ (t.affected & ~sustained)
    lp = pd.DataFrame({"name": t.loads.name, "failures_per_yr": lam, "unavailability_h_per_yr": u,
                       "outage_h": np.divide(u, lam, out=np.zeros_like(u), where=lam > 0), "momentary_per_yr": mom})
    return Indices(load_points=lp, **_system(t.loads, lam, u, mom))


@dataclass
class MonteCarlo:
    years: int
    mean: dict[str, float]
    half_width: dict[str, float]  # 95 % confidence half-width of the mean
    per_year: pd.DataFrame

    def within(self, reference: dict[str, float], key: str, slack: float = 0.0) -> bool:
        return abs(self.mean[key] - reference[key]) <= self.half_width[key] * (1 + slack) + 1e-12


def monte_carlo(t: OutcomeTable, years: int, *, seed: int = 0, chunk_years: int = CHUNK_YEARS,
                progress: Callable[[int], None] | None = None) -> MonteCarlo:
    """Sequential Monte Carlo: each element alternates exponential times to failure and to repair through
    ``years`` simulated years; each failure interrupts its loads for the switching time or the sampled
    repair; overlapping interruptions of one load merge into one. The years run in chunks, each with its own
    seed spawned from ``seed``: the same numbers here or across a Dask cluster's workers, whatever their count."""
    sizes = [min(chunk_years, years - start) for start in range(0, years, chunk_years)]
    chunks = list(zip(sizes, seeds(seed, len(sizes))))
    done = [0]

    def tick(what: str, n: int, total: int | None) -> None:
        if progress:
            progress(sum(sizes[:n]) - done[0])
            done[0] = sum(sizes[:n])

    rows = map_tasks(_simulate_chunk, chunks, shared=t, progress=tick, what="years")
    per_year = pd.concat(rows, ignore_index=True)
    mean = {k: float(per_year[k].mean()) for k in per_year}
    mean["CAIDI_h"] = mean["SAIDI_h"] / mean["SAIFI"] if mean["SAIFI"] > 0 else 0.0
    hw = {k: float(1.96 * per_year[k].std(ddof=1) / np.sqrt(len(per_year))) for k in per_year}
    return MonteCarlo(years=years, mean=mean, half_width=hw, per_year=per_year)


def _restoration_outcome(element: tuple[str, int], shared) -> tuple[np.ndarray, np.ndarray]:
    """For a fault on ``element``: which loads are interrupted, and the hours until each is switched back."""
    network, mode, pre = shared
    table, i = element
    ld = network.net.load
    index = {name: k for k, name in enumerate(ld.name)}
    a = np.zeros(len(ld), bool)
    h = np.full(len(ld), np.nan)
    for row in restore(network, str(network.net[table].name[i]), mode, pre_ka=pre).loads.itertuples():
        if row.status != "unaffected":
            k = index[row.name]
            a[k] = True
            h[k] = row.restored_s / 3600 if row.status != "lost" else np.nan
    return a, h


def _simulate_chunk(chunk: tuple[int, np.random.SeedSequence], t: OutcomeTable) -> pd.DataFrame:
    years, seed = chunk
    return _simulate(t, years, np.random.default_rng(seed))


def _simulate(t: OutcomeTable, years: int, rng: np.random.Generator) -> pd.DataFrame:
    horizon = years * H_PER_YR
    n_loads = len(t.loads)
    starts, ends, who = [], [], []
    for c, (lam, r) in enumerate(zip(t.failures_per_yr, t.repair_h)):
        if lam <= 0 or not t.affected[c].any():
            continue
        expect = lam * years
        m = int(expect + 6 * np.sqrt(expect) + 10)
        up = rng.exponential(H_PER_YR / lam, m)
        down = rng.exponential(r, m)
        fail = np.cumsum(up + down) - down
        while fail[-1] < horizon:  # rare: extend the renewal sequence
            more_up, more_down = rng.exponential(H_PER_YR / lam, m), rng.exponential(r, m)
            fail = np.concatenate([fail, fail[-1] + down[-1] + np.cumsum(more_up + more_down) - more_down])
            down = np.concatenate([down, more_down])
        keep = fail < horizon
        fail, down = fail[keep], down[keep]
        for i in np.flatnonzero(t.affected[c]):
            d = down if np.isnan(t.switched_h[c, i]) else np.full(len(fail), t.switched_h[c, i])
            starts.append(fail)
            ends.append(fail + d)
            who.append(np.full(len(fail), i))
    count = np.zeros((years, n_loads))
    hours = np.zeros((years, n_loads))
    momentary = np.zeros((years, n_loads))
    if starts:
        s, e, w = np.concatenate(starts), np.concatenate(ends), np.concatenate(who)
        order = np.lexsort((s, w))
        s, e, w = s[order], e[order], w[order]
        reach = np.empty_like(e)  # running latest end within each load
        for i in np.unique(w):
            sel = w == i
            reach[sel] = np.maximum.accumulate(e[sel])
        new = np.ones(len(s), bool)
        new[1:] = (w[1:] != w[:-1]) | (s[1:] > reach[:-1])
        g_start = s[new]
        g_end = np.maximum.reduceat(e, np.flatnonzero(new))
        g_load = w[new]
        dur = g_end - g_start
        year = np.minimum((g_start // H_PER_YR).astype(int), years - 1)
        sustained = dur > t.momentary_h
        np.add.at(count, (year[sustained], g_load[sustained]), 1)
        np.add.at(hours, (year[sustained], g_load[sustained]), dur[sustained])
        np.add.at(momentary, (year[~sustained], g_load[~sustained]), 1)
    n = t.loads.customers.to_numpy()
    total = max(n.sum(), 1e-12)
    saifi = count @ n / total
    saidi = hours @ n / total
    return pd.DataFrame({"SAIFI": saifi, "SAIDI_h": saidi, "ASAI": 1 - saidi / H_PER_YR, "MAIFI": momentary @ n / total,
                         "ENS_MWh": hours @ t.loads.average_mw.to_numpy(),
                         "GPU_hours_lost": (hours + count * t.loads.restart_h.to_numpy()) @ t.loads.gpus.to_numpy()})

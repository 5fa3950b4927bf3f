"""Generation adequacy by Monte Carlo: non-sequential (each hour's unit states drawn anew from their forced outage
rates) and sequential (each unit alternates exponential times to failure and to repair, so storage, energy-limited
flexible load and the length of each shortfall can be followed hour by hour).

Both run in chunks of years with seeds spawned from one seed (``wattscale.parallel``), so the numbers do not depend
on the workers; each index comes with its standard error over the years.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from wattscale.network.adequacy import Units, years_in
from wattscale.parallel import map_tasks, seeds

CHUNK_YEARS = 100
MAX_EVENT_H = 240  # event durations are counted up to this many hours (longer ones in the last bin)


@dataclass(frozen=True)
class Storage:
    power_mw: float
    energy_mwh: float
    round_trip_efficiency: float = 0.85
    initial_fraction: float = 1.0


@dataclass(frozen=True)
class FlexibleLoad:
    """A campus of ``mw`` on the system that gives up compute when the system is short: at most ``share`` of its
    annual energy and ``hours`` hours a year; on-site backup carries ``backup_fraction`` of its demand first,
    without giving up compute."""

    mw: float
    share: float = 0.0
    hours: float = 8784.0
    backup_fraction: float = 0.0


@dataclass
class McIndices:
    method: str
    years: int
    lole_h_per_year: float
    lole_h_se: float
    lole_d_per_year: float
    lole_d_se: float
    eue_mwh_per_year: float
    eue_se: float
    lolf_per_year: float
    lolf_se: float
    neue_ppm: float
    curtailed_mwh_per_year: float = 0.0  # compute given up by the flexible load
    durations_h: np.ndarray = field(default_factory=lambda: np.zeros(MAX_EVENT_H + 1))  # events by length

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "durations_h"}


# ---------------------------------------------------------------- kernels
@njit(cache=True)
def _seed(s):  # pragma: no cover - numba
    np.random.seed(s)


@njit(cache=True)
def _nonsequential(caps, q, load, peak_hours, years, seed):  # pragma: no cover - numba
    _seed(seed)
    n = len(load)
    avail = np.empty(n)
    out = np.zeros((years, 5))  # LOL hours, EUE, LOL days (at the daily peak), events, (no curtailment)
    for y in range(years):
        for h in range(n):
            a = 0.0
            for u in range(len(caps)):
                if np.random.random() >= q[u]:
                    a += caps[u]
            avail[h] = a
        prev = False
        for h in range(n):
            short = load[h] - avail[h]
            now = short > 1e-9
            if now:
                out[y, 0] += 1.0
                out[y, 1] += short
                if not prev:
                    out[y, 3] += 1.0
            prev = now
        for h in peak_hours:
            if load[h] - avail[h] > 1e-9:
                out[y, 2] += 1.0
    return out


@njit(cache=True)
def _available(caps, mttf, mttr, q, n_hours, seed):  # pragma: no cover - numba
    """Hourly available capacity: each unit alternates exponential up and down times, from its stationary state;
    an hour counts the units up at its start."""
    _seed(seed)
    avail = np.zeros(n_hours)
    for u in range(len(caps)):
        up = np.random.random() >= q[u]
        t = 0.0
        while t < n_hours:
            d = np.random.exponential(mttf[u] if up else mttr[u])
            if up:
                a = int(np.ceil(t))
                b = min(int(np.ceil(t + d)), n_hours)
                for h in range(a, b):
                    avail[h] += caps[u]
            t += d
            up = not up
    return avail


@njit(cache=True)
def _sequential(avail, load, is_peak, years, p_mw, e_mwh, eta, soc0, flex_mw, flex_energy, flex_hours, backup,
                events_max):  # pragma: no cover - numba
    n = len(load)
    out = np.zeros((years, 5))  # LOL hours, EUE, LOL days, events, compute curtailed
    durations = np.zeros(events_max + 1)
    eta_c = np.sqrt(eta)
    soc = soc0
    run = 0
    for y in range(years):
        energy_left, hours_left = flex_energy, flex_hours
        lol = 0.0
        eue = 0.0
        ev = 0.0
        days = 0.0
        curtailed = 0.0
        for h in range(n):
            margin = avail[y * n + h] - load[h] - flex_mw
            if margin >= 0.0:
                charge = min(p_mw, margin, (e_mwh - soc) / eta_c) if e_mwh > 0 else 0.0
                soc += charge * eta_c
            else:
                need = -margin
                give = min(p_mw, need, soc * eta_c) if e_mwh > 0 else 0.0
                soc -= give / eta_c if e_mwh > 0 else 0.0
                need -= give
                if need > 0.0 and flex_mw > 0.0:
                    free = min(need, backup * flex_mw)  # on-site backup carries part of the campus
                    need -= free
                    if need > 0.0 and hours_left >= 1.0:
                        cut = min(need, flex_mw - free, energy_left)
                        need -= cut
                        energy_left -= cut
                        curtailed += cut
                        if cut > 0.0:
                            hours_left -= 1.0
                if need > 1e-9:
                    lol += 1.0
                    eue += need
                    if is_peak[h]:
                        days += 1.0
                    if run == 0:
                        ev += 1.0
                    run += 1
                    continue
            if run > 0:
                durations[min(run, events_max)] += 1.0
                run = 0
        out[y, 0], out[y, 1], out[y, 2], out[y, 3], out[y, 4] = lol, eue, days, ev, curtailed
    if run > 0:
        durations[min(run, events_max)] += 1.0
    return out, durations, soc


# ---------------------------------------------------------------- chunks
def peak_hours(load: np.ndarray) -> np.ndarray:
    """The hour of each whole day's peak (the daily-peak convention of LOLE in days)."""
    days = len(load) // 24
    return np.arange(days) * 24 + np.asarray(load[: days * 24]).reshape(days, 24).argmax(axis=1)


def _nonsequential_chunk(task, shared):
    (years, seed) = task
    caps, q, load = shared
    return _nonsequential(caps, q, load, peak_hours(load), years, seed), np.zeros(MAX_EVENT_H + 1)


def _sequential_chunk(task, shared):
    (years, seed) = task
    caps, mttf, mttr, q, load, storage, flex = shared
    avail = _available(caps, mttf, mttr, q, years * len(load), seed)
    s = storage or Storage(0.0, 0.0)
    f = flex or FlexibleLoad(0.0)
    is_peak = np.zeros(len(load), dtype=np.bool_)
    is_peak[peak_hours(load)] = True
    out, durations, _ = _sequential(avail, load, is_peak, years, s.power_mw, s.energy_mwh, s.round_trip_efficiency,
                                    s.initial_fraction * s.energy_mwh, f.mw, f.share * f.mw * len(load), f.hours,
                                    f.backup_fraction, MAX_EVENT_H)
    return out, durations


def _summarise(method: str, rows: list, load: np.ndarray, flex_mw: float, gross_mwh: float | None = None
               ) -> McIndices:
    per_year = np.vstack([r[0] for r in rows]) / years_in(len(load))  # a pass over the series, per year
    durations = np.sum([r[1] for r in rows], axis=0)
    y = len(per_year)

    def mean_se(col):
        v = per_year[:, col]
        return float(v.mean()), float(v.std(ddof=1) / np.sqrt(y)) if y > 1 else float("nan")

    lol, lol_se = mean_se(0)
    eue, eue_se = mean_se(1)
    days, days_se = mean_se(2)
    ev, ev_se = mean_se(3)
    energy = ((float(load.sum()) if gross_mwh is None else gross_mwh) + flex_mw * len(load)) / years_in(len(load))
    curtailed = float(per_year[:, 4].mean()) if per_year.shape[1] > 4 else 0.0
    return McIndices(method, y, lol, lol_se, days, days_se, eue, eue_se, ev, ev_se, eue / energy * 1e6 if energy else 0.0,
                     curtailed, durations)


def _chunks(years: int, seed: int, chunk_years: int) -> list[tuple[int, int]]:
    sizes = [min(chunk_years, years - i) for i in range(0, years, chunk_years)]
    return [(n, int(s.generate_state(1)[0])) for n, s in zip(sizes, seeds(seed, len(sizes)))]


def nonsequential(units: Units, load_mw: np.ndarray, years: int, *, seed: int = 0,
                  chunk_years: int = CHUNK_YEARS, progress=None, gross_mwh: float | None = None) -> McIndices:
    """Each hour's unit states drawn independently from their forced outage rates (no durations: LOLF counts
    runs of short hours, which independent hours make too many)."""
    caps, q = units.each()
    load = np.ascontiguousarray(load_mw, dtype=float)
    rows = map_tasks(_nonsequential_chunk, _chunks(years, seed, chunk_years),
                     shared=(caps.astype(float), q.astype(float), load), progress=progress, what="years")
    out = _summarise("non-sequential Monte Carlo", rows, load, 0.0, gross_mwh)
    out.lolf_per_year = out.lolf_se = float("nan")  # independent hours make runs of shortfalls meaningless
    return out


def sequential(units: Units, load_mw: np.ndarray, years: int, *, seed: int = 0, storage: Storage | None = None,
               flexible: FlexibleLoad | None = None, default_mttr_h: float = 50.0, chunk_years: int = CHUNK_YEARS,
               progress=None, gross_mwh: float | None = None) -> McIndices:
    """Units alternate exponential times to failure and repair (MTTF from the forced outage rate and an MTTR of
    ``default_mttr_h`` where the units give none), hour by hour over ``years`` years of the load, with storage and
    a flexible load dispatched when the system is short."""
    caps, q = units.each()
    mttr = np.repeat(units.mttr_h, units.count) if units.mttr_h is not None else np.full(len(caps), default_mttr_h)
    if units.mttf_h is not None:
        mttf = np.repeat(units.mttf_h, units.count)
        q = mttr / (mttf + mttr)  # the stationary state of these times (the table's rate is for the exact method)
    else:
        mttf = np.where(q > 0, mttr * (1 - q) / np.maximum(q, 1e-300), 1e18)
    load = np.ascontiguousarray(load_mw, dtype=float)
    rows = map_tasks(_sequential_chunk, _chunks(years, seed, chunk_years),
                     shared=(caps.astype(float), mttf.astype(float), mttr.astype(float), q.astype(float), load,
                             storage, flexible), progress=progress, what="years")
    return _summarise("sequential Monte Carlo", rows, load, flexible.mw if flexible else 0.0, gross_mwh)


__all__ = ["FlexibleLoad", "McIndices", "Storage", "nonsequential", "peak_hours", "sequential"]

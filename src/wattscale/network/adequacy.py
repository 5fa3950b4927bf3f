"""Generation adequacy (HL-I): the capacity outage probability table of two-state units, and the indices it gives
exactly for an hourly load: LOLP, LOLE (hours a year on the hourly load, days a year on the daily peaks), LOEE (EUE)
and NEUE.

The table is built by recursive convolution (Billinton and Allan, "Reliability Evaluation of Power Systems",
ch. 2) on a grid of ``step_mw``: adding a unit of capacity C and forced outage rate q maps P(X = x) to
(1 - q) P(X = x) + q P(X = x - C). Loss of load in an hour of load L is X > C_installed - L.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from math import gcd

import numpy as np

MAX_TABLE_STATES = 20_000_000  # outage states (installed capacity / step); 160 MB as float64
MAX_TABLE_WORK = 2_000_000_000  # states x units: the convolution's work (about a minute)
MAX_UNITS = 100_000
HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True)
class Units:
    """Groups of identical two-state units: count, capacity (MW), forced outage rate; optional MTTF and MTTR (h)
    for sequential Monte Carlo."""

    count: np.ndarray
    capacity_mw: np.ndarray
    forced_outage_rate: np.ndarray
    mttf_h: np.ndarray | None = None
    mttr_h: np.ndarray | None = None

    @property
    def installed_mw(self) -> float:
        return float((self.count * self.capacity_mw).sum())

    def each(self) -> tuple[np.ndarray, np.ndarray]:
        """(capacity MW, forced outage rate) of every unit, one entry per unit."""
        return np.repeat(self.capacity_mw, self.count), np.repeat(self.forced_outage_rate, self.count)


@dataclass(frozen=True)
class Copt:
    """P(capacity out = k * step_mw) for k = 0 .. n-1."""

    step_mw: float
    probability: np.ndarray
    installed_mw: float

    @property
    def outage_mw(self) -> np.ndarray:
        return np.arange(len(self.probability)) * self.step_mw

    @property
    def exceed(self) -> np.ndarray:
        """S[k] = P(X > k step), the cumulative table read the usual way (P(X >= k step) is S[k-1])."""
        return np.clip(1.0 - np.cumsum(self.probability), 0.0, 1.0)

    def loss_probability(self, load_mw: np.ndarray) -> np.ndarray:
        """P(available capacity < load) for each load."""
        margin = (self.installed_mw - np.asarray(load_mw, float)) / self.step_mw  # outage that still serves the load
        k = np.floor(margin + 1e-9).astype(np.int64)
        s = self.exceed
        out = np.where(k < 0, 1.0, s[np.clip(k, 0, len(s) - 1)])
        return np.where(k >= len(s) - 1, 0.0, out)

    def expected_unserved_mw(self, load_mw: np.ndarray) -> np.ndarray:
        """E[(load - available)+] for each load (MW): the expected shortfall."""
        p, step = self.probability, self.step_mw
        x = np.arange(len(p))
        s = self.exceed  # P(X > k)
        tail = np.concatenate([np.cumsum((x * p)[::-1])[::-1][1:], [0.0]])  # sum over x > k of x p(x)
        g = tail - x * s  # G[k] = E[(X - k)+] in steps
        m = (self.installed_mw - np.asarray(load_mw, float)) / step
        k = np.floor(m + 1e-9).astype(np.int64)
        f = m - k
        mean = float((x * p).sum())
        inside = (k >= 0) & (k < len(p) - 1)
        kk = np.clip(k, 0, len(p) - 2)
        value = np.where(inside, g[kk + 1] + (1.0 - f) * s[kk], 0.0)
        value = np.where(k < 0, mean - m, value)  # the load exceeds installed capacity: every state is short
        return np.maximum(value, 0.0) * step


def outage_table(units: Units, step_mw: float | None = None) -> Copt:
    """The exact capacity outage probability table on a grid of ``step_mw``. The default step is the largest one
    every unit's capacity is a whole multiple of (to 0.001 MW: 1 MW for whole-MW units, 0.5 MW for 12.5 MW units);
    a given step rounds the capacities to it, and the installed capacity is the rounded one, so table and margins
    agree."""
    caps, q = units.each()
    if len(caps) > MAX_UNITS:
        raise ValueError(f"{len(caps):,} units: at most {MAX_UNITS:,}")
    if step_mw is None:
        milli = np.round(caps * 1000).astype(np.int64)
        step_mw = reduce(gcd, milli.tolist()) / 1000.0
        if np.round(caps / step_mw).sum() + 1 > MAX_TABLE_STATES:
            step_mw = max(1.0, float(np.ceil(caps.sum() / MAX_TABLE_STATES)))  # a coarser grid, rounding to it
    k = np.maximum(np.round(caps / step_mw).astype(np.int64), 0)
    n = int(k.sum()) + 1
    if n > MAX_TABLE_STATES or n * len(k) > MAX_TABLE_WORK:
        raise ValueError(f"{n:,} outage states for {len(k):,} units at {step_mw:g} MW: a coarser step is needed")
    p = np.zeros(n)
    p[0] = 1.0
    top = 0
    for size, rate in sorted(zip(k.tolist(), q.tolist()), reverse=True):
        shifted = p[: top + 1].copy()
        p[: top + 1] *= 1.0 - rate
        p[size: size + top + 1] += rate * shifted
        top += size
    return Copt(float(step_mw), p, float(k.sum() * step_mw))


@dataclass(frozen=True)
class Indices:
    """Adequacy indices over a year of hourly load."""

    lolp: float  # mean probability of loss of load over the hours
    lole_h_per_year: float
    lole_d_per_year: float  # on the daily peaks
    eue_mwh_per_year: float  # LOEE
    neue_ppm: float  # EUE per MWh of load, parts per million
    hours: int
    load_mwh: float
    hourly_lolp: np.ndarray  # each hour's loss-of-load probability


def daily_peaks(load_mw: np.ndarray, hours_per_day: int = 24) -> np.ndarray:
    """The peak of each whole day of an hourly series (a final partial day is left out)."""
    days = len(load_mw) // hours_per_day
    return np.asarray(load_mw[: days * hours_per_day], float).reshape(days, hours_per_day).max(axis=1)


def years_in(hours: int) -> float:
    """How many years an hourly series holds: one for 8,736 to 8,784 hours (52 weeks, or a calendar year, as the
    published test systems count it), else hours / 8,760."""
    return 1.0 if 8736 <= hours <= 8784 else hours / HOURS_PER_YEAR


def exact_indices(copt: Copt, load_mw: np.ndarray, *, gross_load_mw: np.ndarray | None = None) -> Indices:
    """Indices of ``load_mw`` (hourly) against the table, per year of the series (``years_in``); NEUE against
    ``gross_load_mw`` (before renewables; default the load)."""
    load = np.asarray(load_mw, float)
    n = len(load)
    scale = 1.0 / years_in(n)
    hourly = copt.loss_probability(load)
    daily = copt.loss_probability(daily_peaks(load))
    eue = float(copt.expected_unserved_mw(load).sum()) * scale
    energy = float(np.sum(load if gross_load_mw is None else gross_load_mw)) * scale
    return Indices(lolp=float(hourly.mean()), lole_h_per_year=float(hourly.sum()) * scale,
                   lole_d_per_year=float(daily.sum()) * scale, eue_mwh_per_year=eue,
                   neue_ppm=eue / energy * 1e6 if energy > 0 else 0.0, hours=n, load_mwh=energy,
                   hourly_lolp=hourly)

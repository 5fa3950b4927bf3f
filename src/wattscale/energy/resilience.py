"""Will a campus ride out a grid outage of d hours on its own? Monte Carlo over outages: generators that fail to
start or fail while running (the defaults of NREL REopt's outage simulator, after Marqusee and Jenket 2020), fuel
limited by a tank, the battery bridging what the generators cannot carry, and flexible compute shed first.

Each trial starts the outage at a random hour of the year (the load and sheddable compute of those hours). A unit
that fails stays down for the outage. Hour by hour, as the engine dispatches: generators carry what they can (and
what fuel is left), the battery the rest while it has energy, then flexible compute is shed (when allowed);
anything left is unserved. Compute is not shed early to save fuel or battery. A trial survives if nothing is
unserved.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta

MAX_TRIAL_HOURS = 20_000_000  # trials x hours simulated (time: about 20 s); memory grows with trials only


@dataclass(frozen=True)
class Backup:
    """What the campus has on site when the grid goes."""

    generator_mw: np.ndarray  # each generator's capacity
    battery_mw: float = 0.0
    battery_mwh: float = 0.0  # energy available at the start of an outage
    fuel_mwh: float = float("inf")  # generator energy in the tank
    failure_to_start: float = 0.0066
    failure_to_run_per_h: float = 0.00157


@dataclass(frozen=True)
class Survival:
    duration_h: int
    trials: int
    survived: int
    unserved_mwh: float  # mean over trials
    compute_lost_share_h: float  # mean GPU-time lost, in hours of the whole fleet (unserved and shed)
    interrupted: float  # share of trials with any unserved load (a training job restarts)

    @property
    def probability(self) -> float:
        return self.survived / self.trials

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Clopper-Pearson interval of the survival probability."""
        a = (1 - level) / 2
        lo = 0.0 if self.survived == 0 else float(beta.ppf(a, self.survived, self.trials - self.survived + 1))
        hi = 1.0 if self.survived == self.trials else float(beta.ppf(1 - a, self.survived + 1,
                                                                    self.trials - self.survived))
        return lo, hi


def simulate_outages(load_mw: np.ndarray, shed_mw: np.ndarray, backup: Backup, durations_h: list[int], trials: int,
                     rng: np.random.Generator) -> list[Survival]:
    """``trials`` outages, each from a random hour of the hourly ``load_mw`` (the year wraps around), with
    ``shed_mw`` of it flexible compute given up before any load goes unserved; every duration reads the same
    trials (the first d hours of the longest), so a longer outage is never survived more often."""
    longest = int(max(durations_h))
    if trials * longest > MAX_TRIAL_HOURS:
        raise ValueError(f"{trials * longest:,} trial hours: fewer trials or shorter outages")
    n = len(load_mw)
    start = rng.integers(0, n, trials)
    caps = np.asarray(backup.generator_mw, float)
    started = rng.random((trials, len(caps))) >= backup.failure_to_start
    fails_at = rng.exponential(1.0 / backup.failure_to_run_per_h, (trials, len(caps))) \
        if backup.failure_to_run_per_h > 0 else np.full((trials, len(caps)), np.inf)
    fuel = np.full(trials, float(backup.fuel_mwh))
    soc = np.full(trials, float(backup.battery_mwh))
    unserved = np.zeros(trials)  # so far, MWh
    lost = np.zeros(trials)  # share of the fleet's compute lost so far, in fleet-hours
    short = np.zeros(trials, dtype=bool)
    record = {int(d) for d in durations_h}
    out = {}
    for h in range(longest):  # one hour of every trial at a time: memory grows with trials, not trials x hours
        hour = (start + h) % n
        need, flexible = load_mw[hour], np.minimum(shed_mw[hour], load_mw[hour])
        running = started & (fails_at >= h + 1)  # a unit counts for an hour it runs through
        from_gen = np.minimum(np.minimum(running @ caps, fuel), need)
        fuel -= from_gen
        rest = need - from_gen
        battery = np.minimum(np.minimum(rest, backup.battery_mw), soc)
        soc -= battery
        rest -= battery
        cut = np.minimum(rest, flexible)  # the engine's rule: compute is shed only when backup falls short
        rest -= cut
        unserved += rest
        lost += np.where(need > 0, (cut + rest) / np.maximum(need, 1e-12), 0.0)
        short |= rest > 1e-9
        if h + 1 in record:
            out[h + 1] = Survival(h + 1, trials, int((~short).sum()), float(unserved.mean()), float(lost.mean()),
                                  float(short.mean()))
    return [out[int(d)] for d in durations_h]


def simulate_outage(load_mw: np.ndarray, shed_mw: np.ndarray, backup: Backup, duration_h: int, trials: int,
                    rng: np.random.Generator) -> Survival:
    """``simulate_outages`` for one duration."""
    return simulate_outages(load_mw, shed_mw, backup, [duration_h], trials, rng)[0]


def closed_form_survival(n_units: int, k_needed: int, backup: Backup, duration_h: float) -> float:
    """P(survive) for n identical units of which k carry a constant load, no battery, no fuel limit: each unit runs
    the whole outage with probability (1 - p_start) exp(-lambda d), independently."""
    from scipy.stats import binom

    p = (1 - backup.failure_to_start) * np.exp(-backup.failure_to_run_per_h * duration_h)
    return float(binom.sf(k_needed - 1, n_units, p))

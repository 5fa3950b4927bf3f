"""Size and compare swing mitigations: a GPU power floor, burn work in communication phases, storage
smoothing, and combinations; pick the cheapest that meets the limits.

Each option's grid-side waveform is re-analysed against the limits, so "complies" is measured, not assumed.
Costs are annual: energy overhead at the energy price, throughput lost at the value of a GPU-hour, and
storage capital annualised over its life (the shorter of calendar life and cycle life at the measured
cycling). The analysed window is taken as typical of the year.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numba import njit

from wattscale.bisection import smallest_passing
from wattscale.compute.phases import PhaseMix
from wattscale.compute.smoothing import Smoothing, smooth_gpu_power
from wattscale.studies.swings.analysis import Limits, LowpassSearch, SwingAnalysis, analyse, lowpass, passes

HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True)
class StorageTech:
    name: str
    usd_per_kw: float
    usd_per_kwh: float
    round_trip_efficiency: float
    usable_fraction: float  # of nameplate energy
    cycle_life: float
    calendar_life_y: float


# order-of-magnitude defaults; override them in the scenario's swings.costs section
BATTERY = StorageTech("battery", usd_per_kw=150.0, usd_per_kwh=300.0, round_trip_efficiency=0.90,
                      usable_fraction=0.8, cycle_life=6000.0, calendar_life_y=15.0)
SUPERCAPACITOR = StorageTech("supercapacitor", usd_per_kw=100.0, usd_per_kwh=5000.0, round_trip_efficiency=0.95,
                             usable_fraction=0.75, cycle_life=1e6, calendar_life_y=15.0)


@dataclass(frozen=True)
class Costs:
    energy_price_usd_per_mwh: float = 60.0
    gpu_hour_value_usd: float = 2.0
    burn_slowdown_per_unit: float = 0.05  # training throughput lost at full burn (assumption: interference)
    discount_rate: float = 0.07
    storage: tuple[StorageTech, ...] = (BATTERY, SUPERCAPACITOR)


@dataclass(frozen=True)
class StorageSize:
    tech: str
    power_mw: float
    energy_mwh: float
    cycles_per_day: float
    life_y: float
    time_constant_s: float


@dataclass
class Option:
    name: str
    setting: str
    power_mw: np.ndarray = field(repr=False)
    analysis: SwingAnalysis = field(repr=False)
    energy_overhead_fraction: float = 0.0
    slowdown_fraction: float = 0.0
    storage: StorageSize | None = None
    annual_cost_usd: dict[str, float] = field(default_factory=dict)

    @property
    def complies(self) -> bool:
        return self.analysis.passed

    @property
    def total_cost_usd_per_year(self) -> float:
        return float(sum(self.annual_cost_usd.values()))


@dataclass(frozen=True)
class Load:
    """The waveform to mitigate: fleets (phase mixes) plus a constant rest of the facility (MW)."""

    mixes: tuple[PhaseMix, ...]
    constant_mw: float
    step_s: float

    def power_mw(self, levels: list[dict[str, float]] | None = None) -> np.ndarray:
        """Facility power (MW), with ``levels`` (one mapping per fleet) replacing some phase levels (W per GPU)."""
        shares, mw_per_share, offset = [], [], self.constant_mw
        for i, m in enumerate(self.mixes):
            lv = {**m.levels_w, **(levels[i] if levels else {})}
            for phase, share in m.shares.items():
                shares.append(np.ascontiguousarray(share, dtype=float))
                mw_per_share.append(lv[phase] * m.n_gpus * 1e-6)
            offset += m.fixed_w * 1e-6
        return _weighted_sum(tuple(shares), np.array(mw_per_share), offset)

    @cached_property
    def mean_gpu_w(self) -> tuple[np.ndarray, ...]:
        """Each fleet's power per GPU (W), as its workload asks it; kept for every smoothing setting tried."""
        return tuple(m.gpu_power_w() / m.n_gpus for m in self.mixes)

    @property
    def training_gpus(self) -> int:
        return sum(m.n_gpus for m in self.mixes if m.burn_phases)

    def smoothed_mw(self, setting: Smoothing) -> tuple[np.ndarray, float, float]:
        """Facility power (MW) with every GPU smoothed by ``setting``; the share of the training work that waited
        for the ramp-up limit, and the share still waiting at the end. A training fleet's GPUs move together, so
        its mean GPU is smoothed as one; an inference fleet's GPUs do not (its phase shares are fractions of the
        fleet), so there the floor applies per phase level, as for the power floor, and its mean is left to its
        own ramps."""
        out = np.full(self.mixes[0].n_samples, self.constant_mw)
        asked = waited = left = 0.0
        for m, asked_w in zip(self.mixes, self.mean_gpu_w):
            if not m.burn_phases:
                floor = setting.floor_fraction_of_tdp * m.tdp_w
                out += m.it_power_mw({p: max(v, floor) for p, v in m.levels_w.items()})
                continue
            s = smooth_gpu_power(asked_w, self.step_s, m.tdp_w, setting)
            out += (s.power_w * m.n_gpus + m.fixed_w) * 1e-6
            asked, waited, left = asked + s.asked_j * m.n_gpus, waited + s.waited_j * m.n_gpus, left + s.left_j * m.n_gpus
        return out, waited / asked if asked > 0 else 0.0, left / asked if asked > 0 else 0.0


@njit(cache=True)
def _weighted_sum(arrays, weights, offset):  # pragma: no cover - numba
    """offset + sum of arrays[j] * weights[j], in one pass."""
    out = np.empty(len(arrays[0]))
    for i in range(len(out)):
        acc = 0.0
        for j in range(len(arrays)):
            acc += arrays[j][i] * weights[j]
        out[i] = acc + offset
    return out


def floor_levels(load: Load, fraction: float) -> list[dict[str, float]]:
    return [{p: max(v, fraction * m.tdp_w) for p, v in m.levels_w.items()} for m in load.mixes]


def burn_levels(load: Load, intensity: float) -> list[dict[str, float]]:
    out = []
    for m in load.mixes:
        lv = dict(m.levels_w)
        for p in m.burn_phases:
            lv[p] = lv[p] + intensity * max(0.0, m.levels_w[m.busy_phase] - lv[p])
        out.append(lv)
    return out


def _crf(rate: float, years: float) -> float:
    return rate / (1 - (1 + rate) ** -years) if rate > 0 else 1.0 / years


def smooth(power_mw: np.ndarray, step_s: float, time_constant_s: float) -> np.ndarray:
    """First-order low-pass (the grid side of a storage smoother), starting in steady state."""
    return lowpass(power_mw, 1.0 - np.exp(-step_s / time_constant_s))


def _storage_time_constant(power_mw: np.ndarray, step_s: float, limits: Limits, base: SwingAnalysis | None = None
                           ) -> float | None:
    """Shortest low-pass time constant meeting the limits: analytic for the bands, then checked (``base``: the
    analysis of ``power_mw``, when known)."""
    base = analyse(power_mw, step_s, limits, rms=False) if base is None else base
    if base.passed:
        return 0.0
    tau = step_s
    for b in limits.bands:
        if b.max_amplitude_mw is None:
            continue
        sel = (base.frequency_hz >= b.low_hz) & (base.frequency_hz <= b.high_hz) & (base.amplitude_mw > b.max_amplitude_mw)
        if sel.any():
            ratio = base.amplitude_mw[sel] / b.max_amplitude_mw
            tau = max(tau, float(np.max(np.sqrt(ratio ** 2 - 1) / (2 * np.pi * base.frequency_hz[sel]))))

    search = LowpassSearch(power_mw, step_s, limits)

    def smooth_passes(t):
        return search(1.0 - np.exp(-step_s / t))

    hi = tau
    for _ in range(40):
        if smooth_passes(hi):
            break
        hi *= 1.5
    else:
        return None
    lo = hi / 1.5 if hi > tau else hi
    return smallest_passing(smooth_passes, lo, hi, tol=0.02 * hi)


def size_storage(power_mw: np.ndarray, step_s: float, limits: Limits, costs: Costs,
                 analysis: SwingAnalysis | None = None) -> tuple[np.ndarray, StorageSize, dict[str, float]] | None:
    """Smooth ``power_mw`` until it complies; size each technology and return the cheapest (``analysis``: that
    of ``power_mw``, when known)."""
    tau = _storage_time_constant(power_mw, step_s, limits, analysis)
    if tau is None:
        return None
    if tau == 0.0:
        return power_mw, StorageSize("none", 0.0, 0.0, 0.0, 0.0, 0.0), {}
    grid = smooth(power_mw, step_s, tau)
    out = power_mw - grid  # storage discharge (MW)
    stored = -np.cumsum(out) * step_s / 3600.0
    swing_mwh = float(max(stored.max(), 0.0) - min(stored.min(), 0.0))  # from the initial state
    discharged_mwh = float(np.clip(out, 0, None).sum() * step_s / 3600.0)
    hours = len(power_mw) * step_s / 3600.0
    best = None
    for tech in costs.storage:
        energy = swing_mwh / tech.usable_fraction
        cycles_per_year = discharged_mwh / max(swing_mwh, 1e-12) * HOURS_PER_YEAR / hours
        life = min(tech.calendar_life_y, tech.cycle_life / max(cycles_per_year, 1e-12))
        capex = float(np.abs(out).max()) * 1000 * tech.usd_per_kw + energy * 1000 * tech.usd_per_kwh
        annual = {"storage capital": capex * _crf(costs.discount_rate, life),
                  "storage losses": discharged_mwh * (1 / tech.round_trip_efficiency - 1) * HOURS_PER_YEAR / hours
                  * costs.energy_price_usd_per_mwh}
        size = StorageSize(tech.name, float(np.abs(out).max()), energy, cycles_per_year / 365.0, life, tau)
        if best is None or sum(annual.values()) < sum(best[2].values()):
            best = (grid, size, annual)
    return best


def _energy_cost(load: Load, power_mw: np.ndarray, base_mwh: float, costs: Costs) -> tuple[float, float]:
    extra_mwh = float((power_mw.sum() * load.step_s / 3600.0) - base_mwh)
    hours = len(power_mw) * load.step_s / 3600.0
    return extra_mwh / base_mwh, extra_mwh * HOURS_PER_YEAR / hours * costs.energy_price_usd_per_mwh


def smoothing_option(load: Load, limits: Limits, costs: Costs, setting: Smoothing, sized: bool, base_mwh: float
                     ) -> Option:
    """GPU power smoothing at ``setting``; with ``sized``, its unset (infinite) ramps become the fastest common rate
    that meets the limits (bisection on a log scale from 1 W/s to 1 MW/s per GPU)."""
    def at(rate: float) -> Smoothing:
        return Smoothing(setting.floor_fraction_of_tdp,
                         rate if not np.isfinite(setting.ramp_up_w_per_s) else setting.ramp_up_w_per_s,
                         rate if not np.isfinite(setting.ramp_down_w_per_s) else setting.ramp_down_w_per_s,
                         setting.hysteresis_ms)

    if sized:  # x = -log10(rate): the smoother, the more likely to pass
        def rate_passes(x: float) -> bool:
            return passes(load.smoothed_mw(at(10 ** -x))[0], load.step_s, limits)

        x = smallest_passing(rate_passes, -6.0, 0.0, 0.03)  # the rate to 7 %
        setting = at(10 ** -(0.0 if x is None else x))
    power, waited, _ = load.smoothed_mw(setting)
    frac, energy_cost = _energy_cost(load, power, base_mwh, costs)
    lost = waited * load.training_gpus * HOURS_PER_YEAR * costs.gpu_hour_value_usd
    return Option("power smoothing", setting.describe(), power, analyse(power, load.step_s, limits), frac, waited,
                  annual_cost_usd={"energy": energy_cost, "throughput lost": lost})


def compare(load: Load, limits: Limits, costs: Costs = Costs(), smoothing: Smoothing | None = Smoothing()
            ) -> list[Option]:
    """The unmitigated waveform and every mitigation, sized for ``limits``; cheapest compliant first."""
    step = load.step_s
    base = load.power_mw()
    base_mwh = float(base.sum() * step / 3600.0)
    options = [Option("none", "", base, analyse(base, step, limits))]

    def level_option(name, setting, levels, slowdown):
        p = load.power_mw(levels)
        frac, energy_cost = _energy_cost(load, p, base_mwh, costs)
        lost = slowdown * load.training_gpus * HOURS_PER_YEAR * costs.gpu_hour_value_usd
        return Option(name, setting, p, analyse(p, step, limits), frac, slowdown,
                      annual_cost_usd={"energy": energy_cost, "throughput lost": lost})

    def with_storage(opt: Option) -> Option | None:
        sized = size_storage(opt.power_mw, step, limits, costs, opt.analysis)
        if sized is None:
            return None
        grid, size, annual = sized
        name = "storage" if opt.name == "none" else f"{opt.name} + storage"
        setting = ", ".join(s for s in (opt.setting, f"{size.tech} {size.power_mw:.1f} MW / "
                                                     f"{size.energy_mwh * 1000:.0f} kWh") if s)
        return Option(name, setting, grid, analyse(grid, step, limits), opt.energy_overhead_fraction,
                      opt.slowdown_fraction, size, {**opt.annual_cost_usd, **annual})

    levellers = [("power floor", lambda f: floor_levels(load, f), 0.0, "floor {:.0%} of TDP", 0.005)]
    if load.training_gpus:
        levellers.append(("burn work", lambda b: burn_levels(load, b), costs.burn_slowdown_per_unit,
                          "burn {:.0%} of the compute-communication gap", 0.01))
    combinations = [with_storage(options[0])]
    for name, levels, slowdown_per_unit, setting, tol in levellers:
        best = smallest_passing(lambda x: passes(load.power_mw(levels(x)), step, limits), 0.0, 1.0, tol)
        x = 1.0 if best is None else best
        options.append(level_option(name, setting.format(x), levels(x), slowdown_per_unit * x))
        # half the setting, the rest by storage
        half = level_option(name, setting.format(x / 2), levels(x / 2), slowdown_per_unit * x / 2)
        combinations.append(with_storage(half))
    if smoothing is not None:
        sized = not (np.isfinite(smoothing.ramp_up_w_per_s) and np.isfinite(smoothing.ramp_down_w_per_s))
        options.append(smoothing_option(load, limits, costs, smoothing, sized, base_mwh))
    options += [c for c in combinations if c is not None and c.storage.tech != "none"]
    options[1:] = sorted(options[1:], key=lambda o: (not o.complies, o.total_cost_usd_per_year))
    return options


def cheapest(options: list[Option]) -> Option | None:
    """The cheapest compliant option (the unmitigated waveform if it already complies)."""
    ok = [o for o in options if o.complies]
    return min(ok, key=lambda o: o.total_cost_usd_per_year) if ok else None

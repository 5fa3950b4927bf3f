"""Swing analysis at campus scale: wattscale against the same study written with pandas and scipy.signal.

Work: a 100,000-GPU GB200 training campus, one hour at 10 ms (360,000 samples), against the example limits
(examples/grid-limits.yaml): build the waveform (checkpoints, failures, start ramp), analyse it (ramps over
each limit's window, flat-top band amplitudes and rectangular band RMS over half-overlapping 60 s segments,
dynamic range), then size and re-analyse every mitigation: power floor, burn work, GPU power smoothing,
storage, and half the floor or half the burn work plus storage (six options besides the raw waveform).

- wattscale: ``training_mix`` (the waveform's phase shares), then ``compare`` (its analysis and every
  mitigation).
- peer: the same study as a power engineer writes it with the field's libraries. Ramps from pandas
  (``Series.rolling(m).mean().diff(m)``), band amplitudes from ``scipy.signal.spectrogram`` (flat-top window,
  the same segments, constant detrend, magnitude spectrum; band RMS with a boxcar window), storage smoothing
  with ``scipy.signal.lfilter``, each trial waveform built with numpy from the phase shares, the same searches
  (bisection to the same tolerances, the storage search from the same analytic start), and its sizing checks,
  like wattscale's, skip the spectrogram once a ramp fails. It shares two models with wattscale: the waveform's
  phase shares (``training_mix``, built once per run and timed separately) and the GPU power-smoothing device
  model (``smooth_gpu_power``, inside both timings).

Both compute every option's setting, compliance, ramps, band amplitudes, band RMS, energy overhead and
storage size; the run asserts that settings and compliance are equal and every number agrees to REL_TOL, and
prints the largest difference. Times are medians of REPEATS runs; the speed-up counts the waveform on both
sides. Run: python benchmarks/swings.py
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import signal

from wattscale.compute.catalog import load_catalog
from wattscale.compute.smoothing import Smoothing, smooth_gpu_power
from wattscale.compute.training import training_mix
from wattscale.scenario.workloads import Training
from wattscale.studies.swings.analysis import read_limits
from wattscale.studies.swings.mitigation import HOURS_PER_YEAR, Costs, Load, compare

ROOT = Path(__file__).resolve().parents[1]
STEP_S, N, REPEATS = 0.01, 360_000, 5
JOB = Training(name="campus", gpu="GB200", gpus=100_000, iteration_s=2.0, communication_fraction=0.2, ramp_s=10.0)
REL_TOL = 1e-6  # figures agree to this relative difference (floating-point order differs between the sides)


# ---------------------------------------------------------------- the peer: pandas + scipy.signal
def segment_samples(n: int, limits) -> int:
    """60 s, or five periods of the lowest band edge, within the record."""
    return int(min(n, max(round(60.0 / STEP_S), round(5.0 / (min(b.low_hz for b in limits.bands) * STEP_S)))))


def max_ramp(s: pd.Series, window_s: float) -> float:
    """Largest change between the means of adjacent windows, MW/s."""
    m = max(1, round(window_s / STEP_S))
    return s.rolling(m).mean().diff(m).abs().max() / (m * STEP_S)


def worst_amplitude(p: np.ndarray, n: int, window: str) -> tuple[np.ndarray, np.ndarray]:
    """Single-sided amplitude (MW) per frequency (Hz), the largest over half-overlapping segments."""
    kw = {"fs": 1 / STEP_S, "window": window, "nperseg": n, "noverlap": n - n // 2, "detrend": "constant",
          "scaling": "spectrum", "mode": "magnitude"}
    f, _, mag = signal.spectrogram(p, **kw)
    if (len(p) - n) % (n // 2):  # a last segment ending the record
        mag = np.c_[mag, signal.spectrogram(p[-n:], **kw)[2]]
    amp = 2.0 * mag.max(axis=1)
    amp[0] = 0.0
    if n % 2 == 0:
        amp[-1] /= 2.0
    return f, amp


def band_max(f: np.ndarray, amp: np.ndarray, b) -> float:
    return float(amp[(f >= b.low_hz) & (f <= b.high_hz)].max())


def within(value: float, limit: float | None) -> bool:
    return limit is None or value <= limit * (1 + 1e-9)


def peer_analyse(p: np.ndarray, limits, *, rms: bool = True) -> dict:
    """Ramps (MW/s), band amplitude and RMS (MW), dynamic range (MW) and the flat-top spectrum of ``p``."""
    s = pd.Series(p)
    n = segment_samples(len(p), limits)
    f, flat = worst_amplitude(p, n, "flattop")
    out = {"ramps": {r.window_s: max_ramp(s, r.window_s) for r in limits.ramps}, "range": float(p.max() - p.min()),
           "bands": {b.name: band_max(f, flat, b) for b in limits.bands}, "rms": {}, "f": f, "flat": flat}
    if rms:
        rect = worst_amplitude(p, n, "boxcar")[1]
        out["rms"] = {b.name: float(np.sqrt(0.5 * np.sum(rect[(f >= b.low_hz) & (f <= b.high_hz)] ** 2)))
                      for b in limits.bands}
    out["passed"] = (all(within(out["ramps"][r.window_s], r.max_mw_per_s) for r in limits.ramps)
                     and all(within(out["bands"][b.name], b.max_amplitude_mw) for b in limits.bands)
                     and within(out["range"], limits.max_dynamic_range_mw))
    return out


def peer_passes(p: np.ndarray, limits) -> bool:
    """Whether ``p`` meets the limits, the spectrum taken only once the range and the ramps pass."""
    s = pd.Series(p)
    if not (within(float(p.max() - p.min()), limits.max_dynamic_range_mw)
            and all(within(max_ramp(s, r.window_s), r.max_mw_per_s) for r in limits.ramps if r.max_mw_per_s)):
        return False
    f, flat = worst_amplitude(p, segment_samples(len(p), limits), "flattop")
    return all(within(band_max(f, flat, b), b.max_amplitude_mw) for b in limits.bands)


def bisect(passes, lo: float, hi: float, tol: float) -> float | None:
    """Smallest x in [lo, hi] that passes (fails below, passes above), to ``tol``; None if ``hi`` fails."""
    if not passes(hi):
        return None
    if passes(lo):
        return lo
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if passes(mid) else (mid, hi)
    return hi


def peer_study(mix, limits, costs: Costs) -> dict:
    """Every option's figures, as ``{name: {setting, analysis, energy, storage}}``."""
    phases = list(mix.shares)
    shares = np.vstack([mix.shares[ph] for ph in phases])
    base_lv = np.array([mix.levels_w[ph] for ph in phases])

    def power(levels: np.ndarray) -> np.ndarray:
        return (levels @ shares * mix.n_gpus + mix.fixed_w) * 1e-6

    def floor(f):
        return np.maximum(base_lv, f * mix.tdp_w)

    gap = np.array([max(0.0, mix.levels_w[mix.busy_phase] - mix.levels_w[ph]) if ph in mix.burn_phases else 0.0
                    for ph in phases])

    def burn(b):
        return base_lv + b * gap

    base = power(base_lv)
    base_mwh = base.sum() * STEP_S / 3600.0
    hours = N * STEP_S / 3600.0

    def option(p, setting, storage=None, energy_of=None):  # storage options keep their leveller's overhead
        e = p if energy_of is None else energy_of
        return {"setting": setting, "analysis": peer_analyse(p, limits),
                "energy": (e.sum() * STEP_S / 3600.0 - base_mwh) / base_mwh, "storage": storage}

    def lowpass(p, tau):
        a = 1.0 - np.exp(-STEP_S / tau)
        return signal.lfilter([a], [1.0, a - 1.0], p, zi=[(1.0 - a) * p[0]])[0]

    def with_storage(p, setting, first=None):
        first = first or peer_analyse(p, limits, rms=False)
        if first["passed"]:
            return None
        tau = STEP_S  # the band limits' analytic need for a first-order low-pass
        for b in limits.bands:
            if b.max_amplitude_mw is not None:
                sel = (first["f"] >= b.low_hz) & (first["f"] <= b.high_hz) & (first["flat"] > b.max_amplitude_mw)
                if sel.any():
                    tau = max(tau, np.max(np.sqrt((first["flat"][sel] / b.max_amplitude_mw) ** 2 - 1)
                                          / (2 * np.pi * first["f"][sel])))

        def passes(t):
            return peer_passes(lowpass(p, t), limits)

        hi = tau
        while not passes(hi):
            hi *= 1.5
        tau = bisect(passes, hi / 1.5 if hi > tau else hi, hi, 0.02 * hi)
        grid = lowpass(p, tau)
        out = p - grid
        stored = -np.cumsum(out) * STEP_S / 3600.0
        swing = max(stored.max(), 0.0) - min(stored.min(), 0.0)
        discharged = np.clip(out, 0, None).sum() * STEP_S / 3600.0
        best = None
        for tech in costs.storage:
            cycles = discharged / swing * HOURS_PER_YEAR / hours
            life_y = min(tech.calendar_life_y, tech.cycle_life / cycles)
            crf = costs.discount_rate / (1 - (1 + costs.discount_rate) ** -life_y)
            mw, mwh = np.abs(out).max(), swing / tech.usable_fraction
            cost = ((mw * tech.usd_per_kw + mwh * tech.usd_per_kwh) * 1000 * crf + discharged
                    * (1 / tech.round_trip_efficiency - 1) * HOURS_PER_YEAR / hours * costs.energy_price_usd_per_mwh)
            if best is None or cost < best[0]:
                best = (cost, tech.name, {"tau_s": tau, "mw": mw, "mwh": mwh})
        _, tech, size = best
        return option(grid, ", ".join(s for s in (setting, f"{tech} {size['mw']:.1f} MW / {size['mwh'] * 1000:.0f} kWh")
                                      if s), size, energy_of=p)

    out = {"none": option(base, "")}
    st = with_storage(base, "", out["none"]["analysis"])
    if st:
        out["storage"] = st
    for name, levels, fmt, tol in (("power floor", floor, "floor {:.0%} of TDP", 0.005),
                                   ("burn work", burn, "burn {:.0%} of the compute-communication gap", 0.01)):
        x = bisect(lambda v, levels=levels: peer_passes(power(levels(v)), limits), 0.0, 1.0, tol)
        x = 1.0 if x is None else x
        out[name] = option(power(levels(x)), fmt.format(x))
        st = with_storage(power(levels(x / 2)), fmt.format(x / 2))
        if st:
            out[f"{name} + storage"] = st

    asked_w = mix.gpu_power_w() / mix.n_gpus

    def smoothed(rate):
        s = smooth_gpu_power(asked_w, STEP_S, mix.tdp_w, Smoothing(0.0, rate, rate, 0.0))
        return (s.power_w * mix.n_gpus + mix.fixed_w) * 1e-6

    x = bisect(lambda v: peer_passes(smoothed(10 ** -v), limits), -6.0, 0.0, 0.03)
    rate = 10 ** -(0.0 if x is None else x)
    out["power smoothing"] = option(smoothed(rate), Smoothing(0.0, rate, rate, 0.0).describe())
    return out


# ---------------------------------------------------------------- the same figures from wattscale
def wattscale_figures(options) -> dict:
    return {o.name: {"setting": o.setting, "energy": o.energy_overhead_fraction,
                     "analysis": {"ramps": o.analysis.ramps_mw_per_s, "bands": o.analysis.band_amplitude_mw,
                                  "rms": o.analysis.band_rms_mw, "range": o.analysis.dynamic_range_mw,
                                  "passed": o.analysis.passed},
                     "storage": None if o.storage is None else {"tau_s": o.storage.time_constant_s,
                                                                "mw": o.storage.power_mw, "mwh": o.storage.energy_mwh}}
            for o in options}


def largest_difference(ours: dict, peer: dict) -> float:
    """Largest relative difference over every number of every option; settings and compliance must match."""
    assert set(ours) == set(peer), (sorted(ours), sorted(peer))
    worst = 0.0

    def rel(a, b):
        return abs(a - b) / max(abs(a), abs(b), 1e-12)

    for name, o in ours.items():
        q = peer[name]
        assert o["setting"] == q["setting"], (name, o["setting"], q["setting"])
        assert o["analysis"]["passed"] == q["analysis"]["passed"], name
        numbers = [(o["energy"], q["energy"]), (o["analysis"]["range"], q["analysis"]["range"])]
        for key in ("ramps", "bands", "rms"):
            numbers += [(v, q["analysis"][key][k]) for k, v in o["analysis"][key].items()]
        if o["storage"]:
            numbers += [(v, q["storage"][k]) for k, v in o["storage"].items()]
        worst = max([worst] + [rel(a, b) for a, b in numbers])
    return worst


def main() -> None:
    spec = load_catalog().get(JOB.gpu)
    limits = read_limits(ROOT / "examples" / "grid-limits.yaml")
    costs = Costs()
    small = training_mix(JOB, spec, step_s=STEP_S, n_samples=12_000)  # warm caches (imports, compiled kernels)
    compare(Load((small,), 0.0, STEP_S), limits, costs)
    peer_analyse(small.it_power_mw(), limits)

    build, ours, peer = [], [], []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        mix = training_mix(JOB, spec, step_s=STEP_S, n_samples=N)
        t1 = time.perf_counter()
        options = compare(Load((mix,), 0.0, STEP_S), limits, costs)
        t2 = time.perf_counter()
        theirs = peer_study(mix, limits, costs)
        t3 = time.perf_counter()
        build.append(t1 - t0)
        ours.append(t2 - t1)
        peer.append(t3 - t2)
    w, o, p = (float(np.median(v)) for v in (build, ours, peer))

    def spread(v):
        return f"{min(v):.3f}-{max(v):.3f}"

    diff = largest_difference(wattscale_figures(options), theirs)
    assert diff <= REL_TOL, diff
    base = options[0].analysis
    floor = next(x for x in options if x.name == "power floor")
    storage = next(x for x in options if x.name == "storage")
    print(f"{N:,} samples at {STEP_S * 1000:g} ms, {len(options) - 1} mitigations; medians of {REPEATS} runs")
    print(f"  raw waveform: ramp(1 s) {base.ramps_mw_per_s[1.0]:.1f} MW/s, 0.1-2 Hz "
          f"{base.band_amplitude_mw['0.1-2 Hz']:.1f} MW, complies: {base.passed}; {floor.setting}; storage tau "
          f"{storage.storage.time_constant_s:.2f} s")
    print(f"waveform (training_mix, both sides):  {w:.3f} s   (runs {spread(build)})")
    print(f"wattscale analysis + mitigations:     {o:.3f} s   (runs {spread(ours)}; with the waveform {w + o:.3f} s)")
    print(f"pandas + scipy.signal peer:           {p:.3f} s   (runs {spread(peer)}; with the waveform {w + p:.3f} s)")
    print(f"speed-up, waveform + analysis + mitigations: {(w + p) / (w + o):.1f}x (goal >= 5x: "
          f"{'met' if (w + p) / (w + o) >= 5 else 'MISSED'}); analysis + mitigations alone: {p / o:.1f}x")
    print(f"figures agree: {len(options)} options, same settings and compliance, largest relative difference "
          f"{diff:.1e} (tolerance {REL_TOL:g})")


if __name__ == "__main__":
    main()

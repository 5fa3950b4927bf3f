"""A swing study: one site's workloads at sub-second resolution, analysed against limits, mitigations compared."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from wattscale.compute.fleet import workload_mix
from wattscale.compute.smoothing import Smoothing
from wattscale.engine.campus import Campus, prepare
from wattscale.engine.inputs import site_inputs
from wattscale.errors import ScenarioError
from wattscale.guards import check_memory, swing_bytes
from wattscale.scenario.base import local_time
from wattscale.scenario.schema import PowerSmoothing, Scenario, SwingCosts, SwingStudy
from wattscale.studies.swings.analysis import Limits, read_limits
from wattscale.studies.swings.mitigation import BATTERY, SUPERCAPACITOR, Costs, Load, Option, cheapest, compare
from wattscale.timeseries.timeline import Timeline

WINDOW_STATS = ("iteration_s", "requests", "prefill_tokens_per_gpu_s", "time_per_output_token_s")


@dataclass
class SwingStudyResult:
    scenario: str
    site: str
    start: pd.Timestamp
    study: SwingStudy
    limits: Limits
    load: Load
    workload_mw: dict[str, np.ndarray]
    workload_stats: dict[str, dict]
    options: list[Option]
    peak_deviation_hz: dict[str, float] | None = None  # each option's peak frequency deviation (power_system)

    @property
    def chosen(self) -> Option | None:
        return cheapest(self.options)

    def summary(self) -> dict:
        base = self.options[0].analysis
        chosen = self.chosen
        return {
            "kind": "swings", "scenario": self.scenario, "site": self.site, "start": self.start.isoformat(),
            "duration_s": self.study.duration_s, "resolution_s": self.study.resolution_s, "limits": self.limits.name,
            "workloads": self.workload_stats,
            "waveform": {"mean_mw": base.mean_mw, "min_mw": base.min_mw, "max_mw": base.max_mw,
                         "dynamic_range_mw": base.dynamic_range_mw,
                         "ramps_mw_per_s": {f"{k:g} s": v for k, v in base.ramps_mw_per_s.items()},
                         "band_amplitude_mw": base.band_amplitude_mw, "band_rms_mw": base.band_rms_mw},
            "options": [option_summary(o) for o in self.options],
            "chosen": chosen.name if chosen else None,
            "frequency_peak_deviation_hz": self.peak_deviation_hz,
        }


def option_summary(o: Option) -> dict:
    return {"name": o.name, "setting": o.setting, "complies": o.complies,
            "energy_overhead_fraction": o.energy_overhead_fraction, "slowdown_fraction": o.slowdown_fraction,
            "storage": None if o.storage is None else vars(o.storage),
            "annual_cost_usd": o.annual_cost_usd, "total_cost_usd_per_year": o.total_cost_usd_per_year,
            "checks": [{"name": c.name, "value": c.value, "limit": c.limit, "unit": c.unit, "margin": c.margin,
                        "passed": c.passed} for c in o.analysis.checks]}


def costs_of(c: SwingCosts) -> Costs:
    return Costs(energy_price_usd_per_mwh=c.energy_price_usd_per_mwh, gpu_hour_value_usd=c.gpu_hour_value_usd,
                 burn_slowdown_per_unit=c.burn_slowdown_per_unit, discount_rate=c.discount_rate,
                 storage=(replace(BATTERY, usd_per_kw=c.battery_usd_per_kw, usd_per_kwh=c.battery_usd_per_kwh,
                                  cycle_life=c.battery_cycle_life),
                          replace(SUPERCAPACITOR, usd_per_kw=c.supercapacitor_usd_per_kw,
                                  usd_per_kwh=c.supercapacitor_usd_per_kwh, cycle_life=c.supercapacitor_cycle_life)))


def smoothing_of(p: PowerSmoothing) -> Smoothing:
    """The scenario's smoothing setting; a ramp left out is infinite here, and sized by ``compare``."""
    inf = float("inf")
    return Smoothing(p.floor_fraction_of_tdp, p.ramp_up_w_per_s or inf, p.ramp_down_w_per_s or inf, p.hysteresis_ms)


def run_swing_study(campus: Campus | Scenario | str, *, study: SwingStudy | None = None) -> SwingStudyResult:
    """Build the site's waveform over the study window and compare mitigations against the limits."""
    campus = prepare(campus)
    scenario, scenario_file = campus.scenario, campus.file
    study = study or scenario.swings or SwingStudy()
    index, site = scenario.site(study.site, field="swings.site", file=scenario_file)
    site_name = site.name
    if not site.facility.workloads:
        raise ScenarioError("the site has no workloads to analyse", file=scenario_file,
                            field=f"sites[{index}].facility.workloads",
                            expected="at least one training or inference workload")
    timeline = campus.timeline
    start = timeline.start if study.start is None else local_time(study.start, timeline.tz, field="swings.start",
                                                                   file=scenario_file)
    if not timeline.start <= start <= timeline.end - pd.Timedelta(seconds=study.duration_s):
        raise ScenarioError(f"the window {start} + {study.duration_s:g} s lies outside the timeline", file=scenario_file,
                            field="swings.start", expected=f"a window within {timeline.start} .. {timeline.end}")
    n = int(round(study.duration_s / study.resolution_s))
    check_memory(swing_bytes(n, len(site.facility.workloads)), file=scenario_file, field="swings.resolution_s",
                 what=f"the swing study of {n:,} samples x {len(site.facility.workloads)} workload(s)",
                 shorten="a shorter duration_s or a coarser resolution_s")
    limits = read_limits(study.limits) if study.limits else Limits()
    limits.check_resolution(study.resolution_s, n * study.resolution_s, file=str(study.limits or scenario_file))
    catalog = campus.catalog
    # the slow parts of the facility (other IT, cooling at the PUE of the hour) are constant within the window;
    # the site without its workloads gives them without simulating a year of workloads
    bare = site.model_copy(update={"facility": site.facility.model_copy(update={"workloads": []}),
                                   "grid": site.grid.model_copy(update={"outages": [], "demand_response": []})})
    k = int(np.clip(timeline.index.searchsorted(start, side="right") - 1, 0, timeline.n_steps - 1))
    one_step = Timeline(timeline.index[k], timeline.step_s, 1)  # the window's step only: no year of weather
    inputs = site_inputs(bare, one_step, index=index, scenario_file=scenario_file)
    other_it = float(inputs.it_load_mw[0])
    mixes, per_workload, stats = [], {}, {}
    for j, w in enumerate(site.facility.workloads):
        mix = workload_mix(w, catalog, start=start, step_s=study.resolution_s, n_samples=n, resolve_iterations=True,
                           job_start=timeline.start, field=f"sites[{index}].facility.workloads[{j}]",
                           file=scenario_file)
        mixes.append(mix)
        per_workload[w.name] = mix.it_power_mw()
        stats[w.name] = {"kind": w.kind, "gpu": w.gpu, "gpus": mix.n_gpus,
                         "mean_it_mw": float(per_workload[w.name].mean()),
                         **{key: v for key, v in mix.stats.items()
                            if key in WINDOW_STATS and isinstance(v, (int, float)) and np.isfinite(v)}}
    it_mean = other_it + sum(float(p.mean()) for p in per_workload.values())
    constant = other_it + (float(inputs.pue[0]) - 1.0) * it_mean
    load = Load(tuple(mixes), constant, study.resolution_s)
    options = compare(load, limits, costs_of(study.costs), smoothing_of(study.power_smoothing))
    frequency = None
    if scenario.power_system is not None:  # the grid settled at the window's first sample, then the swings
        from wattscale.network.frequency import simulate_frequency, with_ffr_mw

        system = scenario.power_system
        if system.ffr is not None and system.ffr.campus_batteries:
            system = with_ffr_mw(system, site.battery.power_mw if site.battery else 0.0)
        frequency = {o.name: simulate_frequency(system, o.power_mw - o.power_mw[0],
                                                study.resolution_s).peak_deviation_hz for o in options}
    return SwingStudyResult(scenario.name, site_name, start, study, limits, load, per_workload, stats, options,
                            frequency)

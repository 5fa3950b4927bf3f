"""A site-resilience study: the odds a campus rides out grid outages of given lengths on its own, the energy it
goes without, the compute it loses and what that is worth; with and without its flexible compute."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wattscale.energy.resilience import MAX_TRIAL_HOURS, Backup, Survival, simulate_outages
from wattscale.errors import ScenarioError
from wattscale.engine.campus import Campus
from wattscale.parallel import seeds
from wattscale.scenario.schema import ResilienceStudy

SB6_BACKUP_SHARE = 0.5  # Texas SB 6: disclose on-site backup able to serve at least half the demand


@dataclass
class ResilienceResult:
    scenario: str
    site: str
    study: ResilienceStudy
    backup: Backup
    peak_load_mw: float
    mean_load_mw: float
    gpus: int
    rows: list[tuple[bool, Survival]]  # (with flexible compute, result) per duration

    @property
    def backup_mw(self) -> float:
        """On-site generation that can run through an outage (a battery's power lasts only its energy)."""
        return float(self.backup.generator_mw.sum())

    @property
    def sb6_met(self) -> bool:
        return self.backup_mw >= SB6_BACKUP_SHARE * self.peak_load_mw

    def table(self) -> pd.DataFrame:
        out = []
        for flexible, s in self.rows:
            lo, hi = s.interval()
            gpu_h = s.compute_lost_share_h * self.gpus + s.interrupted * self.study.restart_penalty_h * self.gpus
            out.append({"duration_h": s.duration_h, "flexible_compute": flexible,
                        "survival_probability": s.probability, "low": lo, "high": hi,
                        "unserved_mwh": s.unserved_mwh, "gpu_hours_lost": gpu_h,
                        "compute_lost_usd": gpu_h * self.study.gpu_hour_value_usd, "trials": s.trials})
        return pd.DataFrame(out)

    def expected_per_year(self) -> dict:
        """Outages a year at the study's rate, exponential lengths of its mean: expected unserved energy and
        compute lost a year, interpolated over the durations computed (flexible compute used)."""
        t = self.table()
        t = t[t.flexible_compute == self.study.flexible_compute]
        d = t.duration_h.to_numpy(float)
        mean = self.study.mean_outage_h
        grid = np.linspace(0, d.max(), 2000)[1:]
        weights = np.exp(-grid / mean) / mean * (grid[1] - grid[0])
        per = {}
        for key in ("unserved_mwh", "gpu_hours_lost", "compute_lost_usd"):
            per[key] = float(self.study.outages_per_year * (np.interp(grid, d, t[key].to_numpy()) * weights).sum())
        return per

    def kpis(self) -> dict:
        t = self.table()
        k = {"backup_mw": self.backup_mw, "peak_load_mw": self.peak_load_mw,
             "sb6_backup_covers_half_of_peak": self.sb6_met}
        for flexible in (True, False):
            part = t[t.flexible_compute == flexible]
            tag = "with_flex" if flexible else "without_flex"
            for d in (24, 168):
                row = part[part.duration_h == d]
                if len(row):
                    k[f"survival_{d}h_{tag}"] = float(row.survival_probability.iloc[0])
        k.update({f"expected_{key}_per_year": v for key, v in self.expected_per_year().items()})
        return k


def run_resilience_study(campus: Campus, study: ResilienceStudy, progress=None) -> ResilienceResult:
    scenario, file = campus.scenario, campus.file
    index, site = scenario.site(study.site, field="resilience.site", file=file)
    inputs = campus.inputs(site.name)
    step_h = campus.timeline.step_h
    per_hour = max(1, int(round(1 / step_h)))
    n = len(inputs.load_mw) // per_hour * per_hour
    load = inputs.load_mw[:n].reshape(-1, per_hour).mean(axis=1)
    reducible, _ = inputs.flex_params()
    shed = reducible[:, :n].sum(axis=0).reshape(-1, per_hour).mean(axis=1) if len(reducible) else np.zeros(len(load))
    battery = site.battery
    backup = Backup(np.array([g.capacity_mw for g in site.generators], float),
                    battery.power_mw if battery else 0.0,
                    battery.energy_mwh * study.battery_start_fraction if battery else 0.0,
                    study.fuel_h * sum(g.capacity_mw for g in site.generators) if study.fuel_h is not None
                    else study.fuel_mwh if study.fuel_mwh is not None else float("inf"),
                    study.failure_to_start_probability, study.failure_to_run_per_h)
    if study.trials * max(study.durations_h) > MAX_TRIAL_HOURS:
        raise ScenarioError(f"{study.trials:,} outages of up to {max(study.durations_h):,} h are "
                            f"{study.trials * max(study.durations_h):,} trial hours", file=file,
                            field="resilience.trials", expected=f"trials x the longest outage at most "
                                                                f"{MAX_TRIAL_HOURS:,}")
    rows = []
    stream = seeds(study.seed, 1)[0]
    for flexible in (True, False):  # the same outages both ways (common random numbers)
        if progress:
            progress(f"{study.trials:,} outages up to {max(study.durations_h):g} h, "
                     f"{'with' if flexible else 'without'} flexible compute", 0 if flexible else 1, 2)
        rng = np.random.default_rng(stream)
        results = simulate_outages(load, shed if flexible else np.zeros(len(load)), backup, study.durations_h,
                                   study.trials, rng)
        rows += [(flexible, r) for r in results]
    rows.sort(key=lambda row: (row[1].duration_h, not row[0]))
    gpus = int(sum(inputs.workload_gpus.values())) if inputs.workload_gpus else 0
    return ResilienceResult(scenario.name, site.name, study, backup, float(load.max()), float(load.mean()), gpus,
                            rows)

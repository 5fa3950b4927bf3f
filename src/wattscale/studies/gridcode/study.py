"""A grid-code study: the campuses of a scenario in one sequence of voltage dips, the load the grid loses, and
what that does to system frequency."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wattscale.energy.ride_through import (
    Dip,
    Envelope,
    Outcome,
    met_envelope,
    read_dips,
    read_envelope,
    ride_through,
    voltage_pu,
)
from wattscale.engine.campus import Campus
from wattscale.errors import ScenarioError
from wattscale.guards import check_memory
from wattscale.network.frequency import FrequencyTrace, largest_step_mw, simulate_frequency, with_ffr_mw
from wattscale.scenario.base import local_time
from wattscale.scenario.schema import GridCode, PowerSystem, RideThrough

MAX_SAMPLES = 10_000_000  # a day at 10 ms fits
BYTES_PER_SAMPLE_PER_CAMPUS = 8 * 4  # draw, connected share, table column, report


@dataclass(frozen=True)
class CampusResult:
    """One campus: its setting, what it did, the backup behind it."""

    site: str
    setting: RideThrough
    outcome: Outcome
    backup_mw: float
    met_envelope: bool | None
    unserved_mwh: float

    @property
    def ups_bridges_start(self) -> bool:
        return self.setting.ups_autonomy_s >= self.setting.generator_start_s


@dataclass
class GridcodeResult:
    scenario: str
    start: pd.Timestamp
    code: GridCode
    dips: list[Dip]
    envelope: Envelope | None
    campuses: list[CampusResult]
    step_s: float
    draw_mw: np.ndarray  # (campuses, samples)
    system: PowerSystem | None
    frequency: FrequencyTrace | None
    largest_loss_mw: float | None

    @property
    def time_s(self) -> np.ndarray:
        return np.arange(self.draw_mw.shape[1]) * self.step_s

    @property
    def lost_mw(self) -> np.ndarray:
        """Load the grid has lost at each time (MW)."""
        loads = np.array([c.outcome.load_mw for c in self.campuses])
        return loads.sum() - self.draw_mw.sum(axis=0)

    def kpis(self) -> dict:
        lost = self.lost_mw
        out = {"campuses": len(self.campuses), "campuses_left_grid": sum(c.outcome.left_grid for c in self.campuses),
               "campuses_locked_out": sum(c.outcome.locked_out for c in self.campuses),
               "load_mw": float(sum(c.outcome.load_mw for c in self.campuses)),
               "peak_load_lost_mw": float(lost.max()), "load_lost_at_end_mw": float(lost[-1]),
               "grid_energy_not_drawn_mwh": float(lost.sum() * self.step_s / 3600.0),
               "unserved_mwh": float(sum(c.unserved_mwh for c in self.campuses))}
        if self.envelope is not None:
            out["campuses_breaking_envelope"] = sum(c.met_envelope is False for c in self.campuses)
        if self.frequency is not None:
            out.update(self.frequency.metrics())
            out["largest_sudden_loss_mw"] = self.largest_loss_mw
            out["within_deviation_limit"] = abs(self.frequency.peak_deviation_hz) <= self.system.deviation_limit_hz
        return out

    def campus_table(self) -> pd.DataFrame:
        end = float(self.time_s[-1])
        rows = []
        for c in self.campuses:
            o, s = c.outcome, c.setting
            back = o.back_by(end)
            rows.append({"campus": c.site, "load_mw": o.load_mw, "left_grid": o.left_grid,
                         "left_at_s": o.leaves_s[0] if o.left_grid else np.nan,
                         "back_at_s": np.nan if back is None else back, "times_off": len(o.leaves_s),
                         "off_grid_s": round(o.off_grid_s(end), 9), "locked_out": o.locked_out,
                         "dips_seen": o.dips_seen,
                         "met_envelope": c.met_envelope, "why": "; ".join(o.causes) or "rode through",
                         "transfer_below_pu": s.transfer_below_pu, "transfer_after_s": s.transfer_after_s,
                         "lockout": (f"{s.lockout_dips} dips in {s.lockout_window_s:g} s" if s.lockout_dips
                                     else "none"),
                         "backup_mw": c.backup_mw, "ups_bridges_start": c.ups_bridges_start,
                         "unserved_mwh": c.unserved_mwh})
        return pd.DataFrame(rows)

    def dip_table(self) -> pd.DataFrame:
        rows = []
        for i, d in enumerate(self.dips):
            row = {"dip": i + 1, "time_s": d.time_s, "voltage_pu": d.voltage_pu, "duration_s": d.duration_s}
            if self.envelope is not None:
                row["must_ride_through_s"] = self.envelope.required_s(d.voltage_pu)
                row["inside_envelope"] = self.envelope.inside(d)
            row["campuses_moved_off"] = ", ".join(c.site for c in self.campuses if i in c.outcome.leaving_dips)
            row["campuses_locked_out"] = ", ".join(c.site for c in self.campuses if i in c.outcome.locking_dips)
            rows.append(row)
        return pd.DataFrame(rows)

    def timeline_table(self) -> pd.DataFrame:
        t = self.time_s
        frame = {"time_s": t, "voltage_pu": voltage_pu(self.dips, t)}
        for c, draw in zip(self.campuses, self.draw_mw):
            frame[f"{c.site}_mw"] = draw
        frame["lost_mw"] = self.lost_mw
        if self.frequency is not None:
            frame["frequency_hz"] = self.frequency.nominal_hz + self.frequency.deviation_hz
        return pd.DataFrame(frame)


def unserved_mwh(setting: RideThrough, load_mw: float, backup_mw: float, off_s: list[float]) -> float:
    """Energy the campus goes without while off the grid. Each stay starts with a full UPS of ``ups_autonomy_s`` at
    full load: it carries the load until the generators start (if it lasts that long), then whatever the
    generators cannot, until it is empty."""
    total = 0.0
    start = setting.generator_start_s if backup_mw > 0 else float("inf")
    for length in off_s:
        ups_s = setting.ups_autonomy_s  # seconds of full load left in the UPS
        first = min(length, start)
        total += load_mw * max(0.0, first - ups_s)  # before the generators: the UPS, then nothing
        ups_s = max(0.0, ups_s - first)
        after = max(0.0, length - start)
        short = max(0.0, load_mw - backup_mw)
        if after > 0 and short > 0:
            covered = ups_s * load_mw / short  # the UPS carries the part the generators cannot, longer
            total += short * max(0.0, after - covered)
    return total / 3600.0


def run_gridcode_study(campus: Campus, code: GridCode) -> GridcodeResult:
    """Every site with a ``ride_through`` section through the disturbance; frequency if the scenario has a
    ``power_system``."""
    scenario, file = campus.scenario, campus.file
    sites = [(i, s) for i, s in enumerate(scenario.sites) if s.ride_through is not None]
    if not sites:
        raise ScenarioError("no site has a ride_through section", file=file, field="sites[].ride_through",
                            expected="at least one site with ride_through: (UPS transfer and lockout settings)")
    dips = read_dips(code.disturbances)
    envelope = read_envelope(code.envelope) if code.envelope else None
    horizon = dips[-1].end_s + code.after_s
    n = int(np.ceil(horizon / code.resolution_s)) + 1
    if n > MAX_SAMPLES:  # the timeline table is written out sample by sample
        raise ScenarioError(f"{horizon:,.0f} s at {code.resolution_s:g} s is {n:,} samples", file=file,
                            field="gridcode.resolution_s",
                            expected=f"at most {MAX_SAMPLES:,} samples: a coarser resolution_s or a shorter after_s")
    check_memory(n * BYTES_PER_SAMPLE_PER_CAMPUS * (len(sites) + 4), what=f"{n:,} samples of {len(sites)} campuses",
                 field="gridcode.resolution_s", file=file, shorten="a coarser resolution_s or a shorter after_s")
    timeline = campus.timeline
    start = timeline.start if code.start is None else local_time(code.start, timeline.tz, field="gridcode.start",
                                                                 file=file)
    if not timeline.start <= start <= timeline.end:
        raise ScenarioError(f"{start} lies outside the timeline", file=file, field="gridcode.start",
                            expected=f"a time within {timeline.start} .. {timeline.end}")
    k = int(np.clip(timeline.index.searchsorted(start, side="right") - 1, 0, timeline.n_steps - 1))
    time_s = np.arange(n) * code.resolution_s
    results, draws = [], []
    for _, site in sites:
        setting = site.ride_through
        load = setting.load_mw if setting.load_mw is not None else float(campus.inputs(site.name).load_mw[k])
        outcome = ride_through(site.name, setting, load, dips)
        backup = float(sum(g.capacity_mw for g in site.generators))
        offs = [(horizon if r is None else min(r, horizon)) - t for t, r in zip(outcome.leaves_s, outcome.returns_s)]
        results.append(CampusResult(site.name, setting, outcome, backup, met_envelope(outcome, dips, envelope),
                                    unserved_mwh(setting, load, backup, offs)))
        draws.append(load * outcome.connected(time_s))
    draw = np.array(draws)
    system = scenario.power_system
    frequency = largest = None
    if system is not None and system.ffr is not None and system.ffr.campus_batteries:
        stayed = {c.site for c in results if not c.outcome.left_grid}
        system = with_ffr_mw(system, sum(s.battery.power_mw for _, s in sites if s.name in stayed and s.battery))
    if system is not None:
        lost = sum(c.outcome.load_mw for c in results) - draw.sum(axis=0)
        frequency = simulate_frequency(system, -lost, code.resolution_s)
        largest = largest_step_mw(system)
    return GridcodeResult(scenario.name, start, code, dips, envelope, results, code.resolution_s, draw, system,
                          frequency, largest)

"""Site resilience: survival against the closed form for identical units, fuel, flexible compute, the command."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import wattscale
from wattscale.cli import app
from wattscale.energy.resilience import Backup, closed_form_survival, simulate_outage

SITE = """name: four-units
time: {start: 2023-01-01, duration: 30d, step: 1h, timezone: UTC}
sites:
  - name: campus
    facility: {it_load_mw: 85, pue: 1.0}
    generators:
      - {name: g1, capacity_mw: 30}
      - {name: g2, capacity_mw: 30}
      - {name: g3, capacity_mw: 30}
      - {name: g4, capacity_mw: 30}
    grid: {import_limit_mw: 100}
resilience: {durations_h: [1, 12, 48, 96], trials: 4000, failure_to_start_probability: 0.05,
             failure_to_run_per_h: 0.01}
"""


def test_four_units_needing_three_survive_as_the_binomial_says(tmp_path):
    """85 MW needs three of four 30 MW units: P = P(Binomial(4, (1 - p_start) exp(-lambda d)) >= 3)."""
    path = tmp_path / "s.yaml"
    path.write_text(SITE)
    r = wattscale.run_study("resilience", path)
    backup = Backup(np.full(4, 30.0), failure_to_start=0.05, failure_to_run_per_h=0.01)
    t = r.value.table()
    rows = t[~t.flexible_compute]
    for s, row in zip([s for flex, s in r.value.rows if not flex], rows.itertuples()):
        lo, hi = s.interval(0.99)
        assert lo <= closed_form_survival(4, 3, backup, row.duration_h) <= hi, row
    assert rows.survival_probability.is_monotonic_decreasing  # longer outages are never easier
    assert r.kpis["sb6_backup_covers_half_of_peak"] is True  # 120 MW of units against an 85 MW peak


def test_fuel_and_flexible_compute():
    load = np.full(100, 50.0)
    backup = Backup(np.array([60.0]), fuel_mwh=500.0, failure_to_start=0.0, failure_to_run_per_h=0.0)
    assert simulate_outage(load, np.zeros(100), backup, 10, 200, np.random.default_rng(1)).probability == 1.0
    assert simulate_outage(load, np.zeros(100), backup, 11, 200, np.random.default_rng(1)).probability == 0.0
    # the same draws: compute that can be shed only ever helps
    shaky = Backup(np.array([20.0, 20.0, 20.0]), battery_mw=10.0, battery_mwh=20.0, failure_to_start=0.1,
                   failure_to_run_per_h=0.02)
    rigid = simulate_outage(load, np.zeros(100), shaky, 24, 3000, np.random.default_rng(5))
    flexible = simulate_outage(load, np.full(100, 15.0), shaky, 24, 3000, np.random.default_rng(5))
    assert flexible.probability > rigid.probability and flexible.unserved_mwh < rigid.unserved_mwh


def test_resilience_command_end_to_end(examples_dir, tmp_path):
    out = tmp_path / "r"
    res = CliRunner().invoke(app, ["resilience", str(examples_dir / "resilience-campus.yaml"), "-o", str(out), "-q",
                                   "--trials", "300"], terminal_width=80)
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80 and "SB 6" in res.output
    survival = pd.read_csv(out / "survival.csv")
    assert list(survival.columns[:4]) == ["duration_h", "survival_probability", "low", "high"]
    assert survival.duration_h.tolist() == [1, 4, 12, 24, 48, 72, 168, 336]
    assert ((survival.low <= survival.survival_probability) & (survival.survival_probability <= survival.high)).all()
    outcomes = pd.read_csv(out / "outcomes.csv").set_index(["duration_h", "flexible_compute"])
    assert outcomes.loc[(168, False), "survival_probability"] == 0.0  # 72 h of fuel at full load cannot last a week
    k = json.loads((out / "summary.json").read_text())["kpis"]
    assert k["expected_gpu_hours_lost_per_year"] >= 0 and "survival_24h_with_flex" in k
    assert "riding out the whole outage" in (out / "report.html").read_text()


def test_a_zero_hour_outage_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SITE.replace("durations_h: [1, 12, 48, 96]", "durations_h: [0, 12]"))
    res = CliRunner().invoke(app, ["resilience", str(path), "-o", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 2 and "resilience.durations_h" in res.output and not (tmp_path / "o").exists()


def test_the_same_outages_for_every_length_and_both_ways(examples_dir):
    r = wattscale.run_study("resilience", examples_dir / "resilience-campus.yaml", trials=400)
    t = r.value.table()
    for flexible in (True, False):
        assert t[t.flexible_compute == flexible].survival_probability.is_monotonic_decreasing
    wide = t.pivot(index="duration_h", columns="flexible_compute", values="survival_probability")
    assert (wide[True] >= wide[False]).all()  # shedding compute never loses an outage the rigid campus survives


def test_compute_is_shed_as_the_engine_sheds_it_and_too_many_trials_are_refused(tmp_path):
    """Generators, then the battery, then flexible compute: 60 MW of units and a 40 MWh battery carry a 100 MW load
    for an hour; after that the 50 MW that can be shed covers the gap, and without it the outage is lost."""
    backup = Backup(np.array([60.0]), battery_mw=40.0, battery_mwh=40.0, failure_to_start=0.0,
                    failure_to_run_per_h=0.0)
    load, shed = np.full(100, 100.0), np.full(100, 50.0)
    flexible = simulate_outage(load, shed, backup, 5, 50, np.random.default_rng(0))
    assert flexible.probability == 1.0 and flexible.compute_lost_share_h == pytest.approx(4 * 0.4)
    assert simulate_outage(load, np.zeros(100), backup, 5, 50, np.random.default_rng(0)).probability == 0.0
    path = tmp_path / "s.yaml"
    path.write_text(SITE.replace("trials: 4000", "trials: 1000000"))
    res = CliRunner().invoke(app, ["resilience", str(path), "-o", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 2 and "resilience.trials" in res.output and "Traceback" not in res.output

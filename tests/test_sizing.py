"""Capacity sizing: the least-cost system, its Pareto sweep, and the chosen system checked by the engine."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from wattscale.cli import app
from wattscale.decisions.operate.sizing import Sizer, crf
from wattscale.errors import PlanningError
from wattscale.scenario import load_scenario
from wattscale.scenario.schema import Scenario
from wattscale.studies.sizing.study import run_sizing_study, sizing_problem


def scenario(tmp_path, sizing: dict, *, days=14, controller=None, generators=True) -> Scenario:
    doc = {
        "name": "size-test",
        "time": {"start": "2023-06-01", "duration": f"{days}d", "step": "1h", "timezone": "America/New_York"},
        "sites": [{
            "name": "campus", "weather": "default",
            "facility": {"it_load_mw": 20.0, "pue": 1.2},
            "solar": {"capacity_mwdc": 1.2, "capacity_mwac": 1.0, "tracking": True},
            "battery": {"power_mw": 1.0, "energy_mwh": 4.0},
            "generators": [{"name": "gt", "kind": "gas_turbine", "capacity_mw": 10}] if generators else [],
            "grid": {"import_limit_mw": 30.0, "export_limit_mw": 10.0},
        }],
        "sizing": sizing,
    }
    if controller:
        doc["controller"] = controller
    path = tmp_path / "size.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_scenario(path)


def test_capital_recovery_factor_matches_the_annuity_formula():
    # 1000 borrowed at 7 % for 30 years: a payment of 80.59 a year pays it back
    assert crf(0.07, 30) * 1000 == pytest.approx(80.586, abs=1e-3)
    assert crf(0.0, 20) == pytest.approx(0.05)


def test_a_system_sized_for_100_percent_cfe_reaches_it_in_the_engine(tmp_path):
    sc = scenario(tmp_path, {"cfe_target": 1.0, "wind": {"capex_usd_per_kw": 1400, "lifetime_years": 30,
                                                           "max_mw": 0}},
                  generators=False)
    study = run_sizing_study(sc, check=True)
    c = study.chosen.capacities
    assert c["pv_mw"] > 20 and c["battery_mwh"] > 20  # the night runs on stored solar
    assert study.chosen.cfe_score == pytest.approx(1.0, abs=1e-9)
    assert study.check["cfe_score_hourly"] >= 1.0 - 1e-6
    assert study.check["unserved_mwh"] == pytest.approx(0.0, abs=1e-6)


def test_grid_only_sizing_buys_exactly_the_peak(tmp_path):
    caps = {k: {"capex_usd_per_kw": 1000, "lifetime_years": 20, "max_mw": 0}
            for k in ("solar", "wind", "battery_power", "battery_energy", "generators")}
    sc = scenario(tmp_path, caps)
    problem, _, _ = sizing_problem(sc, 0, sc.sizing)
    result = Sizer(problem).solve()
    load = problem.dispatch.sites[0].load_mw
    assert result.capacities["grid_mw"] == pytest.approx(load.max(), rel=1e-7)
    grid_cost = sc.sizing.grid.capex_usd_per_kw * 1e3 * crf(0.07, sc.sizing.grid.lifetime_years)
    assert result.annual_usd["grid connection (MW)"] == pytest.approx(grid_cost * load.max(), rel=1e-7)


def test_the_sweep_trades_cost_for_carbon(tmp_path):
    sc = scenario(tmp_path, {"carbon_prices_usd_per_t": [0, 100, 300, 1000]})
    study = run_sizing_study(sc, check=False)
    co2 = [r.co2_t_per_year for r in study.sweep]
    cost = [r.total_usd_per_year for r in study.sweep]
    assert all(b <= a * (1 + 1e-6) for a, b in zip(co2, co2[1:]))  # a higher carbon price never emits more
    assert all(b >= a * (1 - 1e-6) for a, b in zip(cost, cost[1:]))  # ... and never costs less
    assert co2[-1] < 0.5 * co2[0]


def test_capacity_caps_that_cannot_serve_the_load_explain_why(tmp_path):
    caps = {k: {"capex_usd_per_kw": 1000, "lifetime_years": 20, "max_mw": 5}
            for k in ("solar", "wind", "battery_power", "battery_energy", "generators", "grid")}
    sc = scenario(tmp_path, caps)
    with pytest.raises(PlanningError) as err:
        run_sizing_study(sc, check=False)
    msg = str(err.value)
    assert "cannot all be met" in msg and "would be unserved" in msg
    assert "at their upper bounds: " in msg and "grid connection (MW) 5" in msg


def test_size_command_writes_report_summary_and_a_runnable_sized_scenario(tmp_path):
    sc = scenario(tmp_path, {"carbon_prices_usd_per_t": [0, 200]}, days=7)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["size", str(tmp_path / "size.yaml"), "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert "least-cost system" in res.output and "Pareto" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["sweep"]["points"]) == 2 and "cfe_score_hourly" in summary["engine_check"]
    assert "Cost against carbon" in (out / "report.html").read_text()
    sized = load_scenario(out / "sized.yaml")
    assert sized.sites[0].grid.import_limit_mw == pytest.approx(summary["chosen"]["capacities"]["grid_mw"], abs=1e-3)
    assert np.isfinite(summary["chosen"]["total_usd_per_year"]) and sc.name == "size-test"


def test_size_command_reports_unreachable_targets_without_a_traceback(tmp_path):
    caps = {k: {"capex_usd_per_kw": 1000, "lifetime_years": 20, "max_mw": 1}
            for k in ("solar", "wind", "battery_power", "battery_energy")}
    scenario(tmp_path, {**caps, "cfe_target": 0.9})
    res = CliRunner().invoke(app, ["size", str(tmp_path / "size.yaml"), "-o", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 2
    assert "carbon-free target 90% is out of reach" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("days", [7, 14])
def test_a_part_year_pays_twelve_demand_charges_a_year(tmp_path, days):
    caps = {k: {"capex_usd_per_kw": 1000, "lifetime_years": 20, "max_mw": 0}
            for k in ("solar", "wind", "battery_power", "battery_energy", "generators")}
    doc_path = tmp_path / "size.yaml"
    scenario(tmp_path, caps, days=days)
    doc = yaml.safe_load(doc_path.read_text())
    doc["sites"][0]["grid"]["demand_charge_usd_per_kw_month"] = 10.0
    doc_path.write_text(yaml.safe_dump(doc))
    sc = load_scenario(doc_path)
    problem, _, _ = sizing_problem(sc, 0, sc.sizing)
    result = Sizer(problem).solve()
    peak = problem.dispatch.sites[0].load_mw.max()
    # June has 30 days, so a part of it weighs 365 / 12 / 30 of an average month
    assert result.annual_usd["demand_charge"] == pytest.approx(12 * 10e3 * peak * 365 / 12 / 30, rel=1e-6)

"""End to end: `wattscale run` writes Parquet + JSON + report atomically and `load_results` reads them back."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import wattscale
from wattscale.cli import app
from wattscale.engine.simulate import balance_residual_mw

runner = CliRunner()


def short_campus(examples_dir, tmp_path, days=7, step="15min", start="2023-07-14"):
    data = yaml.safe_load((examples_dir / "llm-campus.yaml").read_text())
    data["time"] = {**data["time"], "duration": f"{days}d", "step": step, "start": start}
    path = tmp_path / "campus.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_run_writes_results_that_load_back(examples_dir, tmp_path):
    scenario = short_campus(examples_dir, tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "24/7 CFE score" in result.output
    assert {p.name for p in out.iterdir()} == {"steps_0.parquet", "summary.json", "report.html", "scenario.yaml",
                                             ".wattscale-results"}
    res = wattscale.load_results(out)
    frame = res.steps["campus"]
    assert len(frame) == 7 * 96
    assert str(frame.index.tz) == "America/New_York"
    assert np.abs(balance_residual_mw(frame)).max() < 1e-9
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sites"]["campus"]["kpis"]["load_mwh"] == pytest.approx(frame["load_mw"].sum() / 4)
    assert res.kpis["campus"]["total_cost_usd"] == pytest.approx(summary["total"]["total_cost_usd"])
    html = (out / "report.html").read_text()
    assert "plotly" in html and "supply stacked against load" in html and "load duration curve" in html
    assert "plotly.js v" in html and 'src="https://cdn' not in html  # plotly.js inlined, no network
    # the grid outage of the reference campus on 18 July is in the results and was ridden through
    outage = frame[~frame["grid_available"]]
    assert len(outage) == 6 * 4 and outage["grid_import_mw"].max() == 0
    assert frame["unserved_mw"].sum() == 0


def test_rerun_replaces_results_whole(examples_dir, tmp_path):
    scenario = short_campus(examples_dir, tmp_path, days=2, step="1h", start="2023-07-17")
    out = tmp_path / "out"
    for _ in range(2):
        assert runner.invoke(app, ["run", str(scenario), "-o", str(out), "-q", "--no-report"]).exit_code == 0
    assert not (out / "report.html").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_validate_and_defaults_commands(examples_dir):
    result = runner.invoke(app, ["validate", str(examples_dir / "llm-campus.yaml")])
    assert result.exit_code == 0 and "105,120 steps" in result.output
    result = runner.invoke(app, ["defaults"])
    assert result.exit_code == 0 and "pjm-dom-2023-price" in result.output


def test_load_results_of_a_folder_that_is_not_results(tmp_path):
    with pytest.raises(wattscale.errors.ResultsError, match="not a complete results directory"):
        wattscale.load_results(tmp_path)


@pytest.mark.slow
def test_reference_campus_full_year(examples_dir, tmp_path):
    """The demo: one year at 5-minute steps of the campus (up to ~300 MW IT) on embedded defaults."""
    res = wattscale.run_scenario(examples_dir / "llm-campus.yaml")
    k = res.kpis["campus"]
    frame = res.steps["campus"]
    assert len(frame) == 105_120
    assert np.abs(balance_residual_mw(frame)).max() < 1e-9 * frame["load_mw"].max()
    from wattscale.studies.simulation.costs import monthly_costs_usd

    monthly = monthly_costs_usd(frame, res.scenario.sites[0], res.timeline.step_h)
    assert len(monthly) == 12 and monthly.to_numpy().sum() == pytest.approx(k["total_cost_usd"], rel=1e-12)
    # the IT load is the training job plus the inference fleet (about 300 MW together)
    it = frame["workload_pretrain_it_mw"] + frame["workload_chat_it_mw"]
    assert np.allclose(frame["it_load_mw"], it) and 250 < it.max() < 320 and it.mean() > 200
    assert k["it_load_mwh"] == pytest.approx(it.sum() / 12)
    # PUE follows the example's model written out here: 1.1 + 0.008 per C above 18 C, at most 1.45
    expected_pue = np.clip(1.1 + 0.008 * np.maximum(0.0, frame["temp_air_c"] - 18.0), 1.1, 1.45)
    assert np.allclose(frame["load_mw"], it * expected_pue)
    assert k["mean_pue"] == pytest.approx((it * expected_pue).sum() / it.sum())  # energy-weighted
    by_month = frame["pue"].groupby(frame.index.month).mean()
    assert by_month[7] > by_month[1]  # chillers work harder in a North Carolina July than in January
    assert 0 < k["cfe_score_hourly"] < 1 and 0 < k["renewable_share"] < k["cfe_score_hourly"]
    assert k["peak_import_mw"] <= 350 + 1e-9


def test_several_sites_are_simulated_and_totalled(tmp_path):
    scenario = {
        "name": "two-sites", "time": {"start": "2023-06-01", "duration": "3d", "step": "1h", "timezone": "UTC"},
        "sites": [
            {"name": "a", "facility": {"it_load_mw": 50, "pue": 1.2}, "solar": {"capacity_mwdc": 40, "capacity_mwac": 30},
             "grid": {"import_limit_mw": 100, "price_usd_per_mwh": 40, "intensity_kg_per_mwh": 300, "cfe_share": 0.2}},
            {"name": "b", "facility": {"it_load_mw": 20}, "battery": {"power_mw": 5, "energy_mwh": 20},
             "grid": {"import_limit_mw": 100, "price_usd_per_mwh": {"default": "ercot-2023-price"}}},
        ],
    }
    res = wattscale.simulate(wattscale.scenario.scenario_from_dict(scenario))
    from wattscale.studies.simulation.kpi import attach_kpis

    attach_kpis(res)
    a, b, total = res.kpis["a"], res.kpis["b"], res.total
    assert a["load_mwh"] == pytest.approx(50 * 1.2 * 72)
    assert total["load_mwh"] == pytest.approx(a["load_mwh"] + b["load_mwh"])
    assert total["total_cost_usd"] == pytest.approx(a["total_cost_usd"] + b["total_cost_usd"])
    assert total["co2_t"] == pytest.approx(a["co2_t"] + b["co2_t"])
    w = np.array([a["load_mwh"], b["load_mwh"]])
    assert total["cfe_score_hourly"] == pytest.approx(np.average([a["cfe_score_hourly"], b["cfe_score_hourly"]],
                                                                 weights=w))
    assert res.steps["b"]["pv_mw"].sum() == 0 and res.steps["a"]["pv_mw"].sum() > 0


def test_run_never_replaces_a_folder_that_is_not_results(examples_dir, tmp_path):
    scenario = short_campus(examples_dir, tmp_path, days=2, step="1h", start="2023-07-17")
    precious = tmp_path / "project"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    for target in (precious, tmp_path):
        result = runner.invoke(app, ["run", str(scenario), "-o", str(target), "-q"])
        assert result.exit_code == 2 and "not a wattscale results folder" in result.output
    assert (precious / "thesis.tex").read_text() == "years of work" and scenario.exists()
    result = runner.invoke(app, ["run", str(scenario), "-o", str(scenario), "-q"])
    assert result.exit_code == 2 and "is a file" in result.output


def test_outage_outside_the_timeline_is_an_error(examples_dir, tmp_path):
    scenario = short_campus(examples_dir, tmp_path, days=2, step="1h", start="2023-01-01")
    result = runner.invoke(app, ["validate", str(scenario)])
    assert result.exit_code == 2 and "outages[0]" in result.output and "outside the timeline" in result.output


def test_an_outage_shorter_than_a_step_still_takes_the_step_out():
    import pandas as pd

    from wattscale.energy.grid import grid_available
    from wattscale.scenario.schema import Outage
    from wattscale.timeseries.timeline import Timeline

    tl = Timeline(pd.Timestamp("2023-06-01", tz="UTC"), 3600, 24)
    up = grid_available([Outage(start="2023-06-01 14:10", duration="30min")], tl)
    assert list(np.flatnonzero(~up)) == [14]


def test_a_key_given_twice_is_refused(examples_dir, tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("name: a\n" + (examples_dir / "llm-campus.yaml").read_text())
    result = runner.invoke(app, ["validate", str(path), "--no-data"])
    assert result.exit_code == 2 and "key 'name' appears twice" in result.output and "line 2" in result.output


def test_contradictory_price_thresholds_are_refused(examples_dir, tmp_path):
    data = yaml.safe_load((examples_dir / "llm-campus.yaml").read_text())
    data["controller"].update(charge_below_usd_per_mwh=50, discharge_above_usd_per_mwh=20)
    path = tmp_path / "thresholds.yaml"
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["validate", str(path), "--no-data"])
    assert result.exit_code == 2 and "must not exceed" in result.output


def test_run_start_and_end_run_part_of_the_timeline(tmp_path):
    from pathlib import Path

    scenario = Path(__file__).resolve().parents[1] / "examples" / "llm-campus.yaml"
    res = CliRunner().invoke(app, ["run", str(scenario), "--start", "2023-07-17", "--end", "2023-07-19", "-q",
                                   "--no-report", "-o", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    timeline = json.loads((tmp_path / "o" / "summary.json").read_text())["timeline"]
    assert timeline["n_steps"] == 2 * 24 * 12 and timeline["start"].startswith("2023-07-17T00:00")
    bad = CliRunner().invoke(app, ["run", str(scenario), "--start", "2023-07-17", "--end", "2023-07-10", "-q",
                                   "-o", str(tmp_path / "p")])
    assert bad.exit_code == 2 and "time.end" in bad.output and not (tmp_path / "p").exists()

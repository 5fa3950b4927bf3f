"""One results contract: every KPI computed is in the registry (so the table and the report show it), sites
combine as the registry says, and the cost components add up to the totals the KPIs report."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import wattscale
from wattscale.cli import app
from wattscale.studies.simulation.costs import monthly_costs_usd, step_costs_usd
from wattscale.studies.simulation.kpi_registry import BY_KEY, FLEET_ONLY, KPIS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def campus(tmp_path_factory):
    data = yaml.safe_load((EXAMPLES / "llm-campus.yaml").read_text())
    data["time"] = {**data["time"], "start": "2023-07-17", "duration": "3d", "step": "15min"}
    data["time"].pop("end", None)
    data.pop("swings", None)
    data["carbon_price_usd_per_t"] = 40.0
    path = tmp_path_factory.mktemp("kpi") / "campus.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, wattscale.run_scenario(path)


def test_every_scalar_kpi_is_registered_once(campus):
    _, res = campus
    scalars = {k for k, v in res.kpis["campus"].items() if not isinstance(v, (dict, list))}
    single = set(BY_KEY) - set(FLEET_ONLY)  # a lone site has no migration (tests/test_fleet.py covers those)
    assert scalars == single, f"unregistered: {scalars - single}; never computed: {single - scalars}"
    assert len(BY_KEY) == len(KPIS)


def test_cost_components_add_up(campus):
    _, res = campus
    k, frame, site = res.kpis["campus"], res.steps["campus"], res.scenario.sites[0]
    steps = step_costs_usd(frame, site, res.timeline.step_h, voll_usd_per_mwh=res.scenario.value_of_lost_load_usd_per_mwh,
                           carbon_price_usd_per_t=40.0)
    for key in steps:
        assert steps[key].sum() == pytest.approx(k.get(key, 0.0), rel=1e-12, abs=1e-9)
    assert monthly_costs_usd(frame, site, res.timeline.step_h).to_numpy().sum() == pytest.approx(k["total_cost_usd"])
    parts = [kpi.key for kpi in KPIS if kpi.part_of == "system_cost_usd"]
    assert k["system_cost_usd"] == pytest.approx(k["total_cost_usd"] + sum(k.get(p, 0.0) for p in parts))
    assert k["carbon_cost_usd"] == pytest.approx(k["co2_t"] * 40.0) and k["carbon_cost_usd"] > 0
    assert k["co2_t"] == pytest.approx(k["grid_co2_t"] + k["generator_co2_t"])


def test_terminal_table_shows_every_kpi_including_unserved_cost_and_dumped(campus):
    path, res = campus
    out = CliRunner().invoke(app, ["run", str(path), "-o", str(path.parent / "res"), "-q", "--no-report"],
                             terminal_width=200)
    assert out.exit_code == 0, out.output
    for kpi in KPIS:
        if kpi.key in res.kpis["campus"]:
            assert kpi.label in out.output, kpi.label
    assert "value of lost load" in out.output and "Surplus dumped" in out.output


def test_sites_combine_as_the_registry_says(campus):
    from wattscale.studies.simulation.kpi import combine_kpis

    _, res = campus
    a = res.kpis["campus"]
    b = {**a, "load_mwh": 3 * a["load_mwh"], "cfe_score_hourly": 0.0, "unserved_hours": a["unserved_hours"] + 7}
    both = combine_kpis([a, b])
    assert both["total_cost_usd"] == pytest.approx(2 * a["total_cost_usd"])
    assert both["cfe_score_hourly"] == pytest.approx(a["cfe_score_hourly"] / 4)  # load-weighted
    assert both["unserved_hours"] == a["unserved_hours"] + 7  # the worst site's
    assert both["cost_usd_per_mwh_load"] == pytest.approx(both["total_cost_usd"] / both["load_mwh"])
    assert "peak_load_mw" not in both and np.isfinite(both["mean_pue"])


def test_every_step_column_is_documented_once(campus):
    from wattscale.engine.columns import STEP_COLUMNS, documented

    _, res = campus
    frame = res.steps["campus"]
    undocumented = [c for c in frame.columns if not documented(c)]
    assert undocumented == []
    readme = (EXAMPLES.parent / "README.md").read_text()
    missing = [c for c in STEP_COLUMNS if f"`{c}`" not in readme]
    assert missing == [], f"README's results table misses {missing}"


def test_monthly_energy_bars_are_stacked_and_add_up_to_what_was_served(campus):
    """The report's monthly supply bars stack (none hides another) and their top is the energy the site took in:
    load plus charge plus export plus dumped, less what was shed or unserved (the balance, month by month)."""
    from wattscale.studies.simulation.report import site_figures

    _, res = campus
    frame, site = res.steps["campus"], res.scenario.sites[0]
    fig = next(f for f in site_figures(frame, site, "campus", res.timeline.step_h)
               if "monthly energy" in f.layout.title.text)
    supplied = [t for t in fig.data if t.type == "bar" and t.offsetgroup == "supplied"]
    assert len(supplied) == 5 and fig.layout.barmode == "group"
    top = np.zeros(len(supplied[0].y))
    for t in supplied:
        assert np.allclose(t.base, top)  # each layer sits on the ones below
        top = top + np.asarray(t.y)
    monthly = frame.resample("MS").sum() * res.timeline.step_h
    taken = (monthly["load_mw"] + monthly["battery_charge_mw"] + monthly["grid_export_mw"] + monthly["dumped_mw"]
             - monthly["compute_shed_mw"] - monthly["unserved_mw"])
    assert np.allclose(top, taken.to_numpy(), rtol=1e-9, atol=1e-6)


def test_money_reads_as_people_read_it():
    from wattscale.studies.simulation.kpi_registry import money

    assert money(98_734_203) == "98.73 M USD" and money(43_244) == "43.2 k USD"
    assert money(-667_575) == "-667.6 k USD" and money(0) == "0 USD" and money(2.5e9) == "2.50 bn USD"


def test_kpi_table_fits_80_columns_without_cutting_numbers(campus):
    path, _ = campus
    out = CliRunner().invoke(app, ["run", str(path), "-o", str(path.parent / "res80"), "-q", "--no-report"],
                             terminal_width=80)
    assert out.exit_code == 0, out.output
    table = out.output.split("results:")[0]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "…" not in table and "M USD" in table

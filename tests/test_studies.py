"""The study registry: every capability runs from Python by name, takes typed options, and saves one layout."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import wattscale
from wattscale.errors import WattscaleError
from wattscale.results_folder import MARKER
from wattscale.studies import STUDIES, get_study

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
COMMON_KEYS = {"study", "options", "wattscale_version", "inputs_sha256", "kpis"}


def short(name: str, tmp_path: Path, days: int = 2, step: str = "1h", start: str | None = None) -> Path:
    data = yaml.safe_load((EXAMPLES / name).read_text())
    data["time"] = {**data["time"], "duration": f"{days}d", "step": step, **({"start": start} if start else {})}
    data["time"].pop("end", None)
    if data.get("swings", {}).get("limits"):
        data["swings"]["limits"] = str(EXAMPLES / data["swings"]["limits"])
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def strict(path: Path) -> dict:
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))


def test_every_capability_is_a_registered_study():
    assert set(STUDIES) == {"run", "swings", "gridcode", "size", "market", "forecast-backtest", "forecast-value",
                            "grid-flow", "grid-contingency", "grid-heal", "grid-reconfigure", "grid-reliability",
                            "adequacy", "resilience"}
    for study in STUDIES.values():
        assert study.summary and study.options.__doc__ is not None or study.options.model_fields
        for name, f in study.options.model_fields.items():
            assert f.description or study.options.__doc__, f"{study.name}.{name} is undocumented"


def test_run_study_gives_the_same_kpis_as_run_scenario(tmp_path):
    path = short("llm-campus.yaml", tmp_path, start="2023-07-17")
    result = wattscale.run_study("run", path)
    direct = wattscale.run_scenario(path)
    assert result.kpis["total_cost_usd"] == pytest.approx(direct.total["total_cost_usd"], rel=1e-12)
    assert result.kpis["load_mwh"] == pytest.approx(direct.total["load_mwh"], rel=1e-12)
    out = result.save(tmp_path / "res")
    summary = strict(out / "summary.json")
    assert COMMON_KEYS <= set(summary) and summary["study"] == "run"
    again = wattscale.load_results(out)  # the run layout still loads back
    assert again.total["total_cost_usd"] == pytest.approx(direct.total["total_cost_usd"])


def test_scenario_as_text_or_object_gives_the_same_inputs_hash(tmp_path):
    path = short("llm-campus.yaml", tmp_path, days=2, start="2023-07-17")
    a = wattscale.run_study("swings", path, resolution_s=0.01)
    b = wattscale.run_study("swings", wattscale.load_scenario(path), resolution_s=0.01)
    assert a.inputs_sha256 == b.inputs_sha256 and a.kpis == b.kpis
    c = wattscale.run_study("swings", path, resolution_s=0.005)
    assert c.inputs_sha256 != a.inputs_sha256  # options are part of the inputs
    text = path.read_text()
    d = wattscale.run_study("swings", text.replace("pvlib", "pvlib"), resolution_s=0.01)
    assert d.kpis["mean_mw"] == pytest.approx(a.kpis["mean_mw"])


def test_swing_options_override_the_scenario_and_are_checked(tmp_path):
    path = short("llm-campus.yaml", tmp_path, days=2, start="2023-07-17")
    r = wattscale.run_study("swings", path, duration_s=900, resolution_s=0.005)
    assert r.details["duration_s"] == 900 and r.details["resolution_s"] == 0.005
    with pytest.raises(WattscaleError, match="swings.resolution_s"):  # checked as the scenario section is
        wattscale.run_study("swings", path, resolution_s=-1)
    with pytest.raises(WattscaleError, match="options.resolution"):
        wattscale.run_study("swings", path, resolution=0.01)  # unknown option: refused, not ignored


def test_unknown_study_names_the_ones_there_are():
    with pytest.raises(WattscaleError) as err:
        get_study("swing")
    assert "swings" in str(err.value) and "grid-heal" in str(err.value)


@pytest.mark.parametrize("name, subject, options, files", [
    ("grid-heal", "examples/networks/campus-ring.yaml", {"fault": "T1"}, {"actions.csv", "loads.csv"}),
    ("grid-reconfigure", "ieee33", {}, set()),
    ("grid-contingency", "ieee33", {"backend": "pandapower"}, {"n-1.csv"}),
    ("grid-reliability", "examples/networks/campus-ring.yaml", {"years": 20}, {"indices.csv", "load_points.csv"}),
    ("grid-flow", "cigre-mv", {}, set()),
])
def test_network_studies_save_one_layout(tmp_path, name, subject, options, files):
    subject = str(ROOT / subject) if subject.endswith(".yaml") else subject
    result = wattscale.run_study(name, subject, **options)
    out = result.save(tmp_path / "res")
    assert {p.name for p in out.iterdir()} == {"summary.json", "report.html", MARKER, *files}
    summary = strict(out / "summary.json")
    assert summary["study"] == name and summary["kpis"] == json.loads(json.dumps(result.kpis))
    assert result.notes and all(isinstance(n, str) for n in result.notes)


def test_swings_builds_no_year_of_inputs(tmp_path):
    """A swing study reads one step of the slow inputs: the prepared campus never builds the year."""
    from wattscale.engine.campus import prepare

    campus = prepare(short("llm-campus.yaml", tmp_path, days=365, start="2023-01-01"))
    wattscale.run_study("swings", campus, resolution_s=0.01, start="2023-07-18 14:00")
    assert campus._inputs == {}


def test_progress_says_what_it_does_before_the_inputs_are_built(tmp_path):
    """The slow part before the first step (weather, PV, wind, workloads) is announced, then the steps count up
    to the total."""
    calls = []
    path = short("llm-campus.yaml", tmp_path, days=2, start="2023-07-17")
    wattscale.run_study("run", path, progress=lambda what, done, total: calls.append((what, done, total)))
    assert calls[0][0].startswith("inputs of site campus") and calls[0][1] == 0
    steps = [c for c in calls if c[0] == "simulating"]
    assert steps[0][1] == 0 and steps[-1][1] == steps[-1][2] == 48
    assert calls.index(steps[0]) > 0


def test_reliability_progress_is_one_share_that_only_grows_and_counts_its_parts():
    calls = []
    wattscale.run_study("grid-reliability", str(ROOT / "examples/networks/campus-ring.yaml"), years=1500,
                        progress=lambda what, done, total: calls.append((what, done, total)))
    shares = [done for _, done, total in calls if total == 1.0]
    assert len(shares) == len(calls) and shares[-1] == pytest.approx(1.0)
    assert all(b >= a - 1e-12 for a, b in zip(shares, shares[1:])) and max(shares) <= 1.0 + 1e-12
    texts = " | ".join(what for what, _, _ in calls)
    assert "restoration 'manual': fault 10 of 10" in texts and "Monte Carlo year 1,500 of 1,500" in texts


def test_the_fleet_a_run_simulated_is_reported(tmp_path):
    """An inference fleet sized for its SLO shows its size in the summary, and its IT load matches the steps."""
    path = short("llm-campus.yaml", tmp_path, days=2, start="2023-07-17")
    result = wattscale.run_study("run", path)
    fleet = result.details["extra"]["workloads"]["campus"]
    frame = result.value.steps["campus"]
    assert fleet["chat"]["sized"] and fleet["chat"]["gpus"] > 0 and not fleet["pretrain"]["sized"]
    assert fleet["chat"]["mean_it_mw"] == pytest.approx(frame["workload_chat_it_mw"].mean())
    again = wattscale.load_results(result.save(tmp_path / "res"))
    assert again.extra["workloads"]["campus"]["chat"]["gpus"] == fleet["chat"]["gpus"]
    assert "Workloads as simulated" in (tmp_path / "res" / "report.html").read_text()


def test_defaults_a_site_relies_on_are_said(tmp_path):
    """A site in Texas left on the bundled weather and built-in PJM profiles is told so by validate and the report."""
    from typer.testing import CliRunner

    from wattscale.cli import app

    data = yaml.safe_load((EXAMPLES / "llm-campus.yaml").read_text())
    data["sites"][0]["location"] = {"latitude": 32.8, "longitude": -96.8}  # Dallas
    data.pop("swings", None)
    data["time"] = {**data["time"], "start": "2023-07-17", "duration": "2d"}
    data["time"].pop("end", None)
    path = tmp_path / "dallas.yaml"
    path.write_text(yaml.safe_dump(data))
    out = CliRunner().invoke(app, ["validate", str(path), "-q"], terminal_width=200).output
    assert "Greensboro" in out and "1,5" in out and "km from the site" in out  # about 1,500 km away
    assert "pjm-2023-intensity" in out
    html = wattscale.run_study("run", path).report_html
    assert "Greensboro" in html and "pjm-dom-2023-price" in html


def test_set_changes_fields_by_path_and_checks_them_as_a_file(tmp_path):
    from typer.testing import CliRunner

    from wattscale.cli import app
    from wattscale.scenario.changes import change

    path = short("llm-campus.yaml", tmp_path, days=2, start="2023-07-17")
    out = tmp_path / "res"
    res = CliRunner().invoke(app, ["run", str(path), "-o", str(out), "-q", "--no-report",
                                   "--set", "sites[0].battery.energy_mwh=1600", "--set", "time.duration=1d",
                                   "--set", "time.start=2023-07-18"])
    assert res.exit_code == 0, res.output
    written = yaml.safe_load((out / "scenario.yaml").read_text())
    assert written["sites"][0]["battery"]["energy_mwh"] == 1600 and len(wattscale.load_results(out).steps["campus"]) == 24
    for bad, field in [("sites[0].battery.energy_mwh=-1", "sites[0].battery.energy_mwh"),
                       ("sites[5].battery.energy_mwh=1", "sites[5]"), ("nonsense", "--set")]:
        res = CliRunner().invoke(app, ["run", str(path), "-o", str(tmp_path / "bad"), "-q", "--set", bad])
        assert res.exit_code == 2 and field in res.output and "Traceback" not in res.output
    assert not (tmp_path / "bad").exists()
    sc = change(wattscale.load_scenario(path), {"carbon_price_usd_per_t": 80})  # from Python, the same rules
    assert sc.carbon_price_usd_per_t == 80
    with pytest.raises(WattscaleError, match="carbon_price_usd_per_t"):
        change(sc, {"carbon_price_usd_per_t": float("inf")})


def test_a_result_shows_its_kpis_in_a_notebook(tmp_path):
    path = short("llm-campus.yaml", tmp_path, days=2, start="2023-07-17")
    result = wattscale.run_study("run", path)
    html = result._repr_html_()
    assert "Total energy cost" in html and (" M USD" in html or " k USD" in html)
    assert len(repr(result)) < 1000  # a REPL is not flooded with the report


@pytest.mark.parametrize("text, words", [
    ("name: x\nsites: " + "[" * 2000 + "]" * 2000 + "\n", "nested too deeply"),
    ("name: x\n" + "#" * 1_100_000 + "\n", "too large"),
    ("a: &a [1, 2]\nb: [*a, *a, *a]\nc: 1\nc: 2\n", "appears twice"),
    ("- just\n- a list\n", "does not contain a mapping"),
])
def test_scenario_text_meets_the_limits_a_file_does(text, words):
    """A scenario given as text (as the service will receive it) is read with the same guards as a file."""
    with pytest.raises(WattscaleError, match=words):
        wattscale.run_study("run", text)


def test_a_report_is_rendered_only_when_asked_for(tmp_path):
    """Sweeps run many cases without reading their reports: the report is built on first use, once."""
    path = short("llm-campus.yaml", tmp_path, days=2, start="2023-07-17")
    result = wattscale.run_study("run", path)
    assert "_report" not in result.__dict__
    html = result.report_html
    assert html is result.report_html and "key performance indicators" in html.lower()
    out = result.save(tmp_path / "res", report=False)
    assert not (out / "report.html").exists() and (out / "steps_0.parquet").is_file()

"""The bad-input contract of the command line.

Every mistake in a scenario or its data gets ONE message naming the file, the field and what was
expected; ``wattscale run`` and ``wattscale validate`` exit with code 2 and print no traceback, and a
failed ``run`` leaves no results directory that looks complete (nor temporary ``.NAME.partial-*``
folders) and never harms results already in place.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from wattscale.cli import app

ROOT = Path(__file__).resolve().parents[1]
WATTSCALE = Path(sys.executable).parent / "wattscale"
if not WATTSCALE.exists():  # pragma: no cover - tests run from an environment without the script
    WATTSCALE = ROOT / ".venv" / "bin" / "wattscale"

PRICE_FIELD = "sites[0].grid.price_usd_per_mwh"

# a tiny, valid scenario: 2 days at 1 h, prices from tmp_path/price.csv (covering 2023-05-31 .. 2023-06-05)
BASE = {
    "name": "tiny",
    "time": {"start": "2023-06-01", "duration": "2d", "step": "1h", "timezone": "UTC"},
    "sites": [{
        "name": "s",
        "facility": {"it_load_mw": 10.0, "pue": 1.2},
        "battery": {"power_mw": 2.0, "energy_mwh": 4.0},
        "generators": [{"name": "g1", "capacity_mw": 5.0}],
        "grid": {
            "import_limit_mw": 20.0,
            "price_usd_per_mwh": {"file": "price.csv", "column": "price", "unit": "USD/MWh"},
        },
    }],
}


def hours(start="2023-05-31", n=24 * 5, tz=None) -> list[pd.Timestamp]:
    return list(pd.date_range(start, periods=n, freq="h", tz=tz))


def write_csv(path: Path, times, values=None, column="price") -> Path:
    values = np.arange(len(times), dtype=float) + 20.0 if values is None else values
    pd.DataFrame({"time": [str(t) for t in times], column: values}).to_csv(path, index=False)
    return path


def scenario(tmp_path: Path, edit=None, name="scenario.yaml") -> Path:
    """Write BASE (changed in place by ``edit(dict)``) and a good price.csv into tmp_path."""
    if not (tmp_path / "price.csv").exists():
        write_csv(tmp_path / "price.csv", hours())
    data = copy.deepcopy(BASE)
    if edit is not None:
        edit(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def site(data: dict) -> dict:
    return data["sites"][0]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def error_text(result) -> str:
    """The CLI's single error message (asserting the shared contract on the way)."""
    out = result.output
    assert result.exit_code == 2, f"exit code {result.exit_code}; output:\n{out}\nexception: {result.exception!r}"
    assert isinstance(result.exception, SystemExit), f"unexpected exception {result.exception!r}"
    assert "Traceback" not in out
    assert out.count("error:") == 1, f"expected exactly one error message, got:\n{out}"
    return " ".join(out.split())  # undo any wrapping


def assert_no_results(tmp_path: Path, outdir: Path) -> None:
    assert not outdir.exists(), f"a failed run left {outdir}: {sorted(os.listdir(outdir))}"
    leftovers = [p.name for p in outdir.parent.iterdir() if p.name.startswith(f".{outdir.name}.")]
    assert leftovers == [], f"temporary folders left behind: {leftovers}"


def fails_both(tmp_path: Path, path: Path) -> str:
    """Run ``validate`` and ``run`` on a bad scenario; both must fail the same way; return the message."""
    val = error_text(invoke("validate", str(path)))
    outdir = tmp_path / "results"
    run = error_text(invoke("run", str(path), "--outdir", str(outdir), "--quiet"))
    assert run == val, "run and validate should report the same problem"
    assert_no_results(tmp_path, outdir)
    return val


def assert_names(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, f"{part!r} missing from message: {message}"


# ---------------------------------------------------------------- the scenario file itself
def test_valid_scenario_passes_and_runs(tmp_path):
    """The base scenario of this file is good: validate and run succeed (so failures below are the edits)."""
    path = scenario(tmp_path)
    res = invoke("validate", str(path))
    assert res.exit_code == 0, res.output
    assert "48 steps" in res.output.replace(",", "")
    outdir = tmp_path / "results"
    res = invoke("run", str(path), "--outdir", str(outdir), "--quiet", "--no-report")
    assert res.exit_code == 0, res.output
    assert (outdir / "summary.json").is_file()


def test_yaml_syntax_error_gives_line_and_column(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: tiny\n"
                    "time: {start: 2023-06-01, duration: 2d, step: 1h\n"   # line 2: mapping never closed
                    "sites:\n"
                    "  - name: s\n", encoding="utf-8")
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(path), "YAML syntax error", "line ", "column ")
    line = int(msg.split("line ")[1].split(",")[0])
    assert 2 <= line <= 4  # the parser notices the unclosed flow mapping on the following lines


def test_yaml_tab_indentation_is_a_syntax_error(tmp_path):
    path = tmp_path / "tabs.yaml"
    path.write_text("name: tiny\ntime:\n\tstart: 2023-06-01\n", encoding="utf-8")
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(path), "YAML syntax error at line 3")


@pytest.mark.parametrize("edit, field, key, hint", [
    (lambda d: site(d).update(batery=site(d).pop("battery")), "sites[0].batery", "batery", "battery"),
    (lambda d: site(d)["grid"].update(import_limt_mw=site(d)["grid"].pop("import_limit_mw")),
     "sites[0].grid.import_limt_mw", "import_limt_mw", "import_limit_mw"),
    (lambda d: d.update(tme=d.pop("time")), "tme", "tme", "time"),
    (lambda d: site(d)["generators"][0].update(capacity=5), "sites[0].generators[0].capacity", "capacity",
     "capacity_mw"),
    # inside a series spec (a union of number / file / default): only the file branch's complaint is shown
    (lambda d: site(d)["grid"]["price_usd_per_mwh"].update(colum=site(d)["grid"]["price_usd_per_mwh"].pop("column")),
     f"{PRICE_FIELD}.colum", "colum", "column"),
], ids=["batery", "grid.import_limt_mw", "tme", "generator.capacity", "series.colum"])
def test_unknown_key_with_did_you_mean(tmp_path, edit, field, key, hint):
    path = scenario(tmp_path, edit)
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(path), f"field '{field}'", f"unknown key '{key}'", f"did you mean '{hint}'?")
    # one problem, one line: no echo of pydantic's other union branches or of the misspelt required key
    assert msg.count("unknown key") == 1
    assert "required but missing" not in msg


@pytest.mark.parametrize("edit, field", [
    (lambda d: site(d)["battery"].update(power_mw=-2.0), "sites[0].battery.power_mw"),
    (lambda d: site(d)["battery"].update(energy_mwh=-4.0), "sites[0].battery.energy_mwh"),
    (lambda d: site(d)["generators"][0].update(capacity_mw=-5.0), "sites[0].generators[0].capacity_mw"),
    (lambda d: site(d).update(solar={"capacity_mwdc": -1.0, "capacity_mwac": 1.0}), "sites[0].solar.capacity_mwdc"),
    (lambda d: site(d)["grid"].update(import_limit_mw=-20.0), "sites[0].grid.import_limit_mw"),
    (lambda d: site(d)["facility"].update(it_load_mw=-10.0), "sites[0].facility.it_load_mw"),
], ids=["battery.power", "battery.energy", "generator", "solar", "import_limit", "it_load"])
def test_negative_capacity(tmp_path, edit, field):
    path = scenario(tmp_path, edit)
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(path), f"field '{field}'", "(got -")
    assert "greater than" in msg or ">= 0" in msg or "greater than or equal to 0" in msg
    assert msg.count(f"field '{field}'") == 1, "the field should be named once"
    assert "Value error," not in msg  # pydantic's internal prefix is noise


def test_missing_data_file(tmp_path):
    path = scenario(tmp_path, lambda d: site(d)["grid"]["price_usd_per_mwh"].update(file="data/nope.csv"))
    msg = fails_both(tmp_path, path)
    # relative data paths are resolved against the scenario's folder, and the message shows where it looked
    assert_names(msg, str(tmp_path / "data" / "nope.csv"), f"field '{PRICE_FIELD}'", "not found",
                 "expected an existing CSV or Parquet file")


def test_missing_scenario_file(tmp_path):
    path = tmp_path / "nothere.yaml"
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(path), "not found")


def test_missing_column_names_the_choices(tmp_path):
    path = scenario(tmp_path, lambda d: site(d)["grid"]["price_usd_per_mwh"].update(column="prise"))
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(tmp_path / "price.csv"), f"field '{PRICE_FIELD}'", "column 'prise' not found",
                 "expected one of time, price")


def price_file_case(tmp_path: Path, times, values=None) -> str:
    data_file = write_csv(tmp_path / "bad.csv", times, values)
    path = scenario(tmp_path, lambda d: site(d)["grid"]["price_usd_per_mwh"].update(file="bad.csv"))
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(data_file), f"field '{PRICE_FIELD}'")
    return msg


def test_gap_in_timestamps(tmp_path):
    t = hours()
    del t[30]  # 2023-06-01 06:00 is missing
    msg = price_file_case(tmp_path, t)
    assert_names(msg, "gap", "2023-06-01 05:00", "2023-06-01 07:00", "evenly spaced", "fill: interpolate")


def test_nan_value(tmp_path):
    t = hours()
    v = np.arange(len(t), dtype=float)
    v[40] = np.nan  # an empty cell at 2023-06-01 16:00
    msg = price_file_case(tmp_path, t, v)
    assert_names(msg, "NaN", "2023-06-01 16:00", "column 'price'", "expected a value in every row")


def test_non_numeric_value(tmp_path):
    t = hours()
    v = [str(x) for x in range(len(t))]
    v[10] = "n/a?"
    msg = price_file_case(tmp_path, t, v)
    assert_names(msg, "non-numeric", "n/a?", "row 12", "expected numbers")


def test_duplicated_timestamps(tmp_path):
    t = hours()
    t.insert(30, t[29])  # 2023-06-01 05:00 twice
    msg = price_file_case(tmp_path, t)
    assert_names(msg, "duplicated timestamp", "2023-06-01 05:00", "expected unique timestamps")


def test_unsorted_timestamps(tmp_path):
    t = hours()
    t[30], t[31] = t[31], t[30]
    msg = price_file_case(tmp_path, t)
    assert_names(msg, "not sorted", "expected increasing timestamps")


@pytest.mark.parametrize("fill", ["hold", "interpolate"])
def test_duplicates_are_refused_even_when_gaps_are_filled(tmp_path, fill):
    t = hours()
    t.insert(30, t[29])
    data_file = write_csv(tmp_path / "bad.csv", t)
    path = scenario(tmp_path, lambda d: site(d)["grid"]["price_usd_per_mwh"].update(file="bad.csv", fill=fill))
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(data_file), f"field '{PRICE_FIELD}'", "duplicated or unsorted", "2023-06-01 05:00")


def test_wrong_unit(tmp_path):
    path = scenario(tmp_path, lambda d: site(d)["grid"]["price_usd_per_mwh"].update(unit="MW"))
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(tmp_path / "price.csv"), f"field '{PRICE_FIELD}'", "unit 'MW' is not a price unit",
                 "USD/MWh")


def test_percent_for_intensity_is_a_wrong_unit(tmp_path):
    def edit(d):
        site(d)["grid"]["intensity_kg_per_mwh"] = {"file": "price.csv", "column": "price", "unit": "%"}
    msg = fails_both(tmp_path, scenario(tmp_path, edit))
    assert_names(msg, "field 'sites[0].grid.intensity_kg_per_mwh'", "unit '%' is not a intensity unit", "g/kWh")


def test_data_shorter_than_timeline(tmp_path):
    t = hours(n=24 + 36)  # 2023-05-31 00:00 .. 2023-06-02 12:00: ends half-way through the second day
    msg = price_file_case(tmp_path, t)
    assert_names(msg, "covers", "2023-06-03 00:00", "expected data covering the whole timeline")


def test_data_starting_after_timeline(tmp_path):
    t = hours(start="2023-06-01 06:00")
    msg = price_file_case(tmp_path, t)
    assert_names(msg, "2023-06-01 06:00", "expected data covering the whole timeline")


def test_unknown_default_profile(tmp_path):
    def edit(d):
        site(d)["grid"]["intensity_kg_per_mwh"] = {"default": "ercot-2030-intensity"}
    path = scenario(tmp_path, edit)
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(path), "field 'sites[0].grid.intensity_kg_per_mwh'",
                 "unknown built-in intensity profile 'ercot-2030-intensity'", "expected one of",
                 "ercot-2023-intensity")


def test_default_profile_of_another_quantity(tmp_path):
    def edit(d):
        site(d)["grid"]["price_usd_per_mwh"] = {"default": "ercot-2023-intensity"}
    msg = fails_both(tmp_path, scenario(tmp_path, edit))
    assert_names(msg, f"field '{PRICE_FIELD}'", "price profile 'ercot-2023-intensity'", "ercot-2023-price")


def test_bad_time_zone(tmp_path):
    path = scenario(tmp_path, lambda d: d["time"].update(timezone="America/Dalas"))
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(path), "field 'time.timezone'", "unknown time zone 'America/Dalas'", "IANA")


def test_bad_time_zone_of_a_data_file(tmp_path):
    """A file series' time zone is checked too (it used to surface as a puzzling timestamp-parsing error)."""
    path = scenario(tmp_path, lambda d: site(d)["grid"]["price_usd_per_mwh"].update(timezone="Europe/Berlinn"))
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(tmp_path / "price.csv"), f"field '{PRICE_FIELD}'", "unknown time zone 'Europe/Berlinn'")
    assert "cannot parse timestamps" not in msg


@pytest.mark.parametrize("step, why", [
    ("500ms", "whole number of seconds from 1s to 1h"),
    ("0s", "whole number of seconds from 1s to 1h"),
    ("1.5s", "whole number of seconds from 1s to 1h"),
    ("3601s", "whole number of seconds from 1s to 1h"),
    ("2h", "whole number of seconds from 1s to 1h"),
    ("-5min", "whole number of seconds from 1s to 1h"),
    ("fast", "a duration such as 1s, 5min or 1h"),
])
def test_step_outside_1s_to_1h(tmp_path, step, why):
    path = scenario(tmp_path, lambda d: d["time"].update(step=step))
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(path), "field 'time.step'", why, f"(got '{step}')")


@pytest.mark.parametrize("step", ["1s", "1h", "15min"])
def test_step_bounds_are_accepted(tmp_path, step):
    path = scenario(tmp_path, lambda d: d["time"].update(step=step, duration="1h"))
    res = invoke("validate", str(path))
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("edit, field, expected", [
    (lambda d: d["time"].update(start="2023-06-31"), "time.start", "timestamp"),
    (lambda d: d["time"].update(start="yesterday-ish"), "time.start", "timestamp"),
    # 02:30 does not exist in Chicago on the day clocks spring forward
    (lambda d: d["time"].update(start="2023-03-12 02:30", timezone="America/Chicago"), "time.start", "timestamp"),
    (lambda d: d["time"].update(duration="forever"), "time.duration", "duration"),
    (lambda d: d["time"].update(duration="-2d"), "time.duration", "after the start"),
    (lambda d: d["time"].update(duration="30min"), "time.duration", "at least one step"),
    (lambda d: d["time"].update(duration=None, end="2023-05-01"), "time.end", "after the start"),
    (lambda d: site(d)["grid"].update(outages=[{"start": "someday", "duration": "4h"}]),
     "sites[0].grid.outages[0].start", "timestamp"),
    (lambda d: site(d)["grid"].update(outages=[{"start": "2023-06-01 10:00", "duration": "a while"}]),
     "sites[0].grid.outages[0].duration", "duration"),
], ids=["31-june", "not-a-date", "dst-gap", "bad-duration", "negative-duration", "shorter-than-step",
        "end-before-start", "outage-start", "outage-duration"])
def test_unreadable_times(tmp_path, edit, field, expected):
    """Times the schema accepts as text but pandas cannot read used to end in a traceback (exit code 1)."""
    path = scenario(tmp_path, edit)
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(path), f"field '{field}'", expected)


def test_error_text_is_not_taken_for_markup(tmp_path):
    """Brackets in names (common in column headers) must be shown, not swallowed as rich markup."""
    write_csv(tmp_path / "p.csv", hours(), column="price [usd/mwh]")
    path = scenario(tmp_path, lambda d: site(d)["grid"]["price_usd_per_mwh"].update(file="p.csv",
                                                                                     column="price [/]"))
    msg = fails_both(tmp_path, path)
    assert_names(msg, "column 'price [/]' not found", "price [usd/mwh]")


def test_several_problems_are_listed_in_one_message(tmp_path):
    def edit(d):
        site(d)["battery"]["power_mw"] = -1.0
        site(d)["grid"]["import_limt_mw"] = site(d)["grid"].pop("import_limit_mw")
    path = scenario(tmp_path, edit)
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(path), "sites[0].battery.power_mw", "unknown key 'import_limt_mw'",
                 "did you mean 'import_limit_mw'?")


def test_missing_weather_file(tmp_path):
    path = scenario(tmp_path, lambda d: site(d).update(weather={"file": "wx/dfw.epw", "format": "epw"}))
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(tmp_path / "wx" / "dfw.epw"), "field 'sites[0].weather'", "not found")


@pytest.mark.parametrize("fmt, expected", [("epw", "EPW"), ("tmy3", "TMY3"), ("psm3", "PSM3")])
def test_weather_file_in_another_format(tmp_path, fmt, expected):
    """A CSV of prices given as weather: one message naming the expected format, and no parser warnings."""
    path = scenario(tmp_path, lambda d: site(d).update(weather={"file": "price.csv", "format": fmt}))
    msg = fails_both(tmp_path, path)
    assert_names(msg, str(tmp_path / "price.csv"), "field 'sites[0].weather'", f"cannot read {fmt} weather",
                 expected)
    assert "Warning" not in msg


def test_example_without_its_data_names_the_missing_file(tmp_path, examples_dir):
    """The ERCOT example reads $WATTSCALE_DATA; pointed at an empty folder it names the first missing file."""
    res = CliRunner().invoke(app, ["validate", str(examples_dir / "llm-campus-ercot-2023.yaml")],
                             env={"WATTSCALE_DATA": str(tmp_path)})
    msg = error_text(res)
    assert_names(msg, str(tmp_path / "weather_solar" / "TMYx_USA_TX_Dallas-Fort.Worth.epw"),
                 "field 'sites[0].weather'", "not found")


def test_every_misspelt_key_is_reported(tmp_path):
    """Keys written with hyphens are unknown keys too, each reported (none mistaken for a union branch)."""
    def edit(d):
        g = site(d)["grid"]
        g["import-limit"] = g.pop("import_limit_mw")
        g["export-limit"] = 3.0
        g["price_usd_per_mwh"]["fill-mode"] = "hold"
    msg = fails_both(tmp_path, scenario(tmp_path, edit))
    assert_names(msg, "unknown key 'import-limit' (did you mean 'import_limit_mw'?)",
                 "unknown key 'export-limit' (did you mean 'export_limit_mw'?)",
                 "unknown key 'fill-mode' (did you mean 'fill'?)")
    assert "required but missing" not in msg  # import_limit_mw is the misspelt key, not a second problem


# ---------------------------------------------------------------- existing results are never harmed
def test_failed_run_keeps_existing_results(tmp_path):
    good = scenario(tmp_path, name="good.yaml")
    outdir = tmp_path / "results"
    res = invoke("run", str(good), "--outdir", str(outdir), "--quiet")
    assert res.exit_code == 0, res.output
    before = {p.name: p.read_bytes() for p in outdir.iterdir()}
    assert "summary.json" in before and "report.html" in before
    assert json.loads(before["summary.json"])["timeline"]["n_steps"] == 48

    for i, edit in enumerate([
        lambda d: site(d)["grid"]["price_usd_per_mwh"].update(file="missing.csv"),   # fails while loading data
        lambda d: site(d).update(batery=site(d).pop("battery")),                     # fails in the schema
    ]):
        bad = scenario(tmp_path, edit, name=f"bad{i}.yaml")
        error_text(invoke("run", str(bad), "--outdir", str(outdir), "--quiet"))
        after = {p.name: p.read_bytes() for p in outdir.iterdir()}
        assert after == before, "a failed run changed the results already in place"
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".results.")]
        assert leftovers == []


# ---------------------------------------------------------------- the real entry point
def wattscale(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    return subprocess.run([str(WATTSCALE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_entry_point_unknown_key(tmp_path, command):
    path = scenario(tmp_path, lambda d: site(d).update(batery=site(d).pop("battery")))
    proc = wattscale(command, path.name, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.count("error:") == 1
    err = " ".join(proc.stderr.split())
    assert_names(err, "scenario.yaml", "field 'sites[0].batery'", "did you mean 'battery'?")
    # `run` without --outdir would write out/<name> under the working directory: it must not exist
    assert not (tmp_path / "out").exists()


def test_entry_point_data_gap(tmp_path):
    t = hours()
    del t[50]
    write_csv(tmp_path / "bad.csv", t)
    path = scenario(tmp_path, lambda d: site(d)["grid"]["price_usd_per_mwh"].update(file="bad.csv"))
    proc = wattscale("run", str(path), "-o", "res", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    err = " ".join(proc.stderr.split())
    assert_names(err, str(tmp_path / "bad.csv"), f"field '{PRICE_FIELD}'", "gap")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "price.csv", "scenario.yaml"]


def test_entry_point_yaml_error(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: [unclosed\n", encoding="utf-8")
    proc = wattscale("validate", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert_names(" ".join(proc.stderr.split()), str(path), "YAML syntax error at line 2, column 1")


# ---------------------------------------------------------------- workloads (LLM training and inference)
TRAIN = {"kind": "training", "name": "job", "gpu": "H100", "gpus": 1024, "iteration_s": 5.0}


def with_workload(workload: dict):
    def edit(d):
        site(d)["facility"] = {"pue": 1.2, "workloads": [workload]}
    return edit


@pytest.mark.parametrize("gpus", [0, -8])
def test_zero_or_negative_gpus(tmp_path, gpus):
    msg = fails_both(tmp_path, scenario(tmp_path, with_workload({**TRAIN, "gpus": gpus})))
    assert_names(msg, "scenario.yaml", "sites[0].facility.workloads[0].training.gpus", "greater than 0")


def test_unknown_gpu_lists_the_known_ones(tmp_path):
    msg = fails_both(tmp_path, scenario(tmp_path, with_workload({**TRAIN, "gpu": "H1000"})))
    assert_names(msg, "sites[0].facility.workloads[0].gpu", "unknown GPU 'H1000'", "did you mean", "A100-SXM4-80GB",
                 "GB200", "B200", "H200-SXM")


def test_training_needs_an_iteration_time_or_a_model(tmp_path):
    job = {k: v for k, v in TRAIN.items() if k != "iteration_s"}
    msg = fails_both(tmp_path, scenario(tmp_path, with_workload(job)))
    assert_names(msg, "workloads[0]", "iteration_s", "model_params_b")


def test_iteration_shorter_than_the_swing_resolution():
    from wattscale.compute.catalog import load_catalog
    from wattscale.compute.training import training_mix
    from wattscale.errors import ScenarioError
    from wattscale.scenario.workloads import Training
    with pytest.raises(ScenarioError, match="shorter than two samples"):
        training_mix(Training(**{**TRAIN, "iteration_s": 0.05}), load_catalog().get("H100"), step_s=0.1,
                     n_samples=100, resolve_iterations=True)


def trace_scenario(tmp_path, text: str, fmt="azure", name="trace.csv"):
    (tmp_path / name).write_text(text)
    return scenario(tmp_path, with_workload({"kind": "inference", "name": "chat", "gpu": "H100", "gpus": 16,
                                             "arrivals": {"file": name, "format": fmt}}))


def test_trace_with_unsorted_timestamps(tmp_path):
    msg = fails_both(tmp_path, trace_scenario(tmp_path, "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                     "2023-11-16 18:15:46.68,374,44\n2023-11-16 18:15:50.99,396,109\n2023-11-16 18:15:49.00,10,10\n"))
    assert_names(msg, "trace.csv", "not sorted", "request 3 arrives before request 2")


def test_trace_with_a_malformed_timestamp(tmp_path):
    msg = fails_both(tmp_path, trace_scenario(tmp_path, "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                     "2023-11-16 18:15:46.68,374,44\nyesterday noon,396,109\n"))
    assert_names(msg, "trace.csv", "row 3", "'yesterday noon' is not a timestamp")


def test_mooncake_trace_with_a_bad_line(tmp_path):
    msg = fails_both(tmp_path, trace_scenario(tmp_path, '{"timestamp": 0, "input_length": 5, "output_length": 2}\n'
                                              '{"timestamp": 10, "input_len": 5}\n', fmt="mooncake",
                                              name="t.jsonl"))
    assert_names(msg, "t.jsonl", "line 2 is not a Mooncake request")


def test_trace_missing_columns(tmp_path):
    msg = fails_both(tmp_path, trace_scenario(tmp_path, "time,prompt\n2023-11-16 18:15:46,3\n"))
    assert_names(msg, "trace.csv", "missing column(s) TIMESTAMP, ContextTokens, GeneratedTokens")


def test_bad_gpu_catalog_file(tmp_path):
    (tmp_path / "cat.yaml").write_text("gpus:\n  X:\n    idle_w: 900\n")
    msg = fails_both(tmp_path, scenario(tmp_path, lambda d: (with_workload(TRAIN)(d), d.update(
        gpu_catalog="cat.yaml"))))
    assert_names(msg, "cat.yaml", "gpus.X.")


def test_training_that_never_runs_in_the_timeline(tmp_path):
    msg = fails_both(tmp_path, scenario(tmp_path, with_workload({**TRAIN, "start": "2024-06-01"})))
    assert_names(msg, "workloads[0].start", "does not run inside the timeline")


def test_power_cap_outside_the_gpu_range(tmp_path):
    msg = fails_both(tmp_path, scenario(tmp_path, with_workload({**TRAIN, "power_cap_w": 50})))
    assert_names(msg, "workloads[0].power_cap_w", "outside H100-SXM's range", "200 .. 700 W")


def test_empty_trace_file(tmp_path):
    msg = fails_both(tmp_path, trace_scenario(tmp_path, "TIMESTAMP,ContextTokens,GeneratedTokens\n"))
    assert_names(msg, "trace.csv", "no requests")
    msg = fails_both(tmp_path, trace_scenario(tmp_path, ""))
    assert_names(msg, "trace.csv", "empty")


@pytest.mark.parametrize("args, message", [
    (["--start", "2030-01-01"], "outside the timeline"),
    (["--start", "2023-03-12 02:30"], "cannot read the time"),
    (["--resolution-s", "-1"], "swings.resolution_s"),
])
def test_swings_window_errors(examples_dir, tmp_path, args, message):
    res = invoke("swings", str(examples_dir / "llm-campus.yaml"), "-o", str(tmp_path / "o"), *args)
    assert_names(error_text(res), message)
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- optimisation settings
@pytest.mark.parametrize("edit, parts", [
    (lambda d: d.update(controller={"kind": "mpc", "horizon_h": 6, "replan_every_h": 12}),
     ["controller", "replan_every_h must not exceed horizon_h"]),
    (lambda d: d.update(controller={"kind": "mpc", "forecaster": "oracle"}), ["controller", "forecaster"]),
    (lambda d: d.update(controller={"kind": "optimal"}), ["controller", "mpc", "rules"]),
    (lambda d: site(d)["grid"].update(demand_response=[{"start": "2024-01-01", "duration": "2h",
                                                         "hold_import_mw": 5}]),
     ["sites[0].grid.demand_response[0]", "outside the timeline"]),
    (lambda d: site(d)["grid"].update(demand_response=[{"start": "2023-06-01 10:00", "duration": "2h",
                                                         "hold_import_mw": -5}]),
     ["sites[0].grid.demand_response", "hold_import_mw"]),
    (lambda d: d.update(sizing={"cfe_targets": [0.5, 1.5]}), ["sizing", "cfe_targets", "between 0 and 1"]),
    (lambda d: d.update(carbon_price_usd_per_t=-10), ["carbon_price_usd_per_t"]),
])
def test_bad_optimisation_settings(tmp_path, edit, parts):
    assert_names(fails_both(tmp_path, scenario(tmp_path, edit)), *parts)


def test_size_names_an_unknown_site(tmp_path):
    path = scenario(tmp_path, lambda d: d.update(sizing={"site": "north"}))
    msg = error_text(invoke("size", str(path), "-o", str(tmp_path / "o"), "-q"))
    assert_names(msg, "sizing.site", "no site named 'north'", "one of s")


def test_a_variable_path_inside_braces_says_to_quote_it(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ntime: {start: 2023-01-01, duration: 2d}\nsites:\n  - name: a\n"
                    "    weather: {file: ${WATTSCALE_DATA}/x.epw, format: epw}\n"
                    "    facility: {it_load_mw: 10}\n    grid: {import_limit_mw: 20}\n")
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 2 and "line 5" in res.output and 'file: "${WATTSCALE_DATA}/x.epw"' in res.output

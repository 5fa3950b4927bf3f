"""Hostile and careless input: numbers that are not finite or not physical, problems too large for memory, times
pandas cannot hold, symbolic-link loops, branches without impedance, command-line numbers that are NaN or zero,
sections that ``validate`` used to pass and later commands refused, and file contents echoed into messages.

Every case is refused with exit code 2 and ONE message naming the file and the field, without a traceback, and
nothing is written. The count of cases is the number of collected tests of this file.
"""
from __future__ import annotations

import copy
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from test_bad_input import BASE as BAD_INPUT_BASE
from wattscale.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
WATTSCALE = Path(sys.executable).parent / "wattscale"
if not WATTSCALE.exists():  # pragma: no cover - tests run from an environment without the script
    WATTSCALE = ROOT / ".venv" / "bin" / "wattscale"

PRICE = "sites[0].grid.price_usd_per_mwh"
BASE = copy.deepcopy(BAD_INPUT_BASE)  # the bad-input suite's tiny scenario, with a constant price (no data file)
BASE["sites"][0]["grid"]["price_usd_per_mwh"] = 40.0
TRAIN = {"kind": "training", "name": "job", "gpu": "H100", "gpus": 1024, "iteration_s": 5.0}
INFER = {"kind": "inference", "name": "chat", "gpu": "H100", "gpus": 64, "arrivals": {"mean_rate_per_s": 10}}
NAN, INF = float("nan"), float("inf")


# ---------------------------------------------------------------- helpers
def write(tmp_path: Path, data: dict, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def scenario(tmp_path: Path, edit=None, name: str = "scenario.yaml") -> Path:
    data = copy.deepcopy(BASE)
    if edit is not None:
        edit(data)
    return write(tmp_path, data, name)


def site(d: dict) -> dict:
    return d["sites"][0]


def hours(start="2023-05-31", n=24 * 5) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="h")


def price_csv(path: Path, values=None, column="price") -> Path:
    t = hours()
    v = np.arange(len(t), dtype=float) + 20.0 if values is None else values
    pd.DataFrame({"time": t.astype(str), column: v}).to_csv(path, index=False)
    return path


def with_file(name: str, **extra):
    return lambda d: site(d)["grid"].update(price_usd_per_mwh={"file": name, "column": "price", "unit": "USD/MWh",
                                                               **extra})


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def refused(tmp_path: Path, *args: str, env: dict | None = None) -> str:
    """Run the CLI; assert the contract (exit 2, one 'error:' line, no traceback, nothing written); the message."""
    before = snapshot(tmp_path)
    res = CliRunner().invoke(app, list(args), env=env)
    out = res.output
    assert res.exit_code == 2, f"exit code {res.exit_code}; output:\n{out}\nexception: {res.exception!r}"
    assert isinstance(res.exception, SystemExit), f"unexpected exception {res.exception!r}"
    assert "Traceback" not in out
    assert out.count("error:") == 1, f"expected one error message, got:\n{out}"
    assert snapshot(tmp_path) == before, f"files written: {sorted(snapshot(tmp_path) - before)}"
    assert not Path("out").exists() or "tiny" not in " ".join(os.listdir("out"))
    return " ".join(out.split())


def names(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, f"{part!r} missing from message: {message}"


def refused_by_validate(tmp_path: Path, path: Path, *parts: str, data: bool = False) -> str:
    """validate (--no-data unless ``data``) refuses the scenario, naming the file and ``parts``."""
    msg = refused(tmp_path, "validate", str(path), *([] if data else ["--no-data"]))
    names(msg, str(path), *parts)
    return msg


def test_base_scenario_is_valid(tmp_path):
    res = CliRunner().invoke(app, ["validate", str(scenario(tmp_path))])
    assert res.exit_code == 0, res.output


# ---------------------------------------------------------------- 10: non-finite and unphysical numbers
@pytest.mark.parametrize("edit, field", [
    (lambda d: site(d)["grid"].update(price_usd_per_mwh=NAN), PRICE),
    (lambda d: site(d)["grid"].update(price_usd_per_mwh=INF), PRICE),
    (lambda d: site(d)["grid"].update(price_usd_per_mwh=-INF), PRICE),
    (lambda d: site(d)["grid"].update(price_usd_per_mwh=1e6), PRICE),
    (lambda d: site(d)["grid"].update(export_price_usd_per_mwh=NAN), "sites[0].grid.export_price_usd_per_mwh"),
    (lambda d: site(d)["grid"].update(intensity_kg_per_mwh=INF), "sites[0].grid.intensity_kg_per_mwh"),
    (lambda d: site(d)["grid"].update(cfe_share=NAN), "sites[0].grid.cfe_share"),
    (lambda d: site(d)["grid"].update(import_limit_mw=INF), "sites[0].grid.import_limit_mw"),
    (lambda d: site(d)["grid"].update(demand_charge_usd_per_kw_month=INF),
     "sites[0].grid.demand_charge_usd_per_kw_month"),
    (lambda d: site(d)["facility"].update(it_load_mw=INF), "sites[0].facility.it_load_mw"),
    (lambda d: site(d)["facility"].update(it_load_mw=1e308), "sites[0].facility.it_load_mw"),
    (lambda d: site(d)["facility"].update(pue=INF), "sites[0].facility.pue"),
    (lambda d: site(d)["generators"][0].update(capacity_mw=INF), "sites[0].generators[0].capacity_mw"),
    (lambda d: site(d)["generators"][0].update(start_up_cost_usd=INF), "sites[0].generators[0].start_up_cost_usd"),
    (lambda d: site(d)["generators"][0].update(fuel_price_usd_per_mmbtu=NAN),
     "sites[0].generators[0].fuel_price_usd_per_mmbtu"),
    (lambda d: site(d)["battery"].update(energy_mwh=NAN), "sites[0].battery.energy_mwh"),
    (lambda d: site(d).update(solar={"capacity_mwdc": 1e308, "capacity_mwac": 100}), "sites[0].solar.capacity_mwdc"),
    (lambda d: site(d).update(location={"latitude": NAN, "longitude": 0}), "sites[0].location.latitude"),
    (lambda d: d.update(value_of_lost_load_usd_per_mwh=INF), "value_of_lost_load_usd_per_mwh"),
    (lambda d: d.update(value_of_lost_load_usd_per_mwh=1e308), "value_of_lost_load_usd_per_mwh"),
    (lambda d: d.update(carbon_price_usd_per_t=NAN), "carbon_price_usd_per_t"),
    (lambda d: d.update(controller={"kind": "rules", "charge_below_usd_per_mwh": NAN}),
     "controller.rules.charge_below_usd_per_mwh"),
    (lambda d: d.update(controller={"kind": "mpc", "horizon_h": NAN}), "controller.mpc.horizon_h"),
    (lambda d: d.update(sizing={"carbon_prices_usd_per_t": [0, 1e9]}), "sizing.carbon_prices_usd_per_t"),
    (lambda d: d.update(swings={"resolution_s": NAN}), "swings.resolution_s"),
    (lambda d: site(d)["facility"].update(workloads=[{**TRAIN, "mfu": NAN}]),
     "sites[0].facility.workloads[0].training.mfu"),
], ids=["price-nan", "price-inf", "price--inf", "price-1e6", "export-price-nan", "intensity-inf", "cfe-nan",
        "import-limit-inf", "demand-charge-inf", "it-load-inf", "it-load-1e308", "pue-inf", "gen-capacity-inf",
        "start-up-cost-inf", "fuel-price-nan", "battery-energy-nan", "solar-1e308", "latitude-nan", "voll-inf",
        "voll-1e308", "carbon-price-nan", "rules-threshold-nan", "mpc-horizon-nan", "sizing-sweep-1e9",
        "swing-resolution-nan", "mfu-nan"])
def test_non_finite_or_unphysical_number(tmp_path, edit, field):
    msg = refused_by_validate(tmp_path, scenario(tmp_path, edit), f"field '{field}'")
    assert "Value error," not in msg


@pytest.mark.parametrize("values, parts", [
    (lambda v: v.__setitem__(30, INF), ["infinite value in column 'price'", "row 32"]),
    (lambda v: v.__setitem__(30, -INF), ["infinite value", "row 32"]),
    (lambda v: v.__setitem__(30, 1e9), ["outside the range of a price", "row 32", "2023-06-01 06:00"]),
], ids=["csv-inf", "csv--inf", "csv-1e9"])
def test_unphysical_value_in_a_data_file(tmp_path, values, parts):
    v = np.arange(24 * 5, dtype=float) + 20.0
    values(v)
    data = price_csv(tmp_path / "bad.csv", v)
    path = scenario(tmp_path, with_file("bad.csv"))
    msg = refused(tmp_path, "validate", str(path))
    names(msg, str(data), f"field '{PRICE}'", *parts)
    run = refused(tmp_path, "run", str(path), "-o", str(tmp_path / "o"), "-q")
    assert run == msg


def test_negative_intensity_in_a_data_file(tmp_path):
    price_csv(tmp_path / "ci.csv", -np.ones(24 * 5), column="ci")
    path = scenario(tmp_path, lambda d: site(d)["grid"].update(
        intensity_kg_per_mwh={"file": "ci.csv", "column": "ci", "unit": "g/kWh"}))
    names(refused(tmp_path, "validate", str(path)), "ci.csv", "sites[0].grid.intensity_kg_per_mwh",
          "outside the range of a intensity", "row 2")


def test_weather_with_an_infinite_temperature(tmp_path):
    t = pd.date_range("2023-05-31", periods=24 * 5, freq="h")
    frame = pd.DataFrame({"time": t.astype(str), "ghi": 0.0, "dni": 0.0, "dhi": 0.0, "temp_air": 20.0,
                          "wind_speed": 3.0})
    frame.loc[10, "temp_air"] = INF
    frame.to_csv(tmp_path / "wx.csv", index=False)
    path = scenario(tmp_path, lambda d: site(d).update(weather={"file": "wx.csv", "format": "csv"},
                                                       location={"latitude": 30, "longitude": -97}))
    names(refused(tmp_path, "validate", str(path)), "wx.csv", "sites[0].weather", "temp_air is inf")


def test_gpu_catalog_with_an_infinite_power(tmp_path):
    from wattscale.compute.catalog import _bundled_text

    cat = yaml.safe_load(_bundled_text())
    entry = dict(cat["gpus"]["H100-SXM"], tdp_w=INF)
    (tmp_path / "cat.yaml").write_text(yaml.safe_dump({"gpus": {"X1": entry}}))
    path = scenario(tmp_path, lambda d: (site(d)["facility"].update(workloads=[{**TRAIN, "gpu": "X1"}]),
                                         d.update(gpu_catalog="cat.yaml")))
    names(refused(tmp_path, "validate", str(path)), "cat.yaml", "gpus.X1.tdp_w", "implausible")


def test_limits_file_with_an_infinite_amplitude(tmp_path):
    (tmp_path / "limits.yaml").write_text("bands:\n  - {low_hz: 0.1, high_hz: 2, max_amplitude_mw: .inf}\n")
    path = scenario(tmp_path, lambda d: (site(d)["facility"].update(workloads=[TRAIN]),
                                         d.update(swings={"duration_s": 60, "limits": "limits.yaml"})))
    names(refused(tmp_path, "validate", str(path)), "limits.yaml", "bands[0].max_amplitude_mw", "'inf'")


# ---------------------------------------------------------------- 12: nonsense read as something
@pytest.mark.parametrize("edit, field, why", [
    (lambda d: site(d)["facility"].update(workloads=[{**TRAIN, "gpus": True}]),
     "sites[0].facility.workloads[0].training.gpus", "expected a number, not true"),
    (lambda d: site(d)["facility"].update(workloads=[{**TRAIN, "gpus": 10**15}]),
     "sites[0].facility.workloads[0].training.gpus", "less than or equal to 10000000"),
    (lambda d: site(d)["facility"].update(workloads=[{**INFER, "arrivals": {"mean_rate_per_s": 1e12}}]),
     "sites[0].facility.workloads[0].inference.arrivals.mean_rate_per_s", "less than or equal to 1000000"),
    (lambda d: site(d).update(wind={"n_turbines": True}), "sites[0].wind.n_turbines", "not true"),
    (lambda d: site(d)["generators"][0].update(capacity_mw=False), "sites[0].generators[0].capacity_mw",
     "not false"),
    (lambda d: site(d)["generators"].extend({"name": f"g{i}", "capacity_mw": 1} for i in range(2, 102)),
     "sites[0].generators", "at most 100"),
    (lambda d: d["sites"].extend({**copy.deepcopy(site(d)), "name": f"s{i}"} for i in range(101)), "sites",
     "at most 100"),
    (lambda d: site(d)["facility"].update(workloads=[{**TRAIN, "groups": 2048, "gpus": 1024}]),
     "sites[0].facility.workloads[0].training", "groups (2048) must not exceed gpus (1024)"),
    (lambda d: site(d)["facility"].update(workloads=[{**TRAIN, "failures": {"seed": -1}}]),
     "sites[0].facility.workloads[0].training.failures.seed", "greater than or equal to 0"),
    (lambda d: d.update(controller={"kind": "mpc", "replan_every_h": 0.0001}), "controller.replan_every_h",
     "shorter than one step"),
], ids=["gpus-true", "gpus-1e15", "requests-1e12", "turbines-true", "capacity-false", "101-generators",
        "101-sites", "groups-above-gpus", "negative-seed", "replan-below-a-step"])
def test_nonsense_is_not_read_as_a_number(tmp_path, edit, field, why):
    refused_by_validate(tmp_path, scenario(tmp_path, edit), f"field '{field}'", why)


def test_failures_too_frequent_to_list(tmp_path):
    job = {**TRAIN, "gpus": 10_000_000, "failures": {"per_gpu_hour": 1.0, "restart_s": 0}}
    path = scenario(tmp_path, lambda d: site(d)["facility"].update(workloads=[job]))
    names(refused(tmp_path, "validate", str(path)), str(path), "workloads[0].failures.per_gpu_hour",
          "expected failures")


NETWORK = {
    "name": "two-feeders",
    "buses": [{"name": "HV", "vn_kv": 110}, {"name": "MV", "vn_kv": 20}, {"name": "L1", "vn_kv": 20},
              {"name": "L2", "vn_kv": 20}],
    "transformers": [{"name": "T1", "hv_bus": "HV", "lv_bus": "MV", "sn_mva": 40, "vn_hv_kv": 110,
                      "vn_lv_kv": 20}],
    "lines": [{"name": "A", "from_bus": "MV", "to_bus": "L1", "length_km": 2, "r_ohm_per_km": 0.1,
               "x_ohm_per_km": 0.1},
              {"name": "B", "from_bus": "L1", "to_bus": "L2", "length_km": 2, "r_ohm_per_km": 0.1,
               "x_ohm_per_km": 0.1}],
    "switches": [{"name": "CB", "bus": "MV", "element": "A", "kind": "breaker"}],
    "loads": [{"name": "hall", "bus": "L2", "p_mw": 5}],
    "sources": [{"name": "grid", "bus": "HV", "kind": "grid"}],
}


@pytest.mark.parametrize("command, edit, field, why", [
    ("flow", lambda n: n["lines"][1].update(to_bus="L1"), "lines[1]", "from bus 'L1' to itself"),
    ("flow", lambda n: n["buses"][1].update(vn_kv=INF), "buses[1].vn_kv", "finite"),
    ("flow", lambda n: n["buses"][1].update(vn_kv=1e9), "buses[1].vn_kv", "less than or equal to 1200"),
    ("flow", lambda n: n["lines"][1].update(r_ohm_per_km=0, x_ohm_per_km=0), "lines[1]", "no impedance"),
    ("heal", lambda n: n["lines"][1].update(r_ohm_per_km=0, x_ohm_per_km=0), "lines[1]", "no impedance"),
    ("flow", lambda n: n["transformers"][0].update(lv_bus="HV"), "transformers[0]", "to itself"),
    ("flow", lambda n: n["loads"][0].update(gpus=True), "loads[0].gpus", "not true"),
    ("flow", lambda n: n["loads"][0].update(p_mw=NAN), "loads[0].p_mw", "finite"),
], ids=["line-to-itself", "vn-kv-inf", "vn-kv-1e9", "zero-impedance-flow", "zero-impedance-heal",
        "transformer-to-itself", "load-gpus-true", "load-nan"])
def test_network_nonsense(tmp_path, command, edit, field, why):
    net = copy.deepcopy(NETWORK)
    edit(net)
    path = write(tmp_path, net, "net.yaml")
    args = ["grid", command, str(path), "-o", str(tmp_path / "o")] + (["--fault", "B"] if command == "heal" else [])
    names(refused(tmp_path, *args), str(path), f"field '{field}'", why)


def test_power_flow_dividing_by_zero_names_the_line():
    """A branch without impedance that reaches pandapower (not through a network file) is a NetworkError naming
    it, not a FloatingPointError."""
    from wattscale.errors import NetworkError
    from wattscale.network.build import load_network
    from wattscale.network.flow import solve

    net = load_network(EXAMPLES / "networks" / "campus-ring.yaml")
    i = int(net.net.line.index[net.net.line.name == "A2"][0])
    net.net.line.loc[i, ["r_ohm_per_km", "x_ohm_per_km"]] = 0.0
    with np.errstate(divide="raise", invalid="raise"), pytest.raises(NetworkError, match="A2 has no impedance"):
        solve(net)


@pytest.mark.parametrize("option, value", [
    ("--horizon-h", "-5"), ("--horizon-h", "inf"), ("--issue-every-h", "0"), ("--issue-every-h", "nan"),
    ("--refit-every-h", "1e300"), ("--train-days", "nan"),
])
def test_forecast_options(tmp_path, option, value):
    path = scenario(tmp_path)
    msg = refused(tmp_path, "forecast", "backtest", str(path), option, value, "-o", str(tmp_path / "o"), "-q")
    names(msg, str(path), f"field '{option}'", "expected a finite number above 0")


def test_forecast_interval_shorter_than_a_step(tmp_path):
    path = scenario(tmp_path)
    msg = refused(tmp_path, "forecast", "backtest", str(path), "--issue-every-h", "0.25", "-o", str(tmp_path / "o"),
                  "-q")
    names(msg, "field '--issue-every-h'", "shorter than the scenario's step of 1 h")


@pytest.mark.parametrize("args, field", [
    (["--resolution-s", "nan"], "swings.resolution_s"),
    (["--duration-s", "-inf"], "swings.duration_s"),
])
def test_swing_options(tmp_path, args, field):
    names(refused(tmp_path, "swings", str(EXAMPLES / "llm-campus.yaml"), "-o", str(tmp_path / "o"), *args),
          f"field '{field}'")


def test_grid_flow_interval(tmp_path):
    names(refused(tmp_path, "grid", "flow", "ieee33", "--results", str(tmp_path), "--every", "nan", "-o",
                  str(tmp_path / "o")), "field '--every'")


# ---------------------------------------------------------------- 9: problems too large for memory
def century_at_1s(tmp_path: Path) -> Path:
    return scenario(tmp_path, lambda d: d["time"].update(duration="36500d", step="1s"))


def _limit_address_space() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))


@pytest.mark.parametrize("command", [["validate", "--no-data"], ["validate"], ["run", "-o", "o", "-q"],
                                     ["swings", "-o", "o"]])
def test_a_century_at_one_second_is_refused_before_allocating(tmp_path, command):
    """3.15 billion steps used to pass `validate --no-data` and then exhaust memory: now every command refuses it
    at once, in a process that could not allocate more than 2 GB anyway."""
    path = century_at_1s(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k != "WATTSCALE_MAX_MEMORY_GB"}
    t0 = time.perf_counter()
    proc = subprocess.run([str(WATTSCALE), command[0], str(path), *command[1:]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, preexec_fn=_limit_address_space)
    elapsed = time.perf_counter() - t0
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout and "MemoryError" not in err
    assert err.count("error:") == 1
    names(err, str(path), "field 'time'", "3,153,600,000 steps", "GB of memory", "WATTSCALE_MAX_MEMORY_GB")
    assert not (tmp_path / "o").exists() and not (tmp_path / "out").exists()
    assert elapsed < 60


def test_memory_limit_can_be_raised_and_lowered(tmp_path):
    path = scenario(tmp_path, lambda d: d["time"].update(duration="365d", step="1s"))  # 31.5 million steps
    names(refused(tmp_path, "--max-memory-gb", "4", "validate", "--no-data", str(path)), "field 'time'",
          "31,536,000 steps", "above the limit of 4.0 GB (--max-memory-gb)")
    names(refused(tmp_path, "validate", "--no-data", str(path), env={"WATTSCALE_MAX_MEMORY_GB": "2"}),
          "limit of 2.0 GB (WATTSCALE_MAX_MEMORY_GB)")
    res = CliRunner().invoke(app, ["--max-memory-gb", "100", "validate", "--no-data", str(path)])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("args, env, field", [
    (["--max-memory-gb", "nan"], None, "--max-memory-gb"),
    (["--max-memory-gb", "-1"], None, "--max-memory-gb"),
    ([], {"WATTSCALE_MAX_MEMORY_GB": "lots"}, "WATTSCALE_MAX_MEMORY_GB"),
], ids=["option-nan", "option-negative", "env-text"])
def test_bad_memory_limit(tmp_path, args, env, field):
    names(refused(tmp_path, *args, "validate", "--no-data", str(scenario(tmp_path)), env=env), f"field '{field}'")


def test_swing_study_at_its_sample_cap_is_refused_under_a_memory_limit(tmp_path):
    """50 million samples (the schema's cap) of two workloads need about 11 GB: refused under a 4 GB limit,
    naming the field and the estimate, before any waveform is built."""
    t0 = time.perf_counter()
    msg = refused(tmp_path, "--max-memory-gb", "4", "swings", str(EXAMPLES / "llm-campus.yaml"), "-o",
                  str(tmp_path / "o"), "--duration-s", "500000", "--resolution-s", "0.01")
    names(msg, "field 'swings.resolution_s'", "50,000,000 samples x 2 workload(s)", "GB of memory")
    assert time.perf_counter() - t0 < 30


def test_swing_section_too_large_is_refused_by_validate(tmp_path):
    path = scenario(tmp_path, lambda d: (site(d)["facility"].update(workloads=[TRAIN]),
                                         d.update(swings={"duration_s": 40000, "resolution_s": 0.001})))
    names(refused(tmp_path, "--max-memory-gb", "4", "validate", "--no-data", str(path)), str(path),
          "field 'swings.resolution_s'", "40,000,000 samples")


def test_oversized_scenario_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "huge.yaml"
    gens = "".join(f"      - {{name: g{i}, capacity_mw: 5}}\n" for i in range(50_000))
    path.write_text(yaml.safe_dump(BASE).replace("  generators:\n  - capacity_mw: 5.0\n    name: g1\n", "")
                    + "# padding\n" + gens)
    t0 = time.perf_counter()
    names(refused(tmp_path, "validate", "--no-data", str(path)), str(path), "too large", "at most 1 MB")
    assert time.perf_counter() - t0 < 5


def test_alias_bomb_is_refused(tmp_path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, cur in zip("abcdefg", "bcdefgh"):
        lines.append(f"{cur}: &{cur} [{','.join([f'*{prev}'] * 9)}]")
    lines.append(f"sites: [{','.join(['*h'] * 9)}]")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    names(refused(tmp_path, "validate", "--no-data", str(path)), str(path), "aliases", "200,000 values")


# ---------------------------------------------------------------- 11: times, links, special files
@pytest.mark.parametrize("edit, field, why", [
    (lambda d: d["time"].update(start="9999-12-30", duration="5d"), "time.start", "outside the years 1900 to 2200"),
    (lambda d: d["time"].update(start="2199-06-01", duration="36500d", step="1h"), "time.duration",
     "ends after the year 2200"),
    (lambda d: d["time"].update(start="1066-10-14"), "time.start", "outside the years"),
    (lambda d: site(d)["grid"].update(outages=[{"start": "2023-06-01", "duration": "99999999999999999999d"}]),
     "sites[0].grid.outages[0].duration", "is not a duration"),
    (lambda d: site(d)["grid"].update(outages=[{"start": "9999-01-01", "duration": "1h"}]),
     "sites[0].grid.outages[0].start", "outside the years"),
], ids=["year-9999", "overflowing-duration", "year-1066", "huge-outage", "outage-9999"])
def test_times_pandas_cannot_hold(tmp_path, edit, field, why):
    refused_by_validate(tmp_path, scenario(tmp_path, edit), f"field '{field}'", why)


def test_symlink_loop_as_scenario(tmp_path):
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    names(refused(tmp_path, "validate", str(tmp_path / "a.yaml")), "a.yaml", "loop of symbolic links")
    names(refused(tmp_path, "run", str(tmp_path / "a.yaml"), "-o", str(tmp_path / "o")), "loop of symbolic links")


@pytest.mark.parametrize("make, why", [
    (lambda p: (p.with_name("other.csv").symlink_to(p), p.symlink_to(p.with_name("other.csv"))),
     "loop of symbolic links"),
    (lambda p: os.mkfifo(p), "not a regular file"),
    (lambda p: p.mkdir(), "is a folder"),
], ids=["symlink-loop", "fifo", "folder"])
def test_data_path_that_is_not_a_file(tmp_path, make, why):
    """A FIFO would block the reader forever; a loop used to raise RuntimeError while resolving the path."""
    make(tmp_path / "price.csv")
    path = scenario(tmp_path, with_file("price.csv"))
    names(refused(tmp_path, "validate", str(path)), "price.csv", f"field '{PRICE}'", why)


def test_symlink_loop_as_swing_limits(tmp_path):
    (tmp_path / "l1.yaml").symlink_to(tmp_path / "l2.yaml")
    (tmp_path / "l2.yaml").symlink_to(tmp_path / "l1.yaml")
    names(refused(tmp_path, "swings", str(EXAMPLES / "llm-campus.yaml"), "-o", str(tmp_path / "o"), "--limits",
                  str(tmp_path / "l1.yaml")), "l1.yaml", "loop of symbolic links")


# ---------------------------------------------------------------- 13: validate refuses what later commands refuse
def two_sites(d: dict) -> None:
    d["sites"].append({**copy.deepcopy(site(d)), "name": "t"})


@pytest.mark.parametrize("edit, field, why", [
    (lambda d: (two_sites(d), d.update(market={"events": [{"start": "2024-02-01", "duration": "2h",
                                                           "reduce_mw": 1}]})),
     "market.events[0]", "outside the timeline"),
    (lambda d: (two_sites(d), d.update(market={"price_cap_usd_per_mwh": NAN})), "market.price_cap_usd_per_mwh",
     "finite"),
    (lambda d: (two_sites(d), d.update(market={"price_floor_usd_per_mwh": -INF})), "market.price_floor_usd_per_mwh",
     "finite"),
    (lambda d: (two_sites(d), site(d).update(name="north site"), d.update(market={})), "sites[0].name",
     "cannot be a market participant"),
    (lambda d: (two_sites(d), site(d).update(name="operator"), d.update(market={})), "sites[0].name",
     "may not be named 'operator'"),
    (lambda d: d.update(market={}), "sites", "at least two sites"),
    (lambda d: (two_sites(d), d.update(market={"events": [{"start": "2023-06-02", "duration": "2h",
                                                           "reduce_mw": 1}]})),
     "market.events[0].start", "needs 5 event-free days of history"),
    (lambda d: (two_sites(d), d.update(market={"transfer_limits": [{"between": ["s", "s"], "limit_mw": 1}]})),
     "market.transfer_limits[0]", "not 's' to itself"),
    (lambda d: d.update(swings={"site": "nowhere"}), "swings.site", "no site named 'nowhere'"),
    (lambda d: d.update(sizing={"site": "nowhere"}), "sizing.site", "no site named 'nowhere'"),
    (lambda d: d.update(swings={"duration_s": 60}), "sites[0].facility.workloads", "no workloads"),
    (lambda d: (site(d)["facility"].update(workloads=[TRAIN]), d.update(swings={"start": "2023-07-01"})),
     "swings.start", "outside the timeline"),
    (lambda d: site(d)["grid"].update(demand_response=[{"start": "2024-01-01", "duration": "2h",
                                                         "hold_import_mw": 5}]),
     "sites[0].grid.demand_response[0]", "outside the timeline"),
], ids=["event-outside", "cap-nan", "floor--inf", "bad-participant-name", "site-named-operator", "one-site-market",
        "event-without-baseline-days", "link-to-itself", "swings-site", "sizing-site", "swings-without-workloads",
        "swing-window-outside", "demand-response-outside"])
def test_validate_checks_every_section(tmp_path, edit, field, why):
    refused_by_validate(tmp_path, scenario(tmp_path, edit), f"field '{field}'", why)


def test_market_error_names_the_scenario_not_a_ledger(tmp_path):
    path = scenario(tmp_path, lambda d: (two_sites(d), site(d).update(name="operator")))
    msg = refused(tmp_path, "market", str(path), "-o", str(tmp_path / "o"), "-q")
    names(msg, str(path), "operator")
    assert "ledger" not in msg.split("operator")[0] and ".sqlite" not in msg


# ---------------------------------------------------------------- 14: no file contents or escape codes echoed
def assert_clean(msg: str, limit: int = 700) -> None:
    assert len(msg) < limit, f"message of {len(msg)} characters"
    assert all(ch.isprintable() for ch in msg), f"control characters in: {msg!r}"


def test_price_file_linked_to_a_system_file(tmp_path):
    """A link to a file that is not a table (here a stand-in for /etc/shadow): no more than a short excerpt of
    its first line is quoted."""
    secret = tmp_path / "shadow"
    secret.write_text("root:" + "S3CRET" * 1000 + ":19000:0:99999:7:::\n")
    (tmp_path / "p.csv").symlink_to(secret)
    path = scenario(tmp_path, with_file("p.csv"))
    msg = refused(tmp_path, "validate", str(path))
    names(msg, f"field '{PRICE}'", "column 'price' not found", "…")
    assert_clean(msg)
    assert msg.count("S3CRET") <= 6


def test_binary_price_file(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "bin.csv").write_bytes(bytes(rng.choice([1, 2, 7, 8, 11, 27, 65], size=8192).astype(np.uint8)))
    path = scenario(tmp_path, with_file("bin.csv"))
    msg = refused(tmp_path, "validate", str(path))
    names(msg, "bin.csv", f"field '{PRICE}'")
    assert_clean(msg)


def test_long_non_numeric_value_is_cut(tmp_path):
    v = [str(x) for x in range(24 * 5)]
    v[10] = "x" * 8000
    price_csv(tmp_path / "p.csv", v)
    msg = refused(tmp_path, "validate", str(scenario(tmp_path, with_file("p.csv"))))
    names(msg, "non-numeric value", "row 12", "…")
    assert_clean(msg)


@pytest.mark.parametrize("edit, field", [
    (lambda d: site(d).update(name="evil\x1b[31mRED\x1b[0m"), "sites[0].name"),
    (lambda d: site(d)["generators"][0].update(name="g\x07\x1b]0;owned\x07"), "sites[0].generators[0].name"),
    (lambda d: site(d)["grid"].update({"\x1b[2Jwipe": 1}), "sites[0].grid"),
    (lambda d: d["time"].update(timezone="\x1b[2J" + "Z" * 500), "time.timezone"),
], ids=["site-name", "generator-name", "unknown-key", "time-zone"])
def test_escape_codes_are_never_printed_raw(tmp_path, edit, field):
    msg = refused_by_validate(tmp_path, scenario(tmp_path, edit), f"field '{field}'")
    assert "\x1b" not in msg and "\x07" not in msg
    assert_clean(msg)


def test_escape_codes_in_a_column_header(tmp_path):
    price_csv(tmp_path / "p.csv", column="pri\x1b[31mce")
    msg = refused(tmp_path, "validate", str(scenario(tmp_path, with_file("p.csv"))))
    names(msg, "p.csv", f"field '{PRICE}'")
    assert "\x1b" not in msg
    assert_clean(msg)


def test_excerpt():
    from wattscale.guards import excerpt

    assert excerpt("plain") == "plain"
    assert excerpt("a\x1bb\nc") == "a\\x1bb\\nc"
    long = excerpt("y" * 1000, 20)
    assert long == "y" * 20 + "…"
    assert excerpt(b"\xff\x00ab") == "\\xff\\x00ab"


def test_an_unset_environment_variable_in_a_path_is_named(tmp_path):
    path = scenario(tmp_path, lambda d: d["sites"][0].update(weather={"file": "${NO_SUCH_DATA_DIR}/w.epw",
                                                                      "format": "epw"}))
    env = {k: v for k, v in os.environ.items() if k != "NO_SUCH_DATA_DIR"}
    msg = refused(tmp_path, "validate", "--no-data", str(path), env=env)
    names(msg, str(path), "NO_SUCH_DATA_DIR", "not set", "export NO_SUCH_DATA_DIR=")


def test_a_backtest_of_wind_at_a_site_without_wind_is_refused_at_once(tmp_path):
    path = scenario(tmp_path)
    msg = refused(tmp_path, "forecast", "backtest", str(path), "--target", "wind", "-o", str(tmp_path / "o"), "-q")
    names(msg, str(path), "has no wind", "field '--target'")

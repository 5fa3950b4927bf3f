"""Sweeps on Dask: the same table with and without a cluster, a real scheduler with a worker killed mid-sweep,
resuming after an interrupt, bad sweep files, and the pieces (case expansion, shared inputs, Pareto front)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from tests.test_bad_input import WATTSCALE, error_text, invoke
from tests.test_studies import short

from wattscale.errors import WattscaleError
from wattscale.sweep import plan_sweep, read_table, run_sweep
from wattscale.sweep.report import pareto_front
from wattscale.sweep.spec import SweepError, expand, sweep_from_dict

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).parent / "dask"


def sweep_file(tmp_path: Path, *, scenario: str = "llm-campus.yaml", days: int = 7, step: str = "1h",
               parameters: dict | None = None, **fields) -> Path:
    path = short(scenario, tmp_path, days=days, step=step, start="2023-07-17")
    data = yaml.safe_load(path.read_text())
    data["sites"][0]["grid"].pop("demand_response", None)  # an event outside the short window
    path.write_text(yaml.safe_dump(data))
    body = {"study": "run", "scenario": path.name, "mode": "grid",
            "parameters": parameters or {"sites[0].battery.energy_mwh": [400, 1600],
                                         "carbon_price_usd_per_t": [0, 100]}, **fields}
    out = tmp_path / "sweep.yaml"
    out.write_text(yaml.safe_dump(body, sort_keys=False))
    return out


def without_times(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["seconds"])


def journal_keys(folder: Path) -> list[str]:
    lines = (folder / "cases.jsonl").read_text().splitlines()
    return [json.loads(line)["key"] for line in lines if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ cases
def test_grid_zip_and_random_modes_expand_as_documented():
    grid = sweep_from_dict({"study": "run", "parameters": {"a": [1, 2, 3], "b": ["x", "y"]}})
    assert [c.values for c in expand(grid)] == [{"a": a, "b": b} for a in (1, 2, 3) for b in ("x", "y")]
    zipped = sweep_from_dict({"study": "run", "mode": "zip", "parameters": {"a": [1, 2], "b": [3, 4]}})
    assert [c.values for c in expand(zipped)] == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
    spec = {"study": "run", "mode": "random", "samples": 500, "seed": 7,
            "parameters": {"u": {"uniform": [2, 5]}, "n": {"integers": [1, 3]}, "c": ["p", "q"],
                           "g": {"loguniform": [1, 100]}}}
    cases = expand(sweep_from_dict(spec))
    assert cases == expand(sweep_from_dict(spec))  # the seed decides every draw
    u = np.array([c.values["u"] for c in cases])
    assert 2 <= u.min() and u.max() <= 5 and abs(u.mean() - 3.5) < 0.15  # uniform's mean, 500 draws
    assert {c.values["n"] for c in cases} == {1, 2, 3} and {c.values["c"] for c in cases} == {"p", "q"}
    g = np.log10([c.values["g"] for c in cases])
    assert abs(g.mean() - 1.0) < 0.1  # log-uniform on 1..100: log10 uniform on 0..2


@pytest.mark.parametrize("fields, field, words", [
    ({"mode": "zip", "parameters": {"a": [1, 2], "b": [1]}}, "parameters", "same number of values"),
    ({"parameters": {"a": []}}, "parameters", "empty list"),
    ({"parameters": {}}, "parameters", "no parameters"),
    ({"mode": "random", "parameters": {"a": {"uniform": [1, 2]}}}, "samples", "number of samples"),
    ({"mode": "random", "samples": 3, "parameters": {"a": {"gamma": [1, 2]}}}, "parameters.a", "distribution"),
    ({"mode": "random", "samples": 3, "parameters": {"a": {"uniform": [5, 1]}}}, "parameters.a", "out of order"),
    ({"parameters": {f"p{k}": list(range(10)) for k in range(7)}}, "parameters", "10,000,000 cases"),
])
def test_bad_sweeps_name_the_field(fields, field, words):
    with pytest.raises(SweepError) as err:
        expand(sweep_from_dict({"study": "run", **fields}))
    assert err.value.field == field and words in str(err.value)


def test_a_changed_campus_keeps_the_inputs_its_changes_do_not_touch(tmp_path):
    """Reusing a site's built inputs when only its battery changes gives the KPIs a fresh build gives."""
    from wattscale.engine.campus import prepare
    from wattscale.studies.registry import run_study

    path = short("llm-campus.yaml", tmp_path, days=3, start="2023-07-17")
    base = prepare(path)
    base.inputs()
    changes = {"sites[0].battery.energy_mwh": 1600, "sites[0].generators[0].capacity_mw": 90}
    reused = base.with_changes(changes)
    assert reused._inputs[0].pue is base._inputs[0].pue  # not built again
    assert [g.capacity_mw for g in reused.inputs().generators] != [g.capacity_mw for g in base.inputs().generators]
    fresh = run_study("run", path, changes=changes).kpis
    assert run_study("run", reused).kpis == fresh
    moved = base.with_changes({"sites[0].solar.capacity_mwac": 100})
    assert 0 not in moved._inputs  # a change to what the series are built from builds them again


def test_pareto_front_matches_brute_force():
    rng = np.random.default_rng(3)
    cost, co2 = rng.uniform(0, 1, 300), rng.uniform(0, 1, 300)
    dominated = {i for i in range(300) for j in range(300)
                 if cost[j] <= cost[i] and co2[j] <= co2[i] and (cost[j] < cost[i] or co2[j] < co2[i])}
    assert set(pareto_front(cost, co2)) == set(range(300)) - dominated


# ------------------------------------------------------------------ bad sweep files through the command
@pytest.mark.parametrize("change, words", [
    ({"study": "runn"}, "no study named 'runn'"),
    ({"parameters": {"sites[0].battery.energy_mwhh": [1, 2]}}, "energy_mwhh"),
    ({"parameters": {"sites[0].battery.energy_mwh": [400, "lots"]}}, "case 1 of 2"),
    ({"parameters": {"sites[0].battery.energy_mwh": []}}, "empty list"),
    ({"parameters": {"options.resolution_s": [1]}}, "resolution_s"),
    ({"scenario": "missing.yaml"}, "no scenario file 'missing.yaml'"),
])
def test_bad_sweep_file_is_one_error_and_writes_nothing(tmp_path, change, words):
    path = sweep_file(tmp_path)
    body = {**yaml.safe_load(path.read_text()), **change}
    path.write_text(yaml.safe_dump(body))
    out = tmp_path / "out"
    message = error_text(invoke("sweep", str(path), "-o", str(out), "--workers", "0", "-q"))
    assert words in message and "sweep.yaml" in message
    assert not out.exists()


def test_a_folder_wattscale_did_not_write_is_refused(tmp_path):
    path = sweep_file(tmp_path)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert "not a wattscale results folder" in error_text(invoke("sweep", str(path), "-o", str(out), "--workers",
                                                                 "0", "-q"))
    assert (out / "notes.txt").read_text() == "keep me" and len(list(out.iterdir())) == 1


# ------------------------------------------------------------------ running
def test_local_cluster_and_no_cluster_give_the_same_table(tmp_path):
    from dask.distributed import Client, LocalCluster

    path = sweep_file(tmp_path)
    here = run_sweep(path, tmp_path / "here")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as c:
        there = run_sweep(path, tmp_path / "there", client=c, keep_results=True)
    assert len(here.cases) == 4 and (here.cases.status == "ok").all()
    pd.testing.assert_frame_equal(without_times(read_table(here.folder)), without_times(read_table(there.folder)))
    # the sweep's KPIs are each case's own run: the kept folder of case 3 holds the same numbers
    kept = sorted((there.folder / "cases").iterdir())
    assert len(kept) == 4
    summary = json.loads((kept[3] / "summary.json").read_text())
    assert summary["kpis"]["total_cost_usd"] == pytest.approx(there.cases.total_cost_usd[3], rel=1e-12)
    assert (there.folder / "report.html").read_text().count("Pareto front") >= 1


def test_interrupted_sweep_resumes_without_running_a_case_twice(tmp_path):
    path = sweep_file(tmp_path, scenario="llm-campus-mpc.yaml", days=2,
                      parameters={"sites[0].battery.energy_mwh": [400, 800, 1200, 1600],
                                  "carbon_price_usd_per_t": [0, 100]})
    out = tmp_path / "out"
    proc = subprocess.Popen([str(WATTSCALE), "sweep", str(path), "-o", str(out), "--workers", "0", "-q"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "cases.jsonl").exists() or \
            len(journal_keys(out)) < 2:
        time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    before = journal_keys(out)
    assert 2 <= len(before) < 8
    done = subprocess.run([str(WATTSCALE), "sweep", str(path), "-o", str(out), "--workers", "0", "-q"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    keys = journal_keys(out)
    assert len(keys) == len(set(keys)) == 8  # each case ran once, over the two runs
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped"] == len(before) and summary["ran"] == 8 - len(before)
    assert (read_table(out).status == "ok").all()


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_loses_no_case_and_runs_none_twice(tmp_path):
    """A real scheduler and two workers on 127.0.0.1; one worker is SIGKILLed while cases run."""
    path = sweep_file(tmp_path, scenario="llm-campus-mpc.yaml", days=2,
                      parameters={"sites[0].battery.energy_mwh": [400, 800, 1200, 1600],
                                  "carbon_price_usd_per_t": [0, 50, 100]})
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "error"}
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    try:
        time.sleep(2)
        workers = [subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-nanny",
                                     "--no-dashboard", "--name", f"w{k}"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, env=env) for k in range(2)]
        procs += workers
        out = tmp_path / "out"
        sweep = subprocess.Popen([str(WATTSCALE), "sweep", str(path), "-o", str(out), "--scheduler", address, "-q"],
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and (not (out / "cases.jsonl").exists() or len(journal_keys(out)) < 2):
            time.sleep(0.05)
            assert sweep.poll() is None, sweep.communicate()
        workers[0].send_signal(signal.SIGKILL)
        _, err = sweep.communicate(timeout=300)
        assert sweep.returncode == 0, err
        keys = journal_keys(out)
        assert len(keys) == len(set(keys)) == 12
        table = read_table(out)
        assert sorted(table.case) == list(range(12)) and (table.status == "ok").all()
        assert workers[0].wait(5) == -signal.SIGKILL and workers[1].poll() is None
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_a_failing_case_is_recorded_and_the_others_go_on(tmp_path):
    """A price file that is not there passes the sweep's checks (files are read when a case runs) and fails its
    case only."""
    path = sweep_file(tmp_path, parameters={"sites[0].grid.price_usd_per_mwh": [30, {"file": "missing.csv", "column": "price", "unit": "USD/MWh"}, 60]})
    result = run_sweep(path, tmp_path / "out")
    assert list(result.cases.status) == ["ok", "failed", "ok"]
    assert "missing.csv" in result.cases.error[1] and np.isnan(result.cases.total_cost_usd[1])
    assert result.cases.total_cost_usd[2] > result.cases.total_cost_usd[0]  # dearer energy costs more


def test_plan_refuses_a_network_study_with_scenario_parameters(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump({"study": "grid-flow", "network": "ieee33",
                                    "parameters": {"sites[0].battery.energy_mwh": [1, 2]}}))
    with pytest.raises(WattscaleError) as err:
        plan_sweep(path)
    assert "options.<name>" in str(err.value)

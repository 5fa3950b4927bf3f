"""``wattscale market`` and ``wattscale ledger`` end to end: conservation of energy and money across the settled
trades, a tampered ledger file caught from the command line, private keys that never leave the results folder
(even when the run is killed), the VPP baseline by hand, and bad input."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from wattscale.cli import app
from wattscale.decisions.market.vpp import baseline_mw
from wattscale.errors import MarketError

pytestmark = pytest.mark.xdist_group("test_market_cli")  # its module fixtures are built once, on one worker
runner = CliRunner()


@pytest.fixture(scope="session")  # once per worker, however its tests are interleaved
def market_out(tmp_path_factory, examples_dir):
    out = tmp_path_factory.mktemp("m") / "market"
    scratch = tmp_path_factory.mktemp("tmpdir")  # the run's temporary folder, to see what it leaves behind
    before, tempfile.tempdir = tempfile.tempdir, str(scratch)
    try:
        res = runner.invoke(app, ["market", str(examples_dir / "market-texas.yaml"), "-o", str(out), "-q"])
    finally:
        tempfile.tempdir = before
    assert res.exit_code == 0, res.output
    assert list(scratch.iterdir()) == []  # the temporary ledger is gone on a normal exit
    return out


def test_market_conserves_energy_and_money_and_every_site_gains(market_out):
    s = json.loads((market_out / "summary.json").read_text())
    bills = pd.read_csv(market_out / "bills.csv")
    iv = pd.read_csv(market_out / "intervals.csv")
    assert s["ledger"]["verified"] and s["traded_mwh"] > 0
    assert bills["bought_mwh"].sum() == pytest.approx(bills["sold_mwh"].sum(), rel=1e-9)  # energy
    assert bills["net_paid_usd"].sum() == pytest.approx(0.0, abs=1e-6 * bills["paid_usd"].sum())  # money
    assert (bills["saving_usd"] >= -1e-6).all()  # nobody trades at a loss against its own plan
    assert bills["saving_usd"].sum() == pytest.approx(iv["welfare_usd"].sum(), rel=1e-6)  # welfare shared out
    assert s["admm"]["converged"] and abs(s["admm"]["gap"]) <= 1e-3
    ev = s["events"][0]
    assert 0 < ev["delivered_mwh"] <= 40 * 4 * 1.5
    assert {"report.html", "ledger.sqlite", "keys", "event-0.csv", "trust.json", "checkpoint.json"} <= \
        {p.name for p in market_out.iterdir()}


def test_market_writes_keys_0600_in_a_0700_folder_and_a_ledger_that_stands_alone(market_out, tmp_path):
    keys = market_out / "keys"
    assert keys.stat().st_mode & 0o777 == 0o700
    pems = sorted(keys.glob("*.pem"))
    assert [p.stem for p in pems] == sorted(["operator", "training-west", "inference-dallas", "storage-houston",
                                             "wind-panhandle"])
    assert all(p.stat().st_mode & 0o777 == 0o600 and b"PRIVATE KEY" in p.read_bytes() for p in pems)
    s = json.loads((market_out / "summary.json").read_text())
    cp = json.loads((market_out / "checkpoint.json").read_text())
    assert (cp["entries"], cp["blocks"], cp["head_hash"]) == (s["ledger"]["entries"], s["ledger"]["blocks"],
                                                             s["ledger"]["head_hash"])
    assert any("checkpoint" in a for a in s["ledger"]["checked_against"])
    # checkpointed into one file: no -wal beside it, and a copy of that file alone holds every entry
    assert not list(market_out.glob("ledger.sqlite-*"))
    alone = tmp_path / "alone.sqlite"
    alone.write_bytes((market_out / "ledger.sqlite").read_bytes())
    res = runner.invoke(app, ["ledger", "verify", str(alone), "--checkpoint", str(market_out / "checkpoint.json")])
    assert res.exit_code == 0 and f"{cp['entries']:,} entries" in res.output, res.output


KILLED = """
import sys
from wattscale.cli import app
sys.argv = ["wattscale", "market", sys.argv[1], "-o", sys.argv[2], "-q"]
app()
"""


def test_killed_market_run_leaves_no_private_key_outside_the_results(tmp_path, examples_dir):
    """SIGKILL once the run's temporary ledger exists (the keys were written next to it before): no private key
    anywhere in the temporary folder, and none beside the output but in the 0700 folder being built."""
    scratch, out = tmp_path / "tmp", tmp_path / "results" / "market"
    scratch.mkdir()
    script = tmp_path / "run.py"
    script.write_text(KILLED)
    child = subprocess.Popen([sys.executable, str(script), str(examples_dir / "market-texas.yaml"), str(out)],
                             env={**os.environ, "TMPDIR": str(scratch)}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(scratch.glob("wattscale-market-*/ledger.sqlite")) and time.monotonic() < deadline:
            assert child.poll() is None, "the run ended before its ledger was made"
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert list(scratch.glob("wattscale-market-*/ledger.sqlite")), "the run was not killed mid-way"
    left = [p for p in scratch.rglob("*") if p.is_file()]
    assert not [p for p in left if p.suffix == ".pem" or b"PRIVATE KEY" in p.read_bytes()], left
    for pem in (tmp_path / "results").rglob("*.pem"):  # only in the results folder or its partial, 0600 in 0700
        folder = pem.parent.parent
        assert folder == out or folder.name.startswith(".market.partial-"), pem
        assert pem.stat().st_mode & 0o777 == 0o600 and pem.parent.stat().st_mode & 0o777 == 0o700


def test_ledger_cli_verifies_proves_and_catches_tampering(market_out, tmp_path):
    led = market_out / "ledger.sqlite"
    anchors = ["--trust", str(market_out / "trust.json"), "--checkpoint", str(market_out / "checkpoint.json")]
    res = runner.invoke(app, ["ledger", "verify", str(led), *anchors])
    assert res.exit_code == 0 and res.output.startswith("ok: ") and "checkpoint at block" in res.output, res.output
    res = runner.invoke(app, ["ledger", "verify", str(led)])  # nothing from outside the file: not "ok"
    assert res.exit_code == 3 and res.output.startswith("NOT anchored") and "ok:" not in res.output, res.output
    assert "--operator-key" in res.output
    proof = tmp_path / "proof.json"
    res = runner.invoke(app, ["ledger", "prove", str(led), "settle/2023-07-01/2023-07-08/storage-houston", "-o",
                              str(proof)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["ledger", "check", str(proof), "--trust", str(market_out / "trust.json")])
    assert res.exit_code == 0 and res.output.startswith("ok: "), res.output
    key = json.loads((market_out / "trust.json").read_text())["operator_key"]
    assert runner.invoke(app, ["ledger", "check", str(proof), "--operator-key", key]).exit_code == 0
    res = runner.invoke(app, ["ledger", "check", str(proof)])
    assert res.exit_code == 3 and "NOT anchored" in res.output and "ok:" not in res.output, res.output
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(led.read_bytes())
    raw = sqlite3.connect(copy)
    seq, text = raw.execute("SELECT seq, record FROM entries WHERE kind = 'settlement' LIMIT 1").fetchone()
    rec = json.loads(text)
    rec["body"]["amount_usd"] -= 1000.0  # a site pays a little less
    raw.execute("UPDATE entries SET record = ? WHERE seq = ?", (json.dumps(rec, sort_keys=True,
                                                                        separators=(",", ":")), seq))
    raw.commit()
    raw.close()
    res = runner.invoke(app, ["ledger", "verify", str(copy)])
    assert res.exit_code == 1 and "tampered" in res.output and f"entry {seq}" in res.output
    res = runner.invoke(app, ["ledger", "verify", str(copy), *anchors])
    assert res.exit_code == 1 and "tampered" in res.output and f"entry {seq}" in res.output


def test_ledger_prove_refuses_folders_links_and_files_it_did_not_write(market_out, tmp_path):
    led = str(market_out / "ledger.sqlite")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    link = tmp_path / "link.json"
    link.symlink_to(notes)
    for target, why in ((folder, "is a folder"), (notes, "not a proof written by wattscale"),
                        (link, "not a regular file")):
        res = runner.invoke(app, ["ledger", "prove", led, "0", "-o", str(target)])
        assert res.exit_code == 2 and why in res.output and "Traceback" not in res.output, res.output
    assert (folder / "keep.txt").read_text() == "keep" and notes.read_text() == "mine" and link.is_symlink()
    proof = tmp_path / "p.json"
    for entry in ("0", "1"):  # a proof it wrote earlier is replaced
        assert runner.invoke(app, ["ledger", "prove", led, entry, "-o", str(proof)]).exit_code == 0
    assert json.loads(proof.read_text())["entry"]["seq"] == 1


def test_vpp_baseline_high_four_of_five_by_hand():
    times = pd.date_range("2023-07-01", periods=7 * 24, freq="h", tz="America/Chicago")
    day = np.arange(7 * 24) // 24
    draw = np.array([10.0, 50.0, 30.0, 40.0, 20.0, 60.0, 0.0])[day] + (np.arange(7 * 24) % 24)
    event = np.zeros(len(times), bool)
    event[6 * 24 + 16: 6 * 24 + 20] = True
    cbl = baseline_mw(draw, times, event, high=4, days=5)
    # previous 5 days: days 1..5 (50, 30, 40, 20, 60); the highest 4: 50, 30, 40, 60 -> mean 45, plus the hour
    assert np.allclose(cbl[event], 45.0 + np.arange(16, 20))
    assert np.isnan(cbl[~event]).all()
    with pytest.raises(MarketError, match="needs 7 event-free days"):
        baseline_mw(draw, times, event, high=4, days=7)


def _scenario(tmp_path, examples_dir, edit) -> str:
    data = yaml.safe_load((examples_dir / "market-texas.yaml").read_text())
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(sites=d["sites"][:1]), "a market needs at least two sites"),
    (lambda d: d["market"].update(transfer_limits=[{"between": ["training-west", "atlantis"], "limit_mw": 5}]),
     "no site named 'atlantis'"),
    (lambda d: d["market"].update(price_floor_usd_per_mwh=100, price_cap_usd_per_mwh=50), "price_floor"),
    (lambda d: d["market"]["events"][0].update(start="2023-07-03 19:00"), "needs 5 event-free days"),
])
def test_bad_market_scenarios_are_named(tmp_path, examples_dir, edit, message):
    path = _scenario(tmp_path, examples_dir, edit)
    res = runner.invoke(app, ["market", path, "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 2, res.output
    assert message in res.output and "bad.yaml" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_ledger_cli_refuses_files_that_are_not_ledgers(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("not a ledger")
    res = runner.invoke(app, ["ledger", "verify", str(f)])
    assert res.exit_code == 2 and "not an SQLite file" in res.output and "Traceback" not in res.output
    assert f.read_text() == "not a ledger"
    res = runner.invoke(app, ["ledger", "check", str(f)])
    assert res.exit_code == 2 and "cannot read the proof" in res.output

"""``wattscale market`` and ``wattscale ledger`` end to end: conservation of energy and money across the settled
trades, a tampered ledger file caught from the command line, the VPP baseline by hand, and bad input."""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from wattscale.cli import app
from wattscale.decisions.market.vpp import baseline_mw
from wattscale.errors import MarketError

runner = CliRunner()


@pytest.fixture(scope="module")
def market_out(tmp_path_factory, examples_dir):
    out = tmp_path_factory.mktemp("m") / "market"
    res = runner.invoke(app, ["market", str(examples_dir / "market-texas.yaml"), "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
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
    assert {"report.html", "ledger.sqlite", "keys", "event-0.csv"} <= {p.name for p in market_out.iterdir()}


def test_ledger_cli_verifies_proves_and_catches_tampering(market_out, tmp_path):
    led = market_out / "ledger.sqlite"
    res = runner.invoke(app, ["ledger", "verify", str(led)])
    assert res.exit_code == 0 and "ok" in res.output
    proof = tmp_path / "proof.json"
    res = runner.invoke(app, ["ledger", "prove", str(led), "settle/2023-07-01/2023-07-08/storage-houston", "-o",
                              str(proof)])
    assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["ledger", "check", str(proof)]).exit_code == 0
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

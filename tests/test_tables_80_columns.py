"""Terminal tables read at 80 columns: nothing wider, no number or word cut with an ellipsis."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from wattscale.cli import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args", [
    ["gpus"], ["defaults"], ["studies"],
    ["grid", "reliability", str(ROOT / "examples/networks/campus-ring.yaml"), "--years", "20", "-q"],
    ["market", str(ROOT / "examples/market-texas.yaml"), "-q", "--set", "market.events=[]", "--set",
     "time.duration=3d", "--set", "time.end=null"],
    ["swings", str(ROOT / "examples/llm-campus.yaml")],
    ["grid", "heal", str(ROOT / "examples/networks/campus-ring.yaml"), "--fault", "T1", "-q"],
    ["grid", "contingency", str(ROOT / "examples/networks/campus-ring.yaml"), "-q"],
    ["gridcode", str(ROOT / "examples/gridcode-virginia-2024.yaml"), "-q"],
], ids=lambda a: " ".join(a[:2]))
def test_reads_at_80_columns(args, tmp_path):
    if args[0] in ("grid", "market", "swings", "gridcode"):
        args = [*args, "-o", str(tmp_path / "out")]
    res = CliRunner().invoke(app, args, terminal_width=80)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in res.output, "\n".join(line for line in lines if "…" in line)
    must = {"heal": ["trip", "CB-T1", "picked up", "hall-2-training", "lost"],
            "contingency": ["load cut", "lowest V", "trafo T2"], "market": ["net paid"],
            "defaults": ["%"]}.get(args[1] if args[0] == "grid" else args[0], [])
    for word in must:  # no column squeezed away
        assert word in res.output, (word, res.output)


def test_ledger_show_reads_at_80_columns(tmp_path):
    out = tmp_path / "m"
    made = CliRunner().invoke(app, ["market", str(ROOT / "examples/market-texas.yaml"), "-q", "-o", str(out), "--set",
                                    "market.events=[]", "--set", "time.duration=2d", "--set", "time.end=null"])
    assert made.exit_code == 0, made.output
    for extra in ([], ["--kind", "settlement"]):
        res = CliRunner().invoke(app, ["ledger", "show", str(out / "ledger.sqlite"), *extra], terminal_width=80)
        assert res.exit_code == 0, res.output
        assert max(len(line) for line in res.output.splitlines()) <= 80 and "…" not in res.output
        assert "signed" in res.output



@pytest.mark.parametrize("command", [["run"], ["swings"], ["grid", "contingency"], ["ledger", "show"]])
def test_help_shows_no_type_for_a_flag(command):
    res = CliRunner().invoke(app, [*command, "--help"], terminal_width=100)
    assert res.exit_code == 0, res.output
    assert "--help" in res.output and "<bool>" not in res.output
    if command == ["run"]:
        assert "PATH=VALUE" in res.output and "--netcdf" in res.output

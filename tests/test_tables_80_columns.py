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
], ids=lambda a: " ".join(a[:2]))
def test_reads_at_80_columns(args, tmp_path):
    if args[0] in ("grid", "market", "swings"):
        args = [*args, "-o", str(tmp_path / "out")]
    res = CliRunner().invoke(app, args, terminal_width=80)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in res.output, "\n".join(line for line in lines if "…" in line)

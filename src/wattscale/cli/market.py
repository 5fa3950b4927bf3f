"""``wattscale market``: sites trade peer to peer each interval and settle on the signed ledger."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.markup import escape

from wattscale.cli.common import OUTDIR, QUIET, SET, console, df_table, run_study_command


def market(scenario: Path = typer.Argument(..., help="scenario YAML file with two or more sites", show_default=False),
           outdir: Path = OUTDIR, set_: list[str] = SET, quiet: bool = QUIET) -> None:
    """Let SCENARIO's sites trade peer to peer each interval; write prices, volumes, settlements, the signed
    ledger (ledger.sqlite, with trust.json, checkpoint.json and the demo keys in keys/) and report.html to
    OUTDIR."""
    result, out = run_study_command("market", scenario, outdir=outdir, changes=set_, suffix="-market", quiet=quiet)
    study = result.value
    b = study.bills
    shown = pd.DataFrame({"site": b["site"], "bought MWh": b["bought_mwh"], "sold MWh": b["sold_mwh"],
                          "net paid k USD": b["net_paid_usd"] / 1e3, "saving k USD": b["saving_usd"] / 1e3})
    console.print(df_table("What each site traded and saved", shown, caption="every column: bills.csv"))
    s = result.details
    console.print(f"{s['traded_mwh']:,.1f} MWh traded over {s['intervals']} intervals, welfare "
                  f"{s['welfare_usd']:,.0f} USD; ledger {s['ledger']['entries']:,} entries in "
                  f"{s['ledger']['blocks']:,} blocks, verified: {s['ledger']['verified']}")
    if study.admm is not None:
        a = study.admm
        console.print(f"ADMM: {a.iterations} iterations to a {a.gap:+.4%} gap from the central optimum "
                      f"({a.admm_s:.1f} s; central {a.central_s:.1f} s)")
    for e in study.events:
        console.print(f"VPP call {e.event.start}: {e.delivered_mwh:,.1f} MWh delivered, revenue "
                      f"{e.revenue_usd:,.0f} USD, extra cost {e.extra_cost_usd:,.0f} USD")
    console.print(f"wrote {escape(str(out))}/report.html")

"""``wattscale market`` and ``wattscale ledger verify|show|prove|check``: peer-to-peer trading on a signed ledger."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import typer
from rich.markup import escape

from wattscale.cli_grid import _table, _write
from wattscale.errors import WattscaleError

ledger_app = typer.Typer(help="The signed settlement ledger: verify every signature and link, show entries, and "
                              "prove an entry's inclusion.\n\nExample: wattscale ledger verify out/market/ledger.sqlite",
                         no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
LEDGER = typer.Argument(..., help="ledger file (ledger.sqlite in a 'wattscale market' folder)", show_default=False)


def _console():
    from wattscale.cli import console, err_console, fail
    return console, err_console, fail


def market(scenario: Path = typer.Argument(..., help="scenario YAML file with two or more sites", show_default=False),
           outdir: Path = typer.Option(None, "--outdir", "-o", help="output folder (default: out/<scenario>-market)"),
           quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar")) -> None:
    """Let SCENARIO's sites trade peer to peer each interval; write prices, volumes, settlements, the signed
    ledger (ledger.sqlite, with the demo keys in keys/) and report.html to OUTDIR."""
    from wattscale.analysis.market_report import render_market_report
    from wattscale.analysis.market_study import run_market_study
    from wattscale.scenario import load_scenario

    console, _err, fail = _console()
    work = Path(tempfile.mkdtemp(prefix="wattscale-market-"))
    try:
        sc = load_scenario(scenario)
        out = outdir or Path("out") / f"{sc.name}-market"
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("[bold]{task.description}[/]"), BarColumn(), TextColumn("{task.completed:,}"),
                      TimeElapsedColumn(), console=_err, disable=quiet, transient=True) as bar:
            task = bar.add_task("planning sites", total=None)

            def tick(stage: str, done: int, total: int) -> None:
                bar.update(task, description=stage, completed=done, total=total or None)

            study = run_market_study(sc, work, scenario_file=str(scenario), progress=tick)
        files = {"report.html": render_market_report(study), "intervals.csv": study.intervals.to_csv(index=False),
                 "bills.csv": study.bills.to_csv(index=False), "ledger.sqlite": (work / "ledger.sqlite").read_bytes()}
        files.update({f"keys/{p.name}": p.read_bytes() for p in sorted((work / "keys").glob("*.pem"))})
        for i, e in enumerate(study.events):
            files[f"event-{i}.csv"] = e.by_site.to_csv(index=False)
        files["summary.json"] = json.dumps(study.summary(), indent=2, default=str)
        out = _write(out, files)
    except WattscaleError as exc:
        fail(exc, scenario)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    console.print(_table("What each site traded and saved (USD)", study.bills))
    s = study.summary()
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


def _open(path: Path):
    from wattscale.decisions.market.ledger import Ledger
    return Ledger.open(path)


@ledger_app.command()
def verify(ledger: Path = LEDGER,
           head: str = typer.Option(None, help="the head hash you trust (reveals blocks cut from the end)")) -> None:
    """Check every signature, hash link and Merkle root; name the first bad entry (exit code 1 if any)."""
    console, _err, fail = _console()
    try:
        with _open(ledger) as led:
            rep = led.verify(head_hash=head)
    except WattscaleError as exc:
        fail(exc)
    if rep.ok:
        console.print(f"[green]ok[/]: {rep.entries:,} entries in {rep.blocks:,} blocks; every signature, link and "
                      f"Merkle root holds; head {rep.head_hash}")
        return
    console.print(f"[bold red]tampered[/]: {escape(rep.problem)} (the {rep.entries:,} entries before it hold)",
                  soft_wrap=True)
    raise typer.Exit(code=1)


@ledger_app.command()
def show(ledger: Path = LEDGER, kind: str = typer.Option(None, help="only this kind: participant, order, match, "
                                                                      "settlement"),
         limit: int = typer.Option(30, help="at most this many entries")) -> None:
    """List the ledger's entries."""
    import pandas as pd

    console, _err, fail = _console()
    try:
        with _open(ledger) as led:
            rows = []
            for seq, text in led.records():
                rec = json.loads(text)
                if kind and rec["kind"] != kind:
                    continue
                b = rec["body"]
                rows.append({"seq": seq, "kind": rec["kind"], "id": b.get("id", b.get("name", b.get("operator"))),
                             "who": b.get("participant", b.get("buy_order", "")),
                             "MWh": b.get("quantity_mwh", b.get("energy_mwh")),
                             "USD/MWh or USD": b.get("price_usd_per_mwh", b.get("amount_usd")),
                             "signed by": ",".join(sorted(rec["signatures"]))})
                if len(rows) >= limit:
                    break
    except WattscaleError as exc:
        fail(exc)
    console.print(_table(f"{ledger}", pd.DataFrame(rows)))


@ledger_app.command()
def prove(ledger: Path = LEDGER, entry: str = typer.Argument(..., help="entry number or id (e.g. an order id)"),
          output: Path = typer.Option(None, "--output", "-o", help="write the proof here (default: print it)")) -> None:
    """An inclusion proof of ENTRY that anyone can check with the public keys ('wattscale ledger check')."""
    console, _err, fail = _console()
    try:
        with _open(ledger) as led:
            proof = led.prove(entry)
    except WattscaleError as exc:
        fail(exc)
    text = json.dumps(proof, indent=2)
    if output:
        _write_text(output, text)
        console.print(f"wrote {escape(str(output))}")
    else:
        console.print_json(text)


@ledger_app.command()
def check(proof_file: Path = typer.Argument(..., help="a proof from 'wattscale ledger prove'", show_default=False),
          operator_key: str = typer.Option(None, help="the operator's public key (hex) you trust")) -> None:
    """Check an inclusion proof with nothing but public keys (exit code 1 if it fails)."""
    from wattscale.decisions.market.ledger import check_proof
    from wattscale.errors import LedgerError

    console, _err, fail = _console()
    try:
        proof = json.loads(proof_file.read_text())
    except (OSError, ValueError) as exc:
        fail(LedgerError(f"cannot read the proof ({exc})", file=str(proof_file), expected="a JSON proof"))
    problem = check_proof(proof, operator_key=operator_key)
    if problem:
        console.print(f"[bold red]invalid[/]: {escape(problem)}")
        raise typer.Exit(code=1)
    e = proof["entry"]
    console.print(f"[green]ok[/]: entry {e['seq']} ({e['kind']}) is in block {proof['block_header']['height']}, "
                  "signed by its parties and the operator")


def _write_text(path: Path, text: str) -> None:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)

"""``wattscale size``: least-cost capacities for a site, and the Pareto sweep."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from wattscale.cli.common import OUTDIR, QUIET, SET, console, run_study_command, shown


def size(scenario: Path = typer.Argument(..., help="scenario YAML file (settings in its 'sizing:' section)",
                                         show_default=False),
         outdir: Path = OUTDIR, check: bool = typer.Option(True, help="simulate the chosen system with the engine"),
         set_: list[str] = SET, quiet: bool = QUIET) -> None:
    """Size PV, wind, battery, generators and grid connection at least annualised cost; sweep carbon prices or
    CFE targets for a Pareto front; write report.html, summary.json and sized.yaml."""
    from wattscale.studies.sizing.report import point_label

    result, out = run_study_command("size", scenario, outdir=outdir, changes=set_, suffix="-sizing", quiet=quiet,
                                    check=check)
    study = result.value
    c = study.chosen
    table = Table(title=f"{shown(study.scenario)} / {shown(study.site)}: least-cost system ({study.hours:,} hours)")
    table.add_column("capacity")
    table.add_column("chosen", justify="right")
    for key, value in c.capacities.items():
        table.add_row(key, f"{max(value, 0.0) + 0.0:,.1f}")
    table.add_row("[bold]cost, M USD/yr[/]", f"{c.total_usd_per_year / 1e6:,.2f}")
    table.add_row("CO2, kt/yr", f"{c.co2_t_per_year / 1e3:,.1f}")
    table.add_row("24/7 CFE", f"{c.cfe_score:.1%}" + (f" (engine {study.check['cfe_score_hourly']:.1%})"
                                                     if study.check else ""))
    console.print(table)
    front = Table(title=f"Pareto sweep over {study.spec.sweep.replace('_', ' ')}")
    for col in ("point", "M USD/yr", "kt CO2/yr", "24/7 CFE"):
        front.add_column(col, justify="right")
    for r in study.sweep:
        front.add_row(point_label(r, study.spec.sweep), f"{r.total_usd_per_year / 1e6:,.2f}",
                      f"{r.co2_t_per_year / 1e3:,.1f}", f"{r.cfe_score:.1%}")
    console.print(front)
    console.print(f"report: [bold]{escape(str(out / 'report.html'))}[/]   sized scenario: "
                  f"[bold]{escape(str(out / 'sized.yaml'))}[/]")

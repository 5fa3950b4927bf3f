"""``wattscale swings``: a site's sub-second power swings against grid limits, and the mitigations."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from wattscale.cli.common import OUTDIR, QUIET, console, print_report_path, run_study_command, shown


def swings(scenario: Path = typer.Argument(..., help="scenario YAML file with workloads", show_default=False),
           outdir: Path = OUTDIR,
           site: str = typer.Option(None, help="site to analyse (default: swings.site or the first site)"),
           start: str = typer.Option(None, help="window start, e.g. '2023-07-18 14:00' (default: swings.start)"),
           duration_s: float = typer.Option(None, "--duration-s", help="window length in seconds (default: "
                                            "swings.duration_s, else 600)"),
           resolution_s: float = typer.Option(None, "--resolution-s", help="sample length in seconds (default: "
                                              "swings.resolution_s, else 0.01)"),
           limits: Path = typer.Option(None, help="limits YAML (bands, ramps, dynamic range)"),
           quiet: bool = QUIET) -> None:
    """Analyse a site's sub-second power swings, size mitigations, and write report.html and summary.json."""
    result, out = run_study_command("swings", scenario, outdir=outdir, suffix="-swings", quiet=quiet, site=site,
                                    start=start, duration_s=duration_s, resolution_s=resolution_s, limits=limits)
    console.print(swings_table(result.value))
    print_report_path(out)


def swings_table(result) -> Table:
    base = result.options[0].analysis
    table = Table(title=f"{shown(result.scenario)} / {shown(result.site)}: swings over {result.study.duration_s:g} s "
                        f"at {result.study.resolution_s * 1000:g} ms (limits: {shown(result.limits.name)})")
    table.add_column("option (setting)")
    for c in base.checks:
        short = c.name.replace("ramp over ", "ramp ").replace("amplitude ", "").replace("dynamic range", "range")
        limit = f"\n<= {c.limit:.3g}" if c.limit else ""
        table.add_column(f"{short}\n{c.unit}{limit}", justify="right")
    table.add_column("USD/year", justify="right")
    chosen = result.chosen
    for o in result.options:
        cells = [f"[{'green' if c.passed else 'red'}]{c.value:.3g}[/]" for c in o.analysis.checks]
        name = f"[bold]{escape(o.name)}[/]" + (" *" if o is chosen else "") + ("" if o.complies else " [red](fails)[/]")
        if o.setting:
            name += f"\n[dim]{escape(o.setting)}[/]"
        table.add_row(name, *cells, f"{o.total_cost_usd_per_year:,.0f}")
    table.caption = ("* cheapest compliant option" if chosen else "no option meets the limits")
    return table

"""``wattscale swings``: a site's sub-second power swings against grid limits, and the mitigations."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from wattscale.cli.common import OUTDIR, QUIET, SET, console, print_report_path, run_study_command, shown


def swings(scenario: Path = typer.Argument(..., help="scenario YAML file with workloads", show_default=False),
           outdir: Path = OUTDIR,
           site: str = typer.Option(None, help="site to analyse (default: swings.site or the first site)"),
           start: str = typer.Option(None, help="window start, e.g. '2023-07-18 14:00' (default: swings.start)"),
           duration_s: float = typer.Option(None, "--duration-s", help="window length in seconds (default: "
                                            "swings.duration_s, else 600)"),
           resolution_s: float = typer.Option(None, "--resolution-s", help="sample length in seconds (default: "
                                              "swings.resolution_s, else 0.01)"),
           limits: Path = typer.Option(None, help="limits YAML (bands, ramps, dynamic range)"),
           set_: list[str] = SET, quiet: bool = QUIET) -> None:
    """Analyse a site's sub-second power swings, size mitigations, and write report.html and summary.json."""
    result, out = run_study_command("swings", scenario, outdir=outdir, changes=set_, suffix="-swings", quiet=quiet,
                                    site=site,
                                    start=start, duration_s=duration_s, resolution_s=resolution_s, limits=limits)
    console.print(swings_table(result.value))
    for line in swings_settings(result.value):  # a long setting continues indented under its name
        glued = re.sub(r"(?<=\d) (?=[A-Za-z])", "\u00a0", line)  # a number stays with its unit
        wrapped = textwrap.fill(glued, width=max(40, console.width - 1), initial_indent="  ", subsequent_indent="    ")
        console.print(f"[dim]{escape(wrapped.replace(chr(0xa0), ' '))}[/]", highlight=False)
    print_report_path(out)


def swings_table(result) -> Table:
    """One row per mitigation: each check's value against its limit (red: broken) and the cost per year; the
    settings are listed under the table (``swings_settings``)."""
    from rich import box

    from wattscale.studies.simulation.kpi_registry import money

    base = result.options[0].analysis
    table = Table(title=f"{shown(result.scenario)} / {shown(result.site)}: swings over {result.study.duration_s:g} s "
                        f"at {result.study.resolution_s * 1000:g} ms (limits: {shown(result.limits.name)})",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("option", no_wrap=True)
    for c in base.checks:
        kind, _, window = (c.name.replace("ramp over ", "ramp|").replace("amplitude ", "band|")
                           .replace("dynamic range", "range|")).partition("|")
        limit = f"<={c.limit:.3g}" if c.limit else ""
        table.add_column(f"{kind}\n{window.replace(' Hz', 'Hz')}\n{c.unit}\n{limit}", justify="right", no_wrap=True)
    table.add_column("cost\nper\nyear\nUSD", justify="right", no_wrap=True)
    chosen = result.chosen
    for o in result.options:
        cells = [f"[{'green' if c.passed else 'red'}]{c.value:.3g}[/]" for c in o.analysis.checks]
        mark = " *" if o is chosen else ("" if o.complies else " [red]x[/]")
        table.add_row(f"{escape(o.name)}{mark}", *cells, money(o.total_cost_usd_per_year).replace(" USD", ""))
    table.caption = ("* cheapest compliant option" if chosen else "no option meets the limits") + "; x fails"
    return table


def swings_settings(result) -> list[str]:
    """What each mitigation sets, one line each."""
    return [f"{o.name}: {o.setting}" for o in result.options if o.setting]

"""``wattscale run`` and ``wattscale validate``: simulate a scenario, or check it without simulating."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from wattscale.cli.common import OUTDIR, QUIET, SET, console, err_console, fail, run_study_command, shown
from wattscale.errors import WattscaleError

SCENARIO = typer.Argument(..., help="scenario YAML file", show_default=False)


def run(scenario: Path = SCENARIO, outdir: Path = OUTDIR,
        report: bool = typer.Option(True, help="write OUTDIR/report.html"),
        netcdf: bool = typer.Option(False, "--netcdf", help="also write OUTDIR/steps.nc (xarray over site and "
                                    "time, units in attrs)"),
        start: str = typer.Option(None, help="run from this time instead (e.g. 2023-07-15; the scenario's duration "
                                  "is kept unless --end is given)", show_default=False),
        end: str = typer.Option(None, help="run until this time instead (e.g. 2023-07-22)", show_default=False),
        set_: list[str] = SET, quiet: bool = QUIET) -> None:
    """Simulate SCENARIO, print its KPIs and write per-step Parquet, summary.json and report.html to OUTDIR
    (default: out/<scenario name>)."""
    window = [*([f"time.start={start}"] if start else []), *([f"time.end={end}", "time.duration=null"] if end else [])]
    result, out = run_study_command("run", scenario, outdir=outdir, changes=[*window, *set_], suffix="", quiet=quiet,
                                    report=report, netcdf=netcdf)
    results = result.value
    console.print(kpi_table(results))
    for site, fleet in results.extra.get("workloads", {}).items():
        for name, w in fleet.items():
            sized = ", sized for its SLO" if w["sized"] else ""
            console.print(f"{shown(site)} / {shown(name)}: {w['gpus']:,} x {shown(w['gpu'])}{sized}; IT load "
                          f"{w['mean_it_mw']:,.1f} MW mean, {w['peak_it_mw']:,.1f} MW peak")
    for site, log in results.extra.get("controller", {}).items():
        console.print(f"{shown(site)}: MPC made {log['plans']:,} plans ({log['fallbacks']} fell back to the rules), "
                      f"{log['solve_s_total']:.1f} s solving, mean {log['solve_s_mean'] * 1000:.0f} ms")
        for note in log["notes"][:5]:
            err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
        if len(log["notes"]) > 5 or log["notes_omitted"]:
            err_console.print(f"[yellow]note:[/] {len(log['notes']) - 5 + log['notes_omitted']} more in summary.json")
    console.print(f"results: [bold]{escape(str(out))}[/]"
                  + (f"   report: [bold]{escape(str(out / 'report.html'))}[/]" if report else ""))


def validate(scenario: Path = SCENARIO,
             data: bool = typer.Option(True, help="also load every data file and check it covers the timeline"),
             set_: list[str] = SET, quiet: bool = QUIET) -> None:
    """Check SCENARIO (schema, and by default every referenced data file) without simulating."""
    from wattscale.cli.common import progress_bar
    from wattscale.engine.campus import prepare

    try:
        from wattscale.scenario.changes import parse_assignments

        campus = prepare(scenario, parse_assignments(set_))
        tl = campus.timeline
        if data:
            sites = campus.scenario.sites
            with progress_bar(quiet) as progress:
                for i, site in enumerate(sites):
                    progress(f"inputs of site {site.name}", i, len(sites))
                    campus.inputs(site.name)
            sw = campus.scenario.swings
            if sw is not None and sw.limits is not None:  # the swing section's limits file too
                from wattscale.studies.swings.analysis import read_limits

                n = int(round(sw.duration_s / sw.resolution_s))
                read_limits(sw.limits).check_resolution(sw.resolution_s, n * sw.resolution_s, file=str(sw.limits))
    except WattscaleError as exc:
        fail(exc, scenario)
    console.print(f"[green]ok[/]: {escape(str(scenario))} — {len(campus.scenario.sites)} site(s), {tl.n_steps:,} "
                  f"steps of {tl.step_s} s from {tl.start} to {tl.end}")
    from wattscale.scenario.notes import default_notes

    for note in default_notes(campus.scenario):
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


def kpi_table(results) -> Table:
    from wattscale.studies.simulation.kpi_registry import format_kpi, shown_kpis

    tables = dict(results.kpis)
    if len(tables) > 1:
        tables["all sites"] = results.total
    table = Table(title=f"{shown(results.scenario.name)}: key performance indicators")
    table.add_column("KPI")
    for name in tables:
        table.add_column(shown(name), justify="right")
    for kpi in shown_kpis(*tables.values()):
        table.add_row(kpi.title, *[format_kpi(kpi.key, k.get(kpi.key, "")) for k in tables.values()])
    return table

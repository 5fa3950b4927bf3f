"""The ``wattscale`` command line: run and validate scenarios."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from wattscale.errors import ScenarioError, WattscaleError

app = typer.Typer(help="wattscale: simulate, optimise and stabilise the energy supply of AI compute campuses.\n\n"
                       "Example: wattscale run examples/llm-campus.yaml -o out/campus   (scenario format: README.md)",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()
err_console = Console(stderr=True)


def checked_outdir(outdir: Path | None, name: str, suffix: str = "") -> Path:
    """The output folder (default ``out/<safe name><suffix>``), refused before any work if it is not replaceable."""
    from wattscale.results_folder import check_replaceable, default_outdir

    out = outdir if outdir is not None else default_outdir(name, suffix)
    check_replaceable(out)
    return out


def fail(exc: Exception, scenario: Path | None = None) -> None:
    if isinstance(exc, WattscaleError) and exc.file is None and scenario is not None:
        exc = type(exc)(exc.detail, file=str(scenario), field=exc.field, expected=exc.expected)  # name the file
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)  # not markup
    raise typer.Exit(code=2)


def shown(text, limit: int = 80) -> str:
    """User text (a scenario or site name ...) as rich shows it: a short printable excerpt, markup escaped."""
    from wattscale.guards import excerpt

    return escape(excerpt(text, limit))


@app.callback()
def options(max_memory_gb: float = typer.Option(
        None, "--max-memory-gb", show_default=False,
        help="memory a command may plan to use, in GB (default: $WATTSCALE_MAX_MEMORY_GB, else 80 % of this "
             "machine's); larger problems are refused before they start")) -> None:
    """Options for every command, given before it: wattscale --max-memory-gb 64 run big.yaml"""
    from wattscale.guards import set_memory_limit

    try:
        set_memory_limit(max_memory_gb)
    except WattscaleError as exc:
        fail(exc)


@app.command()
def run(scenario: Path = typer.Argument(..., help="scenario YAML file", show_default=False),
        outdir: Path = typer.Option(None, "--outdir", "-o",
                                    help="results folder (default: out/<scenario name>); replaced atomically"),
        report: bool = typer.Option(True, help="write OUTDIR/report.html"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar")) -> None:
    """Simulate SCENARIO, print its KPIs and write per-step Parquet, summary.json and report.html to OUTDIR."""
    from wattscale.analysis.kpi import attach_kpis
    from wattscale.analysis.report import render_report
    from wattscale.engine.inputs import timeline_of
    from wattscale.engine.simulate import simulate
    from wattscale.scenario import load_scenario

    try:
        sc = load_scenario(scenario)
        out = checked_outdir(outdir, sc.name)
        n_total = timeline_of(sc).n_steps * len(sc.sites)
        with Progress(TextColumn("[bold]simulating[/] {task.description}"), BarColumn(),
                      TextColumn("{task.completed:,}/{task.total:,} steps"), TimeElapsedColumn(),
                      TimeRemainingColumn(), console=err_console, disable=quiet, transient=True) as bar:
            task = bar.add_task(shown(sc.name), total=n_total)
            results = simulate(sc, scenario_file=scenario, progress=lambda n: bar.advance(task, n))
        attach_kpis(results)
        extra = {"report.html": render_report(results).encode("utf-8")} if report else None
        out = results.save(out, extra_files=extra)
    except WattscaleError as exc:
        fail(exc, scenario)
    console.print(kpi_table(results))
    for site, log in results.extra.get("controller", {}).items():
        console.print(f"{escape(site)}: MPC made {log['plans']:,} plans ({log['fallbacks']} fell back to the rules), "
                      f"{log['solve_s_total']:.1f} s solving, mean {log['solve_s_mean'] * 1000:.0f} ms")
        for note in log["notes"][:5]:
            err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
        if len(log["notes"]) > 5 or log["notes_omitted"]:
            err_console.print(f"[yellow]note:[/] {len(log['notes']) - 5 + log['notes_omitted']} more in summary.json")
    console.print(f"results: [bold]{escape(str(out))}[/]"
                  + (f"   report: [bold]{escape(str(out / 'report.html'))}[/]" if report else ""))


@app.command()
def validate(scenario: Path = typer.Argument(..., help="scenario YAML file", show_default=False),
             data: bool = typer.Option(True, help="also load every data file and check it covers the timeline")) -> None:
    """Check SCENARIO (schema, and by default every referenced data file) without simulating."""
    from wattscale.compute.catalog import load_catalog
    from wattscale.engine.inputs import site_inputs, timeline_of
    from wattscale.scenario import load_scenario

    try:
        sc = load_scenario(scenario)
        tl = timeline_of(sc)
        if data:
            catalog = load_catalog(sc.gpu_catalog)
            for i, site in enumerate(sc.sites):
                site_inputs(site, tl, index=i, scenario_file=str(scenario), catalog=catalog)
            if sc.swings is not None and sc.swings.limits is not None:  # the swing section's limits file too
                from wattscale.analysis.swings import read_limits

                sw = sc.swings
                n = int(round(sw.duration_s / sw.resolution_s))
                read_limits(sw.limits).check_resolution(sw.resolution_s, n * sw.resolution_s, file=str(sw.limits))
    except WattscaleError as exc:
        fail(exc, scenario)
    console.print(f"[green]ok[/]: {escape(str(scenario))} — {len(sc.sites)} site(s), {tl.n_steps:,} steps of "
                  f"{tl.step_s} s from {tl.start} to {tl.end}")


@app.command()
def defaults() -> None:
    """List the built-in price, carbon-intensity and carbon-free-share profiles usable as `{default: NAME}`."""
    from wattscale.timeseries.profiles import profile_table

    table = Table(title="built-in month-by-hour profiles (2023 data; see `scripts/derive_profiles.py`)")
    table.add_column("profile", no_wrap=True)
    for name in ("quantity", "unit", "time zone", "mean", "min", "max"):
        table.add_column(name, overflow="fold")
    for name, rows in profile_table().groupby("profile"):
        v = rows["value"]
        table.add_row(name, rows["quantity"].iloc[0], rows["unit"].iloc[0], rows["timezone"].iloc[0],
                      f"{v.mean():.2f}", f"{v.min():.2f}", f"{v.max():.2f}")
    console.print(table)


@app.command()
def swings(scenario: Path = typer.Argument(..., help="scenario YAML file with workloads", show_default=False),
           outdir: Path = typer.Option(None, "--outdir", "-o", help="output folder (default: out/<name>-swings)"),
           site: str = typer.Option(None, help="site to analyse (default: swings.site or the first site)"),
           start: str = typer.Option(None, help="window start, e.g. '2023-07-18 14:00' (default: swings.start)"),
           duration_s: float = typer.Option(None, "--duration-s", help="window length in seconds"),
           resolution_s: float = typer.Option(None, "--resolution-s", help="sample length in seconds"),
           limits: Path = typer.Option(None, help="limits YAML (bands, ramps, dynamic range)")) -> None:
    """Analyse a site's sub-second power swings, size mitigations, and write report.html and summary.json."""
    import json

    from pydantic import ValidationError

    from wattscale.analysis.swing_report import render_swing_report
    from wattscale.analysis.swing_study import run_swing_study
    from wattscale.engine.results import write_folder
    from wattscale.guards import excerpt, safe_resolve
    from wattscale.scenario import load_scenario
    from wattscale.scenario.schema import SwingStudy

    try:
        sc = load_scenario(scenario)
        out = checked_outdir(outdir, sc.name, "-swings")
        base = (sc.swings or SwingStudy()).model_dump()
        given = {"site": site, "start": start, "duration_s": duration_s, "resolution_s": resolution_s,
                 "limits": safe_resolve(limits) if limits else None}
        try:
            study = SwingStudy(**{**base, **{k: v for k, v in given.items() if v is not None}})
        except ValidationError as exc:
            err = exc.errors()[0]
            got = f" (got {excerpt(repr(err['input']), 40)})" if not isinstance(err["input"], dict) else ""
            raise ScenarioError(err["msg"].removeprefix("Value error, ") + got,
                                field=".".join(["swings", *map(str, err["loc"])])) from None
        with console.status("building the waveform and sizing mitigations"):
            result = run_swing_study(sc, scenario_file=str(scenario), study=study)
        out = write_folder(out, {"report.html": render_swing_report(result).encode(),
                                 "summary.json": json.dumps(result.summary(), indent=2).encode()})
    except WattscaleError as exc:
        fail(exc, scenario)
    console.print(swings_table(result))
    console.print(f"report: [bold]{escape(str(out / 'report.html'))}[/]")


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


@app.command()
def size(scenario: Path = typer.Argument(..., help="scenario YAML file (settings in its 'sizing:' section)",
                                         show_default=False),
         outdir: Path = typer.Option(None, "--outdir", "-o", help="output folder (default: out/<name>-sizing)"),
         check: bool = typer.Option(True, help="simulate the chosen system with the engine"),
         quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar")) -> None:
    """Size PV, wind, battery, generators and grid connection at least annualised cost; sweep carbon prices or
    CFE targets for a Pareto front; write report.html, summary.json and sized.yaml."""
    import json

    import yaml

    from wattscale.analysis.sizing_report import point_label, render_sizing_report
    from wattscale.analysis.sizing_study import run_sizing_study
    from wattscale.engine.results import write_folder
    from wattscale.scenario import load_scenario
    from wattscale.scenario.schema import Sizing

    try:
        sc = load_scenario(scenario)
        out = checked_outdir(outdir, sc.name, "-sizing")
        spec = sc.sizing or Sizing()
        steps = 1 + len(spec.cfe_targets if spec.sweep == "cfe_target" else spec.carbon_prices_usd_per_t)
        with Progress(TextColumn("[bold]sizing[/] {task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} optimisations"), TimeElapsedColumn(),
                      console=err_console, disable=quiet, transient=True) as bar:
            task = bar.add_task(shown(sc.name), total=steps)
            study = run_sizing_study(sc, scenario_file=str(scenario), check=check,
                                     progress=lambda k: bar.advance(task, k))
        out = write_folder(out, {
            "report.html": render_sizing_report(study).encode(),
            "sized.yaml": yaml.safe_dump(study.sized.model_dump(mode="json", exclude_none=True),
                                         sort_keys=False).encode(),
            "summary.json": json.dumps(study.summary(), indent=2, default=float).encode()})
    except WattscaleError as exc:
        fail(exc, scenario)
    c = study.chosen
    table = Table(title=f"{shown(sc.name)} / {shown(study.site)}: least-cost system ({study.hours:,} hours)")
    table.add_column("capacity")
    table.add_column("chosen", justify="right")
    for key, value in c.capacities.items():
        table.add_row(key, f"{max(value, 0.0):,.1f}")
    table.add_row("[bold]cost, M USD/yr[/]", f"{c.total_usd_per_year / 1e6:,.2f}")
    table.add_row("CO2, kt/yr", f"{c.co2_t_per_year / 1e3:,.1f}")
    table.add_row("24/7 CFE", f"{c.cfe_score:.1%}" + (f" (engine {study.check['cfe_score_hourly']:.1%})"
                                                     if study.check else ""))
    console.print(table)
    front = Table(title=f"Pareto sweep over {spec.sweep.replace('_', ' ')}")
    for col in ("point", "M USD/yr", "kt CO2/yr", "24/7 CFE"):
        front.add_column(col, justify="right")
    for r in study.sweep:
        front.add_row(point_label(r, spec.sweep), f"{r.total_usd_per_year / 1e6:,.2f}",
                      f"{r.co2_t_per_year / 1e3:,.1f}", f"{r.cfe_score:.1%}")
    console.print(front)
    console.print(f"report: [bold]{escape(str(out / 'report.html'))}[/]   sized scenario: "
                  f"[bold]{escape(str(out / 'sized.yaml'))}[/]")


@app.command()
def gpus() -> None:
    """List the GPU catalog: per-GPU power by phase, power-cap range and server overhead."""
    from wattscale.compute.catalog import load_catalog

    table = Table(title="GPU catalog (W per GPU; server overhead per server; sources in data/gpu_catalog.yaml)")
    cols = ("idle_w", "communication_w", "memory_bound_w", "compute_w", "prefill_w", "tdp_w", "power_cap_min_w",
            "server_overhead_w", "gpus_per_server")
    table.add_column("GPU", no_wrap=True)
    for c in cols:
        table.add_column(c.replace("_w", "").replace("_", " "), justify="right")
    for name, g in load_catalog().gpus.items():
        table.add_row(name, *[f"{getattr(g, c):g}" for c in cols])
    console.print(table)


def kpi_table(results) -> Table:
    from wattscale.analysis.report import KPI_ROWS, format_kpi

    tables = dict(results.kpis)
    if len(tables) > 1:
        tables["all sites"] = results.total
    table = Table(title=f"{shown(results.scenario.name)}: key performance indicators")
    table.add_column("KPI")
    for name in tables:
        table.add_column(shown(name), justify="right")
    for key, label, _ in KPI_ROWS:
        if any(key in k for k in tables.values()):
            table.add_row(label, *[format_kpi(key, k.get(key, "")) for k in tables.values()])
    return table


def _add_grid() -> None:
    from wattscale.cli_grid import app as grid_app

    app.add_typer(grid_app, name="grid")


_add_grid()


def _add_market() -> None:
    from wattscale.cli_market import ledger_app, market

    app.command()(market)
    app.add_typer(ledger_app, name="ledger")


_add_market()


def _add_forecast() -> None:
    from wattscale.cli_forecast import app as forecast_app

    app.add_typer(forecast_app, name="forecast")


_add_forecast()


def main() -> None:  # pragma: no cover - console entry point
    from wattscale.entry import main as entry_main

    entry_main()


if __name__ == "__main__":  # pragma: no cover
    main()

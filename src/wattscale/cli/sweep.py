"""``wattscale sweep``: many cases of one study, on a LocalCluster (default), an existing Dask cluster, or here."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from wattscale.cli.common import QUIET, checked_outdir, console, err_console, fail, print_report_path, progress_bar

ROWS_SHOWN = 12


def sweep(sweep_file: Path = typer.Argument(..., help="sweep YAML file (study, scenario, parameters, mode)",
                                            show_default=False),
          outdir: Path = typer.Option(None, "--outdir", "-o", help="results folder (default: out/<sweep>-sweep); "
                                      "run again into the same folder, only the cases not yet done run"),
          workers: int = typer.Option(None, "--workers", help="worker processes of a LocalCluster (default: one "
                                      "per core; 0: run every case here, one after another)", show_default=False),
          scheduler: str = typer.Option(None, "--scheduler", help="address of a running Dask scheduler, e.g. "
                                        "tcp://10.0.0.5:8786 (its workers need this wattscale version)"),
          keep_results: bool = typer.Option(False, "--keep-results", help="also keep each case's results folder "
                                            "under cases/"),
          quiet: bool = QUIET) -> None:
    """Run every case of a sweep and write cases.parquet (one row per case), report.html and summary.json."""
    from wattscale.errors import WattscaleError
    from wattscale.sweep import plan_sweep, run_sweep
    from wattscale.sweep.run import pending
    from wattscale.sweep.cluster import connect

    try:
        if workers is not None and scheduler is not None:
            raise WattscaleError("--workers and --scheduler both given", field="--workers",
                                 expected="--workers N for a cluster here, or --scheduler ADDRESS for one elsewhere")
        with progress_bar(quiet) as progress:
            plan = plan_sweep(sweep_file, progress=progress)
            out = checked_outdir(outdir, plan.name, "-sweep")
            if not pending(plan, out, keep_results=keep_results):  # all done before: no cluster to start
                workers, scheduler = 0, None
            progress("starting the cluster" if workers != 0 else "cases", 0, None)
            with connect(workers=workers, scheduler=scheduler) as client:
                result = run_sweep(plan, out, client=client, keep_results=keep_results, progress=progress)
    except WattscaleError as exc:
        fail(exc, sweep_file)
    console.print(cases_table(result))
    where = f"{result.extra['workers']} worker(s)" if result.extra.get("workers") else "this process"
    ran = f"{result.ran} ran in {result.seconds:,.1f} s on {where}" if result.ran else "none left to run"
    done = f"; {result.skipped} done before" if result.skipped else ""
    console.print(f"{len(result.cases)} cases: {len(result.cases) - result.failed} ok, {result.failed} failed "
                  f"({ran}{done})", highlight=False)
    if result.failed:
        err_console.print(f"[yellow]{result.failed} case(s) failed[/]: their messages are in the report and in "
                          "cases.parquet; run the sweep again to retry those the cluster lost")
    console.print(f"cases: [bold]{escape(str(result.folder / 'cases.parquet'))}[/]")
    print_report_path(result.folder)


def cases_table(result) -> Table:
    """The first cases: parameters, status and the headline KPIs (as many as fit 80 columns)."""
    from rich import box

    from wattscale.studies.simulation.kpi_registry import BY_KEY, format_kpi
    from wattscale.sweep.report import headline_kpis

    frame, params = result.cases, result.parameters
    kpis = headline_kpis(frame[frame.status == "ok"], params)[:2]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("case", justify="right", no_wrap=True)
    for p in params:  # the last name of the path, its words free to wrap
        table.add_column(escape(p.rsplit(".", 1)[-1].replace("_", " ")), justify="right")
    table.add_column("status", no_wrap=True)
    for k in kpis:
        table.add_column(escape(BY_KEY[k].title if k in BY_KEY else k.replace("_", " ")), justify="right")
    for values in frame.head(ROWS_SHOWN).to_dict("records"):
        status = values["status"]
        cells = [format_kpi(k, values[k]) if status == "ok" else "" for k in kpis]
        table.add_row(str(values["case"]), *[escape(str(values[p])[:16]) for p in params],
                      f"[{'green' if status == 'ok' else 'red'}]{escape(status)}[/]", *cells)
    if len(frame) > ROWS_SHOWN:
        table.caption = f"{len(frame) - ROWS_SHOWN} more cases in cases.parquet"
    return table


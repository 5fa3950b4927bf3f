"""What every command shares: the consoles, one error line, output folders, one progress bar, tables, and the
thin wrapper that runs a registered study and saves its results."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from wattscale.errors import WattscaleError
from wattscale.guards import stop_if_interrupted
from wattscale.studies.page import number

console = Console()
err_console = Console(stderr=True)

OUTDIR = typer.Option(None, "--outdir", "-o", help="results folder (default: a folder under out/ named after the "
                                                   "scenario or network); written whole, and only ever replacing an "
                                                   "earlier wattscale results folder")
QUIET = typer.Option(False, "--quiet", "-q", help="no progress bar")
WIDE = typer.Option(False, "--wide", help="more columns (wider than 80 characters)")
WORKERS = typer.Option(0, "--workers", help="run the study's independent tasks on a Dask LocalCluster of N worker "
                                           "processes (0: here)")
SCHEDULER = typer.Option(None, "--scheduler", help="run the study's independent tasks on the Dask cluster at this "
                                                   "address, e.g. tcp://10.0.0.5:8786")
SET = typer.Option([], "--set", metavar="PATH=VALUE", help="change a scenario field first, by its path: "
                                     "--set sites[0].battery.energy_mwh=400 (repeat; values read as YAML; checked "
                                     "as the file is)")


def fail(exc: Exception, subject: str | Path | None = None) -> None:
    """Print one error line (naming ``subject``'s file when the error names none) and exit with code 2."""
    if isinstance(exc, WattscaleError):
        field = exc.field
        if field and field.startswith("options."):  # a study option is a command-line option here
            field = "--" + field.removeprefix("options.").replace("_", "-")
        file = exc.file if exc.file is not None else (str(subject) if subject is not None and
                                                      Path(str(subject)).is_file() else None)
        exc = type(exc)(exc.detail, file=file, field=field, expected=exc.expected)
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)  # not markup
    raise typer.Exit(code=2)


def shown(text, limit: int = 80) -> str:
    """User text (a scenario or site name ...) as rich shows it: a short printable excerpt, markup escaped."""
    from wattscale.guards import excerpt

    return escape(excerpt(text, limit))


def checked_outdir(outdir: Path | None, name: str, suffix: str = "") -> Path:
    """The output folder (default ``out/<safe name><suffix>``), refused before any work if it is not replaceable."""
    from wattscale.results_folder import check_replaceable, default_outdir

    out = outdir if outdir is not None else default_outdir(name, suffix)
    check_replaceable(out)
    return out


class CountColumn(ProgressColumn):
    """``done/total``, ``done`` while the total is not known, or a percentage when the total is 1 (a share of
    work whose parts are counted in the description)."""

    def render(self, task) -> Text:
        if task.total == 1.0:
            return Text(f"{100 * task.completed:3.0f} %")
        total = f"/{task.total:,.0f}" if task.total is not None else ""
        return Text(f"{task.completed:,.0f}{total}")


@contextmanager
def progress_bar(quiet: bool):
    """A progress callback ``(what, done, total or None)`` drawn as one bar on stderr (nothing when quiet)."""
    with Progress(TextColumn("[bold]{task.description}[/]"), BarColumn(), CountColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err_console, disable=quiet, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def update(what: str, done: float, total: float | None) -> None:
            stop_if_interrupted()
            bar.update(task, description=escape(what), completed=done, total=total)

        yield update


def run_study_command(name: str, subject, *, outdir: Path | None, suffix: str, quiet: bool, report: bool = True,
                      changes: list[str] | None = None, workers: int = 0, scheduler: str | None = None, **options):
    """Run study ``name`` as a command: options and input checked, the output folder checked before any work,
    a progress bar, the results folder written; any mistake is one error line. With ``workers`` or
    ``scheduler``, the study's independent tasks run on a Dask cluster. Returns (result, folder)."""
    from wattscale.parallel import using
    from wattscale.studies.registry import execute, get_study, make_options, prepare_subject
    from wattscale.sweep.cluster import connect

    try:
        from wattscale.scenario.changes import parse_assignments

        study = get_study(name)
        opts = make_options(study, options)
        prepared = prepare_subject(study, subject, parse_assignments(changes or []))
        label = getattr(prepared, "name", None) if study.takes == "scenario" else Path(str(subject)).stem
        out = checked_outdir(outdir, label, suffix)
        with progress_bar(quiet) as progress:
            if workers or scheduler:
                progress("starting the cluster", 0, None)
            with connect(workers=workers, scheduler=scheduler, warm_up=False) as client, using(client):
                result = execute(study, prepared, opts, progress, subject)
        out = result.save(out, report=report)
    except WattscaleError as exc:
        fail(exc, subject)
    return result, out


SHORT_TEXT = 24  # text cells up to this long are kept whole; longer ones wrap


def df_table(title: str, df: pd.DataFrame, limit: int = 40, caption: str | None = None) -> Table:
    """A DataFrame as a compact terminal table (numbers by ``number``; at most ``limit`` rows). Numbers and short
    words are never cut; long text (a note, a reason) wraps at spaces to fit the terminal; headers may break at
    spaces."""
    from rich import box

    t = Table(title=title, box=box.SIMPLE_HEAD, caption=caption)
    rows = [[number(v) if isinstance(v, float) else shown(v, 400) for v in row] for row in df.head(limit).itertuples(
        index=False)]
    for j, c in enumerate(df.columns):
        numeric = pd.api.types.is_numeric_dtype(df[c])
        header = str(c).replace("_", " ")  # vm_min_pu reads as 'vm min pu' and may break at its spaces
        widest = max([len(r[j]) for r in rows] + [max((len(w) for w in header.split()), default=1)])
        short = numeric or widest <= SHORT_TEXT  # kept whole: at least as wide as its widest cell and word
        t.add_column(escape(header), justify="right" if numeric else "left",
                     min_width=widest if short else min(widest, SHORT_TEXT), overflow="fold")
    for row in rows:
        t.add_row(*row)
    if len(df) > limit:
        t.caption = f"{len(df) - limit} more rows in the output folder"
    return t


def print_notes(notes: list[str]) -> None:
    for note in notes:
        console.print(escape(note))


def print_report_path(out: Path) -> None:
    console.print(f"report: [bold]{escape(str(out / 'report.html'))}[/]")

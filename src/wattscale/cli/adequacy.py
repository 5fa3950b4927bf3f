"""``wattscale adequacy``: a generating system's loss-of-load indices and the AI campus it can take."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from wattscale.cli.common import (
    OUTDIR,
    QUIET,
    SCHEDULER,
    WORKERS,
    console,
    df_table,
    print_notes,
    print_report_path,
    run_study_command,
)


def adequacy(system: Path = typer.Argument(..., help="system YAML: units table, hourly load, optional storage, "
                                           "renewables and an AI campus", show_default=False),
             outdir: Path = OUTDIR,
             method: str = typer.Option(None, help="all | exact | nonsequential | sequential (default: the "
                                        "file's method, else all)"),
             years: int = typer.Option(None, help="Monte Carlo years (default: the file's, else 1000)"),
             seed: int = typer.Option(None, help="Monte Carlo seed (default: the file's, else 0)"),
             workers: int = WORKERS, scheduler: str = SCHEDULER, quiet: bool = QUIET) -> None:
    """LOLE (hours and days a year), EUE, NEUE and LOLF of SYSTEM, exactly from the capacity outage table and by
    non-sequential and sequential Monte Carlo; with a campus, its effect and the largest campus the system can take
    if it curtails 0.25-1 % of its energy. Writes report.html, summary.json and tables."""
    result, out = run_study_command("adequacy", system, outdir=outdir, suffix="-adequacy", quiet=quiet,
                                    workers=workers, scheduler=scheduler, method=method, years=years, seed=seed)
    r = result.value
    table = r.index_table()
    shown = pd.DataFrame({
        "method": table["method"].str.replace(" (capacity outage table)", "", regex=False).str.replace(
            " Monte Carlo", " MC", regex=False).str.replace("non-sequential", "non-seq.", regex=False),
        "LOLE h/yr": [_pm(v, e) for v, e in zip(table.lole_h_per_year, table.lole_h_se)],
        "LOLE d/yr": [_pm(v, e) for v, e in zip(table.lole_d_per_year, table.lole_d_se)],
        "EUE MWh/yr": [_pm(v, e) for v, e in zip(table.eue_mwh_per_year, table.eue_se)],
        "LOLF /yr": [f"{v:.3g}" if v == v else "-" for v in table.lolf_per_year]})
    console.print(df_table(f"{r.system.name}: {r.system.units.installed_mw:,.0f} MW of units, peak load "
                           f"{r.system.load_mw.max():,.0f} MW", shown, caption="+/- one standard error"))
    if r.headroom:
        h = pd.DataFrame(r.headroom)
        console.print(df_table("largest campus at the system's own LOLE, if it curtails", pd.DataFrame({
            "share of its energy": [f"{s:.2%}" for s in h.curtail_share],
            "on-site backup": [f"{b:.0%} of demand" for b in h.backup_fraction],
            "campus MW": h.largest_campus_mw.round(0), "curtailed h/yr": h.curtailment_hours_per_year.round(1)})))
    print_notes(result.notes)
    print_report_path(out)


def _pm(value: float, se: float) -> str:
    """A value with its standard error, without exponents: 1,193 ±17, 9.463 ±0.099."""
    def short(v: float, digits: int) -> str:
        return f"{v:,.0f}" if abs(v) >= 10 ** (digits - 1) else f"{v:.{digits}g}"

    return short(value, 4) if not se or se != se else f"{short(value, 4)} ±{short(se, 2)}"

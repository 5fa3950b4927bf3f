"""``wattscale grid ...``: power flow, N-1, fault restoration, reconfiguration and reliability of a network."""
from __future__ import annotations

from pathlib import Path

import typer

from wattscale.cli.common import (
    OUTDIR,
    QUIET,
    SCHEDULER,
    WIDE,
    WORKERS,
    console,
    df_table,
    print_notes,
    print_report_path,
    run_study_command,
    shown,
)

app = typer.Typer(help="Electrical networks (pandapower): power flow, N-1, fault restoration (FLISR), "
                       "reconfiguration and reliability.\n\nExample: wattscale grid heal ieee33 --fault 7",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
NETWORK = typer.Argument(..., help="network YAML file, or a standard case: ieee33, cigre-mv", show_default=False)


@app.command()
def flow(network: str = NETWORK,
         results: Path = typer.Option(None, help="results folder of 'wattscale run': power flow at every step "
                                                 "of its simulated site power"),
         every: str = typer.Option("1h", help="with --results: resample the steps to this interval"),
         hosting_bus: list[str] = typer.Option([], "--hosting-bus", help="bus to find the hosting capacity for "
                                                                         "a new AI load (repeatable)"),
         outdir: Path = OUTDIR, quiet: bool = QUIET) -> None:
    """Power flow: losses, voltages, loadings and limit violations; over time with --results; hosting capacity."""
    result, out = run_study_command("grid-flow", network, outdir=outdir, suffix="-flow", quiet=quiet,
                                    results=results, every=every, hosting_buses=hosting_bus)
    s, per_step, violations = result.value
    print_notes(result.notes)
    for v in s.violations[:10]:
        console.print(f"  [yellow]{shown(v, 200)}[/]")
    if per_step is not None:
        over = result.details["over_time"]
        console.print(f"over time: {len(per_step):,} steps, {over['steps_with_violations']:,} with "
                      f"violations, losses {over['energy_lost_mwh']:,.1f} MWh")
        if len(violations):
            console.print(df_table("violations by element", violations, 15))
    print_report_path(out)


@app.command()
def contingency(network: str = NETWORK,
                backend: str = typer.Option("auto", help="auto | pandapower | lightsim2grid"),
                outdir: Path = OUTDIR, workers: int = WORKERS, scheduler: str = SCHEDULER,
                wide: bool = WIDE, quiet: bool = QUIET) -> None:
    """N-1: every line and transformer out in turn; load cut off, lowest voltage, highest loading, violations."""
    result, out = run_study_command("grid-contingency", network, outdir=outdir, suffix="-contingency", quiet=quiet,
                                    workers=workers, scheduler=scheduler, backend=backend)
    df = result.value
    if not wide:
        df = df.drop(columns=[c for c in ("max_loading_element", "violations") if c in df]).rename(columns={
            "load_cut_mw": "load cut MW", "vm_min_pu": "lowest V pu", "vm_min_bus": "at bus",
            "max_loading_percent": "max loading %", "worst": "worst violation"})
    console.print(df_table(f"N-1 ({len(result.value)} outages)", df,
                           caption=None if wide else "--wide: every column"))
    print_report_path(out)


@app.command()
def heal(network: str = NETWORK,
         fault: str = typer.Option(..., "--fault", help="line or transformer that faults", show_default=False),
         mode: str = typer.Option("flisr", help="flisr (automated switches + islanding) | manual | none"),
         outdir: Path = OUTDIR, quiet: bool = QUIET) -> None:
    """A fault and its restoration: switching sequence with times, loads restored, islanded and lost, and why."""
    from wattscale.results_folder import safe_folder_name

    result, out = run_study_command("grid-heal", network, outdir=outdir, suffix=f"-heal-{safe_folder_name(fault)}",
                                    quiet=quiet, fault=fault, mode=mode)
    r = result.value
    actions = result.tables["actions"]
    print_notes(result.notes)
    console.print(df_table("switching sequence", actions.assign(t_s=actions.t_s.round(2))))
    hit = r.loads[r.loads.status != "unaffected"]
    console.print(df_table("loads", hit[["name", "p_mw", "status", "restored_s"]].assign(
        why=(hit.via.fillna("") + " " + hit.reason.fillna("")).str.strip())))
    print_report_path(out)


@app.command()
def reconfigure(network: str = NETWORK, outdir: Path = OUTDIR, quiet: bool = QUIET) -> None:
    """Minimum-loss radial configuration by branch exchange over switch states."""
    result, out = run_study_command("grid-reconfigure", network, outdir=outdir, suffix="-reconfigure", quiet=quiet)
    print_notes(result.notes)
    print_report_path(out)


@app.command()
def reliability(network: str = NETWORK,
                years: int = typer.Option(1000, help="Monte Carlo years (0: analytical only)"),
                seed: int = typer.Option(0, help="random seed"),
                wide: bool = typer.Option(False, "--wide", help="all indices (wider than 80 characters)"),
                outdir: Path = OUTDIR, workers: int = WORKERS, scheduler: str = SCHEDULER,
                quiet: bool = QUIET) -> None:
    """SAIFI, SAIDI, CAIDI, ASAI, MAIFI, ENS and GPU-hours lost: analytical and Monte Carlo, with no switching,
    manual switching and FLISR (automated switching + islanding)."""
    result, out = run_study_command("grid-reliability", network, outdir=outdir, suffix="-reliability", quiet=quiet,
                                    workers=workers, scheduler=scheduler, years=years, seed=seed)
    df = result.tables["indices"]
    cols = {"method": "method", "restoration": "switching", "SAIFI": "SAIFI", "SAIDI_h": "SAIDI h",
            "CAIDI_h": "CAIDI h", "ENS_MWh": "ENS MWh", "GPU_hours_lost": "GPU-h lost"}
    if wide:
        cols.update({"ASAI": "ASAI", "MAIFI": "MAIFI"})
    shown = df[list(cols)].rename(columns=cols).replace({"method": {f"MC {years:,} yr": "Monte Carlo"}})
    console.print(df_table(f"reliability indices per year (Monte Carlo: {years:,} years)", shown,
                           caption="every index: indices.csv" + ("" if wide else "; --wide: ASAI, MAIFI")))
    print_notes(result.notes)
    print_report_path(out)

"""``wattscale gridcode``: campuses in a sequence of voltage dips, the load the grid loses, system frequency."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from wattscale.cli.common import OUTDIR, QUIET, SET, console, print_report_path, run_study_command, shown
from wattscale.network.frequency import LARGEST_LOSS_HORIZON_S


def gridcode(scenario: Path = typer.Argument(..., help="scenario YAML with a gridcode section and sites with "
                                             "ride_through settings", show_default=False),
             outdir: Path = OUTDIR,
             disturbances: Path = typer.Option(None, help="CSV of dips: time_s, depth_pu, duration_s (default: "
                                               "gridcode.disturbances)"),
             envelope: Path = typer.Option(None, help="CSV no-trip curve: voltage_pu, duration_s (default: "
                                           "gridcode.envelope)"),
             start: str = typer.Option(None, help="when the dips begin, e.g. '2023-07-10 19:00' (default: "
                                       "gridcode.start)"),
             after_s: float = typer.Option(None, "--after-s", help="seconds simulated after the last dip "
                                           "(default: gridcode.after_s, else 120)"),
             set_: list[str] = SET, quiet: bool = QUIET) -> None:
    """Put every campus with ride_through settings through the dips: who leaves the grid and when, the MW the
    grid loses, envelope compliance and system frequency; writes report.html, summary.json and tables."""
    result, out = run_study_command("gridcode", scenario, outdir=outdir, changes=set_, suffix="-gridcode",
                                    quiet=quiet, disturbances=disturbances, envelope=envelope, start=start,
                                    after_s=after_s)
    console.print(campus_table(result.value))
    console.print(loss_line(result.value), highlight=False)
    for line in frequency_lines(result.value):
        console.print(line, highlight=False)
    print_report_path(out)


def campus_table(r) -> Table:
    """One row per campus, at 80 columns: load, when it left and came back, lockout, envelope."""
    from rich import box

    span = r.dips[-1].end_s - r.dips[0].time_s
    t = Table(title=f"{shown(r.scenario)}: {len(r.dips)} dips over {span:,.3g} s", box=box.SIMPLE_HEAD,
              pad_edge=False)
    for name, justify in (("campus", "left"), ("MW", "right"), ("left at s", "right"), ("back at s", "right"),
                          ("times", "right"), ("locked", "left"), ("envelope", "left")):
        t.add_column(name, justify=justify, no_wrap=name != "campus", max_width=24 if name == "campus" else None)
    end = float(r.time_s[-1])
    for c in r.campuses:
        o = c.outcome
        back_s = o.back_by(end)
        back = "-" if not o.left_grid else (f"not by {end:,.0f}" if back_s is None else f"{back_s:,.1f}")
        env = {None: "-", True: "[green]met[/]", False: "[red]broken[/]"}[c.met_envelope]
        t.add_row(escape(c.site), f"{o.load_mw:,.0f}", f"{o.leaves_s[0]:,.2f}" if o.left_grid else "[green]stayed[/]",
                  back, str(len(o.leaves_s)), "[red]yes[/]" if o.locked_out else "no", env)
    return t


def loss_line(r) -> str:
    k = r.kpis()
    return (f"{k['campuses_left_grid']} of {k['campuses']} campuses left the grid; peak loss "
            f"{k['peak_load_lost_mw']:,.0f} MW, {k['load_lost_at_end_mw']:,.0f} MW still off at "
            f"{float(r.time_s[-1]):,.0f} s")


def frequency_lines(r) -> list[str]:
    if r.frequency is None:
        return ["no power_system section: frequency not simulated"]
    m = r.frequency.metrics()
    limit_mhz = r.system.deviation_limit_hz * 1000
    over = "" if abs(m["peak_deviation_hz"]) <= r.system.deviation_limit_hz else " [red]beyond the limit[/]"
    return [(f"frequency: peak {m['peak_deviation_hz'] * 1000:+,.1f} mHz (limit +/-{limit_mhz:,.0f} mHz){over}, "
             + (f"RoCoF {m['rocof_500ms_hz_per_s'] * 1000:,.1f} mHz/s over 500 ms" if m["rocof_500ms_hz_per_s"] == m[
                 "rocof_500ms_hz_per_s"] else "RoCoF over 500 ms not measured at this resolution")),
            f"largest sudden load loss within the limit (over {LARGEST_LOSS_HORIZON_S:g} s): "
            f"{r.largest_loss_mw:,.0f} MW"]

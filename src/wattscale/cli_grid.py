"""``wattscale grid ...``: power flow, N-1, fault restoration, reconfiguration and reliability of a network."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from wattscale.errors import WattscaleError

NETWORK_HELP = "network YAML file, or a standard case: ieee33, cigre-mv"
app = typer.Typer(help="Electrical networks (pandapower): power flow, N-1, fault restoration (FLISR), "
                       "reconfiguration and reliability.\n\nExample: wattscale grid heal ieee33 --fault 7",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _console():
    from wattscale.cli import console, err_console, fail
    return console, err_console, fail


def _fail(exc: WattscaleError, network: str) -> None:
    """Report ``exc`` naming the network file (not a standard case name)."""
    _, _, fail = _console()
    fail(exc, Path(network) if Path(network).is_file() else None)


class CountColumn(ProgressColumn):
    """``done/total unit``, or ``done unit`` while the total is not known yet."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        total = f"/{task.total:,.0f}" if task.total is not None else ""
        return Text(f"{task.completed:,.0f}{total} {self.unit}")


def _bar(label: str, quiet: bool, unit: str):
    _, err, _ = _console()
    return Progress(TextColumn(f"[bold]{label}[/]"), BarColumn(), CountColumn(unit), TimeElapsedColumn(),
                    console=err, disable=quiet, transient=True)


def _table(title: str, df: pd.DataFrame, limit: int = 40) -> Table:
    t = Table(title=title)
    for c in df.columns:
        t.add_column(str(c), justify="right" if pd.api.types.is_numeric_dtype(df[c]) else "left")
    for row in df.head(limit).itertuples(index=False):
        t.add_row(*[f"{v:,.4g}" if isinstance(v, float) else escape(str(v)) for v in row])
    if len(df) > limit:
        t.caption = f"{len(df) - limit} more rows in the output folder"
    return t


def _write(out: Path, files: dict[str, str | bytes]) -> Path:
    from wattscale.engine.results import write_folder
    return write_folder(out, {k: v.encode() if isinstance(v, str) else v for k, v in files.items()})


def _out(outdir: Path | None, network: str, what: str) -> Path:
    """The output folder, refused before any work if it is not replaceable."""
    from wattscale.cli import checked_outdir
    return checked_outdir(outdir, Path(network).stem, f"-{what}")


OUTDIR = typer.Option(None, "--outdir", "-o", help="output folder (default: out/<network>-<command>)")
QUIET = typer.Option(False, "--quiet", "-q", help="no progress bar")


@app.command()
def flow(network: str = typer.Argument(..., help=NETWORK_HELP, show_default=False),
         results: Path = typer.Option(None, help="results folder of 'wattscale run': power flow at every step "
                                                 "of its simulated site power"),
         every: str = typer.Option("1h", help="with --results: resample the steps to this interval"),
         hosting_bus: list[str] = typer.Option([], "--hosting-bus", help="bus to find the hosting capacity for "
                                                                         "a new AI load (repeatable)"),
         outdir: Path = OUTDIR, quiet: bool = QUIET) -> None:
    """Power flow: losses, voltages, loadings and limit violations; over time with --results; hosting capacity."""
    from wattscale.analysis.network_report import diagram, page
    from wattscale.engine.results import load_results
    from wattscale.network.build import load_network
    from wattscale.network.flow import hosting_capacity, solve, timeseries_flow
    from wattscale.timeseries.timeline import parse_duration

    console = _console()[0]
    try:
        try:  # the options first: before any network is built or results read
            rule = parse_duration(every)
        except (ValueError, OverflowError):
            rule = pd.NaT
        if rule is pd.NaT or not pd.Timedelta(seconds=1) <= rule <= pd.Timedelta(days=366):
            from wattscale.guards import excerpt
            raise WattscaleError(f"cannot use the interval '{excerpt(every, 30)}'", field="--every",
                                 expected="a duration from 1s to 366d, such as 1h or 15min")
        out = _out(outdir, network, "flow")
        net = load_network(network)
        base = net.copy()
        s = solve(base)
        figures = [diagram(base, title=f"{net.name}: voltage (buses) and loading (lines)")]
        tables, files = [], {}
        hosting = [hosting_capacity(net, b) for b in hosting_bus]
        per_step = violations = None
        if results is not None:
            res = load_results(results)
            steps = {k: v.resample(rule).mean() for k, v in res.steps.items()}
            n = len(next(iter(steps.values())))
            with _bar("power flow", quiet, "steps") as bar:
                task = bar.add_task("", total=n)
                per_step, violations = timeseries_flow(net, steps, progress=lambda k: bar.advance(task, k))
            files["steps.csv"] = per_step.to_csv()
            files["violations.csv"] = violations.to_csv(index=False)
            import plotly.graph_objects as go
            from plotly.subplots import make_subplots
            fig = make_subplots(rows=3, cols=1, shared_xaxes=True,
                                subplot_titles=("lowest voltage (pu)", "highest loading (%)", "losses (MW)"))
            for r, col in enumerate(("vm_min_pu", "max_loading_percent", "losses_mw"), start=1):
                fig.add_trace(go.Scatter(x=per_step.index, y=per_step[col], name=col), row=r, col=1)
            fig.add_hline(y=net.limits.vm_min_pu, line_dash="dot", row=1, col=1)
            fig.add_hline(y=net.limits.max_loading_percent, line_dash="dot", row=2, col=1)
            fig.update_layout(height=700, title=f"power flow over {n:,} steps of {results}", showlegend=False)
            figures.append(fig)
            tables.append(("violations by element over time", violations))
        summary = {"losses_mw": s.losses_mw, "vm_min_pu": s.vm_min_pu, "vm_min_bus": s.vm_min_bus,
                   "max_loading_percent": s.max_loading_percent, "max_loading_element": s.max_loading_element,
                   "violations": [str(v) for v in s.violations],
                   "hosting_capacity": [h.__dict__ for h in hosting]}
        if per_step is not None:
            summary["over_time"] = {"steps": len(per_step), "steps_with_violations": int((per_step.violations > 0)
                                                                                         .sum()),
                                    "energy_lost_mwh": float(per_step.losses_mw.sum() * rule.total_seconds() / 3600)}
        notes = [f"Losses {s.losses_mw * 1000:,.1f} kW; lowest voltage {s.vm_min_pu:.4f} pu at bus {s.vm_min_bus}; "
                 f"highest loading {s.max_loading_percent:.1f} % ({s.max_loading_element}); "
                 f"{len(s.violations)} limit violations."]
        notes += [f"Hosting capacity at bus {h.bus}: {h.capacity_mw:,.2f} MW (limited by {h.limited_by})."
                  for h in hosting]
        tables.insert(0, ("violations (design load)", pd.DataFrame([v.__dict__ for v in s.violations])))
        files["report.html"] = page(f"{net.name}: power flow", figures, tables, notes)
        files["summary.json"] = json.dumps(summary, indent=2)
        out = _write(out, files)
    except WattscaleError as exc:
        _fail(exc, network)
    for n in notes:
        console.print(escape(n))
    for v in s.violations[:10]:
        console.print(f"  [yellow]{escape(str(v))}[/]")
    if per_step is not None:
        console.print(f"over time: {len(per_step):,} steps, {summary['over_time']['steps_with_violations']:,} with "
                      f"violations, losses {summary['over_time']['energy_lost_mwh']:,.1f} MWh")
        if len(violations):
            console.print(_table("violations by element", violations, 15))
    console.print(f"report: [bold]{escape(str(out / 'report.html'))}[/]")


@app.command()
def contingency(network: str = typer.Argument(..., help=NETWORK_HELP, show_default=False),
                backend: str = typer.Option("auto", help="auto | pandapower | lightsim2grid"),
                outdir: Path = OUTDIR, quiet: bool = QUIET) -> None:
    """N-1: every line and transformer out in turn; load cut off, lowest voltage, highest loading, violations."""
    from wattscale.analysis.network_report import page
    from wattscale.network.build import load_network
    from wattscale.network.contingency import n_minus_1
    from wattscale.network.flow import has_lightsim2grid

    console = _console()[0]
    try:
        out = _out(outdir, network, "contingency")
        if backend not in ("auto", "pandapower", "lightsim2grid"):
            from wattscale.guards import excerpt
            raise WattscaleError(f"unknown backend '{excerpt(backend, 30)}'", field="--backend",
                                 expected="auto, pandapower or lightsim2grid")
        if backend == "lightsim2grid" and not has_lightsim2grid():
            raise WattscaleError("lightsim2grid is not installed", field="--backend",
                                 expected="pip install lightsim2grid, or --backend pandapower")
        net = load_network(network)
        fast = None if backend == "auto" else backend == "lightsim2grid"
        with _bar("N-1", quiet, "outages") as bar:
            task = bar.add_task("", total=int(net.net.line.in_service.sum() + net.net.trafo.in_service.sum()))
            df = n_minus_1(net, fast=fast, progress=lambda k: bar.advance(task, k))
        out = _write(out, {
            "n-1.csv": df.to_csv(index=False),
            "report.html": page(f"{net.name}: N-1", [], [("N-1 outages", df)],
                                [f"{len(df)} outages; {int((df.violations > 0).sum())} break a limit; "
                                 f"{int((df.load_cut_mw > 0).sum())} cut off load."]),
            "summary.json": json.dumps({"outages": len(df), "with_violations": int((df.violations > 0).sum()),
                                        "cutting_load": int((df.load_cut_mw > 0).sum())}, indent=2)})
    except WattscaleError as exc:
        _fail(exc, network)
    console.print(_table(f"{net.name}: N-1 ({len(df)} outages)", df))
    console.print(f"report: [bold]{escape(str(out / 'report.html'))}[/]")


@app.command()
def heal(network: str = typer.Argument(..., help=NETWORK_HELP, show_default=False),
         fault: str = typer.Option(..., "--fault", help="line or transformer that faults", show_default=False),
         mode: str = typer.Option("flisr", help="flisr (automated switches + islanding) | manual | none"),
         outdir: Path = OUTDIR) -> None:
    """A fault and its restoration: switching sequence with times, loads restored, islanded and lost, and why."""
    from wattscale.analysis.network_report import STATUS_COLOUR, diagram, page
    from wattscale.network.build import load_network
    from wattscale.network.restoration import restore

    console = _console()[0]
    try:
        out = _out(outdir, network, f"heal-{fault}")
        net = load_network(network)
        r = restore(net, fault, mode)
        actions = pd.DataFrame([a.__dict__ for a in r.actions])
        colour = {}
        status_of_bus = {}
        for row in r.loads.itertuples():
            status_of_bus.setdefault(row.bus, row.status)
        for b, name in r.network.net.bus.name.items():
            st = "faulted" if ("bus", int(b)) in r.location.located else status_of_bus.get(str(name))
            if st is None:
                st = "unaffected" if r.network.net.res_bus.vm_pu.notna()[b] else "lost"
            colour[int(b)] = STATUS_COLOUR[st]
        loc = r.location
        notes = [f"Fault on {fault}: Ik'' = {loc.ikss_ka:.2f} kA; {net.net.switch.name[loc.tripped]} trips; "
                 f"location {'correct' if loc.correct else 'WRONG'}; {r.power_flows} power flows.",
                 f"Restored {r.mw('restored'):.3f} MW, islanded {r.mw('islanded'):.3f} MW, lost {r.mw('lost'):.3f} MW.",
                 "Checks: " + ("radial, every live part has a source, all limits met." if not r.problems
                               else "; ".join(r.problems))]
        fig = diagram(r.network, title=f"{net.name}: after a fault on {fault} ({mode})", bus_colour=colour,
                      faulted=fault)
        out = _write(out, {
            "actions.csv": actions.to_csv(index=False), "loads.csv": r.loads.to_csv(index=False),
            "report.html": page(f"{net.name}: fault on {fault}", [fig],
                                [("switching sequence", actions), ("loads", r.loads)], notes),
            "summary.json": json.dumps({"fault": fault, "mode": mode, "ikss_ka": loc.ikss_ka,
                                        "restored_mw": r.mw("restored"), "islanded_mw": r.mw("islanded"),
                                        "lost_mw": r.mw("lost"), "problems": r.problems}, indent=2)})
    except WattscaleError as exc:
        _fail(exc, network)
    for n in notes:
        console.print(escape(n))
    console.print(_table("switching sequence", actions.assign(t_s=actions.t_s.round(2))))
    console.print(_table("loads", r.loads[r.loads.status != "unaffected"][["name", "bus", "p_mw", "status",
                                                                          "restored_s", "via", "reason"]]))
    console.print(f"report: [bold]{escape(str(out / 'report.html'))}[/]")


@app.command()
def reconfigure(network: str = typer.Argument(..., help=NETWORK_HELP, show_default=False),
                outdir: Path = OUTDIR, quiet: bool = QUIET) -> None:
    """Minimum-loss radial configuration by branch exchange over switch states."""
    from wattscale.analysis.network_report import diagram, page
    from wattscale.network.build import load_network
    from wattscale.network.reconfigure import reconfigure as search

    console = _console()[0]
    try:
        out = _out(outdir, network, "reconfigure")
        net = load_network(network)
        with _bar("branch exchange", quiet, "rounds") as bar:
            task = bar.add_task("", total=None)
            r = search(net, progress=lambda k: bar.advance(task, k))
        notes = [f"Losses {r.losses_before_mw * 1000:,.2f} kW -> {r.losses_after_mw * 1000:,.2f} kW "
                 f"({1 - r.losses_after_mw / max(r.losses_before_mw, 1e-12):.1%} less) after {r.rounds} rounds, "
                 f"{r.power_flows} power flows.",
                 f"Open after: {', '.join(r.open_after)}. Opened: {', '.join(r.opened) or '-'}; "
                 f"closed: {', '.join(r.closed) or '-'}."]
        summary = {k: v for k, v in r.__dict__.items() if k != "network"}
        out = _write(out, {
            "report.html": page(f"{net.name}: reconfiguration", [diagram(r.network, title="reconfigured")], [],
                                notes),
            "summary.json": json.dumps(summary, indent=2)})
    except WattscaleError as exc:
        _fail(exc, network)
    for n in notes:
        console.print(escape(n))
    console.print(f"report: [bold]{escape(str(out / 'report.html'))}[/]")


@app.command()
def reliability(network: str = typer.Argument(..., help=NETWORK_HELP, show_default=False),
                years: int = typer.Option(1000, min=0, max=1_000_000, help="Monte Carlo years (0: analytical only)"),
                seed: int = typer.Option(0, min=0, max=2**32 - 1, help="random seed"),
                outdir: Path = OUTDIR, quiet: bool = QUIET) -> None:
    """SAIFI, SAIDI, CAIDI, ASAI, MAIFI, ENS and GPU-hours lost: analytical and Monte Carlo, with no switching,
    manual switching and FLISR (automated switching + islanding)."""
    import plotly.graph_objects as go

    from wattscale.analysis.network_report import page
    from wattscale.analysis.reliability import analytical, monte_carlo, outcome_table
    from wattscale.network.build import load_network

    console = _console()[0]
    try:
        out = _out(outdir, network, "reliability")
        net = load_network(network)
        n_comp = int((net.net.line.failures_per_yr > 0).sum() + (net.net.trafo.failures_per_yr > 0).sum())
        results, mcs, lps = {}, {}, {}
        with _bar("reliability", quiet, "faults and years") as bar:
            task = bar.add_task("", total=3 * (n_comp + years))
            for mode in ("none", "manual", "flisr"):
                tab = outcome_table(net, mode, progress=lambda k: bar.advance(task, k))
                a = analytical(tab)
                results[mode], lps[mode] = a.as_dict(), a.load_points
                if years:
                    mcs[mode] = monte_carlo(tab, years, seed=seed, progress=lambda k: bar.advance(task, k))
        rows = []
        for mode, ind in results.items():
            rows.append({"method": "analytical", "restoration": mode, **ind})
            if mode in mcs:
                m = mcs[mode]
                rows.append({"method": f"MC {years:,} yr", "restoration": mode,
                             **{k: m.mean.get(k, float("nan")) for k in ind}})
                rows.append({"method": "± 95 %", "restoration": mode,
                             **{k: m.half_width.get(k, float("nan")) for k in ind}})
        df = pd.DataFrame(rows)
        fig = go.Figure([go.Bar(x=list(results), y=[results[m]["SAIDI_h"] for m in results], name="SAIDI (h)"),
                         go.Bar(x=list(results), y=[results[m]["SAIFI"] for m in results], name="SAIFI")])
        fig.update_layout(title="what restoration is worth (analytical)", barmode="group", height=400)
        gain = 1 - results["flisr"]["SAIDI_h"] / max(results["none"]["SAIDI_h"], 1e-12)
        notes = [f"FLISR cuts SAIDI by {gain:.1%} against no switching and ENS from "
                 f"{results['none']['ENS_MWh']:,.2f} to {results['flisr']['ENS_MWh']:,.2f} MWh/yr."]
        out = _write(out, {
            "indices.csv": df.to_csv(index=False),
            "load_points.csv": pd.concat({m: lp for m, lp in lps.items()}, names=["restoration"]).to_csv(),
            "report.html": page(f"{net.name}: reliability", [fig],
                                [("system indices", df), ("load points (FLISR)", lps["flisr"])], notes),
            "summary.json": json.dumps({"analytical": results, "monte_carlo_years": years}, indent=2)})
    except WattscaleError as exc:
        _fail(exc, network)
    console.print(_table(f"{net.name}: reliability indices per year", df))
    for n in notes:
        console.print(escape(n))
    console.print(f"report: [bold]{escape(str(out / 'report.html'))}[/]")

"""The network studies: power flow, N-1, fault restoration, reconfiguration and reliability of a network."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field, field_validator

from wattscale.errors import WattscaleError
from wattscale.studies.base import Options, Progress, StudyResult


class FlowOptions(Options):
    results: Path | None = Field(None, description="results folder of 'wattscale run': power flow at every step "
                                                   "of its simulated site power")
    every: str = Field("1h", description="with results: resample the steps to this interval (1s to 366d)")
    hosting_buses: list[str] = Field([], description="buses to find the hosting capacity for a new AI load")

    @field_validator("every")
    @classmethod
    def _interval(cls, v: str) -> str:
        from wattscale.guards import excerpt
        from wattscale.timeseries.timeline import parse_duration

        try:
            rule = parse_duration(v)
        except (ValueError, OverflowError):
            rule = pd.NaT
        if rule is pd.NaT or not pd.Timedelta(seconds=1) <= rule <= pd.Timedelta(days=366):
            raise ValueError(f"cannot use the interval '{excerpt(v, 30)}' (expected a duration from 1s to 366d, "
                             "such as 1h or 15min)")
        return v


class ContingencyOptions(Options):
    backend: Literal["auto", "pandapower", "lightsim2grid"] = Field("auto", description="power-flow solver")


class HealOptions(Options):
    fault: str = Field(description="line or transformer that faults")
    mode: Literal["flisr", "manual", "none"] = Field("flisr", description="flisr (automated switches + "
                                                                          "islanding) | manual | none")


class ReconfigureOptions(Options):
    """No options: branch exchange over the network's switches."""


class ReliabilityOptions(Options):
    years: int = Field(1000, ge=0, le=1_000_000, description="Monte Carlo years (0: analytical only)")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="random seed")


def run_flow(net, options: FlowOptions, progress: Progress) -> StudyResult:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from wattscale.engine.results import load_results
    from wattscale.network.flow import hosting_capacity, solve, timeseries_flow
    from wattscale.network.report import diagram
    from wattscale.studies.page import page
    from wattscale.timeseries.timeline import parse_duration

    base = net.copy()
    s = solve(base)
    figures = [diagram(base, title=f"{net.name}: voltage (buses) and loading (lines)")]
    tables, report_tables = {}, []
    hosting = [hosting_capacity(net, b) for b in options.hosting_buses]
    per_step = violations = None
    details = {"losses_mw": s.losses_mw, "vm_min_pu": s.vm_min_pu, "vm_min_bus": s.vm_min_bus,
               "max_loading_percent": s.max_loading_percent, "max_loading_element": s.max_loading_element,
               "violations": [str(v) for v in s.violations], "hosting_capacity": [h.__dict__ for h in hosting]}
    if options.results is not None:
        res = load_results(options.results)
        rule = parse_duration(options.every)
        steps = {k: v.resample(rule).mean() for k, v in res.steps.items()}
        n = len(next(iter(steps.values())))
        done = [0]

        def tick(k: int) -> None:
            done[0] += k
            progress("power flow", done[0], n)

        per_step, violations = timeseries_flow(net, steps, progress=tick)
        tables["steps"], tables["violations"] = per_step, violations
        fig = make_subplots(rows=3, cols=1, shared_xaxes=True,
                            subplot_titles=("lowest voltage (pu)", "highest loading (%)", "losses (MW)"))
        for r, col in enumerate(("vm_min_pu", "max_loading_percent", "losses_mw"), start=1):
            fig.add_trace(go.Scatter(x=per_step.index, y=per_step[col], name=col), row=r, col=1)
        fig.add_hline(y=net.limits.vm_min_pu, line_dash="dot", row=1, col=1)
        fig.add_hline(y=net.limits.max_loading_percent, line_dash="dot", row=2, col=1)
        fig.update_layout(height=700, title=f"power flow over {n:,} steps of {options.results}", showlegend=False)
        figures.append(fig)
        report_tables.append(("violations by element over time", violations))
        details["over_time"] = {"steps": len(per_step), "steps_with_violations": int((per_step.violations > 0).sum()),
                                "energy_lost_mwh": float(per_step.losses_mw.sum() * rule.total_seconds() / 3600)}
    notes = [f"Losses {s.losses_mw * 1000:,.1f} kW; lowest voltage {s.vm_min_pu:.4f} pu at bus {s.vm_min_bus}; "
             f"highest loading {s.max_loading_percent:.1f} % ({s.max_loading_element}); "
             f"{len(s.violations)} limit violations."]
    notes += [f"Hosting capacity at bus {h.bus}: {h.capacity_mw:,.2f} MW (limited by {h.limited_by})."
              for h in hosting]
    report_tables.insert(0, ("violations (design load)", pd.DataFrame([v.__dict__ for v in s.violations])))
    kpis = {"losses_mw": s.losses_mw, "vm_min_pu": s.vm_min_pu, "max_loading_percent": s.max_loading_percent,
            "violations": len(s.violations)}
    return StudyResult("grid-flow", options, kpis=kpis, value=(s, per_step, violations), tables=tables,
                       render_report=lambda: page(f"{net.name}: power flow", figures, report_tables, notes),
                       details=details, notes=notes)


def run_contingency(net, options: ContingencyOptions, progress: Progress) -> StudyResult:
    from wattscale.network.contingency import n_minus_1
    from wattscale.network.flow import has_lightsim2grid
    from wattscale.studies.page import page

    if options.backend == "lightsim2grid" and not has_lightsim2grid():
        raise WattscaleError("lightsim2grid is not installed", field="backend",
                             expected="pip install lightsim2grid, or backend pandapower")
    fast = None if options.backend == "auto" else options.backend == "lightsim2grid"
    total = int(net.net.line.in_service.sum() + net.net.trafo.in_service.sum())
    done = [0]

    def tick(k: int) -> None:
        done[0] += k
        progress("N-1 outages", done[0], total)

    df = n_minus_1(net, fast=fast, progress=tick)
    kpis = {"outages": len(df), "with_violations": int((df.violations > 0).sum()),
            "cutting_load": int((df.load_cut_mw > 0).sum())}
    notes = [f"{len(df)} outages; {kpis['with_violations']} break a limit; {kpis['cutting_load']} cut off load."]
    return StudyResult("grid-contingency", options, kpis=kpis, value=df, tables={"n-1": df},
                       render_report=lambda: page(f"{net.name}: N-1", [], [("N-1 outages", df)], notes),
                       details=dict(kpis), notes=notes)


def run_heal(net, options: HealOptions, progress: Progress) -> StudyResult:
    from wattscale.network.report import STATUS_COLOUR, diagram
    from wattscale.network.restoration import restore
    from wattscale.studies.page import page

    fault, mode = options.fault, options.mode
    progress(f"fault on {fault}: locating, isolating and restoring", 0, None)
    r = restore(net, fault, mode)
    actions = pd.DataFrame([a.__dict__ for a in r.actions])
    colour, status_of_bus = {}, {}
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
    fig = diagram(r.network, title=f"{net.name}: after a fault on {fault} ({mode})", bus_colour=colour, faulted=fault)
    kpis = {"ikss_ka": loc.ikss_ka, "restored_mw": r.mw("restored"), "islanded_mw": r.mw("islanded"),
            "lost_mw": r.mw("lost")}
    return StudyResult("grid-heal", options, kpis=kpis, value=r, tables={"actions": actions, "loads": r.loads},
                       render_report=lambda: page(f"{net.name}: fault on {fault}", [fig],
                                        [("switching sequence", actions), ("loads", r.loads)], notes),
                       details={"fault": fault, "mode": mode, **kpis, "problems": r.problems}, notes=notes)


def run_reconfigure(net, options: ReconfigureOptions, progress: Progress) -> StudyResult:
    from wattscale.network.reconfigure import reconfigure as search
    from wattscale.network.report import diagram
    from wattscale.studies.page import page

    rounds = [0]

    def tick(k: int) -> None:
        rounds[0] += k
        progress("branch exchange rounds", rounds[0], None)

    r = search(net, progress=tick)
    notes = [f"Losses {r.losses_before_mw * 1000:,.2f} kW -> {r.losses_after_mw * 1000:,.2f} kW "
             f"({1 - r.losses_after_mw / max(r.losses_before_mw, 1e-12):.1%} less) after {r.rounds} rounds, "
             f"{r.power_flows} power flows.",
             f"Open after: {', '.join(r.open_after)}. Opened: {', '.join(r.opened) or '-'}; "
             f"closed: {', '.join(r.closed) or '-'}."]
    details = {k: v for k, v in r.__dict__.items() if k != "network"}
    kpis = {"losses_before_mw": r.losses_before_mw, "losses_after_mw": r.losses_after_mw}
    return StudyResult("grid-reconfigure", options, kpis=kpis, value=r,
                       render_report=lambda: page(f"{net.name}: reconfiguration",
                                                  [diagram(r.network, title="reconfigured")], [], notes),
                       details=details, notes=notes)


YEAR_WEIGHT = 1e-3  # a Monte Carlo year against one restoration (a few power flows), in time


def run_reliability(net, options: ReliabilityOptions, progress: Progress) -> StudyResult:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from wattscale.network.reliability import analytical, monte_carlo, outcome_table
    from wattscale.studies.page import page

    years, seed = options.years, options.seed
    results, mcs, lps = {}, {}, {}
    modes = ("none", "manual", "flisr")
    # one bar over everything, as a share: each mode's restorations (the first mode counts them), then its Monte
    # Carlo years; a year weighs YEAR_WEIGHT of a restoration, about what it costs
    faults, finished = [1], [0.0]

    def share(extra: float = 0.0) -> float:
        return (finished[0] + extra) / (len(modes) * (faults[0] + years * YEAR_WEIGHT))

    for mode in modes:
        def restored(done: int, n: int, mode=mode) -> None:
            faults[0] = max(n, 1)
            progress(f"restoration '{mode}': fault {done:,} of {n:,}", share(done), 1.0)

        progress(f"restoration '{mode}': every fault", share(), 1.0)
        tab = outcome_table(net, mode, progress=restored)
        finished[0] += faults[0]
        a = analytical(tab)
        results[mode], lps[mode] = a.as_dict(), a.load_points
        if years:
            done = [0]

            def tick(k: int, mode=mode, done=done) -> None:
                done[0] += k
                progress(f"restoration '{mode}': Monte Carlo year {done[0]:,} of {years:,}",
                         share(done[0] * YEAR_WEIGHT), 1.0)

            mcs[mode] = monte_carlo(tab, years, seed=seed, progress=tick)
            finished[0] += years * YEAR_WEIGHT
    progress("done", 1.0, 1.0)
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
    fig = make_subplots(rows=1, cols=2, subplot_titles=("SAIDI: hours without supply per customer-year",
                                                        "SAIFI: interruptions per customer-year"))
    fig.add_trace(go.Bar(x=list(results), y=[results[m]["SAIDI_h"] for m in results], name="SAIDI (h)"), 1, 1)
    fig.add_trace(go.Bar(x=list(results), y=[results[m]["SAIFI"] for m in results], name="SAIFI",
                         marker_color="#e76f51"), 1, 2)
    fig.update_yaxes(title_text="h per year", row=1, col=1)
    fig.update_yaxes(title_text="per year", row=1, col=2)
    fig.update_xaxes(title_text="restoration")
    fig.update_layout(title="What restoration is worth (analytical)", barmode="group", height=400, showlegend=False)
    gain = 1 - results["flisr"]["SAIDI_h"] / max(results["none"]["SAIDI_h"], 1e-12)
    notes = [f"FLISR cuts SAIDI by {gain:.1%} against no switching and ENS from "
             f"{results['none']['ENS_MWh']:,.2f} to {results['flisr']['ENS_MWh']:,.2f} MWh/yr."]
    load_points = pd.concat({m: lp for m, lp in lps.items()}, names=["restoration"])
    kpis = {f"{k}_{mode}": v for mode, ind in results.items() for k, v in ind.items()
            if k in ("SAIFI", "SAIDI_h", "ENS_MWh")}
    return StudyResult("grid-reliability", options, kpis=kpis, value=results,
                       tables={"indices": df, "load_points": load_points},
                       render_report=lambda: page(f"{net.name}: reliability", [fig],
                                        [("system indices", df), ("load points (FLISR)", lps["flisr"])], notes),
                       details={"analytical": results, "monte_carlo_years": years}, notes=notes)

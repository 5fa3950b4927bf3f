"""The simulation engine: walk the timeline block by block; the controller decides, the kernel responds."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from wattscale.decisions.operate.factory import build_controller, build_forecaster
from wattscale.decisions.protocol import Controller, SiteState
from wattscale.engine.campus import Campus
from wattscale.engine.inputs import SiteInputs
from wattscale.engine.results import Results
from wattscale.engine.site_run import SiteRun, _frame, site_assets, site_forecast  # noqa: F401 - re-exported
from wattscale.errors import ScenarioError
from wattscale.scenario.schema import Scenario

Progress = Callable[[int], None]  # called with the number of steps just simulated
Observer = Callable[[int, int, dict], None]  # (first step, end step, the block's results by column)


def simulate(scenario: Scenario | Campus, *, scenario_file: str | Path | None = None,
             progress: Progress | None = None, controllers: dict[str, Controller] | None = None) -> Results:
    """Simulate every site of ``scenario`` (or a prepared campus) over its timeline (KPIs: ``analysis.kpi``)."""
    campus = scenario if isinstance(scenario, Campus) else \
        Campus(scenario, file=str(scenario_file) if scenario_file else None)
    scenario, timeline = campus.scenario, campus.timeline
    steps: dict[str, pd.DataFrame] = {}
    logs, fleets = {}, {}
    coupling = None
    if scenario.fleet is not None and scenario.controller.kind == "mpc":  # one plan for the whole fleet
        if controllers:
            raise ScenarioError("a fleet under MPC is planned as one: it takes no controllers of its own",
                                field="controller", expected="controllers=None, or a rules controller")
        from wattscale.engine.fleet_plan import plan_fleet

        frames, coupling, log = plan_fleet(scenario, {s.name: campus.inputs(s.name) for s in scenario.sites},
                                           progress)
        for name, frame in frames.items():
            _with_moves(frame, name, coupling)
        workloads = {s.name: _fleet_of(campus.inputs(s.name)) for s in scenario.sites
                     if campus.inputs(s.name).workload_gpus}
        solves = np.array([e["solve_s"] for e in log if "solve_s" in e] or [0.0])
        notes = [f"step {e['step']}: {e['note']}" for e in log if e.get("note")]
        extra = {"controller": {"fleet": {"kind": "fleet mpc", "forecaster": scenario.controller.forecaster,
                                          "plans": len(log), "fallbacks": sum(e["status"] == "fallback" for e in log),
                                          "solve_s_total": float(solves.sum()), "solve_s_mean": float(solves.mean()),
                                          "solve_s_max": float(solves.max()), "notes": notes[:20],
                                          "notes_omitted": max(0, len(notes) - 20)}},
                 "fleet": {"moves": coupling.moves(timeline.index, timeline.step_h).to_dict(orient="records")}}
        if workloads:
            extra["workloads"] = workloads
        return Results(scenario=scenario, timeline=timeline, steps=frames, kpis={}, extra=extra)
    if scenario.fleet is not None:  # coupled sites: moved inference and shared limits, step by step
        from wattscale.engine.coupling import couple

        coupling = couple(scenario.fleet, {s.name: campus.inputs(s.name) for s in scenario.sites},
                          scenario.carbon_price_usd_per_t)
    for site in scenario.sites:
        inputs = coupling.inputs[site.name] if coupling is not None else campus.inputs(site.name)
        if inputs.workload_gpus:  # the fleets as simulated (an inference fleet may have been sized for its SLO)
            fleets[site.name] = _fleet_of(campus.inputs(site.name))
        controller = (controllers or {}).get(site.name) or build_controller(
            scenario.controller, site_assets(inputs), carbon_price_usd_per_t=scenario.carbon_price_usd_per_t,
            value_of_lost_load_usd_per_mwh=scenario.value_of_lost_load_usd_per_mwh)
        forecaster = build_forecaster(scenario.controller, inputs.timeline.step_s)
        frame = simulate_site(inputs, controller, forecaster=forecaster, progress=progress)
        if coupling is not None:
            _with_moves(frame, site.name, coupling)
        steps[site.name] = frame
        if hasattr(controller, "summary"):
            logs[site.name] = {**controller.summary(), "forecast_fallbacks": getattr(forecaster, "fallbacks", 0)}
    extra = {"controller": logs} if logs else {}
    if coupling is not None:
        extra["fleet"] = {"moves": coupling.moves(timeline.index, timeline.step_h).to_dict(orient="records")}
    if fleets:
        extra["workloads"] = fleets
    return Results(scenario=scenario, timeline=timeline, steps=steps, kpis={}, extra=extra)


def _fleet_of(inputs: SiteInputs) -> dict:
    """Each workload's GPU fleet as simulated, before any of its inference moved to another site."""
    return {w.name: {"gpu": w.gpu, "gpus": inputs.workload_gpus[w.name], "sized": w.gpus is None,
                     "peak_it_mw": float(inputs.workload_it_mw[w.name].max()),
                     "mean_it_mw": float(inputs.workload_it_mw[w.name].mean())}
            for w in inputs.site.facility.workloads}


def _with_moves(frame: pd.DataFrame, name: str, coupling) -> None:
    """A coupled site's frame gains the IT power it sent and took, what sending cost, and its shared limit."""
    n = len(frame)
    out_mw, in_mw, cost = np.zeros(n), np.zeros(n), np.zeros(n)
    for (a, b), mw in coupling.moved_it_mw.items():
        if a == name:
            out_mw += mw
            cost += mw * coupling.cost_usd_per_mwh[(a, b)]
        if b == name:
            in_mw += mw
    frame["migrated_out_it_mw"], frame["migrated_in_it_mw"] = out_mw, in_mw
    frame["migration_cost_usd_per_h"] = cost
    if name in coupling.shared_import_mw:
        frame["shared_import_share_mw"] = coupling.shared_import_mw[name]


def initial_state(inputs: SiteInputs) -> SiteState:
    """The site at the start of the timeline: battery at its initial charge, generators off, budgets full."""
    b = inputs.site.battery
    n_gen = len(inputs.generators)
    return SiteState(step=0, time=inputs.timeline.index[0], soc_mwh=b.soc_initial * b.energy_mwh if b else 0.0,
                     generator_power_mw=np.zeros(n_gen), generator_on=np.zeros(n_gen, bool),
                     generator_warmup_left=np.zeros(n_gen, int), flex_budget_mwh=inputs.flex_params()[1])


def simulate_site(inputs: SiteInputs, controller: Controller, *, forecaster=None,
                  progress: Progress | None = None, observer: Observer | None = None) -> pd.DataFrame:
    """Run one site; return its per-step frame (inputs and every asset's response). The engine owns the
    ``forecaster`` (default: perfect foresight): the controller receives its forecast of the horizon, never the
    truth under another name. ``observer`` sees each block's results as soon as they are computed (a live run)."""
    run = SiteRun(inputs)
    n = inputs.timeline.n_steps
    block = max(1, int(controller.block_steps))
    horizon = max(block, int(controller.horizon_steps))
    for t0 in range(0, n, block):
        t1 = min(n, t0 + block)
        state = run.state(t0)
        truth = run.forecast(t0, min(n, t0 + horizon))
        run.run(t0, t1, controller.decide(state, truth if forecaster is None else forecaster.forecast(state, truth)))
        if observer is not None:
            observer(t0, t1, run.block_results(t0, t1))
        if progress is not None:
            progress(t1 - t0)
    return run.frame()


def balance_residual_mw(frame: pd.DataFrame) -> np.ndarray:
    """Supply minus demand at every step (zero when the balance closes)."""
    gen = frame.filter(regex=r"^gen_.*_mw$").sum(axis=1).to_numpy()
    supply = (frame["pv_mw"] + frame["wind_mw"] - frame["curtailed_mw"] + frame["battery_discharge_mw"]
              + frame["grid_import_mw"] + frame["compute_shed_mw"] + frame["unserved_mw"]).to_numpy() + gen
    demand = (frame["load_mw"] + frame["battery_charge_mw"] + frame["grid_export_mw"] + frame["dumped_mw"]).to_numpy()
    return supply - demand

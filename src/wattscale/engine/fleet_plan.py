"""A fleet under MPC: every site planned at once, moving inference as well as shedding it.

At each re-plan the sites' own dispatch problems (from their states and forecasts, as the single-site MPC builds
them) become one linear programme with a variable per migration link and direction (IT MW moved, at most the
link's ``max_mw`` and ``share`` of the source's movable inference, leaving the source at its PUE and joining the
destination at its PUE, at the link's cost per MWh) and a row per shared connection (the sites' imports and
exports together within its limits; over all its links a site sends at most its movable inference). The first
block of the plan is applied: moved inference changes the sites' loads (and shrinks the source's workloads and
flexibility in proportion), each shared connection's import and export limits are split by the planned imports
and exports (the slack in proportion to the own limits of the sites with their grid up, so the kernel can never
break them), and each site's kernel follows its setpoints. A plan that cannot be
made falls back, for that block, to every site following (the rules) with nothing moved.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from wattscale.decisions.operate.dispatch import plan_dispatch
from wattscale.decisions.operate.mpc import setpoints_of
from wattscale.decisions.operate.problem import DispatchProblem, GroupCap, MigrationTerms, dispatch_problem
from wattscale.decisions.protocol import Setpoints
from wattscale.engine.coupling import Coupling, _movable, check_links, shrink_envelopes
from wattscale.engine.inputs import SiteInputs
from wattscale.errors import PlanningError
from wattscale.scenario.schema import Scenario

PLANNED = 3  # reason index of a planned move (after coupling.REASONS)


def plan_fleet(scenario: Scenario, inputs: dict[str, SiteInputs], progress=None):
    """Simulate the coupled sites under one fleet MPC; returns (frames by site, Coupling of what moved, log)."""
    from wattscale.decisions.operate.factory import build_forecaster
    from wattscale.engine.site_run import SiteRun, site_assets

    spec, fleet = scenario.controller, scenario.fleet
    check_links(fleet, inputs)
    names = list(inputs)
    index = {name: i for i, name in enumerate(names)}
    first = inputs[names[0]]
    n, step_s = first.timeline.n_steps, first.timeline.step_s
    block = max(1, round(spec.replan_every_h * 3600 / step_s))
    horizon = max(block, round(spec.horizon_h * 3600 / step_s))
    own = {s: replace(x, load_mw=x.load_mw.astype(float).copy(), it_load_mw=x.it_load_mw.astype(float).copy(),
                      import_limit_mw=x.import_limit_mw.astype(float).copy(),
                      export_limit_mw=x.export_limit_mw.astype(float).copy(),
                      workload_it_mw={w: v.astype(float).copy() for w, v in x.workload_it_mw.items()})
           for s, x in inputs.items()}
    runs = {s: SiteRun(own[s]) for s in names}
    assets = {s: site_assets(inputs[s]) for s in names}
    forecasters = {s: build_forecaster(spec, step_s) for s in names}
    movable = {s: _movable(inputs[s]) for s in names}
    links = [(link, a, b) for link in fleet.migration
             for a, b in (tuple(link.between), tuple(reversed(link.between)))]
    caps = [GroupCap([index[s] for s in c.sites], c.import_limit_mw, c.export_limit_mw)
            for c in fleet.shared_connections]
    moved = {(a, b): np.zeros(n) for _, a, b in links}
    shares = {s: np.zeros(n) for c in fleet.shared_connections for s in c.sites}
    log = []
    for t0 in range(0, n, block):
        t1, h1 = min(n, t0 + block), min(n, t0 + horizon)
        k = t1 - t0
        problems = []
        for s in names:
            state = runs[s].state(t0)
            truth = runs[s].forecast(t0, h1)
            f = truth if forecasters[s] is None else forecasters[s].forecast(state, truth)
            problems.append(dispatch_problem(assets[s], state, f, carbon_price_usd_per_t=scenario.carbon_price_usd_per_t,
                                             value_of_lost_load_usd_per_mwh=scenario.value_of_lost_load_usd_per_mwh,
                                             commitment=spec.commitment, terminal_soc_fraction=spec.terminal_soc_fraction,
                                             terminal_penalty_usd_per_mwh=spec.terminal_penalty_usd_per_mwh))
        terms = [MigrationTerms(index[a], index[b],
                                np.minimum(movable[a][t0:h1] * link.share, link.max_mw), link.cost_usd_per_mwh,
                                inputs[a].pue[t0:h1], inputs[b].pue[t0:h1]) for link, a, b in links]
        joint = DispatchProblem(sites=[p.sites[0] for p in problems], step_h=first.timeline.step_h,
                                carbon_price_usd_per_t=scenario.carbon_price_usd_per_t,
                                value_of_lost_load_usd_per_mwh=scenario.value_of_lost_load_usd_per_mwh,
                                commitment=spec.commitment, migration=terms, group_caps=caps,
                                movable_it_mw={index[s]: movable[s][t0:h1] for s in names})
        try:
            plan = plan_dispatch(joint, time_limit_s=spec.time_limit_s, mip_rel_gap=spec.mip_rel_gap)
            ok = bool(plan.sites)
        except PlanningError as exc:
            plan, ok = None, False
            log.append({"step": t0, "status": "fallback", "note": exc.detail})
        if ok:
            log.append({"step": t0, "status": plan.status, "objective_usd": plan.objective_usd,
                        "solve_s": plan.solve_s})
            sent_now = {s: np.zeros(k) for s in names}
            for (link, a, b), m in zip(links, plan.migration_it_mw):
                m = np.clip(m[:k], 0.0, None)
                m[m < 1e-9] = 0.0
                moved[(a, b)][t0:t1] += m
                sent_now[a] += m
                for s, sign in ((a, -1.0), (b, 1.0)):
                    x = own[s]
                    x.load_mw[t0:t1] += sign * m * x.pue[t0:t1]
                    x.it_load_mw[t0:t1] += sign * m
            for s in names:  # what left can no longer be shed where it was
                if sent_now[s].any():
                    envelopes, workloads = shrink_envelopes(
                        [_cut(e, t0, t1) for e in inputs[s].envelopes],
                        {w: v[t0:t1] for w, v in inputs[s].workload_it_mw.items()}, sent_now[s])
                    for w, e in enumerate(envelopes):
                        runs[s].flex_mw[w, t0:t1] = e.reducible_mw * inputs[s].pue[t0:t1]
                    for w, v in workloads.items():
                        own[s].workload_it_mw[w][t0:t1] = v
            for c in fleet.shared_connections:
                up = {s: inputs[s].grid_up[t0:t1] for s in c.sites}
                lims = {s: np.where(up[s], np.minimum(inputs[s].import_limit_mw[t0:t1], 1e9), 0.0) for s in c.sites}
                exps = {s: np.where(up[s], inputs[s].export_limit_mw[t0:t1], 0.0) for s in c.sites}
                for kind, total_mw, plans, own_lim, attr in (
                        ("import", c.import_limit_mw, {s: plan.sites[index[s]].import_mw[:k] for s in c.sites},
                         lims, "import_limit_mw"),
                        ("export", c.export_limit_mw, {s: plan.sites[index[s]].export_mw[:k] for s in c.sites},
                         exps, "export_limit_mw")):
                    slack = np.maximum(total_mw - sum(plans.values()), 0.0)
                    total = sum(own_lim.values())
                    for s in c.sites:
                        share = plans[s] + slack * own_lim[s] / np.where(total > 0, total, 1.0)
                        getattr(own[s], attr)[t0:t1] = np.where(up[s], np.minimum(own_lim[s], share),
                                                                getattr(inputs[s], attr)[t0:t1])
                        if kind == "import":
                            shares[s][t0:t1] = np.where(up[s], own[s].import_limit_mw[t0:t1], 0.0)
        for i, s in enumerate(names):
            points = setpoints_of(plan, joint, k, site=i) if ok else \
                Setpoints.follow(k, len(inputs[s].generators))
            if not ok:
                for c in fleet.shared_connections:  # no plan: each shared limit split by the own limits
                    if s in c.sites:
                        for attr, total_mw in (("import_limit_mw", c.import_limit_mw),
                                               ("export_limit_mw", c.export_limit_mw)):
                            lims = {x: np.where(inputs[x].grid_up[t0:t1],
                                                np.minimum(getattr(inputs[x], attr)[t0:t1], 1e9), 0.0)
                                    for x in c.sites}
                            total = sum(lims.values())
                            getattr(own[s], attr)[t0:t1] = np.where(
                                inputs[s].grid_up[t0:t1],
                                np.minimum(lims[s], total_mw * lims[s] / np.where(total > 0, total, 1.0)),
                                getattr(inputs[s], attr)[t0:t1])
                        shares[s][t0:t1] = own[s].import_limit_mw[t0:t1]
            runs[s].run(t0, t1, points)
        if progress is not None:
            progress(k * len(names))
    reasons = {key: np.where(m > 0, PLANNED, -1) for key, m in moved.items()}
    costs = {(a, b): link.cost_usd_per_mwh for link, a, b in links}
    coupling = Coupling(own, moved, reasons, costs, shares)
    return {s: runs[s].frame() for s in names}, coupling, log


def _cut(envelope, t0: int, t1: int):
    return replace(envelope, reducible_mw=envelope.reducible_mw[t0:t1], movable_mw=envelope.movable_mw[t0:t1])

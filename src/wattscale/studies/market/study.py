"""``wattscale market``: the sites of a scenario trade energy peer to peer, settle on a signed ledger, coordinate
behind a shared connection by ADMM, and answer virtual-power-plant calls.

Each site first plans its own optimal dispatch over the timeline (a linear programme; generators without
binaries), which gives its net draw and the marginal value of energy at every step. Agents turn that into
signed orders, the operator clears every interval and writes orders, matches and the final settlements to
the ledger. A site's saving is its surplus from trade: a buyer pays the market instead of its marginal value,
a seller gets the market price above its own.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from wattscale.decisions.market import vpp
from wattscale.decisions.market.admm import AdmmResult, coordinate
from wattscale.decisions.market.agents import Offer, Operator, SiteAgent
from wattscale.decisions.operate.dispatch import DispatchPlan, plan_dispatch
from wattscale.decisions.operate.problem import DispatchProblem, GridTerms, SiteProblem, dispatch_problem
from wattscale.energy.grid import span_steps
from wattscale.engine.campus import Campus, prepare
from wattscale.engine.simulate import initial_state, site_assets, site_forecast
from wattscale.errors import LedgerError, ScenarioError
from wattscale.ledger.anchors import anchors_of
from wattscale.ledger.book import Ledger, verify_file
from wattscale.ledger.keys import Identity
from wattscale.scenario.schema import Market, Scenario, VppEvent
from wattscale.timeseries.timeline import Timeline

OPERATOR = "operator"


@dataclass
class EventOutcome:
    event: VppEvent
    steps: np.ndarray  # bool over the timeline
    baseline_mw: np.ndarray  # CBL at the event steps
    counterfactual_mw: np.ndarray  # the plan without the call
    actual_mw: np.ndarray  # the plan with the call
    delivered_mwh: float  # against the baseline
    cut_vs_counterfactual_mwh: float
    revenue_usd: float  # payments for delivery and capacity, less penalties
    extra_cost_usd: float
    compute_given_up_mwh: float
    by_site: pd.DataFrame  # MW cut per site and resource, averaged over the event
    offer_mw: float  # what the sites could offer for the event's length at its start


@dataclass
class MarketStudy:
    scenario: str
    market: Market
    times: pd.DatetimeIndex
    step_h: float
    intervals: pd.DataFrame
    bills: pd.DataFrame
    ledger: dict
    admm: AdmmResult | None = None
    events: list[EventOutcome] = field(default_factory=list)
    solve_s: float = 0.0
    identities: dict[str, Identity] = field(default_factory=dict, repr=False)  # the demo private keys, in memory
    trust: dict = field(default_factory=dict)  # the public keys a verifier pins (trust.json)
    checkpoint: dict = field(default_factory=dict)  # the head signed by the operator (checkpoint.json)

    def summary(self) -> dict:
        iv, b = self.intervals, self.bills
        out = {"scenario": self.scenario, "mechanism": self.market.mechanism, "intervals": len(iv),
               "traded_mwh": float(iv["volume_mwh"].sum()), "welfare_usd": float(iv["welfare_usd"].sum()),
               "mean_price_usd_per_mwh": float(np.average(iv["price_usd_per_mwh"].fillna(0),
                                                          weights=iv["volume_mwh"]))
               if iv["volume_mwh"].sum() > 0 else None,
               "savings_usd": {r.site: float(r.saving_usd) for r in b.itertuples()}, "ledger": self.ledger}
        if self.admm is not None:
            a = self.admm
            out["admm"] = {"converged": a.converged, "iterations": a.iterations, "gap": a.gap,
                           "objective_usd": a.objective_usd, "central_usd": a.central_usd,
                           "admm_s": a.admm_s, "central_s": a.central_s}
        out["events"] = [{"start": str(e.event.start), "reduce_mw": e.event.reduce_mw,
                          "delivered_mwh": e.delivered_mwh, "revenue_usd": e.revenue_usd,
                          "extra_cost_usd": e.extra_cost_usd, "compute_given_up_mwh": e.compute_given_up_mwh}
                         for e in self.events]
        return out


def site_problems(campus: Campus | Scenario | str) -> tuple[Timeline, list[SiteProblem]]:
    """Every site's dispatch problem over the whole timeline (perfect foresight; generators relaxed)."""
    campus = prepare(campus)
    scenario = campus.scenario
    timeline = campus.timeline
    problems = []
    for i, site in enumerate(scenario.sites):
        inputs = campus.inputs(site.name)
        problem = dispatch_problem(site_assets(inputs), initial_state(inputs), site_forecast(inputs),
                                   carbon_price_usd_per_t=scenario.carbon_price_usd_per_t,
                                   value_of_lost_load_usd_per_mwh=scenario.value_of_lost_load_usd_per_mwh,
                                   commitment="relaxed")
        problems.append(problem.sites[0])
    return timeline, problems


def _alone(problem: SiteProblem, scenario: Scenario, step_h: float) -> tuple[DispatchProblem, DispatchPlan]:
    p = DispatchProblem([problem], step_h, carbon_price_usd_per_t=scenario.carbon_price_usd_per_t,
                        value_of_lost_load_usd_per_mwh=scenario.value_of_lost_load_usd_per_mwh, commitment="relaxed")
    return p, plan_dispatch(p)


def _agent(identity, problem: SiteProblem, plan: DispatchPlan, scenario: Scenario, step_h: float) -> SiteAgent:
    sp = plan.sites[0]
    extra = [Offer("curtailed", sp.curtailed_mw, np.minimum(plan.marginal_usd_per_mwh[0], 0.0))]
    for j, g in enumerate(problem.generators):
        cost = g.cost_usd_per_mwh + scenario.carbon_price_usd_per_t * g.co2_kg_per_mwh / 1e3
        extra.append(Offer(f"gen-{g.name}", np.maximum(g.capacity_mw - sp.generator_mw[j], 0.0)
                           * (sp.generator_on[j] > 0.5), cost))
    return SiteAgent(identity, sp.import_mw - sp.export_mw, plan.marginal_usd_per_mwh[0], step_h, extra)


def run_market_study(campus: Campus | Scenario | str, workdir: Path, *,
                     progress: Callable[[str, int, int], None] | None = None) -> MarketStudy:
    """Run the market over the scenario's timeline. The ledger (public data only) is written to
    ``workdir/ledger.sqlite``, checkpointed and closed, then verified as re-opened from disk against the trust
    anchors of the run; the demo private keys stay in memory (``study.identities``)."""
    campus = prepare(campus)
    scenario = campus.scenario
    m = scenario.market or Market()
    if len(scenario.sites) < 2:
        raise ScenarioError("a market needs at least two sites", field="sites", expected="two or more sites")
    if any(s.name == OPERATOR for s in scenario.sites):
        raise ScenarioError(f"a site may not be named '{OPERATOR}': the market operator has that name",
                            field="sites", expected="another site name")
    tick = progress or (lambda stage, done, total: None)
    t0 = time.perf_counter()
    timeline, problems = site_problems(campus)
    step_h, n = timeline.step_h, timeline.n_steps
    alone = []
    for i, p in enumerate(problems):
        alone.append(_alone(p, scenario, step_h))
        tick("planning sites", i + 1, len(problems))
    identities = {name: Identity.generate(name) for name in [OPERATOR] + [p.name for p in problems]}
    operator = identities[OPERATOR]
    path = workdir / "ledger.sqlite"
    ledger = Ledger.create(path, operator, price_floor_usd_per_mwh=m.price_floor_usd_per_mwh,
                           price_cap_usd_per_mwh=m.price_cap_usd_per_mwh, market=scenario.name)
    try:
        rows, bills = _trade(ledger, identities, problems, alone, m, scenario, timeline, tick)
        checkpoint, trust = ledger.checkpoint(operator), ledger.trust()
        ledger.checkpoint_wal()
    finally:
        ledger.close()
    report = verify_file(path, anchors_of(trust, checkpoint))  # the file as it is on disk, nothing else
    if not report.anchored:
        raise LedgerError(f"the ledger this run wrote does not verify: {report.problem}", field="ledger")
    ledger_info = {"blocks": report.blocks, "entries": report.entries, "head_hash": report.head_hash,
                   "verified": report.anchored, "checked_against": report.anchors}
    study = MarketStudy(scenario.name, m, timeline.index, step_h, pd.DataFrame(rows), bills, ledger_info,
                        identities=identities, trust=trust, checkpoint=checkpoint)
    if m.shared_connection is not None:
        tick("ADMM", 0, 1)
        k = max(1, min(n, int(round(m.admm_horizon_h / step_h))))
        day_ahead = [_first(p, k) for p in problems]
        study.admm = coordinate(_shared(day_ahead, m, scenario, step_h), tolerance=m.admm_tolerance,
                                progress=lambda s: tick("ADMM", s.iteration, 0))
    if m.events:  # the sites' plans without a call, side by side: the joint plan, as nothing couples them
        base = DispatchPlan("optimal", sum(plan.objective_usd for _dp, plan in alone),
                            [plan.sites[0] for _dp, plan in alone])
    for i, e in enumerate(m.events):
        study.events.append(_event(e, i, m, problems, base, scenario, timeline))
        tick("VPP events", len(study.events), len(m.events))
    study.solve_s = time.perf_counter() - t0
    return study


def _trade(ledger: Ledger, identities: dict[str, Identity], problems: list[SiteProblem], alone, m: Market,
           scenario: Scenario, timeline: Timeline, tick: Callable[[str, int, int], None]):
    """Every interval's orders and clearing on the ledger, then the settlements: (interval rows, bills)."""
    step_h = timeline.step_h
    agents = [_agent(identities[p.name], p, plan, scenario, step_h) for p, (_dp, plan) in zip(problems, alone)]
    node_of = {p.name: p.name for p in problems} if m.transfer_limits else None
    op = Operator(identities[OPERATOR], ledger, m.mechanism, m.k, node_of,
                  [(lk.between[0], lk.between[1], lk.limit_mw) for lk in m.transfer_limits])
    op.register(agents)
    grid_price = np.mean([p.grid.price_usd_per_mwh for p in problems], axis=0)
    rows = []
    n = timeline.n_steps
    for t in range(n):
        res = op.run_interval(t, timeline.index[t].isoformat(), agents, step_h)
        c = res.clearing
        rows.append({"time": timeline.index[t], "price_usd_per_mwh": c.price_usd_per_mwh,
                     "volume_mwh": c.volume_mwh, "welfare_usd": c.welfare_usd,
                     "buyer_surplus_usd": c.buyer_surplus_usd, "seller_surplus_usd": c.seller_surplus_usd,
                     "operator_surplus_usd": c.operator_surplus_usd, "orders": res.n_orders,
                     "grid_price_usd_per_mwh": grid_price[t]})
        if c.nodal_prices_usd_per_mwh and c.volume_mwh > 0:
            rows[-1]["price_usd_per_mwh"] = float(np.mean(list(c.nodal_prices_usd_per_mwh.values())))
        tick("clearing", t + 1, n)
    op.settle(agents, f"{timeline.index[0].date()}/{timeline.index[-1].date()}")
    return rows, _bills(agents, alone)


def _bills(agents: list[SiteAgent], alone) -> pd.DataFrame:
    rows = []
    orders = {oid: o for a in agents for oid, o in a.orders.items()}
    for a, (_dp, plan) in zip(agents, alone):
        bought = sum(tr.quantity_mwh for _t, tr in a.trades if tr.buyer == a.name)
        sold = sum(tr.quantity_mwh for _t, tr in a.trades if tr.seller == a.name)
        _energy, paid = a.statement()
        # surplus: a buyer's value minus the price, a seller's price minus its own cost, per MWh traded
        saving = sum(tr.quantity_mwh * (orders[tr.buy_order].price_usd_per_mwh - tr.price_usd_per_mwh)
                     if tr.buyer == a.name else
                     tr.quantity_mwh * (tr.seller_price_usd_per_mwh - orders[tr.sell_order].price_usd_per_mwh)
                     for _t, tr in a.trades)
        rows.append({"site": a.name, "bought_mwh": bought, "sold_mwh": sold, "paid_usd": max(paid, 0.0),
                     "net_paid_usd": paid, "cost_alone_usd": plan.objective_usd, "saving_usd": saving,
                     "cost_with_market_usd": plan.objective_usd - saving})
    return pd.DataFrame(rows)


def _shared(problems: list[SiteProblem], m: Market, scenario: Scenario, step_h: float) -> DispatchProblem:
    first = problems[0].grid
    sc = m.shared_connection
    n = len(first.price_usd_per_mwh)
    up = np.all([p.grid.up for p in problems], axis=0)
    tie = GridTerms(up=up, import_limit_mw=np.full(n, sc.import_limit_mw), export_limit_mw=np.full(n, sc.export_limit_mw),
                    price_usd_per_mwh=first.price_usd_per_mwh, export_price_usd_per_mwh=first.export_price_usd_per_mwh,
                    intensity_kg_per_mwh=first.intensity_kg_per_mwh,
                    demand_charge_usd_per_mw_month=sc.demand_charge_usd_per_kw_month * 1e3,
                    month_slot=first.month_slot, month_share=first.month_share)
    sites = [replace(p, grid=replace(p.grid, demand_charge_usd_per_mw_month=0.0, dr_soft_mw=None,
                                     dr_soft_usd_per_mwh=None)) for p in problems]
    return DispatchProblem(sites, step_h, carbon_price_usd_per_t=scenario.carbon_price_usd_per_t,
                           value_of_lost_load_usd_per_mwh=scenario.value_of_lost_load_usd_per_mwh,
                           commitment="relaxed", connection=tie)


def _event(e: VppEvent, index: int, m: Market, problems: list[SiteProblem], base: DispatchPlan, scenario: Scenario,
           timeline: Timeline) -> EventOutcome:
    times = timeline.index
    steps = span_steps(e, timeline, f"market.events[{index}]", "event")
    problem = DispatchProblem(problems, timeline.step_h, carbon_price_usd_per_t=scenario.carbon_price_usd_per_t,
                              value_of_lost_load_usd_per_mwh=scenario.value_of_lost_load_usd_per_mwh,
                              commitment="relaxed")
    draw = vpp.net_draw_mw(base)
    cbl = vpp.baseline_mw(draw, times, steps, high=m.baseline.high, days=m.baseline.days)
    # the call is known notice_h before it starts: re-plan from then, keeping the plan before it
    notice = max(0, int(np.argmax(steps)) - int(round(e.notice_h / timeline.step_h)))
    cap = np.where(steps, cbl - e.reduce_mw, np.inf)
    fixed = np.arange(len(times)) < notice
    called = vpp.call(_pinned(problem, base, fixed), cap, e.payment_usd_per_mwh + e.penalty_usd_per_mwh)
    after = vpp.net_draw_mw(called)
    dt = timeline.step_h
    delivered = float(np.sum((cbl - after)[steps]) * dt)
    hours = float(steps.sum() * dt)
    flex = vpp.flexibility(problem, base, hours)
    by_site = []
    for s, b0, b1 in zip(problems, base.sites, called.sites):
        cut = lambda a0, a1: float(np.mean((a0 - a1)[steps]))  # noqa: E731
        by_site.append({"site": s.name, "cut_mw": cut(b0.import_mw - b0.export_mw, b1.import_mw - b1.export_mw),
                        "battery_mw": -cut(b0.discharge_mw - b0.charge_mw, b1.discharge_mw - b1.charge_mw),
                        "generators_mw": -cut(b0.generator_mw.sum(axis=0), b1.generator_mw.sum(axis=0)),
                        "compute_shed_mw": -cut(b0.shed_mw.sum(axis=0), b1.shed_mw.sum(axis=0))})
    committed = e.reduce_mw * hours
    performance = float(np.clip(delivered / committed, 0.0, 1.0))
    revenue = e.payment_usd_per_mwh * min(max(delivered, 0.0), committed) + e.capacity_usd_per_mw * e.reduce_mw \
        * performance - e.penalty_usd_per_mwh * max(committed - delivered, 0.0)
    shed = sum(float((b1.shed_mw.sum() - b0.shed_mw.sum()) * dt) for b0, b1 in zip(base.sites, called.sites))
    return EventOutcome(e, steps, cbl, draw, after, delivered, float(np.sum((draw - after)[steps]) * dt), revenue,
                        called.objective_usd - base.objective_usd, shed, pd.DataFrame(by_site),
                        float(flex.total_mw[steps].min()))


def _first(p: SiteProblem, k: int) -> SiteProblem:
    """The site's problem over its first ``k`` steps."""
    cut = lambda a: None if a is None else np.asarray(a)[:k]  # noqa: E731
    g = p.grid
    grid = replace(g, up=g.up[:k], import_limit_mw=g.import_limit_mw[:k], export_limit_mw=g.export_limit_mw[:k],
                   price_usd_per_mwh=g.price_usd_per_mwh[:k], export_price_usd_per_mwh=g.export_price_usd_per_mwh[:k],
                   intensity_kg_per_mwh=g.intensity_kg_per_mwh[:k], month_slot=cut(g.month_slot),
                   dr_hold_mw=cut(g.dr_hold_mw), dr_soft_mw=cut(g.dr_soft_mw), dr_soft_usd_per_mwh=cut(g.dr_soft_usd_per_mwh))
    flex = [replace(f, reducible_mw=f.reducible_mw[:k], cost_usd_per_mwh=f.cost_usd_per_mwh
                    if np.ndim(f.cost_usd_per_mwh) == 0 else np.asarray(f.cost_usd_per_mwh)[:k]) for f in p.flex]
    return replace(p, load_mw=p.load_mw[:k], pv_mw=p.pv_mw[:k], wind_mw=p.wind_mw[:k], grid=grid, flex=flex)


def _pinned(problem: DispatchProblem, plan: DispatchPlan, fixed: np.ndarray) -> DispatchProblem:
    """The problem with each site's grid draw before the notice held to the plan (what was already done)."""
    if not fixed.any():
        return problem
    sites = []
    for s, sp in zip(problem.sites, plan.sites):
        g = s.grid
        imp = np.where(fixed, sp.import_mw, g.import_limit_mw)
        exp = np.where(fixed, sp.export_mw, g.export_limit_mw)
        sites.append(replace(s, grid=replace(g, import_limit_mw=imp, export_limit_mw=exp)))
    return replace(problem, sites=sites)

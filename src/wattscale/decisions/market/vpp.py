"""A virtual power plant: the flexibility many sites offer together, a call dispatched at least cost, and the
delivery measured against a customer baseline.

- ``flexibility``: per step, the draw the sites could give up from their planned dispatch: battery discharge
  headroom (limited to what the stored energy sustains for the event's length), generator headroom, and
  sheddable compute, each with its marginal cost: the offers an aggregator would make.
- ``call``: re-plan all sites together with their net draw held at baseline minus the call wherever that costs
  less than the payment and penalty at stake; the linear programme spreads the cut to where it is cheapest
  (least-cost disaggregation).
- ``baseline_mw``: 'high X of Y' customer baseline (PJM's economic CBL is high 4 of 5): at each event step, the
  mean draw at the same time of day over the X days with the most energy among the Y previous event-free days.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from wattscale.decisions.operate.dispatch import DispatchPlan, plan_dispatch
from wattscale.decisions.operate.problem import DispatchProblem
from wattscale.errors import MarketError


@dataclass
class Flexibility:
    """MW per step each resource could still cut from the plan, and the marginal cost of doing so (USD/MWh)."""

    battery_mw: np.ndarray
    generator_mw: np.ndarray
    compute_mw: np.ndarray
    generator_cost_usd_per_mwh: float
    compute_cost_usd_per_mwh: float

    @property
    def total_mw(self) -> np.ndarray:
        return self.battery_mw + self.generator_mw + self.compute_mw


def flexibility(problem: DispatchProblem, plan: DispatchPlan, duration_h: float) -> Flexibility:
    n = problem.n_steps
    batt, gen, comp = np.zeros(n), np.zeros(n), np.zeros(n)
    gen_cost, comp_cost, gen_cap, comp_cap = [], [], 0.0, 0.0
    for s, sp in zip(problem.sites, plan.sites):
        if s.battery is not None:
            b = s.battery
            stored = np.maximum(sp.soc_mwh - b.energy_min_mwh, 0.0) * b.discharge_efficiency
            batt += np.minimum(b.power_mw - (sp.discharge_mw - sp.charge_mw), stored / max(duration_h, 1e-9))
        for j, g in enumerate(s.generators):
            gen += np.maximum(g.capacity_mw - sp.generator_mw[j], 0.0)
            gen_cost.append((g.cost_usd_per_mwh + problem.carbon_price_usd_per_t * g.co2_kg_per_mwh / 1e3,
                             g.capacity_mw))
            gen_cap += g.capacity_mw
        for w, f in enumerate(s.flex):
            comp += np.maximum(f.reducible_mw - sp.shed_mw[w], 0.0)
            cost = float(np.mean(f.cost_usd_per_mwh))
            comp_cost.append((cost, float(np.mean(f.reducible_mw))))
            comp_cap += float(np.mean(f.reducible_mw))
    wavg = lambda pairs, total: sum(c * w for c, w in pairs) / total if total > 0 else 0.0  # noqa: E731
    return Flexibility(np.maximum(batt, 0.0), gen, comp, wavg(gen_cost, gen_cap), wavg(comp_cost, comp_cap))


def net_draw_mw(plan: DispatchPlan) -> np.ndarray:
    """The sites' grid draw together (import minus export)."""
    return sum(sp.import_mw - sp.export_mw for sp in plan.sites)


def call(problem: DispatchProblem, cap_mw: np.ndarray, shortfall_usd_per_mwh: float) -> DispatchPlan:
    """Re-plan the sites together to keep their net draw at or below ``cap_mw`` (inf where free), where doing so
    costs less than ``shortfall_usd_per_mwh`` (the payment forgone plus the penalty for each MWh not delivered)."""
    return plan_dispatch(replace(problem, portfolio_cap_mw=np.asarray(cap_mw, float),
                                 portfolio_shortfall_usd_per_mwh=float(shortfall_usd_per_mwh)))


def baseline_mw(draw_mw: np.ndarray, times: pd.DatetimeIndex, event: np.ndarray, *, high: int = 4, days: int = 5,
                other_events: np.ndarray | None = None) -> np.ndarray:
    """The 'high X of Y' baseline at the event's steps (NaN elsewhere)."""
    draw = pd.Series(np.asarray(draw_mw, float), index=times)
    excluded = pd.Series(np.asarray(event, bool) | (other_events if other_events is not None else False),
                         index=times)
    day = times.normalize()
    event_days = set(day[np.asarray(event, bool)])
    if not event_days:
        return np.full(len(times), np.nan)
    first = min(event_days)
    eligible = [d for d in pd.unique(day) if d < first and not excluded[day == d].any()]
    if len(eligible) < days:
        raise MarketError(f"the event on {first.date()} needs {days} event-free days of history before it, "
                          f"the timeline has {len(eligible)}", field="market.events",
                          expected=f"a timeline starting at least {days} days before the event, or a smaller "
                                   "baseline.days")
    window = eligible[-days:]
    energy = {d: draw[day == d].sum() for d in window}
    chosen = sorted(window, key=lambda d: energy[d], reverse=True)[:high]
    clock = times - day
    profile = pd.concat([pd.Series(draw[day == d].values, index=clock[day == d]) for d in chosen], axis=1).mean(axis=1)
    out = np.full(len(times), np.nan)
    idx = np.flatnonzero(event)
    out[idx] = profile.reindex(clock[idx]).to_numpy()
    return out

"""Capacity planning: the MW and MWh of PV, wind, battery, generators and grid connection that minimise
annualised capital and fixed costs plus a year of optimal operation, under a reliability limit and an
optional hourly (24/7) carbon-free target.

The operation is the dispatch programme (``dispatch``) over hourly steps with capacities as variables
(generators without unit commitment). Capital costs are annualised with the capital recovery factor
``r (1 + r)^n / ((1 + r)^n - 1)``; embodied carbon, if given, is spread over each asset's lifetime and priced
with the carbon price. The carbon-free supply of an hour is what reaches the load from on-site renewables,
the battery and the carbon-free share of grid imports (the battery counts as carbon-free, so at a target
below 100 % the engine's proportional accounting, which tracks what charged the battery, may score a
little lower; at 100 % both require that no generator, fossil import, shed or unserved load occurs).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from wattscale.decisions.operate.dispatch import Dispatch, DispatchPlan, ExtraConstraints
from wattscale.decisions.operate.lp import INF, Programme
from wattscale.decisions.operate.problem import DispatchProblem
from wattscale.errors import PlanningError


@dataclass(frozen=True)
class Technology:
    """A candidate asset: costs per unit of capacity (MW, or MWh for battery energy) and bounds."""

    key: str  # pv_mw, wind_mw, battery_mw, battery_mwh, grid_mw or gen:<name>
    label: str
    capex_usd_per_unit: float
    fixed_om_usd_per_unit_year: float
    lifetime_years: float
    min_units: float = 0.0
    max_units: float | None = None
    embodied_t_per_unit: float = 0.0

    def annual_usd_per_unit(self, discount_rate: float) -> float:
        return self.capex_usd_per_unit * crf(discount_rate, self.lifetime_years) + self.fixed_om_usd_per_unit_year


def crf(rate: float, years: float) -> float:
    """Capital recovery factor: the share of a capital cost paid each year over ``years`` at ``rate``."""
    if rate == 0:
        return 1.0 / years
    g = (1.0 + rate) ** years
    return rate * g / (g - 1.0)


@dataclass
class SizingProblem:
    """One site over (about) a year of hourly steps; the site's PV and wind arrays are per MW of capacity,
    its battery's energy window and initial energy are fractions, and its generator capacities are ignored."""

    dispatch: DispatchProblem
    technologies: list[Technology]
    cfe_share: np.ndarray  # carbon-free share of grid imports per step
    discount_rate: float = 0.07
    max_unserved_fraction: float = 0.0
    cfe_target: float | None = None
    year_fraction: float = 1.0  # length of the steps in years (operation is annualised by it)


@dataclass
class SizingResult:
    carbon_price_usd_per_t: float
    cfe_target: float | None
    capacities: dict[str, float]
    annual_usd: dict[str, float]  # capital (per technology) and operation (per component), per year
    co2_t_per_year: float  # operation
    embodied_t_per_year: float
    cfe_score: float  # by the sizing's accounting (see the module docstring)
    unserved_fraction: float
    solve_s: float
    plan: DispatchPlan = field(repr=False, default=None)

    @property
    def total_usd_per_year(self) -> float:
        """Capital, fixed and operating costs without the carbon price (which is a shadow cost)."""
        return float(sum(v for k, v in self.annual_usd.items() if k != "carbon"))


class _Capacities:
    def __init__(self, sizing: SizingProblem) -> None:
        self.sizing = sizing

    def declare(self, prog: Programme) -> list[dict]:
        s = self.sizing
        cp = s.dispatch.carbon_price_usd_per_t
        sizes = {}
        for tech in s.technologies:
            per_year = tech.annual_usd_per_unit(s.discount_rate) + cp * tech.embodied_t_per_unit / tech.lifetime_years
            sizes[tech.key] = prog.var("size." + tech.key, {}, tech.min_units,
                                       INF if tech.max_units is None else tech.max_units,
                                       cost=per_year * s.year_fraction)
        return [sizes]

    def constrain(self, prog: Programme) -> None:
        s = self.sizing
        p = s.dispatch
        site = p.sites[0]
        load = site.load_mw
        uns = prog.variable("0.unserved") if prog.building else None
        prog.con("reliability", lambda: uns.sum(), "<=", s.max_unserved_fraction * float(load.sum()))
        if s.cfe_target is None:
            return
        matched = prog.var("cfe.matched", {"t": len(load)}, 0.0, load)
        if prog.building:
            v = prog.variable
            clean = v("0.renewable") + _share(s.cfe_share) * v("0.import") - v("0.export") - v("0.dumped")
            if site.battery is not None:
                clean = clean + v("0.discharge") - v("0.charge")
        prog.con("cfe.clean", lambda: matched - clean, "<=", 0.0)
        prog.con("cfe.target", lambda: matched.sum(), ">=", s.cfe_target * float(load.sum()))


def _share(values: np.ndarray):
    import xarray as xr

    return xr.DataArray(np.asarray(values, float), dims=["t"])


class Sizer:
    """A sizing programme; ``solve(carbon_price, cfe_target)`` re-solves it with other prices or targets."""

    def __init__(self, sizing: SizingProblem, *, time_limit_s: float = 600.0,
                 extra_constraints: ExtraConstraints | None = None) -> None:
        """``extra_constraints(prog, problem)`` adds your own rows (see ``ExtraConstraints``); the capacities are
        ``prog.variable("size.<key>")`` (pv_mw, wind_mw, battery_mw, battery_mwh, grid_mw, gen:<name>)."""
        if sizing.dispatch.step_h != 1.0 or len(sizing.dispatch.sites) != 1:
            raise PlanningError("sizing needs one site on hourly steps", field="sizing")
        self.sizing = sizing
        self.dispatch = Dispatch(sizing.dispatch, time_limit_s=time_limit_s, capacity=_Capacities(sizing),
                                 extra=extra_constraints)

    def solve(self, *, carbon_price_usd_per_t: float | None = None, cfe_target: float | None = None) -> SizingResult:
        s = self.sizing
        changed = {}
        if carbon_price_usd_per_t is not None:
            changed["dispatch"] = replace(s.dispatch, carbon_price_usd_per_t=carbon_price_usd_per_t)
        if cfe_target is not None:
            if s.cfe_target is None:
                raise PlanningError("this sizing was built without a carbon-free target", field="sizing.cfe_target")
            changed["cfe_target"] = cfe_target
        if changed:
            self.sizing = s = replace(s, **changed)
            self.dispatch.capacity.sizing = s
        plan = self.dispatch.plan(s.dispatch if changed else None)
        if not plan.sites:
            raise PlanningError(self._why(plan.status), field="sizing")
        return self._result(plan)

    def _why(self, status: str) -> str:
        """Explain an infeasible sizing: what the largest allowed system still cannot serve."""
        s = self.sizing
        if status != "infeasible":
            return f"the sizing could not be solved (HiGHS: {status})"
        relaxed = replace(s, max_unserved_fraction=1.0, cfe_target=None)
        probe = Sizer(relaxed)
        plan = probe.dispatch.plan()
        caps = ", ".join(f"{t.label} <= {t.max_units:g}" for t in s.technologies if t.max_units is not None)
        load = float(s.dispatch.sites[0].load_mw.sum())
        text = [f"the requirements cannot all be met with the allowed capacities ({caps or 'none capped'})"]
        if plan.sites:
            uns = float(plan.sites[0].unserved_mw.sum())
            values = probe.dispatch.programme.last_values
            full = [f"{t.label} {t.max_units:g}" for t in s.technologies
                    if t.max_units is not None and float(values["size." + t.key]) >= t.max_units - 1e-6]
            if uns > s.max_unserved_fraction * load + 1e-6:
                text.append(f"at least {uns / load:.3%} of the energy would be unserved, above the limit of "
                            f"{s.max_unserved_fraction:.3%} (peak shortfall {plan.sites[0].unserved_mw.max():,.1f} MW"
                            f", in {int((plan.sites[0].unserved_mw > 1e-6).sum())} of {len(plan.sites[0].unserved_mw)}"
                            f" hours); at their upper bounds: {', '.join(full) or 'none'}")
            elif s.cfe_target is not None:
                text.append(f"the carbon-free target {s.cfe_target:.0%} is out of reach (raise the capacity limits "
                            f"or lower the target)")
        return "; ".join(text)

    def _result(self, plan: DispatchPlan) -> SizingResult:
        s = self.sizing
        values = self.dispatch.programme.last_values
        caps = {t.key: float(values["size." + t.key]) for t in s.technologies}
        annual = {t.label: caps[t.key] * t.annual_usd_per_unit(s.discount_rate) for t in s.technologies}
        annual.update({k: v / s.year_fraction for k, v in plan.costs_usd.items()})
        site, sp = s.dispatch.sites[0], plan.sites[0]
        load = site.load_mw
        cfe = self._clean_matched(site, sp)
        embodied = sum(caps[t.key] * t.embodied_t_per_unit / t.lifetime_years for t in s.technologies)
        annual["carbon"] += s.dispatch.carbon_price_usd_per_t * embodied
        return SizingResult(s.dispatch.carbon_price_usd_per_t, s.cfe_target, caps, annual,
                            plan.co2_t / s.year_fraction, embodied, cfe, float(sp.unserved_mw.sum() / load.sum()),
                            plan.solve_s, plan)

    def _clean_matched(self, site, sp) -> float:
        clean = sp.renewable_used_mw + sp.discharge_mw - sp.charge_mw + self.sizing.cfe_share * sp.import_mw \
            - sp.export_mw - sp.dumped_mw
        return float(np.minimum(site.load_mw, np.maximum(clean, 0.0)).sum() / site.load_mw.sum())

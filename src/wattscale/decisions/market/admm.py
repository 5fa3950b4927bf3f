"""Price-coordinated dispatch of sites behind one shared grid connection, by ADMM (the sharing problem).

The central problem is: minimise the sum of each site's cost f_i(x_i) plus the connection's cost g(sum x_i),
where x_i is site i's net draw from the shared bus (MW per step) and g prices the connection's import and
export (energy, carbon, demand charge) within its limits. ADMM (Boyd et al. 2011, section 7.3) splits it:
each site solves its own dispatch with a price and a quadratic pull towards the shared plan, the
connection solves its own small programme, and only prices and quantities travel. Each site's programme is
built once and re-solved with new numbers (a convex QP in HiGHS). The step size follows residual balancing
(section 3.4.1). Every iteration records the objective of the sites' and the connection's plans and its gap
to the centralised optimum solved by ``plan_dispatch``; the mismatch left is the coupling residual (MW).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from wattscale.decisions.operate.dispatch import Dispatch, DispatchPlan, grid_exchange, plan_dispatch
from wattscale.decisions.operate.lp import Programme
from wattscale.decisions.operate.problem import DispatchProblem, GridTerms
from wattscale.errors import MarketError
from wattscale.parallel import current_client

BALANCE = 5.0  # re-scale the step when the residuals differ by more than this (relative)
MAX_STEP = 10.0  # by at most this factor at a time


@dataclass
class AdmmStep:
    iteration: int
    objective_usd: float
    gap: float  # (objective - central) / |central|
    residual_mw: float  # largest mismatch between the sites' draws and the connection's flow
    rho: float


@dataclass
class AdmmResult:
    converged: bool
    iterations: int
    objective_usd: float
    central_usd: float
    central_s: float
    admm_s: float
    price_usd_per_mwh: np.ndarray  # the coordinating price of the shared bus per step
    site_draw_mw: np.ndarray  # (sites, steps) net draw of each site
    tie_mw: np.ndarray  # net import over the shared connection
    history: list[AdmmStep] = field(default_factory=list)

    @property
    def gap(self) -> float:
        return (self.objective_usd - self.central_usd) / abs(self.central_usd) if self.central_usd else 0.0


class _Site:
    """One site's own programme: its dispatch with the shared bus priced by ADMM."""

    def __init__(self, problem: DispatchProblem, index: int) -> None:
        site = problem.sites[index]
        n = site.n_steps
        g = site.grid
        self.grid = GridTerms(up=g.up, import_limit_mw=g.import_limit_mw, export_limit_mw=g.export_limit_mw,
                              price_usd_per_mwh=np.zeros(n), export_price_usd_per_mwh=np.zeros(n),
                              intensity_kg_per_mwh=np.zeros(n), dr_hold_mw=g.dr_hold_mw)
        self.problem = replace(problem, sites=[replace(site, grid=self.grid)], connection=None)
        self.dispatch = Dispatch(self.problem, time_limit_s=60.0)
        self.step_h = problem.step_h

    def solve(self, coef: np.ndarray, rho: float, new_rho: bool) -> tuple[np.ndarray, float]:
        """Minimise own cost + coef . x + rho/2 |x|^2; returns (x, own cost)."""
        price = coef / self.step_h
        grid = replace(self.grid, price_usd_per_mwh=price, export_price_usd_per_mwh=price)
        problem = replace(self.problem, sites=[replace(self.problem.sites[0], grid=grid)])
        if new_rho:
            self.dispatch.programme.square("0.import", "0.export", rho)
        plan = self.dispatch.plan(problem)
        return _own(plan, coef, rho, self.dispatch.problem.sites[0].name)


class _Connection:
    """The shared connection's programme: its import and export, priced, with ADMM's terms."""

    def __init__(self, problem: DispatchProblem) -> None:
        self.base = problem.connection
        self.problem = problem
        self.terms = self.base
        self.programme = Programme(self._formulate, time_limit_s=60.0)

    def _formulate(self, prog: Programme) -> None:
        grid_exchange(prog, "grid.", self.terms, self.problem)

    def solve(self, coef: np.ndarray, weight: float, new_rho: bool) -> tuple[np.ndarray, float]:
        shift = coef / self.problem.step_h
        self.terms = replace(self.base, price_usd_per_mwh=self.base.price_usd_per_mwh + shift,
                             export_price_usd_per_mwh=self.base.export_price_usd_per_mwh + shift)
        self.programme.update()
        if new_rho:
            self.programme.square("grid.import", "grid.export", weight)
        sol = self.programme.solve()
        if not sol.values:
            raise MarketError(f"the shared connection's programme failed (HiGHS: {sol.status})", field="admm")
        z = sol.values["grid.import"] - sol.values["grid.export"]
        return z, float(sol.objective - coef @ z - weight / 2 * (z @ z))


def _own(plan: DispatchPlan, coef: np.ndarray, rho: float, name: str) -> tuple[np.ndarray, float]:
    if not plan.sites:
        raise MarketError(f"site '{name}''s own programme failed (HiGHS: {plan.status})", field="admm")
    x = plan.sites[0].import_mw - plan.sites[0].export_mw
    return x, float(plan.objective_usd - coef @ x - rho / 2 * (x @ x))


def coordinate(problem: DispatchProblem, *, tolerance: float = 1e-3, max_iterations: int = 500,
               rho: float | None = None, threads: int | None = None, central: DispatchPlan | None = None,
               progress: Callable[[AdmmStep], None] | None = None) -> AdmmResult:
    """Run ADMM on a multi-site problem with a shared ``connection`` until the objective is within ``tolerance``
    of the central optimum and the coupling residual is below ``tolerance`` times the mean total load. With a
    Dask client in use (``wattscale.parallel``), the site sub-problems are solved on its workers, with the same
    iterates."""
    if problem.connection is None or len(problem.sites) < 1:
        raise MarketError("price-coordinated dispatch needs sites behind one shared connection",
                          field="market.shared_connection", expected="a shared connection with its limits")
    if problem.commitment == "milp":
        raise MarketError("ADMM needs a convex problem", field="commitment", expected="'relaxed' or 'none'")
    t0 = time.perf_counter()
    if central is None:
        central = plan_dispatch(problem)
    central_s = time.perf_counter() - t0
    f_star = central.objective_usd
    t1 = time.perf_counter()
    client = current_client()
    on_cluster = client is not None and len(problem.sites) > 1
    if on_cluster:  # each site's programme lives on a worker as a Dask actor: built there once, re-filled each round
        sites = [f.result() for f in [client.submit(_Site, problem, i, actor=True, pure=False)
                                      for i in range(len(problem.sites))]]
    else:
        sites = [_Site(problem, i) for i in range(len(problem.sites))]
    conn = _Connection(problem)
    N, n = len(sites), problem.n_steps
    mean_load = float(sum(s.load_mw.mean() for s in problem.sites))
    tol_mw = max(tolerance * mean_load, 1e-6)
    price = problem.connection.price_usd_per_mwh
    if rho is None:  # a price of the order of the energy price for a mismatch of the order of a site's load
        rho = float(max(np.mean(np.abs(price)), 1.0) * problem.step_h / max(mean_load / N, 1.0))
    x = np.zeros((N, n))
    u = np.zeros(n)
    zbar = np.zeros(n)
    history: list[AdmmStep] = []
    threads = (os.cpu_count() or 1) if threads is None else threads  # HiGHS lets go of the GIL while it solves
    pool = ThreadPoolExecutor(threads) if threads > 1 and N > 1 and not on_cluster else None
    new_rho = True
    converged = False
    objective = float("nan")
    z = np.zeros(n)
    try:
        for k in range(1, max_iterations + 1):
            xbar = x.mean(axis=0)
            coefs = [-rho * (x[i] - xbar + zbar - u) for i in range(N)]
            if on_cluster:  # every site's call goes out before any answer is awaited
                results = [c.result() for c in [sites[i].solve(coefs[i], rho, new_rho) for i in range(N)]]
            else:
                solve = lambda i: sites[i].solve(coefs[i], rho, new_rho)  # noqa: E731
                results = list(pool.map(solve, range(N)) if pool else map(solve, range(N)))
            x = np.array([r[0] for r in results])
            own = sum(r[1] for r in results)
            xbar = x.mean(axis=0)
            w = u + xbar
            z, grid_cost = conn.solve(-rho * w, rho / N, new_rho)
            zbar_old, zbar = zbar, z / N
            u = u + xbar - zbar
            new_rho = False
            objective = own + grid_cost
            gap = (objective - f_star) / abs(f_star) if f_star else objective
            residual = float(np.max(np.abs(x.sum(axis=0) - z)))
            step = AdmmStep(k, objective, gap, residual, rho)
            history.append(step)
            if progress:
                progress(step)
            if abs(gap) <= tolerance and residual <= tol_mw:
                converged = True
                break
            # residual balancing on relative residuals (as OSQP does): the primal mismatch against the flows, the
            # dual change against the price
            r_rel = np.linalg.norm(xbar - zbar) / max(np.linalg.norm(xbar), np.linalg.norm(zbar), 1e-9)
            s_rel = np.linalg.norm(zbar - zbar_old) / max(np.linalg.norm(u), 1e-9)
            ratio = np.sqrt(r_rel / max(s_rel, 1e-12))
            if ratio > BALANCE or ratio < 1 / BALANCE:
                factor = float(np.clip(ratio, 1 / MAX_STEP, MAX_STEP))
                rho, u, new_rho = rho * factor, u / factor, True
    finally:
        if pool:
            pool.shutdown()
    return AdmmResult(converged, len(history), objective, f_star, central_s, time.perf_counter() - t1,
                      rho * u / problem.step_h, x, z, history)

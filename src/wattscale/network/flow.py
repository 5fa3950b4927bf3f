"""AC power flow (pandapower Newton-Raphson) with limit checks, over time, and hosting capacity."""
from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wattscale.errors import NetworkError
from wattscale.network.build import Network

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pandapower as pp


def has_lightsim2grid() -> bool:
    return importlib.util.find_spec("lightsim2grid") is not None


@dataclass(frozen=True)
class Violation:
    kind: str  # "undervoltage", "overvoltage", "overload"
    element: str  # "bus 18", "line 7", "trafo T1"
    value: float
    limit: float

    def __str__(self) -> str:
        if self.kind == "overload":
            return f"{self.element} loaded {self.value:.1f} % (limit {self.limit:g} %)"
        return f"{self.element} {self.kind} {self.value:.4f} pu (limit {self.limit:g} pu)"


@dataclass(frozen=True)
class FlowSummary:
    losses_mw: float
    vm_min_pu: float
    vm_min_bus: str
    max_loading_percent: float
    max_loading_element: str
    load_served_mw: float
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations


def solve(network: Network, *, fast: bool | None = None, where: str = "") -> FlowSummary:
    """Run the power flow on ``network.net`` in place; a non-converging case is a NetworkError.

    ``fast`` uses lightsim2grid's Newton-Raphson when installed (default: when installed)."""
    net = network.net
    fast = has_lightsim2grid() if fast is None else fast
    fast = fast and int(net.ext_grid.in_service.sum()) == 1  # lightsim2grid takes one slack (islands have more)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.runpp(net, lightsim2grid=fast, numba=True, max_iteration=30)
    except (pp.LoadflowNotConverged, pp.powerflow.LoadflowNotConverged):
        raise NetworkError(f"the power flow does not converge{where}: the demand is beyond what the network can "
                           "carry", field="loads", expected="lower loads, or more capacity") from None
    except (FloatingPointError, ZeroDivisionError, np.linalg.LinAlgError) as exc:
        raise singular(network, f"the power flow{where}", exc) from None
    return summarise(network)


def singular(network: Network, what: str, exc: Exception) -> NetworkError:
    """A clear error for a power-flow or short-circuit computation that divided by zero, naming the branches
    without impedance when there are any."""
    net = network.net
    line = net.line[(net.line.r_ohm_per_km == 0) & (net.line.x_ohm_per_km == 0)]
    trafo = net.trafo[net.trafo.vk_percent == 0]
    names = [*map(str, line.name), *map(str, trafo.name)]
    if names:
        from wattscale.guards import excerpts
        return NetworkError(f"{what} divides by zero: {excerpts(names)} {'has' if len(names) == 1 else 'have'} no "
                            "impedance", field="lines", expected="a resistance or reactance above 0 on every line "
                                                                 "and transformer")
    return NetworkError(f"{what} cannot be solved ({type(exc).__name__}: {exc})", field="network",
                        expected="a network with an impedance on every branch and a source in every energised part")


def summarise(network: Network) -> FlowSummary:
    """Losses, extremes and limit violations of the last power flow (energised elements only)."""
    net, lim = network.net, network.limits
    vm = net.res_bus.vm_pu
    live = vm.notna()
    out: list[Violation] = []
    for b in vm.index[live & (vm < lim.vm_min_pu - 1e-9)]:
        out.append(Violation("undervoltage", f"bus {net.bus.name[b]}", float(vm[b]), lim.vm_min_pu))
    for b in vm.index[live & (vm > lim.vm_max_pu + 1e-9)]:
        out.append(Violation("overvoltage", f"bus {net.bus.name[b]}", float(vm[b]), lim.vm_max_pu))
    loading = branch_loading(network)
    for name, value in loading[loading > lim.max_loading_percent + 1e-6].items():
        out.append(Violation("overload", name, float(value), lim.max_loading_percent))
    losses = float(np.nansum(net.res_line.pl_mw)) + (float(np.nansum(net.res_trafo.pl_mw)) if len(net.trafo) else 0.0)
    load_bus_live = live.reindex(net.load.bus).to_numpy()
    served = float(net.res_load.p_mw[net.load.in_service.to_numpy() & load_bus_live].sum())
    ib = vm[live].idxmin() if live.any() else None
    return FlowSummary(losses_mw=losses, vm_min_pu=float(vm[ib]) if ib is not None else float("nan"),
                       vm_min_bus=str(net.bus.name[ib]) if ib is not None else "-",
                       max_loading_percent=float(loading.max()) if len(loading) else 0.0,
                       max_loading_element=str(loading.idxmax()) if len(loading) else "-",
                       load_served_mw=served, violations=tuple(out))


def branch_loading(network: Network) -> pd.Series:
    """Loading in percent of every energised line and transformer, named ``line X`` / ``trafo Y``."""
    net = network.net
    parts = [pd.Series(net.res_line.loading_percent.to_numpy(), index=[f"line {n}" for n in net.line.name])]
    if len(net.trafo):
        parts.append(pd.Series(net.res_trafo.loading_percent.to_numpy(),
                               index=[f"trafo {n}" for n in net.trafo.name]))
    return pd.concat(parts).dropna()


# ------------------------------------------------------------------ over time
def site_series(steps: pd.DataFrame, kind: str) -> pd.Series:
    """A site's simulated power of one kind (MW): ``load`` or a source kind."""
    if kind == "load":
        return steps["load_mw"]
    if kind == "pv":
        return steps["pv_mw"]
    if kind == "battery":
        return steps["battery_discharge_mw"] - steps["battery_charge_mw"]
    gens = [c for c in steps.columns if c.startswith("gen_") and c.endswith("_mw")]
    return steps[gens].sum(axis=1) if gens else pd.Series(0.0, index=steps.index)


def timeseries_flow(network: Network, steps: dict[str, pd.DataFrame], *,
                    progress: Callable[[int], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Power flow at every step of simulated site power: loads with ``site`` share their site's load in
    proportion to their design power; PV, battery and generator sources with ``site`` share that output by capacity.

    Returns per-step results (losses, lowest voltage, highest loading, violations) and a table of violations by
    element (steps violated, worst value)."""
    net = network.net
    scaled = [(t, col, site) for t, col in (("load", "p_mw"), ("sgen", "p_mw"))
              for site in net[t].site.dropna().unique()]
    if not scaled:
        raise NetworkError("no load or source names a 'site', so there is no simulated power to follow",
                           field="loads[].site", expected="the name of a site in the simulated scenario")
    series = {}
    for table, col, site in scaled:
        if site not in steps:
            raise NetworkError(f"{table} rows follow site '{site}', which the results do not contain",
                               field="site", expected=f"one of {', '.join(steps)}")
        rows = net[table].index[net[table].site == site]
        if table == "load":
            share = net.load.p_mw[rows] / max(net.load.p_mw[rows].sum(), 1e-12)
            series[(table, site)] = (rows, np.outer(site_series(steps[site], "load").to_numpy(), share))
        else:
            for kind in net.sgen.type[rows].unique():
                krows = rows[net.sgen.type[rows] == kind]
                share = net.sgen.capacity_mw[krows] / net.sgen.capacity_mw[krows].sum()
                series[(table, f"{site}/{kind}")] = (krows, np.outer(site_series(steps[site], kind).to_numpy(),
                                                                     share))
    index = next(iter(steps.values())).index
    records, worst = [], {}
    for t in range(len(index)):
        for (table, _), (rows, values) in series.items():
            net[table].loc[rows, "p_mw"] = values[t]
        s = solve(network, where=f" at {index[t]}")
        records.append((s.losses_mw, s.vm_min_pu, s.max_loading_percent, s.load_served_mw, len(s.violations)))
        for v in s.violations:
            n, w = worst.get((v.element, v.kind), (0, v.value))
            worse = min if v.kind == "undervoltage" else max
            worst[(v.element, v.kind)] = (n + 1, worse(w, v.value))
        if progress:
            progress(1)
    per_step = pd.DataFrame(records, index=index, columns=["losses_mw", "vm_min_pu", "max_loading_percent",
                                                           "load_mw", "violations"])
    table = pd.DataFrame([(e, k, n, w) for (e, k), (n, w) in worst.items()],
                         columns=["element", "kind", "steps", "worst"]).sort_values("steps", ascending=False)
    return per_step, table.reset_index(drop=True)


# ------------------------------------------------------------------ hosting capacity
@dataclass(frozen=True)
class HostingCapacity:
    bus: str
    capacity_mw: float
    limited_by: str


def hosting_capacity(network: Network, bus: str, *, power_factor: float = 1.0, max_mw: float = 10_000.0,
                     tol_mw: float = 0.01) -> HostingCapacity:
    """The largest new load (MW at ``power_factor``) at ``bus`` before any limit breaks (bisection; the network
    is left unchanged)."""
    work = network.copy()
    b = work.bus_index(bus)
    q_per_p = float(np.tan(np.arccos(power_factor)))
    new = pp.create_load(work.net, b, p_mw=0.0, q_mvar=0.0, name="__hosting__")

    def check(p_mw: float) -> str | None:
        work.net.load.loc[new, ["p_mw", "q_mvar"]] = (p_mw, p_mw * q_per_p)
        try:
            s = solve(work)
        except NetworkError:
            return "the power flow stops converging (voltage collapse)"
        return "; ".join(str(v) for v in s.violations[:3]) or None

    if (why := check(0.0)) is not None:
        return HostingCapacity(bus, 0.0, f"already violated without new load: {why}")
    lo, hi = 0.0, 1.0
    while check(hi) is None:
        lo, hi = hi, hi * 2
        if hi > max_mw:
            return HostingCapacity(bus, max_mw, f"no limit reached up to {max_mw:g} MW")
    while hi - lo > tol_mw:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if check(mid) is None else (lo, mid)
    return HostingCapacity(bus, lo, check(hi) or "")

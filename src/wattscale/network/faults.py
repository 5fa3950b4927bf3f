"""Fault detection and location: IEC 60909 short-circuit currents (pandapower) read by fault indicators.

A line fault is placed at the line's midpoint (the line is split in two halves for the calculation). Every
switch carries a directional indicator: it reads the grid's contribution (not DER back-feed) and picks up
above 1.5 times its pre-fault current (at least ``PICKUP_MIN_KA``). A transformer fault is found by the transformer's differential protection.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import networkx as nx
import numpy as np

from wattscale.errors import NetworkError
from wattscale.network.build import OPERABLE, PROTECTIVE, Network
from wattscale.network.topology import Node, closed_view, path_from_source, switch_edge, zone

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pandapower as pp
    import pandapower.shortcircuit as sc

PICKUP_MIN_KA = 0.1
PICKUP_FACTOR = 1.5  # x pre-fault current
logging.getLogger("pandapower.shortcircuit").setLevel(logging.ERROR)  # "branch results are in beta" notice


@dataclass(frozen=True)
class FaultLocation:
    element: Node
    ikss_ka: float  # initial symmetrical short-circuit current at the fault (IEC 60909, max case)
    tripped: int  # protective switch that clears the fault
    trip_current_ka: float
    detected: bool  # fault current through the tripped device is above its pickup
    picked_up: tuple[int, ...]  # switches whose indicators saw fault current
    dead: frozenset[Node]  # nodes that lose supply when the device trips
    located: frozenset[Node]  # the zone between operable switches the indicators point to
    isolate: tuple[int, ...]  # closed operable switches bounding the located zone
    correct: bool  # the located zone contains the faulted element


def locate(network: Network, g: nx.Graph, element: Node, pre_ka: dict[int, float] | None = None) -> FaultLocation:
    """Trip, short-circuit currents, indicator readings and the located zone for a fault on ``element``
    (``pre_ka``: pre-fault switch currents, from ``switch_load_ka``, when locating many faults)."""
    net = network.net
    path = path_from_source(network, g, element)
    if not path:
        raise ValueError("the faulted element is not energised")
    tripped = None
    for u, v in zip(path, path[1:]):
        s = g.edges[u, v]["switch"]
        if s is not None and net.switch.kind[s] in PROTECTIVE:
            tripped = s
    if tripped is None:
        raise NetworkError(f"no breaker or fuse between the source and {element[0]} '{net[element[0]].name[element[1]]}'",
                           field="switches", expected="a breaker at the head of every feeder")
    live = closed_view(network, g)
    cut = switch_edge(g, tripped)
    dead = set(nx.node_connected_component(nx.restricted_view(live, [], [cut]), _far_end(path, cut)))
    currents, ikss = _fault_currents(network, element)
    pre = switch_load_ka(network) if pre_ka is None else pre_ka
    picked = tuple(int(s) for s in net.switch.index
                   if currents.get(int(s), 0.0) > max(PICKUP_FACTOR * pre.get(int(s), 0.0), PICKUP_MIN_KA))
    trip_ka = currents.get(tripped, 0.0)
    dead_live = live.subgraph(dead)
    if element[0] == "trafo":  # differential protection names the transformer itself
        located, _ = zone(dead_live, network, element, OPERABLE)
    else:
        located = _follow_indicators(network, g, dead_live, path, cut, set(picked))
    _, boundary = zone(dead_live, network, next(iter(located)), OPERABLE)
    isolate = tuple(s for s in boundary if net.switch.closed[s] and s != tripped)
    return FaultLocation(element=element, ikss_ka=ikss, tripped=tripped, trip_current_ka=trip_ka,
                         detected=trip_ka > max(PICKUP_FACTOR * pre.get(tripped, 0.0), PICKUP_MIN_KA),
                         picked_up=picked, dead=frozenset(dead), located=frozenset(located), isolate=isolate,
                         correct=element in located)


def _far_end(path: list[Node], edge: tuple[Node, Node]) -> Node:
    """The end of ``edge`` further from the source along ``path``."""
    u, v = edge
    return u if path.index(u) > path.index(v) else v


def _follow_indicators(network: Network, g: nx.Graph, dead_live: nx.Graph, path: list[Node],
                       entry: tuple[Node, Node], picked: set[int]) -> set[Node]:
    """Walk down from the tripped device, entering the next zone through a switch whose indicator picked up."""
    kind = network.net.switch.kind
    here, _ = zone(dead_live, network, _far_end(path, entry), OPERABLE)
    visited = set(here)
    while True:
        step = next((nb for node in here for nb in dead_live.neighbors(node)
                     if nb not in visited and (s := g.edges[node, nb]["switch"]) is not None
                     and kind[s] in OPERABLE and s in picked), None)
        if step is None:
            return here
        here, _ = zone(dead_live, network, step, OPERABLE)
        visited |= here


def switch_load_ka(network: Network) -> dict[int, float]:
    """Pre-fault current (kA) through the element each switch sits on (from a fresh power flow)."""
    from wattscale.network.flow import solve

    work = network.copy()
    solve(work)
    net = work.net
    out = {}
    for s, row in net.switch.iterrows():
        res = net.res_line if row.et == "l" else net.res_trafo
        col = "i_ka" if row.et == "l" else "i_hv_ka"
        out[int(s)] = float(np.nan_to_num(res[col].get(row.element, 0.0)))
    return out


def _fault_currents(network: Network, element: Node) -> tuple[dict[int, float], float]:
    """IEC 60909 max-case currents (kA) through each switch's element, and at the fault, for a fault on
    ``element`` (midpoint of a line, HV terminal of a transformer)."""
    work = network.copy()
    net = work.net
    table, i = element
    halves = {}
    if table == "line":
        row = net.line.loc[i]
        mid = pp.create_bus(net, vn_kv=float(net.bus.vn_kv[row.from_bus]), name="__fault__")
        for end, (a, b) in (("from_bus", (row.from_bus, mid)), ("to_bus", (mid, row.to_bus))):
            halves[int(row[end])] = pp.create_line_from_parameters(
                net, int(a), int(b), row.length_km / 2, row.r_ohm_per_km, row.x_ohm_per_km, row.c_nf_per_km,
                row.max_i_ka)
        net.line.loc[i, "in_service"] = False
        on_line = (net.switch.et == "l") & (net.switch.element == i)
        for s in net.switch.index[on_line]:
            net.switch.loc[s, "element"] = halves[int(net.switch.bus[s])]
        fault_bus = mid
    else:
        fault_bus = int(net.trafo.hv_bus[i])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            has_der = bool(net.sgen.in_service.any())
            if has_der:  # the fault current with DER; indicators (below) read the grid's contribution only
                sc.calc_sc(net, bus=fault_bus, case="max", branch_results=False)
                ikss = float(net.res_bus_sc.ikss_ka[fault_bus])
                net.sgen["in_service"] = False
            sc.calc_sc(net, bus=fault_bus, case="max", branch_results=True)
            if not has_der:
                ikss = float(net.res_bus_sc.ikss_ka[fault_bus])
    except (FloatingPointError, ZeroDivisionError, np.linalg.LinAlgError) as exc:
        from wattscale.network.flow import singular
        raise singular(network, "the short-circuit calculation", exc) from None
    grid_ka = float(net.res_bus_sc.ikss_ka[fault_bus])  # what the grid feeds into the fault
    out = {}
    for s, row in net.switch.iterrows():
        if row.et == "l":
            out[int(s)] = float(np.nan_to_num(net.res_line_sc.ikss_ka.get(row.element, 0.0)))
        elif table == "trafo" and int(row.element) == i:  # the transformer's own breaker carries its fault
            out[int(s)] = grid_ka
        else:
            out[int(s)] = float(np.nan_to_num(net.res_trafo_sc.ikss_hv_ka.get(row.element, 0.0)))
    return out, ikss

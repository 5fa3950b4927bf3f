"""Switching topology: which buses are energised, zones between switches, paths from sources, radiality.

The graph has a node per bus and per line or transformer; an edge joins an element to each of its end buses
and carries the switch at that end, if any. Opening a switch removes its edge.
"""
from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from wattscale.network.build import Network

Node = tuple[str, int]  # ("bus", i), ("line", i) or ("trafo", i)


def switch_graph(network: Network) -> nx.Graph:
    """Every in-service element with its end buses; edge attribute ``switch`` is the switch index or None."""
    net = network.net
    g = nx.Graph()
    g.add_nodes_from(("bus", int(b)) for b in net.bus.index[net.bus.in_service])
    at = {(int(r.bus), r.et, int(r.element)): int(i) for i, r in net.switch.iterrows()}
    for table, et, ends in (("line", "l", ("from_bus", "to_bus")), ("trafo", "t", ("hv_bus", "lv_bus"))):
        df = net[table]
        for i, row in df[df.in_service].iterrows():
            for end in ends:
                b = int(row[end])
                g.add_edge((table, int(i)), ("bus", b), switch=at.get((b, et, int(i))))
    g.graph["switch_edges"] = {s: (u, v) for u, v, s in g.edges(data="switch") if s is not None}
    return g


def switch_edge(g: nx.Graph, switch: int) -> tuple[Node, Node]:
    """The (element, bus) edge that ``switch`` sits on."""
    return g.graph["switch_edges"][switch]


def closed_view(network: Network, g: nx.Graph) -> nx.Graph:
    """The part of ``g`` that conducts now (closed switches only)."""
    closed = network.net.switch.closed
    return nx.subgraph_view(g, filter_edge=lambda u, v: (s := g.edges[u, v]["switch"]) is None or bool(closed[s]))


def source_buses(network: Network, islanded: Iterable[int] = ()) -> set[int]:
    """Buses holding a slack: the grid connections in service, plus buses of sources now forming an island."""
    eg = network.net.ext_grid
    return {int(b) for b in eg.bus[eg.in_service]} | set(islanded)


def energised(network: Network, g: nx.Graph, islanded: Iterable[int] = ()) -> set[Node]:
    """Nodes connected through closed switches to a slack."""
    live = closed_view(network, g)
    out: set[Node] = set()
    for b in source_buses(network, islanded):
        if ("bus", b) in live and ("bus", b) not in out:
            out |= nx.node_connected_component(live, ("bus", b))
    return out


def zone(g: nx.Graph, network: Network, start: Node, kinds: Iterable[str]) -> tuple[set[Node], list[int]]:
    """Nodes reachable from ``start`` without crossing a switch of one of ``kinds``; and those boundary switches."""
    kinds = set(kinds)
    kind = network.net.switch.kind
    seen, boundary, todo = {start}, set(), [start]
    while todo:
        node = todo.pop()
        for nb in g.neighbors(node):
            s = g.edges[node, nb]["switch"]
            if s is not None and kind[s] in kinds:
                boundary.add(s)
            elif nb not in seen:
                seen.add(nb)
                todo.append(nb)
    return seen, sorted(boundary)


def path_from_source(network: Network, g: nx.Graph, target: Node) -> list[Node]:
    """Nodes on the conducting path from a slack to ``target`` (empty when not energised)."""
    live = closed_view(network, g)
    for b in source_buses(network):
        if ("bus", b) in live and target in live and nx.has_path(live, ("bus", b), target):
            return nx.shortest_path(live, ("bus", b), target)
    return []


def is_radial(network: Network, g: nx.Graph, islanded: Iterable[int] = ()) -> bool:
    """Every conducting part is a tree with at most one slack (meshes and parallel sources are not radial)."""
    live = closed_view(network, g)
    sources = source_buses(network, islanded)
    for part in nx.connected_components(live):
        if len(sources & {n[1] for n in part if n[0] == "bus"}) > 1:
            return False
        if live.subgraph(part).number_of_edges() != len(part) - 1:
            return False
    return True


def unsourced_buses(network: Network, g: nx.Graph, islanded: Iterable[int] = ()) -> set[int]:
    """Buses of conducting parts with load but no slack (must be none after restoration)."""
    live_nodes = energised(network, g, islanded)
    loaded = set(network.net.load.bus[network.net.load.in_service & (network.net.load.p_mw > 0)])
    return {b for b in loaded if ("bus", int(b)) not in live_nodes}


def loop_switches(network: Network, g: nx.Graph, tie: int) -> list[int]:
    """Closed operable switches on the loop that closing switch ``tie`` would create (for branch exchange)."""
    live = closed_view(network, g)
    net = network.net
    s = net.switch.loc[tie]
    elem = ("line" if s.et == "l" else "trafo", int(s.element))
    a = ("bus", int(s.bus))
    b = next(n for n in g.neighbors(elem) if n != a)
    if not (a in live and b in live and nx.has_path(live, a, b)):
        return []
    path = nx.shortest_path(live, a, b)
    out = []
    for u, v in zip(path, path[1:]):
        sw = g.edges[u, v]["switch"]
        if sw is not None and net.switch.kind[sw] in ("sectionaliser", "tie"):
            out.append(sw)
    return out

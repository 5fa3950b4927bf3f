"""Fault location, isolation and service restoration (FLISR), with intentional islanding.

On a fault the nearest upstream breaker or fuse trips; fault indicators locate the faulted zone; the operable
switches around it open; the breaker recloses for the customers upstream; healthy downstream zones are picked
up through normally open ties when a power flow shows every limit met (whole, else zone by zone, critical
loads first); what is still dead islands on a grid-forming battery or generator, critical loads first.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import networkx as nx
import pandas as pd

from wattscale.errors import NetworkError
from wattscale.network.build import OPERABLE, Network
from wattscale.network.faults import FaultLocation, locate
from wattscale.network.flow import FlowSummary, solve
from wattscale.network.topology import Node, closed_view, energised, is_radial, switch_edge, switch_graph, zone

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pandapower as pp

MODES = ("none", "manual", "flisr")
TRIP_S = {"breaker": 0.1, "fuse": 0.01}


@dataclass(frozen=True)
class Action:
    t_s: float
    verb: str  # trip, open, reclose, close, island, shed
    target: str
    note: str = ""


@dataclass
class Restoration:
    """What a fault did and how service came back: the switching sequence and every load's outcome."""

    fault: str
    mode: str
    location: FaultLocation
    actions: list[Action]
    loads: pd.DataFrame  # name, bus, p_mw, priority, status, restored_s, via, reason
    network: Network  # the switched network after restoration (solved)
    islanded: list[int] = field(default_factory=list)  # buses whose source holds an island
    problems: list[str] = field(default_factory=list)  # empty: radial, every live part sourced, limits met
    power_flows: int = 0

    def mw(self, status: str) -> float:
        return float(self.loads.p_mw[self.loads.status == status].sum())


class _Session:
    """One restoration in progress: a working copy of the network, its graph and the outcome so far."""

    def __init__(self, network: Network, mode: str):
        self.w = network.copy()
        self.net = self.w.net
        self.g = switch_graph(self.w)
        self.mode = mode
        self.islanded: list[int] = []
        self.actions: list[Action] = []
        self.flows = 0
        self.status: dict[int, tuple[str, float, str]] = {}  # load -> (status, time s, via or reason)
        self.why: dict[int, str] = {}

    def op_s(self, s: int) -> float:
        rel = self.w.reliability
        automated = self.mode == "flisr" and bool(self.net.switch.automated[s])
        return rel.automatic_switching_s if automated else rel.manual_switching_h * 3600

    def name(self, s: int) -> str:
        return str(self.net.switch.name[s])

    def solve(self) -> FlowSummary:
        self.flows += 1
        return solve(self.w)

    def live(self) -> set[Node]:
        return energised(self.w, self.g, self.islanded)

    def mark_live(self, t_s: float, via: str, status: str = "restored") -> None:
        live = self.live()
        for ld, (st, _, _) in list(self.status.items()):
            if st == "dead" and ("bus", int(self.net.load.bus[ld])) in live and self.net.load.in_service[ld]:
                self.status[ld] = (status, t_s, via)


def restore(network: Network, fault: str, mode: str = "flisr", *,
            pre_ka: dict[int, float] | None = None) -> Restoration:
    """Simulate a fault on the line or transformer ``fault`` and restore service (``mode``: none = wait for the
    repair, manual = crews operate every switch, flisr = automated switches and islanding)."""
    if mode not in MODES:
        from wattscale.guards import excerpt
        raise NetworkError(f"unknown restoration mode '{excerpt(mode, 30)}'", field="mode", expected=" | ".join(MODES))
    ses = _Session(network, mode)
    net, g = ses.net, ses.g
    node = network.element(fault)
    if node not in g or node not in ses.live():
        raise NetworkError(f"{'line' if node[0] == 'line' else 'transformer'} '{fault}' is not energised, so a "
                           "fault there interrupts no one", field="fault", expected="an energised element")
    loc = locate(ses.w, g, node, pre_ka)
    kind = net.switch.kind[loc.tripped]
    net.switch.loc[loc.tripped, "closed"] = False
    ses.actions.append(Action(TRIP_S[kind], "trip", ses.name(loc.tripped),
                              f"Ik'' {loc.ikss_ka:.2f} kA at the fault, {loc.trip_current_ka:.2f} kA through the "
                              f"{kind}; {len(loc.picked_up)} fault indicators picked up"))
    for ld in net.load.index:
        if ("bus", int(net.load.bus[ld])) in loc.dead:
            ses.status[ld] = ("dead", 0.0, "")
    repair_h = float(net[node[0]].repair_h[node[1]])
    for ld in ses.status:
        if ("bus", int(net.load.bus[ld])) in loc.located:
            ses.why[ld] = f"in the faulted section: back after the repair ({repair_h:g} h)"
        else:
            ses.why[ld] = "no switching: back after the repair" if mode == "none" else "no tie switch reaches it"
    if mode != "none":
        t_iso = _isolate_and_reclose(ses, loc)
        _pick_up_through_ties(ses, loc, t_iso)
        if mode == "flisr":
            _island(ses, loc, t_iso)
    summary = ses.solve()
    rows = []
    for ld in net.load.index:
        st, t_s, note = ses.status.get(ld, ("unaffected", 0.0, ""))
        lost = st == "dead"
        rows.append({"name": net.load.name[ld], "bus": str(net.bus.name[net.load.bus[ld]]),
                     "p_mw": float(network.net.load.p_mw[ld]), "priority": int(net.load.priority[ld]),
                     "status": "lost" if lost else st, "restored_s": float("nan") if lost else t_s,
                     "via": "" if lost else note, "reason": ses.why.get(ld, "") if lost else ""})
    problems = [str(v) for v in summary.violations]
    if not is_radial(ses.w, g, ses.islanded):
        problems.append("the restored network is not radial")
    live = ses.live()
    stray = [str(net.bus.name[b]) for b in net.res_bus.index[net.res_bus.vm_pu.notna()] if ("bus", int(b)) not in live]
    if stray:
        problems.append(f"buses energised without a source: {', '.join(stray)}")
    ses.actions.sort(key=lambda a: a.t_s)
    return Restoration(fault=fault, mode=mode, location=loc, actions=ses.actions, loads=pd.DataFrame(rows),
                       network=ses.w, islanded=ses.islanded, problems=problems, power_flows=ses.flows)


def _isolate_and_reclose(ses: _Session, loc: FaultLocation) -> float:
    """Open the switches around the located zone; reclose the tripped breaker if it is not one of them."""
    net = ses.net
    t_iso = 0.0
    for s in loc.isolate:
        net.switch.loc[s, "closed"] = False
        t_iso = max(t_iso, ses.op_s(s))
        ses.actions.append(Action(ses.op_s(s), "open", ses.name(s), "isolates the faulted section"))
    tripped_edge_in_zone = any(ses.g.edges[u, v]["switch"] == loc.tripped
                               for u in loc.located for v in ses.g.neighbors(u))
    if net.switch.kind[loc.tripped] == "breaker" and not tripped_edge_in_zone:
        t = max(t_iso, ses.op_s(loc.tripped))
        net.switch.loc[loc.tripped, "closed"] = True
        ses.actions.append(Action(t, "reclose", ses.name(loc.tripped), "restores the customers upstream"))
        ses.mark_live(t, f"reclose {ses.name(loc.tripped)}")
    return t_iso


def _candidates(ses: _Session, located: frozenset[Node]) -> list[int]:
    """Open operable switches that would join a dead part (with load) to a live one."""
    net, g = ses.net, ses.g
    live = ses.live()
    out = []
    for s, (u, v) in g.graph["switch_edges"].items():
        if net.switch.closed[s] or net.switch.kind[s] not in OPERABLE or u in located or v in located:
            continue
        if (u in live) != (v in live):
            out.append(s)
    return out


def _pick_up_through_ties(ses: _Session, loc: FaultLocation, t_iso: float) -> None:
    """Close ties into dead zones while power flow shows every limit met; zone by zone when a whole part is
    too much for any tie."""
    net = ses.net
    tried: set[int] = set()
    while True:
        best = None
        for s in _candidates(ses, loc.located):
            if s in tried:
                continue
            gain, undo, note = _grow_through(ses, s, loc.located)
            grown = [(sw, bool(net.switch.closed[sw])) for sw, _ in undo]
            for sw, state in undo:  # try each candidate from the same state
                net.switch.loc[sw, "closed"] = state
            if gain > 0 and (best is None or gain > best[0]):
                best = (gain, s, undo, grown)
            elif gain == 0:
                tried.add(s)
                for ld in _dead_loads_beyond(ses, s):
                    ses.why[ld] = f"tie {ses.name(s)} cannot carry it: {note}"
        if best is None:
            return
        _, s, undo, grown = best
        for sw, state in grown:  # the best candidate's switching, as found (no second search)
            net.switch.loc[sw, "closed"] = state
        t = max(t_iso, ses.op_s(s))
        ses.actions.append(Action(t, "close", ses.name(s), "picks up healthy sections through a tie"))
        for sw, before in undo:
            if sw != s and bool(net.switch.closed[sw]) != before:
                ses.actions.append(Action(max(t_iso, ses.op_s(sw)), "open", ses.name(sw),
                                          "sheds sections the tie cannot carry"))
        ses.mark_live(t, f"tie {ses.name(s)}")
        tried.add(s)


def _dead_loads_beyond(ses: _Session, s: int) -> list[int]:
    """Dead loads in the part that closing switch ``s`` would energise."""
    live = ses.live()
    a, b = switch_edge(ses.g, s)
    far = b if a in live else a
    part = nx.node_connected_component(closed_view(ses.w, ses.g).subgraph(set(ses.g) - live), far)
    return [ld for ld, (st, _, _) in ses.status.items()
            if st == "dead" and ("bus", int(ses.net.load.bus[ld])) in part]


def _grow_through(ses: _Session, s: int, located: frozenset[Node]) -> tuple[float, list[tuple[int, bool]], str]:
    """Close tie ``s`` and restore as much of the dead part behind it as limits allow (whole, else zone by zone
    from the tie, critical loads first). Returns (MW restored, switch states to undo, limiting reason)."""
    net, g = ses.net, ses.g
    live_before = ses.live()
    undo = [(s, bool(net.switch.closed[s]))]
    net.switch.loc[s, "closed"] = True
    summary = ses.solve()
    if summary.ok:
        return _restored_mw(ses), undo, ""
    reason = "; ".join(str(v) for v in summary.violations[:2])
    # zone by zone: open every operable switch inside the dead part, then close them back while limits hold
    u, v = switch_edge(g, s)
    entry = u if u not in live_before else v
    dead = nx.node_connected_component(closed_view(ses.w, g).subgraph(set(g) - live_before - set(located)), entry)
    inner = sorted({sw for a in dead for b in g.neighbors(a)
                    if b in dead and (sw := g.edges[a, b]["switch"]) is not None
                    and net.switch.kind[sw] in OPERABLE and net.switch.closed[sw]})
    for sw in inner:
        undo.append((sw, True))
        net.switch.loc[sw, "closed"] = False
    if not ses.solve().ok:
        return 0.0, undo, reason
    pending = set(inner)
    while True:  # add the most critical reachable zone next; keep it if every limit still holds
        live = ses.live()
        frontier = [sw for sw in pending if any(n in live for n in switch_edge(g, sw))]
        if not frontier:
            break
        sw = min(frontier, key=lambda k: _priority_beyond(ses, k, live))
        pending.remove(sw)
        net.switch.loc[sw, "closed"] = True
        if not ses.solve().ok:
            net.switch.loc[sw, "closed"] = False
    ses.solve()
    return _restored_mw(ses), undo, reason


def _priority_beyond(ses: _Session, sw: int, live: set[Node]) -> tuple[int, float]:
    """Sort key: the most critical load behind switch ``sw`` first, then the largest."""
    g, net = ses.g, ses.net
    a, b = switch_edge(g, sw)
    far = b if a in live else a
    part, _ = zone(closed_view(ses.w, g).subgraph(set(g) - live), ses.w, far, OPERABLE)
    buses = {n[1] for n in part if n[0] == "bus"}
    mask = net.load.bus.isin(buses) & net.load.in_service
    if not mask.any():
        return (99, 0.0)
    return (int(net.load.priority[mask].min()), -float(net.load.p_mw[mask].sum()))


def _restored_mw(ses: _Session) -> float:
    live = ses.live()
    net = ses.net
    return float(sum(net.load.p_mw[ld] for ld, (st, _, _) in ses.status.items()
                     if st == "dead" and ("bus", int(net.load.bus[ld])) in live and net.load.in_service[ld]))


def _island(ses: _Session, loc: FaultLocation, t_iso: float) -> None:
    """Dead parts with a grid-forming source run as islands, serving critical loads first within its capacity."""
    net, g = ses.net, ses.g
    live = ses.live()
    closed = closed_view(ses.w, g)
    done: set[Node] = set()
    forming = net.sgen[net.sgen.in_service & net.sgen.grid_forming.astype(bool)]
    for i in forming.sort_values("capacity_mw", ascending=False).index:
        bus = ("bus", int(net.sgen.bus[i]))
        if bus in live or bus in done or bus in loc.located:
            continue
        part = nx.node_connected_component(closed, bus)
        done |= part
        buses = {n[1] for n in part if n[0] == "bus"}
        loads = net.load.index[net.load.bus.isin(buses) & net.load.in_service]
        if not len(loads):
            continue
        others = net.sgen.index[net.sgen.bus.isin(buses) & net.sgen.in_service & (net.sgen.index != i)]
        budget = float(net.sgen.capacity_mw[i]) + float(net.sgen.p_mw[others].sum())
        order = sorted(loads, key=lambda ld: (int(net.load.priority[ld]), -float(net.load.p_mw[ld])))
        served, total = [], 0.0
        for ld in order:
            if total + float(net.load.p_mw[ld]) <= 0.98 * budget:  # 2 % for losses
                served.append(ld)
                total += float(net.load.p_mw[ld])
        net.sgen.loc[i, "in_service"] = False
        pp.create_ext_grid(net, int(bus[1]), vm_pu=1.0, name=f"island {net.sgen.name[i]}")
        ses.islanded.append(int(bus[1]))
        name = str(net.sgen.name[i])
        while True:
            for ld in loads:
                net.load.loc[ld, "in_service"] = ld in served
            summary = ses.solve()
            slack = net.res_ext_grid.p_mw.iloc[-1]
            if summary.ok and slack <= float(net.sgen.capacity_mw[i]) + 1e-6 or not served:
                break
            served.pop()
        t = max(t_iso, ses.w.reliability.automatic_switching_s)
        for ld in loads:
            if ld not in served:
                ses.actions.append(Action(t, "shed", str(net.load.name[ld]), f"island on {name} is full"))
                ses.why[ld] = (f"island on {name} ({float(net.sgen.capacity_mw[i]):g} MW) serves "
                               "more critical loads first")
        ses.actions.append(Action(t, "island", name, f"grid-forming; serves {len(served)} of {len(loads)} loads, "
                                                     f"{total:.3g} MW"))
        ses.mark_live(t, f"island on {name}", status="islanded")

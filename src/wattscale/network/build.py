"""Build a pandapower network from a network file or a standard case, with switch kinds, load priorities and
reliability data kept as extra columns of pandapower's own tables."""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from wattscale.errors import NetworkError
from wattscale.guards import excerpt
from wattscale.scenario.network import (
    Bus,
    Limits,
    Line,
    Load,
    NetworkSpec,
    ReliabilityData,
    Source,
    Switch,
    Transformer,
)

with warnings.catch_warnings():  # pandapower's optional-dependency notices are not the user's business
    warnings.simplefilter("ignore")
    import pandapower as pp
    import pandapower.networks as pn

STANDARD_CASES = {"ieee33": "IEEE 33-bus feeder (Baran & Wu 1989), a switch on every branch, 5 open ties",
                  "cigre-mv": "CIGRE MV benchmark with PV, wind, CHP, fuel cells and batteries (pandapower)"}
PROTECTIVE = ("breaker", "fuse")
OPERABLE = ("breaker", "sectionaliser", "tie")


@dataclass
class Network:
    """A pandapower net in its normal switching state, with its limits and reliability defaults."""

    name: str
    net: pp.pandapowerNet
    limits: Limits
    reliability: ReliabilityData

    def copy(self) -> Network:
        return Network(self.name, copy.deepcopy(self.net), self.limits, self.reliability)

    def element(self, name: str) -> tuple[str, int]:
        """(table, index) of the line or transformer called ``name``."""
        for table in ("line", "trafo"):
            hits = self.net[table].index[self.net[table].name == name]
            if len(hits):
                return table, int(hits[0])
        known = [*self.net.line.name, *self.net.trafo.name]
        raise NetworkError(f"no line or transformer called '{excerpt(name, 40)}' in network '{self.name}'",
                           field="fault",
                           expected=f"one of {_few(known)}")

    def bus_index(self, name: str) -> int:
        hits = self.net.bus.index[self.net.bus.name == name]
        if not len(hits):
            raise NetworkError(f"no bus called '{excerpt(name, 40)}' in network '{self.name}'", field="bus",
                               expected=f"one of {_few(self.net.bus.name)}")
        return int(hits[0])


def load_network(where: str | Path) -> Network:
    """A standard case by name (``ieee33``, ``cigre-mv``) or a network YAML file."""
    from wattscale.scenario.load import read_yaml, validate_model

    if str(where) in STANDARD_CASES:
        return build_network(NetworkSpec(name=str(where), case=str(where)))
    path = Path(where)
    if not path.suffix and not path.exists():
        raise NetworkError(f"'{excerpt(where, 60)}' is neither a network file nor a standard case",
                           expected=f"a YAML file or one of {', '.join(STANDARD_CASES)}")
    spec = validate_model(NetworkSpec, read_yaml(path, "network", "keys such as 'buses', 'lines' and 'sources'"),
                          str(path))
    try:
        return build_network(spec)
    except NetworkError as exc:
        raise NetworkError(exc.detail, file=str(path), field=exc.field, expected=exc.expected) from None


def build_network(spec: NetworkSpec) -> Network:
    """The pandapower net described by ``spec`` (a standard case first, then the spec's own elements)."""
    if spec.case is not None:
        spec = _merge(case_spec(spec.case), spec)
    net = pp.create_empty_network(name=spec.name)
    bus = {}
    for b in spec.buses:
        bus[b.name] = pp.create_bus(net, vn_kv=b.vn_kv, name=b.name)

    def at(name: str, field: str) -> int:
        if name not in bus:
            raise NetworkError(f"unknown bus '{name}'", field=field, expected=f"one of {_few(bus)}")
        return bus[name]

    rel = spec.reliability
    for i, ln in enumerate(spec.lines):
        f, t = at(ln.from_bus, f"lines[{i}].from_bus"), at(ln.to_bus, f"lines[{i}].to_bus")
        pp.create_line_from_parameters(net, f, t, ln.length_km, ln.r_ohm_per_km, ln.x_ohm_per_km, ln.c_nf_per_km,
                                       ln.max_i_ka, name=ln.name)
    net.line["failures_per_yr"] = [ln.failures_per_yr if ln.failures_per_yr is not None
                                   else ln.length_km * rel.line_failures_per_km_yr for ln in spec.lines]
    net.line["repair_h"] = [ln.repair_h or rel.line_repair_h for ln in spec.lines]
    for i, tr in enumerate(spec.transformers):
        pp.create_transformer_from_parameters(
            net, at(tr.hv_bus, f"transformers[{i}].hv_bus"), at(tr.lv_bus, f"transformers[{i}].lv_bus"),
            tr.sn_mva, tr.vn_hv_kv, tr.vn_lv_kv, tr.vkr_percent, tr.vk_percent, pfe_kw=0.0, i0_percent=0.0,
            name=tr.name)
    net.trafo["failures_per_yr"] = [tr.failures_per_yr if tr.failures_per_yr is not None
                                    else rel.transformer_failures_per_yr for tr in spec.transformers]
    net.trafo["repair_h"] = [tr.repair_h or rel.transformer_repair_h for tr in spec.transformers]
    _add_switches(net, spec.switches, bus)
    for i, ld in enumerate(spec.loads):
        pp.create_load(net, at(ld.bus, f"loads[{i}].bus"), p_mw=ld.p_mw, q_mvar=ld.q_mvar, name=ld.name)
    for col, values in {"average_mw": [ld.p_mw if ld.average_mw is None else ld.average_mw for ld in spec.loads],
                        "customers": [ld.customers for ld in spec.loads],
                        "priority": [ld.priority for ld in spec.loads],
                        "gpus": [ld.gpus for ld in spec.loads],
                        "restart_h": [ld.restart_h for ld in spec.loads],
                        "site": [ld.site for ld in spec.loads],
                        "failures_per_yr": [ld.failures_per_yr for ld in spec.loads],
                        "repair_h": [ld.repair_h or rel.transformer_repair_h for ld in spec.loads]}.items():
        net.load[col] = values
    _add_sources(net, spec.sources, at)
    network = Network(spec.name, net, spec.limits, spec.reliability)
    check_connected(network)
    return network


def _add_switches(net, switches: list[Switch], bus: dict[str, int]) -> None:
    names = {**{n: ("l", i) for i, n in net.line.name.items()}, **{n: ("t", i) for i, n in net.trafo.name.items()}}
    kinds, automated = [], []
    for i, sw in enumerate(switches):
        if sw.element not in names:
            raise NetworkError(f"switch '{sw.name}' names unknown element '{sw.element}'",
                               field=f"switches[{i}].element", expected=f"a line or transformer: {_few(names)}")
        et, idx = names[sw.element]
        ends = (net.line.loc[idx, ["from_bus", "to_bus"]] if et == "l" else net.trafo.loc[idx, ["hv_bus", "lv_bus"]])
        if sw.bus not in bus or bus[sw.bus] not in set(ends):
            ends_named = " or ".join(net.bus.name[list(ends)])
            raise NetworkError(f"switch '{sw.name}' is at bus '{sw.bus}', which is not an end of '{sw.element}'",
                               field=f"switches[{i}].bus", expected=ends_named)
        closed = sw.closed if sw.closed is not None else sw.kind != "tie"
        pp.create_switch(net, bus[sw.bus], idx, et=et, closed=closed, name=sw.name,
                         type={"breaker": "CB", "fuse": "LS", "sectionaliser": "LBS", "tie": "LBS"}[sw.kind])
        kinds.append(sw.kind)
        automated.append(sw.automated)
    net.switch["kind"] = kinds
    net.switch["automated"] = automated


def _add_sources(net, sources: list[Source], at) -> None:
    forming, capacity, site = [], [], []
    for i, src in enumerate(sources):
        b = at(src.bus, f"sources[{i}].bus")
        if src.kind == "grid":
            pp.create_ext_grid(net, b, vm_pu=src.vm_pu, name=src.name, s_sc_max_mva=src.s_sc_max_mva,
                               rx_max=src.rx_max)
            continue
        if src.p_mw <= 0:
            raise NetworkError(f"source '{src.name}' needs a capacity", field=f"sources[{i}].p_mw",
                               expected="p_mw > 0")
        if abs(src.dispatch_mw) > src.p_mw + 1e-9 or (src.dispatch_mw < 0 and src.kind != "battery"):
            raise NetworkError(f"source '{src.name}' dispatches {src.dispatch_mw:g} MW", field=f"sources[{i}]"
                               ".dispatch_mw", expected=f"between {-src.p_mw if src.kind == 'battery' else 0:g} "
                                                        f"and its capacity {src.p_mw:g} MW")
        pp.create_sgen(net, b, p_mw=src.dispatch_mw, sn_mva=src.p_mw, name=src.name, type=src.kind,
                       k=1.2, generator_type="current_source")
        forming.append(src.grid_forming if src.grid_forming is not None else src.kind in ("battery", "generator"))
        capacity.append(src.p_mw)
        site.append(src.site)
    net.sgen["grid_forming"] = forming
    net.sgen["capacity_mw"] = capacity
    net.sgen["site"] = site


def check_connected(network: Network) -> None:
    """Every bus must reach a grid source when all switches are closed (ties included)."""
    net = network.net
    g = nx.Graph()
    g.add_nodes_from(net.bus.index)
    g.add_edges_from(zip(net.line.from_bus, net.line.to_bus))
    g.add_edges_from(zip(net.trafo.hv_bus, net.trafo.lv_bus))
    fed = set()
    for b in net.ext_grid.bus:
        fed |= nx.node_connected_component(g, b)
    lost = [str(net.bus.name[b]) for b in net.bus.index if b not in fed]
    if lost:
        raise NetworkError(f"disconnected network: {len(lost)} bus(es) cannot reach a grid source even with every "
                           f"switch closed: {_few(lost)}", field="buses",
                           expected="every bus joined to a 'grid' source by lines or transformers")


def _few(names, n: int = 8) -> str:
    names = [str(x) for x in names]
    return ", ".join(names[:n]) + (f" ... ({len(names)} in all)" if len(names) > n else "") if names else "(none)"


# ------------------------------------------------------------------ standard cases
def case_spec(case: str) -> NetworkSpec:
    """A standard case as a spec (so a network file can add to it)."""
    if case == "ieee33":
        return _ieee33()
    return _cigre_mv()


def _merge(base: NetworkSpec, extra: NetworkSpec) -> NetworkSpec:
    """``base`` plus ``extra``'s elements; an extra load or source named like a base one replaces it."""
    def merged(a: list, b: list) -> list:
        names = {x.name for x in b}
        return [x for x in a if x.name not in names] + list(b)

    given = extra.model_fields_set
    return NetworkSpec(name=extra.name if "name" in given else base.name,
                       limits=extra.limits if "limits" in given else base.limits,
                       reliability=extra.reliability if "reliability" in given else base.reliability, buses=[*base.buses, *extra.buses],
                       lines=[*base.lines, *extra.lines], transformers=[*base.transformers, *extra.transformers],
                       switches=[*base.switches, *extra.switches], loads=merged(base.loads, extra.loads),
                       sources=merged(base.sources, extra.sources))


def _ieee33() -> NetworkSpec:
    """Baran & Wu's 33-bus feeder from pandapower's ``case33bw``: buses and branches numbered from 1 as in the
    paper; branch 1 has the feeder breaker, branches 2-32 sectionalisers, 33-37 the normally open ties."""
    net = pn.case33bw()
    buses = [Bus(name=str(i + 1), vn_kv=float(v)) for i, v in net.bus.vn_kv.items()]
    lines, switches = [], []
    for i, row in net.line.iterrows():
        name = str(i + 1)
        lines.append(Line(name=name, from_bus=str(row.from_bus + 1), to_bus=str(row.to_bus + 1),
                          length_km=float(row.length_km), r_ohm_per_km=float(row.r_ohm_per_km),
                          x_ohm_per_km=float(row.x_ohm_per_km), max_i_ka=float(row.max_i_ka)))
        kind = "breaker" if i == 0 else "sectionaliser" if row.in_service else "tie"
        switches.append(Switch(name=f"s{name}", bus=str(row.from_bus + 1), element=name, kind=kind))
    loads = [Load(name=f"L{row.bus + 1}", bus=str(row.bus + 1), p_mw=float(row.p_mw), q_mvar=float(row.q_mvar))
             for _, row in net.load.iterrows()]
    eg = net.ext_grid.iloc[0]
    sources = [Source(name="grid", bus=str(eg.bus + 1), kind="grid", vm_pu=float(eg.vm_pu))]
    return NetworkSpec(name="ieee33", limits=Limits(vm_min_pu=0.9), buses=buses, lines=lines, switches=switches,
                       loads=loads, sources=sources)


def _cigre_mv() -> NetworkSpec:
    """pandapower's CIGRE MV benchmark with all DER; feeder breakers at the HV/MV transformers, its load-break
    switches as sectionalisers (closed) and ties (open)."""
    net = pn.create_cigre_network_mv(with_der="all")
    bname = net.bus.name.to_dict()
    buses = [Bus(name=bname[i], vn_kv=float(v)) for i, v in net.bus.vn_kv.items()]
    lines = [Line(name=r["name"], from_bus=bname[r.from_bus], to_bus=bname[r.to_bus], length_km=float(r.length_km),
                  r_ohm_per_km=float(r.r_ohm_per_km), x_ohm_per_km=float(r.x_ohm_per_km),
                  c_nf_per_km=float(r.c_nf_per_km), max_i_ka=float(r.max_i_ka)) for _, r in net.line.iterrows()]
    trafos = [Transformer(name=r["name"], hv_bus=bname[r.hv_bus], lv_bus=bname[r.lv_bus], sn_mva=float(r.sn_mva),
                          vn_hv_kv=float(r.vn_hv_kv), vn_lv_kv=float(r.vn_lv_kv), vk_percent=float(r.vk_percent),
                          vkr_percent=float(r.vkr_percent)) for _, r in net.trafo.iterrows()]
    switches = []
    for i, r in net.switch.iterrows():
        table = net.line if r.et == "l" else net.trafo
        kind = "breaker" if r.type == "CB" else "sectionaliser" if r.closed else "tie"
        switches.append(Switch(name=r["name"] or f"sw{i}", bus=bname[r.bus], element=table.name[r.element],
                               kind=kind))
    loads = [Load(name=r["name"], bus=bname[r.bus], p_mw=float(r.p_mw), q_mvar=float(r.q_mvar))
             for _, r in net.load.iterrows()]
    eg = net.ext_grid.iloc[0]
    sources = [Source(name="grid", bus=bname[eg.bus], kind="grid", vm_pu=float(eg.vm_pu),
                      s_sc_max_mva=float(eg.s_sc_max_mva), rx_max=float(eg.rx_max))]
    for _, r in net.sgen.iterrows():
        kind = "pv" if r.type in ("PV", "WP") else "generator"  # wind is inverter-fed like PV here
        sources.append(Source(name=r["name"], bus=bname[r.bus], kind=kind, p_mw=float(r.p_mw),
                              dispatch_mw=float(r.p_mw), grid_forming=kind == "generator" and "CHP" in r["name"]))
    for _, r in net.storage.iterrows():
        sources.append(Source(name=r["name"], bus=bname[r.bus], kind="battery", p_mw=float(r.p_mw)))
    return NetworkSpec(name="cigre-mv", buses=buses, lines=lines, transformers=trafos, switches=switches,
                       loads=loads, sources=sources)


"""Networks: published IEEE 33-bus and RBTS Bus 2 results, FLISR invariants checked with pandapower's own
topology, a hand-computed reliability feeder, Monte Carlo against RELRAD, and bad input."""
from __future__ import annotations

import math

import networkx as nx
import pandapower.topology as top
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from conftest import ROOT
from wattscale.cli import app
from wattscale.network.build import build_network, load_network
from wattscale.network.contingency import n_minus_1
from wattscale.network.flow import hosting_capacity, solve, timeseries_flow
from wattscale.network.reconfigure import reconfigure
from wattscale.network.reliability import analytical, monte_carlo, outcome_table
from wattscale.network.restoration import restore
from wattscale.scenario.network import NetworkSpec

NETWORKS = ROOT / "examples" / "networks"


@pytest.fixture(scope="module")
def ieee33():
    return load_network("ieee33")


@pytest.fixture(scope="module")
def campus():
    return load_network(NETWORKS / "campus-ring.yaml")


def test_ieee33_base_case_matches_published(ieee33):
    """Baran & Wu (1989): 202.67 kW losses, 0.9131 pu at bus 18."""
    s = solve(ieee33.copy())
    assert s.losses_mw * 1000 == pytest.approx(202.67, abs=0.05)
    assert s.vm_min_pu == pytest.approx(0.9131, abs=5e-5)
    assert s.vm_min_bus == "18"


@pytest.mark.realdata
def test_ieee33_from_shared_csv_matches(data_dir):
    """The feeder rebuilt from the shared branch and load tables through a network file gives the same flow."""
    d = data_dir / "power_system_testcases"
    br, ld = pd.read_csv(d / "ieee33bw_branches.csv"), pd.read_csv(d / "ieee33bw_loads.csv")
    spec = {"name": "csv33", "buses": [{"name": str(b), "vn_kv": 12.66} for b in range(1, 34)],
            "lines": [{"name": str(r.branch_no), "from_bus": str(r.from_bus), "to_bus": str(r.to_bus),
                       "length_km": 1.0, "r_ohm_per_km": r.r_ohm, "x_ohm_per_km": r.x_ohm, "max_i_ka": 10.0}
                      for r in br.itertuples()],
            "switches": [{"name": f"s{r.branch_no}", "bus": str(r.from_bus), "element": str(r.branch_no),
                          "kind": "breaker" if r.branch_no == 1 else "sectionaliser" if r.normally_closed else "tie"}
                         for r in br.itertuples()],
            "loads": [{"name": f"L{r.bus}", "bus": str(r.bus), "p_mw": r.p_kW / 1000, "q_mvar": r.q_kvar / 1000}
                      for r in ld.itertuples()],
            "sources": [{"name": "grid", "bus": "1", "kind": "grid"}]}
    s = solve(build_network(NetworkSpec.model_validate(spec)))
    assert s.losses_mw * 1000 == pytest.approx(202.677, abs=0.01)
    assert s.vm_min_pu == pytest.approx(0.91309, abs=1e-5)


def test_reconfiguration_finds_published_optimum(ieee33):
    """The known minimum-loss radial configuration opens 7, 9, 14, 32, 37 at 139.55 kW."""
    r = reconfigure(ieee33)
    assert r.losses_after_mw * 1000 == pytest.approx(139.55, abs=0.05)
    assert r.open_after == ["s7", "s9", "s14", "s32", "s37"]
    assert top.create_nxgraph(r.network.net, respect_switches=True).number_of_edges() == 32  # a spanning tree


def _check_restored(r, network):
    """Independent checks with pandapower's topology: each live part is a tree holding exactly one slack, and
    every live bus and branch is within limits; restored loads are live."""
    net = r.network.net
    assert not r.problems, r.problems
    assert r.location.correct
    g = top.create_nxgraph(net, respect_switches=True, include_out_of_service=False)
    live = set(net.res_bus.index[net.res_bus.vm_pu.notna()])
    slack = set(net.ext_grid.bus[net.ext_grid.in_service])
    for part in nx.connected_components(g):
        if part & live:
            assert len(part & slack) == 1, f"live part without exactly one source: {part}"
            assert nx.is_forest(g.subgraph(part)), "live part is not radial"
    vm = net.res_bus.vm_pu[list(live)]
    assert vm.min() >= network.limits.vm_min_pu - 1e-9 and vm.max() <= network.limits.vm_max_pu + 1e-9
    assert (net.res_line.loading_percent.dropna() <= network.limits.max_loading_percent + 1e-6).all()
    back = r.loads[r.loads.status.isin(["restored", "islanded", "unaffected"])]
    buses = net.bus.index[net.bus.name.isin(back.bus)]
    assert net.res_bus.vm_pu[buses].notna().all()
    # conservation: sources supply load plus losses
    supplied = net.res_ext_grid.p_mw.sum() + net.res_sgen.p_mw.sum()
    losses = net.res_line.pl_mw.sum() + (net.res_trafo.pl_mw.sum() if len(net.trafo) else 0)
    assert supplied == pytest.approx(net.res_load.p_mw.sum() + losses, abs=1e-6)


@pytest.mark.parametrize("case", ["ieee33", "cigre-mv", "campus-ring.yaml", "rbts-bus2.yaml"])
def test_every_fault_restores_radially_within_limits(case):
    network = load_network(NETWORKS / case if case.endswith(".yaml") else case)
    net = network.net
    elements = list(net.line.name[net.line.failures_per_yr > 0]) + list(net.trafo.name)
    for fault in elements[:: 2 if case == "ieee33" else 1]:
        r = restore(network, fault)
        _check_restored(r, network)
        lost = r.loads[r.loads.status == "lost"]
        assert (lost.reason != "").all()


def test_ties_pick_up_downstream_of_a_fault(ieee33):
    r = restore(ieee33, "7")  # branch 7-8
    by = r.loads.set_index("name")
    assert by.status["L8"] == "lost" and "faulted section" in by.reason["L8"]
    assert by.status["L9"] == "restored" and by.via["L9"].startswith("tie")
    assert by.status["L3"] == "restored" and by.via["L3"] == "reclose s1"
    verbs = [a.verb for a in r.actions]
    assert verbs[0] == "trip" and "open" in verbs and "reclose" in verbs and "close" in verbs
    assert [a.t_s for a in r.actions] == sorted(a.t_s for a in r.actions)


def test_island_serves_critical_loads_first(campus):
    """Transformer T1 lost and the tie cannot carry both halls: the 100 MW battery holds the 90 MW inference
    hall and sheds the training hall."""
    r = restore(campus, "T1")
    by = r.loads.set_index("name")
    assert by.status["hall-1-inference"] == "islanded"
    assert by.status["hall-2-training"] == "lost" and "critical" in by.reason["hall-2-training"]
    assert r.islanded
    _check_restored(r, campus)
    manual = restore(campus, "T1", mode="manual")
    assert (manual.loads.status != "islanded").all()  # islanding is part of FLISR only


def test_hand_computed_feeder():
    """Three sections, breaker + two manual sectionalisers, optional tie from a second feeder; indices by hand."""
    spec = {"name": "hand", "reliability": {"manual_switching_h": 1.0, "automatic_switching_s": 60},
            "limits": {"vm_min_pu": 0.9},
            "buses": [{"name": n, "vn_kv": 11} for n in ("S", "n1", "n2", "n3", "n4")],
            "lines": [{"name": n, "from_bus": a, "to_bus": b, "length_km": 1, "r_ohm_per_km": 0.1,
                       "x_ohm_per_km": 0.1, "failures_per_yr": lam, "repair_h": 4}
                      for n, a, b, lam in (("A", "S", "n1", 0.1), ("B", "n1", "n2", 0.2), ("C", "n2", "n3", 0.3),
                                           ("D", "S", "n4", 0.0), ("E", "n3", "n4", 0.0))],
            "switches": [{"name": "CB", "bus": "S", "element": "A", "kind": "breaker"},
                         {"name": "CB2", "bus": "S", "element": "D", "kind": "breaker"},
                         {"name": "sB", "bus": "n1", "element": "B", "kind": "sectionaliser", "automated": True},
                         {"name": "sC", "bus": "n2", "element": "C", "kind": "sectionaliser", "automated": True},
                         {"name": "tie", "bus": "n3", "element": "E", "kind": "tie"}],
            "loads": [{"name": f"LP{i}", "bus": f"n{i}", "p_mw": i, "average_mw": i, "customers": 100 * i}
                      for i in (1, 2, 3)],
            "sources": [{"name": "grid", "bus": "S", "kind": "grid"}]}
    network = build_network(NetworkSpec.model_validate(spec))
    none = analytical(outcome_table(network, "none"))
    assert none.saifi == pytest.approx(0.6) and none.saidi_h == pytest.approx(2.4)
    manual = analytical(outcome_table(network, "manual"))
    # U1 = .1*4 + .2*1 + .3*1 = .9; U2 = .1*1 + .2*4 + .3*1 = 1.2; U3 = .1*1 + .2*1 + .3*4 = 1.5
    assert manual.load_points.unavailability_h_per_yr.tolist() == pytest.approx([0.9, 1.2, 1.5])
    assert manual.saidi_h == pytest.approx((100 * 0.9 + 200 * 1.2 + 300 * 1.5) / 600)
    assert manual.caidi_h == pytest.approx(manual.saidi_h / 0.6)
    assert manual.ens_mwh == pytest.approx(0.9 + 2 * 1.2 + 3 * 1.5)
    flisr = analytical(outcome_table(network, "flisr"))  # 1-minute switching is momentary (IEEE 1366)
    assert flisr.saifi == pytest.approx((0.1 * 100 + 0.2 * 200 + 0.3 * 300) / 600)
    assert flisr.maifi == pytest.approx((0.1 * 500 + 0.2 * 400 + 0.3 * 300) / 600)
    mc = monte_carlo(outcome_table(network, "manual"), 20_000, seed=3)
    ref = manual.as_dict()
    for key in ("SAIFI", "SAIDI_h", "ENS_MWh"):
        assert mc.within(ref, key), (key, mc.mean[key], ref[key], mc.half_width[key])


@pytest.fixture(scope="module")
def rbts():
    return load_network(NETWORKS / "rbts-bus2.yaml")


def test_rbts_bus2_matches_published_indices(rbts):
    """Allan et al. (1991), RBTS Bus 2 with alternative supply and 200 h transformer repair:
    SAIFI 0.248, SAIDI 3.61 h, CAIDI 14.6 h, ASAI 0.999588, ENS 37.745 MWh/yr."""
    a = analytical(outcome_table(rbts, "manual"))
    assert a.saifi == pytest.approx(0.248, abs=5e-4)
    assert a.saidi_h == pytest.approx(3.61, abs=5e-3)
    assert a.caidi_h == pytest.approx(14.6, abs=0.05)
    assert a.asai == pytest.approx(0.999588, abs=5e-7)
    assert a.ens_mwh == pytest.approx(37.745, abs=2e-3)
    mc = monte_carlo(outcome_table(rbts, "manual"), 4000, seed=1)
    for key in ("SAIFI", "SAIDI_h", "ENS_MWh"):
        assert mc.within(a.as_dict(), key), (key, mc.mean[key], a.as_dict()[key], mc.half_width[key])


def test_rbts_bus2_with_transformer_replacement(tmp_path):
    """The same system with 10 h transformer replacement: SAIFI 0.248, SAIDI 0.77, CAIDI 3.08, ENS 8.844
    (benchmark values used by the RELRAD software of jorgbrat/RELRAD-software, 'bus 2 case E')."""
    data = yaml.safe_load((NETWORKS / "rbts-bus2.yaml").read_text())
    for ld in data["loads"]:
        if "repair_h" in ld:
            ld["repair_h"] = 10.0
    a = analytical(outcome_table(build_network(NetworkSpec.model_validate(data)), "manual"))
    assert (a.saifi, a.saidi_h, a.caidi_h) == pytest.approx((0.248, 0.77, 3.08), abs=5e-3)
    assert a.ens_mwh == pytest.approx(8.844, abs=1e-3)


def test_restoration_improves_campus_reliability(campus):
    idx = {m: analytical(outcome_table(campus, m)) for m in ("none", "manual", "flisr")}
    assert idx["flisr"].saidi_h < idx["manual"].saidi_h <= idx["none"].saidi_h
    assert idx["flisr"].gpu_hours_lost < idx["none"].gpu_hours_lost


def test_n_minus_1_same_with_either_backend(campus):
    a, b = n_minus_1(campus, fast=False), n_minus_1(campus, fast=True)
    where = ["max_loading_element", "vm_min_bus"]  # names of equal extremes may differ by rounding (A1 vs B1)
    pd.testing.assert_frame_equal(a.drop(columns=where), b.drop(columns=where), rtol=1e-6)
    assert (a.outage == "trafo T1").any()
    assert a.set_index("outage").load_cut_mw["line A1"] == pytest.approx(185.0)  # both A halls hang off A1


def test_hosting_capacity_is_the_edge(ieee33):
    h = hosting_capacity(ieee33, "18", tol_mw=0.001)
    assert 0 < h.capacity_mw < 1 and "undervoltage" in h.limited_by
    for extra, ok in ((0.0, True), (0.003, False)):
        w = ieee33.copy()
        w.net.load.loc[w.net.load.name == "L18", "p_mw"] += h.capacity_mw + extra
        assert solve(w).ok is ok


def test_timeseries_flow_follows_the_site(campus):
    idx = pd.date_range("2023-07-01", periods=4, freq="h", tz="UTC")
    steps = {"campus": pd.DataFrame({"load_mw": [200.0, 300.0, 370.0, 100.0], "pv_mw": [0, 50, 100, 0],
                                     "battery_discharge_mw": [0, 0, 20, 0], "battery_charge_mw": [10, 0, 0, 0],
                                     "gen_a_mw": [0, 0, 0, 30.0]}, index=idx)}
    per_step, _ = timeseries_flow(campus.copy(), steps)
    assert per_step.load_mw.tolist() == pytest.approx([200, 300, 370, 100])
    assert (per_step.violations == 0).all()


# ---------------------------------------------------------------- bad input
def _err(*args):
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and res.output.count("error:") == 1
    return " ".join(res.output.split())


def _spec_file(tmp_path, edit):
    data = yaml.safe_load((NETWORKS / "campus-ring.yaml").read_text())
    edit(data)
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("edit, words", [
    (lambda d: d["lines"].append({"name": "X", "from_bus": "H1", "to_bus": "nowhere", "length_km": 1,
                                  "r_ohm_per_km": 0.1, "x_ohm_per_km": 0.1}), ["lines[8].to_bus", "nowhere"]),
    (lambda d: d["switches"].append({"name": "S9", "bus": "H1", "element": "ghost", "kind": "sectionaliser"}),
     ["switches[10].element", "ghost"]),
    (lambda d: d["switches"].append({"name": "S9", "bus": "HV", "element": "A2", "kind": "sectionaliser"}),
     ["switches[10].bus", "not an end of 'A2'"]),
    (lambda d: d["buses"].append({"name": "orphan", "vn_kv": 34.5}), ["disconnected network", "orphan"]),
    (lambda d: d["loads"][0].update(p_mw=9000), ["does not converge"]),
    (lambda d: d["sources"].pop(0), ["'grid'"]),
    (lambda d: d["loads"][0].update(priority=0), ["loads[0].priority", "greater than or equal to 1"]),
], ids=["unknown-bus", "unknown-element", "switch-not-at-end", "disconnected", "no-convergence", "no-grid",
        "bad-priority"])
def test_bad_networks_are_clear(tmp_path, edit, words):
    path = _spec_file(tmp_path, edit)
    out = tmp_path / "out"
    msg = _err("grid", "flow", str(path), "-o", str(out), "-q")
    assert str(path) in msg
    for w in words:
        assert w in msg
    assert not out.exists()


def test_fault_on_missing_element_is_clear(tmp_path):
    msg = _err("grid", "heal", "ieee33", "--fault", "99", "-o", str(tmp_path / "o"))
    assert "no line or transformer called '99'" in msg
    assert not (tmp_path / "o").exists()
    assert "neither a network file" in _err("grid", "flow", "nonsense")


def test_cli_writes_reports(tmp_path):
    res = CliRunner().invoke(app, ["grid", "heal", str(NETWORKS / "campus-ring.yaml"), "--fault", "T1",
                                   "-o", str(tmp_path / "heal")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "heal" / "report.html").read_text()
    assert "plotly" in html and "hall-2-training" in html
    res = CliRunner().invoke(app, ["grid", "reliability", str(NETWORKS / "rbts-bus2.yaml"), "--years", "200",
                                   "-q", "-o", str(tmp_path / "rel")])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "rel" / "indices.csv")
    row = df[(df.method == "analytical") & (df.restoration == "manual")].iloc[0]
    assert math.isclose(row.SAIDI_h, 3.6126, abs_tol=1e-3)


def test_the_breaker_that_trips_on_a_transformer_fault_carries_the_fault_current():
    """A fault on a transformer is fed by the grid through the transformer's own breaker: the breaker sees the
    grid's share of the short-circuit current (at most the whole), and its indicator picks up."""

    net = load_network(str(NETWORKS / "campus-ring.yaml"))
    r = restore(net, "T1", "flisr")
    loc = r.location
    assert 0.5 * loc.ikss_ka < loc.trip_current_ka <= loc.ikss_ka + 1e-9
    assert loc.detected and loc.tripped in loc.picked_up

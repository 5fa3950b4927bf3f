"""Coupled sites: a shared limit that binds holds at every step, a site in an outage has its movable inference
served by a linked site within the link's limits, a two-site case worked by hand, and conservation."""
from __future__ import annotations

import numpy as np
import pytest

from wattscale.engine.campus import prepare
from wattscale.engine.coupling import couple
from wattscale.engine.simulate import balance_residual_mw
from wattscale.errors import ScenarioError
from wattscale.studies.registry import run_study

SITE = """
  - name: {name}
    facility:
      workloads:
        - kind: inference
          name: chat
          gpu: H100-SXM
          model_params_b: 70
          arrivals: {{mean_rate_per_s: 20000, peak_to_trough: 2.0, peak_hour: 14}}
          flexibility: {{movable_fraction: 0.5}}
    grid:
      import_limit_mw: 200
{extra}"""


def scenario(fleet: str, outage: bool = True) -> str:
    a = SITE.format(name="a", extra="      outages: [{start: 2023-07-18 10:00, duration: 4h}]\n" if outage else "")
    b = SITE.format(name="b", extra="")
    return ("name: two-sites\ntime: {start: 2023-07-17, duration: 3d, step: 1h, timezone: America/New_York}\n"
            "sites:" + a + b + "fleet:\n" + fleet)


def test_a_shared_limit_that_binds_holds_at_every_step_and_every_site_balances():
    r = run_study("run", scenario("  shared_connections: [{name: sub, sites: [a, b], import_limit_mw: 40}]\n",
                                  outage=False)).value
    a, b = r.steps["a"], r.steps["b"]
    together = a["grid_import_mw"] + b["grid_import_mw"]
    assert (a["load_mw"] + b["load_mw"]).max() > 50  # it binds: the sites together need more than 40 MW
    assert together.max() <= 40 + 1e-9
    assert np.allclose(a["shared_import_share_mw"] + b["shared_import_share_mw"], 40) or \
        (a["shared_import_share_mw"] + b["shared_import_share_mw"] <= 40 + 1e-9).all()
    for frame in (a, b):
        assert np.abs(balance_residual_mw(frame)).max() < 1e-6
        assert frame["unserved_mw"].sum() > 0  # what the shared limit cannot carry goes unserved (no backup)


def test_an_outage_sends_movable_inference_to_the_linked_site_within_the_link():
    text = scenario("  migration: [{between: [a, b], max_mw: 8, cost_usd_per_mwh: 2}]\n"
                    "  policy: {on_price: false}\n")
    campus = prepare(text)
    before = {s: campus.inputs(s) for s in ("a", "b")}
    c = couple(campus.scenario.fleet, before)
    moved = c.moved_it_mw[("a", "b")]
    out = ~before["a"].grid_up
    movable = np.sum([e.movable_mw for e in before["a"].envelopes], axis=0)
    # by hand: at each outage step, the movable half of a's inference up to the link's 8 MW (b has room)
    np.testing.assert_allclose(moved[out], np.minimum(movable[out], 8.0), rtol=1e-12)
    assert np.all(moved[~out] == 0) and np.all(c.moved_it_mw[("b", "a")] == 0)
    a, b = c.inputs["a"], c.inputs["b"]
    np.testing.assert_allclose(a.load_mw, before["a"].load_mw - moved * before["a"].pue, rtol=1e-12)
    np.testing.assert_allclose(b.load_mw, before["b"].load_mw + moved * before["b"].pue, rtol=1e-12)
    # conservation: the fleet's IT power is the same, only where it is served changed
    np.testing.assert_allclose(a.it_load_mw + b.it_load_mw, before["a"].it_load_mw + before["b"].it_load_mw)
    r = run_study("run", text)
    frames = r.value.steps
    assert r.value.extra["fleet"]["moves"][0]["reason"] == "outage"
    unserved_coupled = frames["a"]["unserved_mw"].sum()
    alone = run_study("run", text.split("fleet:")[0]).value.steps["a"]["unserved_mw"].sum()
    # every moved IT MWh (with a's cooling) is load a no longer leaves unserved: it is served at b
    assert unserved_coupled == pytest.approx(alone - (moved * before["a"].pue).sum(), rel=1e-9)
    assert r.kpis["migration_cost_usd"] == pytest.approx(2 * moved.sum(), rel=1e-12)  # 1 h steps


def test_price_moves_inference_to_the_cheaper_site_and_never_beyond_its_room():
    text = scenario("  migration: [{between: [a, b], max_mw: 100, cost_usd_per_mwh: 0}]\n"
                    "  policy: {on_outage: false, min_spread_usd_per_mwh: 0}\n", outage=False)
    text = text.replace("    grid:\n      import_limit_mw: 200\n", "    grid:\n      import_limit_mw: 200\n"
                        "      price_usd_per_mwh: 90\n", 1)  # a pays 90 USD/MWh, b the default profile
    campus = prepare(text)
    inp = {s: campus.inputs(s) for s in ("a", "b")}
    c = couple(campus.scenario.fleet, inp)
    cheaper = inp["b"].price_usd_per_mwh < 90
    moved = c.moved_it_mw[("a", "b")]
    assert moved[cheaper].min() > 0 and np.all(moved[~cheaper] == 0)
    assert np.all(c.inputs["b"].load_mw <= inp["b"].import_limit_mw + inp["b"].pv_mw + inp["b"].wind_mw + 1e-9)


def test_a_fleet_naming_an_unknown_site_is_one_clear_error():
    with pytest.raises(ScenarioError, match="to itself"):
        prepare(scenario("  migration: [{between: [a, a], max_mw: 8}]\n"))
    with pytest.raises(ScenarioError, match="listed twice"):
        prepare(scenario("  migration: [{between: [a, b], max_mw: 8}, {between: [b, a], max_mw: 8}]\n"))
    with pytest.raises(ScenarioError, match="inference that may move"):
        run_study("run", scenario("  migration: [{between: [a, b], max_mw: 8}]\n").replace(
            "flexibility: {movable_fraction: 0.5}", "flexibility: {slowdown_tier: 0.1}"))
    with pytest.raises(ScenarioError, match="no site named 'c'"):
        prepare(scenario("  migration: [{between: [a, c], max_mw: 8}]\n"))
    with pytest.raises(ScenarioError, match="one shared connection at most"):
        prepare(scenario("  shared_connections: [{name: x, sites: [a, b], import_limit_mw: 1},"
                         " {name: y, sites: [b, a], import_limit_mw: 1}]\n"))


@pytest.mark.realdata
def test_the_us_fleet_example_moves_load_and_costs_less_with_migration(examples_dir):
    on = run_study("run", examples_dir / "fleet-us.yaml")
    off = run_study("run", examples_dir / "fleet-us.yaml", changes={"fleet.migration": []})
    moves = on.value.extra["fleet"]["moves"]
    assert {m["reason"] for m in moves} >= {"outage", "price", "headroom"}
    assert on.kpis["migrated_out_it_mwh"] == pytest.approx(on.kpis["migrated_in_it_mwh"])  # all of it lands
    assert off.kpis.get("migrated_out_it_mwh", 0) == 0
    assert on.kpis["system_cost_usd"] < off.kpis["system_cost_usd"]
    assert on.kpis["unserved_mwh"] < off.kpis["unserved_mwh"]  # the Texas outage's movable load served elsewhere
    for frame in on.value.steps.values():
        assert np.abs(balance_residual_mw(frame)).max() < 1e-6
    it_on = sum(f["it_load_mw"] for f in on.value.steps.values())
    it_off = sum(f["it_load_mw"] for f in off.value.steps.values())
    np.testing.assert_allclose(it_on, it_off, rtol=1e-9)  # the fleet serves the same compute, elsewhere


def _mpc(text: str, horizon_h: int, replan_h: int) -> str:
    return text + (f"controller: {{kind: mpc, horizon_h: {horizon_h}, replan_every_h: {replan_h}, "
                   "forecaster: perfect, commitment: relaxed}\n")


FLEET = ("  migration: [{between: [a, b], max_mw: 8, cost_usd_per_mwh: 2}]\n"
         "  shared_connections: [{name: sub, sites: [a, b], import_limit_mw: 45}]\n")


def test_the_fleet_mpc_with_perfect_foresight_equals_the_full_horizon_fleet_optimum():
    from wattscale.engine.fleet_plan import plan_fleet

    full = prepare(_mpc(scenario(FLEET), 72, 72))
    frames, coupling, log = plan_fleet(full.scenario, {s: full.inputs(s) for s in ("a", "b")})
    assert len(log) == 1 and log[0]["status"] != "fallback"
    optimum = log[0]["objective_usd"]
    whole = run_study("run", _mpc(scenario(FLEET), 72, 72))
    rolling = run_study("run", _mpc(scenario(FLEET), 72, 6))
    assert rolling.value.extra["controller"]["fleet"]["plans"] == 12
    # the engine, applying the fleet's plan, incurs exactly its cost; re-planning with foresight does not change it
    assert whole.kpis["system_cost_usd"] == pytest.approx(optimum, rel=1e-6)
    assert rolling.kpis["system_cost_usd"] == pytest.approx(optimum, rel=1e-6)
    steps = rolling.value.steps
    together = steps["a"]["grid_import_mw"] + steps["b"]["grid_import_mw"]
    assert together.max() <= 45 + 1e-6  # the shared limit holds at every step
    for frame in steps.values():
        assert np.abs(balance_residual_mw(frame)).max() < 1e-6
    moved = coupling.moved_it_mw[("a", "b")]
    assert moved.sum() > 0 and rolling.kpis["migrated_out_it_mwh"] == pytest.approx(moved.sum(), rel=1e-6)
    # planning the fleet is never worse than the rule coordinator on the same sites
    rules = run_study("run", scenario(FLEET))
    assert rolling.kpis["system_cost_usd"] <= rules.kpis["system_cost_usd"] * (1 + 1e-9)


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_BASE = {}


def _base_inputs():
    """Two sites' inputs, built once (workloads, weather): the property below varies only the coupling."""
    if not _BASE:
        campus = prepare(scenario("  migration: [{between: [a, b], max_mw: 1}]\n"))
        _BASE.update({s: campus.inputs(s) for s in ("a", "b")})
        _BASE["controller"] = campus.scenario.controller
    return _BASE


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(max_mw=st.floats(0.1, 60), share=st.floats(0.05, 1.0), cost=st.floats(0, 50),
       shared=st.one_of(st.none(), st.floats(5, 120)), spread=st.floats(0, 30),
       outage_at=st.integers(0, 60), outage_h=st.integers(0, 12))
def test_coupled_sites_balance_hold_shared_limits_and_conserve_compute(max_mw, share, cost, shared, spread,
                                                                        outage_at, outage_h):
    from dataclasses import replace

    from wattscale.decisions.operate.factory import build_controller
    from wattscale.engine.simulate import simulate_site, site_assets
    from wattscale.scenario.schema import Fleet

    base = _base_inputs()
    up = base["a"].grid_up.copy()
    up[outage_at: outage_at + outage_h] = False
    inputs = {"a": replace(base["a"], grid_up=up), "b": base["b"]}
    fleet = Fleet.model_validate({
        "migration": [{"between": ["a", "b"], "max_mw": max_mw, "share": share, "cost_usd_per_mwh": cost}],
        "shared_connections": [] if shared is None else [{"name": "s", "sites": ["a", "b"],
                                                          "import_limit_mw": shared}],
        "policy": {"min_spread_usd_per_mwh": spread}})
    c = couple(fleet, inputs)
    frames = {s: simulate_site(c.inputs[s], build_controller(base["controller"], site_assets(c.inputs[s])))
              for s in ("a", "b")}
    for s, frame in frames.items():
        assert np.abs(balance_residual_mw(frame)).max() < 1e-6  # every site balances at every step
    together = frames["a"]["grid_import_mw"] + frames["b"]["grid_import_mw"]
    if shared is not None:
        assert together.max() <= shared + 1e-9
    np.testing.assert_allclose(c.inputs["a"].it_load_mw + c.inputs["b"].it_load_mw,
                               inputs["a"].it_load_mw + inputs["b"].it_load_mw, atol=1e-9)  # compute conserved
    movable_a = np.sum([e.movable_mw for e in inputs["a"].envelopes], axis=0)
    movable_b = np.sum([e.movable_mw for e in inputs["b"].envelopes], axis=0)
    for (src, dst), movable in ((("a", "b"), movable_a), (("b", "a"), movable_b)):
        m = c.moved_it_mw[(src, dst)]
        assert (m >= 0).all() and (m <= np.minimum(max_mw, movable * share) + 1e-9).all()


def test_the_fleet_mpc_never_sends_more_than_a_site_may_move_over_all_its_links():
    from wattscale.engine.fleet_plan import plan_fleet

    text = scenario("  migration: [{between: [a, b], max_mw: 30}, {between: [a, c], max_mw: 30}]\n")
    text = text.replace("fleet:\n", "fleet:\n", 1).replace("sites:", "sites:" + SITE.format(name="c", extra=""), 1)
    campus = prepare(_mpc(text, 24, 24))
    inputs = {s: campus.inputs(s) for s in ("a", "b", "c")}
    _, coupling, log = plan_fleet(campus.scenario, inputs)
    assert all(e["status"] != "fallback" for e in log)
    sent = coupling.moved_it_mw[("a", "b")] + coupling.moved_it_mw[("a", "c")]
    movable = np.sum([e.movable_mw for e in inputs["a"].envelopes], axis=0)
    assert sent.max() > 0 and (sent <= movable + 1e-6).all()

"""The engine's physics: energy balance, battery bounds and losses, generator rules (property tests)."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import FixedController, make_inputs
from wattscale.decisions.operate.rules import RuleController
from wattscale.engine.simulate import balance_residual_mw, simulate_site
from wattscale.scenario.schema import Battery, Generator


@st.composite
def random_site(draw):
    n = draw(st.integers(5, 120))
    step_s = draw(st.sampled_from([1, 60, 300, 900, 3600]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    load = rng.uniform(0, draw(st.floats(1, 500)), n)
    pv = rng.uniform(0, draw(st.floats(0, 500)), n) * (rng.random(n) < 0.6)
    wind = rng.uniform(0, draw(st.floats(0, 300)), n)
    battery = None
    if draw(st.booleans()):
        lo = draw(st.floats(0.0, 0.4))
        hi = draw(st.floats(0.6, 1.0))
        battery = Battery(power_mw=draw(st.floats(1, 200)), energy_mwh=draw(st.floats(1, 800)),
                          charge_efficiency=draw(st.floats(0.7, 1.0)), discharge_efficiency=draw(st.floats(0.7, 1.0)),
                          soc_min=lo, soc_max=hi, soc_initial=draw(st.floats(lo, hi)),
                          self_discharge_per_day=draw(st.floats(0, 0.05)))
    generators = []
    for i in range(draw(st.integers(0, 3))):
        cap = draw(st.floats(5, 300))
        generators.append(Generator(name=f"g{i}", kind=draw(st.sampled_from(["gas_turbine", "reciprocating_engine",
                                                                             "diesel"])),
                                    capacity_mw=cap, min_load_fraction=draw(st.floats(0, 0.6)),
                                    ramp_mw_per_min=draw(st.floats(0.1, 2)) * cap / 10,
                                    start_up_time_s=draw(st.sampled_from([0, 60, 600, 3600]))))
    grid_up = rng.random(n) > draw(st.floats(0, 0.5))
    inputs = make_inputs(load, pv_mw=pv, wind_mw=wind, step_s=step_s, battery=battery, generators=generators,
                         import_limit_mw=draw(st.floats(0, 600)), export_limit_mw=draw(st.floats(0, 200)),
                         grid_up=grid_up)
    # arbitrary commands: NaN (follow) or a random power, per step
    bt = np.where(rng.random(n) < 0.5, np.nan, rng.uniform(-300, 300, n))
    gt = np.where(rng.random((len(generators), n)) < 0.5, np.nan, rng.uniform(-10, 400, (len(generators), n)))
    grid_first = rng.random(n) < 0.5
    return inputs, FixedController(bt, gt, block_steps=draw(st.integers(1, 50)), grid_first=grid_first)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(random_site())
def test_energy_balance_closes_every_step(case):
    inputs, controller = case
    frame = simulate_site(inputs, controller)
    scale = max(1.0, float(np.abs(frame.select_dtypes("number").to_numpy()).max()))
    assert np.abs(balance_residual_mw(frame)).max() <= 1e-9 * scale
    for col in ("curtailed_mw", "battery_charge_mw", "battery_discharge_mw", "grid_import_mw", "grid_export_mw",
                "unserved_mw", "dumped_mw"):
        assert (frame[col] >= -1e-12).all(), col
    assert (frame["curtailed_mw"] <= frame["pv_mw"] + frame["wind_mw"] + 1e-9).all()
    assert (frame["grid_import_mw"] <= frame["import_limit_mw"] * frame["grid_available"] + 1e-9).all()
    assert (frame["grid_export_mw"] <= frame["export_limit_mw"] * frame["grid_available"] + 1e-9).all()


@SETTINGS
@given(random_site())
def test_battery_stays_in_bounds(case):
    inputs, controller = case
    b = inputs.site.battery
    frame = simulate_site(inputs, controller)
    if b is None:
        assert (frame["battery_soc_mwh"] == 0).all()
        return
    soc = frame["battery_soc_mwh"].to_numpy()
    prev = np.concatenate([[b.soc_initial * b.energy_mwh], soc[:-1]])
    keep = 1 - (1 - b.self_discharge_per_day) ** (inputs.timeline.step_s / 86400)
    tol = 1e-9 * b.energy_mwh
    assert (soc <= b.soc_max * b.energy_mwh + tol).all()
    # only self-discharge may take the battery below its floor, never a discharge
    assert (soc >= np.minimum(b.soc_min * b.energy_mwh, prev * (1 - keep)) - tol).all()
    assert (frame["battery_charge_mw"] <= b.power_mw + 1e-9).all()
    assert (frame["battery_discharge_mw"] <= b.power_mw + 1e-9).all()
    assert ((frame["battery_charge_mw"] > 1e-12) & (frame["battery_discharge_mw"] > 1e-12)).sum() == 0
    # state of charge follows the storage equation exactly
    dt = inputs.timeline.step_h
    expect = prev * (1 - keep) + (frame["battery_charge_mw"] * b.charge_efficiency
                                  - frame["battery_discharge_mw"] / b.discharge_efficiency).to_numpy() * dt
    assert np.allclose(soc, expect, atol=tol)


@SETTINGS
@given(random_site())
def test_generators_respect_min_load_ramp_and_start_up(case):
    inputs, controller = case
    frame = simulate_site(inputs, controller)
    step_s = inputs.timeline.step_s
    for g in inputs.generators:
        p = frame[f"gen_{g.name}_mw"].to_numpy()
        starts = frame[f"gen_{g.name}_starts"].to_numpy()
        pmin = g.min_load_fraction * g.capacity_mw
        ramp = g.ramp_mw_per_min * step_s / 60
        on = p > 0
        assert (p <= g.capacity_mw + 1e-9).all()
        assert (p[on] >= pmin - 1e-9).all(), "below minimum stable load"
        prev = np.concatenate([[0.0], p[:-1]])
        both = on & (prev > 0)
        assert (np.abs(p - prev)[both] <= ramp + 1e-9).all(), "ramp limit broken"
        # from off, a unit synchronises at minimum load and may ramp once; it stops from at most min + ramp
        assert (p[on & (prev == 0)] <= pmin + ramp + 1e-9).all()
        assert (prev[~on & (prev > 0)] <= pmin + ramp + 1e-9).all()
        # every period of output begins with a start-up followed by start_up_time of zero output
        delay = math.ceil(g.start_up_time_s / step_s - 1e-9)
        for t in np.flatnonzero(on & (prev == 0)):
            s = t - delay
            assert s >= 0 and starts[s] == 1, f"output at step {t} without a start {delay} steps earlier"
            assert (p[s:t] == 0).all()


def test_round_trip_losses_match_efficiency():
    """Charge 10 h at 10 MW then discharge to the same SoC: energy out = energy in x eta_c x eta_d."""
    b = Battery(power_mw=10, energy_mwh=200, charge_efficiency=0.92, discharge_efficiency=0.9, soc_min=0.0,
                soc_max=1.0, soc_initial=0.0, self_discharge_per_day=0.0)
    n = 40
    inputs = make_inputs(np.zeros(n), battery=b, export_limit_mw=1e6)
    bt = np.concatenate([np.full(10, -10.0), np.full(30, 10.0)])
    frame = simulate_site(inputs, FixedController(bt, np.zeros((0, n))))
    e_in = frame["battery_charge_mw"].sum()
    e_out = frame["battery_discharge_mw"].sum()
    assert frame["battery_soc_mwh"].iloc[-1] < 1e-9
    assert math.isclose(e_in, 100.0)
    assert math.isclose(e_out, e_in * 0.92 * 0.9, rel_tol=1e-12)
    assert math.isclose(frame["grid_import_mw"].sum() - frame["grid_export_mw"].sum(), e_in - e_out, rel_tol=1e-9)


def test_self_discharge_compounds_daily_rate():
    b = Battery(power_mw=1, energy_mwh=100, soc_min=0.0, soc_max=1.0, soc_initial=1.0, self_discharge_per_day=0.02)
    n = 24 * 10
    frame = simulate_site(make_inputs(np.zeros(n), battery=b), FixedController(np.zeros(n), np.zeros((0, n))))
    assert math.isclose(frame["battery_soc_mwh"].iloc[-1], 100 * 0.98**10, rel_tol=1e-9)


def test_outage_generator_starts_and_battery_bridges():
    """Grid out for 6 h: generators start at once; the battery bridges their 2-step start; nothing is unserved."""
    n = 24
    up = np.ones(n, bool)
    up[8:14] = False
    gen = Generator(name="gt", capacity_mw=120, min_load_fraction=0.4, ramp_mw_per_min=10, start_up_time_s=7200)
    b = Battery(power_mw=100, energy_mwh=300, soc_min=0.0, soc_max=1.0, soc_initial=1.0, self_discharge_per_day=0)
    inputs = make_inputs(np.full(n, 100.0), battery=b, generators=[gen], grid_up=up, import_limit_mw=200)
    ctrl = RuleController(n_generators=1, battery_power_mw=100, block_steps=24, discharge_on_deficit=False)
    frame = simulate_site(inputs, ctrl)
    assert frame["unserved_mw"].sum() == 0
    assert frame["gen_gt_starts"].iloc[8] == 1
    assert (frame["gen_gt_mw"].iloc[8:10] == 0).all() and (frame["battery_discharge_mw"].iloc[8:10] == 100).all()
    assert (frame["gen_gt_mw"].iloc[10:14] == 100).all()
    assert (frame["grid_import_mw"].iloc[8:14] == 0).all()


def test_rule_controller_charges_cheap_discharges_dear_and_keeps_reserve():
    n = 6
    price = np.array([10, 10, 50, 100, 100, 100.0])
    b = Battery(power_mw=10, energy_mwh=40, charge_efficiency=1, discharge_efficiency=1, soc_min=0, soc_max=1,
                soc_initial=0.5, self_discharge_per_day=0)
    inputs = make_inputs(np.full(n, 50.0), battery=b, price=price, export_limit_mw=0)
    ctrl = RuleController(n_generators=0, battery_power_mw=10, block_steps=n, reserve_mwh=20,
                          charge_below_usd_per_mwh=20, discharge_above_usd_per_mwh=80, discharge_on_deficit=False)
    frame = simulate_site(inputs, ctrl)
    assert list(frame["battery_charge_mw"]) == [10, 10, 0, 0, 0, 0]
    assert list(frame["battery_discharge_mw"]) == [0, 0, 0, 10, 10, 0]  # stops at the 20 MWh reserve
    assert frame["battery_soc_mwh"].iloc[-1] == 20


def test_renewables_first_then_export_then_curtail():
    inputs = make_inputs([50.0, 50.0], pv_mw=[80.0, 200.0], export_limit_mw=40)
    frame = simulate_site(inputs, RuleController(n_generators=0, battery_power_mw=0, block_steps=2))
    assert list(frame["grid_export_mw"]) == [30, 40]
    assert list(frame["curtailed_mw"]) == [0, 110]
    assert list(frame["grid_import_mw"]) == [0, 0]


def test_battery_covers_a_small_shortfall_before_any_generator_starts():
    """Load 2 MW above the import limit for 3 h; a full battery covers it; no unit starts, even at a cheap price."""
    n = 6
    load = np.array([100, 102, 102, 102, 100, 100.0])
    b = Battery(power_mw=10, energy_mwh=100, soc_min=0, soc_max=1, soc_initial=0.9, self_discharge_per_day=0)
    gens = [Generator(name=f"g{i}", capacity_mw=20, start_up_time_s=600) for i in range(3)]
    inputs = make_inputs(load, battery=b, generators=gens, import_limit_mw=100, price=5.0)
    ctrl = RuleController(n_generators=3, battery_power_mw=10, block_steps=n, charge_below_usd_per_mwh=20,
                          discharge_on_deficit=False)
    frame = simulate_site(inputs, ctrl)
    assert frame.filter(regex="_starts$").to_numpy().sum() == 0
    assert list(frame["battery_discharge_mw"].iloc[1:4]) == [2, 2, 2]
    assert frame["unserved_mw"].sum() == 0


def test_only_the_units_needed_start_together():
    """An outage needing 30 MW starts the first 50 MW unit only, not every unit behind it in merit order."""
    n = 8
    up = np.ones(n, bool)
    up[2:] = False
    gens = [Generator(name=f"g{i}", capacity_mw=50, min_load_fraction=0.2, ramp_mw_per_min=50,
                      start_up_time_s=3600, fuel_price_usd_per_mmbtu=3 + i) for i in range(3)]
    frame = simulate_site(make_inputs(np.full(n, 30.0), generators=gens, grid_up=up),
                          RuleController(n_generators=3, battery_power_mw=0, block_steps=n))
    starts = frame.filter(regex="_starts$").sum()
    assert starts.to_dict() == {"gen_g0_starts": 1, "gen_g1_starts": 0, "gen_g2_starts": 0}
    assert (frame["gen_g0_mw"].iloc[3:] == 30).all()

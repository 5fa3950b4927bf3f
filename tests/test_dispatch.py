"""Optimal dispatch (linopy + HiGHS) against PyPSA, and the MPC controller against the full-horizon optimum."""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builders import make_inputs
from wattscale.decisions.forecast.baseline import Noisy
from wattscale.decisions.forecast.feed import Learned
from wattscale.decisions.operate.dispatch import Dispatch, plan_dispatch
from wattscale.decisions.operate.factory import build_controller, build_forecaster
from wattscale.decisions.operate.mpc import MpcController
from wattscale.decisions.operate.problem import (
    BatteryTerms,
    DispatchProblem,
    FlexTerms,
    GeneratorTerms,
    GridTerms,
    SiteProblem,
)
from wattscale.decisions.protocol import SiteForecast, SiteState
from wattscale.engine.simulate import balance_residual_mw, simulate_site, site_assets
from wattscale.errors import PlanningError
from wattscale.scenario.schema import Battery, Generator, RulesController
from wattscale.scenario.schema import MpcController as MpcSpec
from wattscale.studies.simulation.kpi import site_kpis

sys.path.insert(0, str(Path(__file__).parent))
from pypsa_twin import solve_with_pypsa  # noqa: E402


def site(n=48, seed=1, name="a", demand_charge=8000.0, flex=True, hold=None):
    rng = np.random.default_rng(seed)
    hours = np.arange(n) % 24
    price = 30 + 40 * rng.random(n)
    up = np.ones(n, bool)
    up[30:33] = False  # an outage
    grid = GridTerms(up=up, import_limit_mw=np.full(n, 180.0), export_limit_mw=np.full(n, 50.0),
                     price_usd_per_mwh=price, export_price_usd_per_mwh=price * 0.8,
                     intensity_kg_per_mwh=350 + 150 * rng.random(n), demand_charge_usd_per_mw_month=demand_charge,
                     month_slot=(np.arange(n) >= n // 2).astype(int), peak_so_far_mw=np.array([60.0, 0.0]),
                     dr_hold_mw=hold)
    return SiteProblem(
        name, load_mw=200 + 50 * np.sin(hours / 24 * 2 * np.pi) + 10 * rng.random(n),
        pv_mw=np.clip(150 * np.sin((hours - 6) / 12 * np.pi), 0, None), wind_mw=60 * rng.random(n), grid=grid,
        battery=BatteryTerms(100, 20, 380, 0.95, 0.93, 0.9995, 200, wear_usd_per_mwh=5),
        generators=[GeneratorTerms("gt", 100, 30, 70, 0, 45, 530, start_usd=3000),
                    GeneratorTerms("recip", 40, 12, 40, 0, 40, 450, start_usd=500, on=True, power_mw=20)],
        flex=[FlexTerms("train", np.full(n, 40.0), 300.0, 60.0)] if flex else [])


@pytest.mark.parametrize("commitment", ["milp", "relaxed", "none"])
def test_same_objective_as_pypsa(commitment):
    hold = np.full(48, np.inf)
    hold[40:44] = 120.0  # a demand-response hold
    problem = DispatchProblem([site(hold=hold)], 1.0, carbon_price_usd_per_t=60, commitment=commitment)
    if commitment != "none":  # PyPSA's committables start from the state 'off'
        for g in problem.sites[0].generators:
            g.on, g.power_mw = False, 0.0
    ours = plan_dispatch(problem)
    theirs, _, _ = solve_with_pypsa(problem)
    assert ours.status == "optimal"
    assert abs(ours.objective_usd - theirs) <= 1e-6 * abs(theirs)
    assert sum(ours.costs_usd.values()) == pytest.approx(ours.objective_usd, rel=1e-9)  # the breakdown adds up


def test_two_sites_sharing_a_connection_match_pypsa():
    a, b = site(name="a", demand_charge=0.0, flex=False), site(seed=2, name="b", demand_charge=0.0)
    for s in (a, b):
        s.grid.import_limit_mw[:] = 150.0
    tie = copy.deepcopy(a.grid)
    tie.import_limit_mw[:] = 80.0  # less than the two ties together
    tie.demand_charge_usd_per_mw_month = 8000.0
    problem = DispatchProblem([a, b], 1.0, carbon_price_usd_per_t=30, commitment="none", connection=tie)
    ours = plan_dispatch(problem)
    theirs, _, _ = solve_with_pypsa(problem)
    assert abs(ours.objective_usd - theirs) <= 1e-6 * abs(theirs)
    total = ours.sites[0].import_mw - ours.sites[0].export_mw + ours.sites[1].import_mw - ours.sites[1].export_mw
    assert total.max() == pytest.approx(80.0, abs=1e-6)  # the shared limit binds


def test_raising_the_carbon_price_never_raises_emissions():
    emissions = []
    for price in (0, 10, 25, 50, 100, 200, 400, 1000):
        plan = plan_dispatch(DispatchProblem([site(n=72)], 1.0, carbon_price_usd_per_t=price, commitment="relaxed"))
        emissions.append(plan.co2_t)
    assert all(b <= a + 1e-6 * a for a, b in zip(emissions, emissions[1:]))
    assert emissions[-1] < 0.95 * emissions[0]  # and the price does bite


def test_update_in_place_equals_a_fresh_build():
    first = DispatchProblem([site(seed=1)], 1.0, commitment="milp")
    second = DispatchProblem([site(seed=5)], 1.0, carbon_price_usd_per_t=80, commitment="milp")
    second.sites[0].generators[0].warmup_left = 1
    dispatch = Dispatch(first)
    dispatch.plan()
    assert dispatch.plan(second).objective_usd == pytest.approx(plan_dispatch(second).objective_usd, rel=1e-7)


def test_must_serve_load_above_supply_reports_what_binds():
    s = site(flex=False)
    s.generators, s.battery = [], None
    s.grid.dr_hold_mw = np.full(48, np.inf)
    s.grid.dr_hold_mw[10:14] = 50.0
    with pytest.raises(PlanningError) as err:
        plan_dispatch(DispatchProblem([s], 1.0, allow_unserved=False, commitment="none"))
    msg = str(err.value)
    assert "would be shed" in msg and "demand-response hold of 50 MW" in msg and "no backup generation" in msg
    assert "MWh" in msg and "outage" in msg  # the outage steps are named as well


def test_a_missing_solver_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "highspy", None)
    with pytest.raises(PlanningError, match="HiGHS solver is not installed"):
        plan_dispatch(DispatchProblem([site()], 1.0))


# ---------------------------------------------------------------- MPC on the engine
GENS = [Generator(name="gt", kind="gas_turbine", capacity_mw=120, start_up_cost_usd=4000),  # warms up one step
        Generator(name="recip", kind="reciprocating_engine", capacity_mw=40, start_up_cost_usd=400,
                  start_up_time_s=0)]


def campus_inputs(n=72):
    rng = np.random.default_rng(3)
    hours = np.arange(n) % 24
    up = np.ones(n, bool)
    up[40:44] = False
    inputs = make_inputs(220 + 40 * np.sin(hours / 24 * 2 * np.pi), pv_mw=np.clip(160 * np.sin((hours - 6) / 12 * np.pi),
                                                                                   0, None),
                         wind_mw=50 * rng.random(n), battery=Battery(power_mw=80, energy_mwh=320),
                         generators=GENS, import_limit_mw=200, export_limit_mw=60, grid_up=up,
                         price=25 + 60 * rng.random(n), intensity=300 + 200 * rng.random(n), demand_charge=6.0,
                         start="2023-01-30")  # crosses into February: two demand charges
    return inputs


def run_mpc(inputs, *, block_h, horizon_h, forecaster="perfect", carbon=50.0, **spec):
    spec = MpcSpec(kind="mpc", horizon_h=horizon_h, replan_every_h=block_h, forecaster=forecaster,
                   commitment="milp", mip_rel_gap=1e-7, terminal_soc_fraction=0.0, **spec)
    ctrl = MpcController(spec, site_assets(inputs), carbon_price_usd_per_t=carbon)
    frame = simulate_site(inputs, ctrl, forecaster=build_forecaster(spec, inputs.timeline.step_s))
    tl = inputs.timeline
    k = site_kpis(frame, inputs.site, step_s=tl.step_s, hour_groups=tl.hour_groups(), month_groups=tl.month_groups(),
                  voll_usd_per_mwh=10_000.0, carbon_price_usd_per_t=carbon)
    return ctrl, frame, k


def test_mpc_with_perfect_foresight_over_the_whole_period_equals_the_full_horizon_optimum():
    inputs = campus_inputs()
    full, frame_full, k_full = run_mpc(inputs, block_h=72, horizon_h=72)
    rolling, frame, k = run_mpc(inputs, block_h=6, horizon_h=72)
    optimum = full.log[0]["objective_usd"]
    assert len(rolling.log) == 12 and rolling.summary()["fallbacks"] == 0
    # the engine, applying the plan, incurs exactly the planned cost; re-planning does not change it
    assert k_full["system_cost_usd"] == pytest.approx(optimum, rel=1e-6)
    assert k["system_cost_usd"] == pytest.approx(optimum, rel=1e-6)
    assert np.abs(balance_residual_mw(frame)).max() < 1e-6
    assert frame["gen_gt_starts"].sum() >= 1  # the warm-up logic was exercised


def test_mpc_shorter_horizons_cost_more_and_forecast_errors_cost_more():
    inputs = campus_inputs()
    _, _, best = run_mpc(inputs, block_h=72, horizon_h=72)
    _, _, short = run_mpc(inputs, block_h=1, horizon_h=12)
    _, frame, noisy = run_mpc(inputs, block_h=1, horizon_h=24, forecaster="noisy", noise_fraction=0.2)
    assert short["system_cost_usd"] >= best["system_cost_usd"] * (1 - 1e-6)
    assert noisy["system_cost_usd"] >= best["system_cost_usd"] * (1 - 1e-6)
    assert np.abs(balance_residual_mw(frame)).max() < 1e-6


@pytest.mark.filterwarnings("ignore:NaN in the multiplicative factor", "ignore:invalid value")
def test_an_unsolvable_plan_falls_back_to_the_rules_and_says_why():
    inputs = campus_inputs(n=24)
    inputs.price_usd_per_mwh[5] = np.nan  # HiGHS refuses a model with an undefined cost
    ctrl, frame, k = run_mpc(inputs, block_h=6, horizon_h=6)
    summary = ctrl.summary()
    assert summary["plans"] == 4 and summary["fallbacks"] == 1  # only the plan that sees the bad price fails
    assert "no plan (HiGHS: " in summary["notes"][0] and "rules applied" in summary["notes"][0]
    rules = simulate_site(inputs, build_controller(RulesController(), site_assets(inputs)))
    pd.testing.assert_frame_equal(frame.iloc[:6], rules.iloc[:6])  # that block is exactly what the rules do
    assert not frame.iloc[6:].equals(rules.iloc[6:])  # and the plans take over again


# ---------------------------------------------------------------- forecasters
def truth(values, step):
    n = len(values)
    time = pd.date_range("2023-01-01", periods=n, freq="h", tz="UTC") + pd.Timedelta(hours=step)
    return SiteForecast(step_h=1.0, load_mw=values, pv_mw=values, wind_mw=values, price_usd_per_mwh=values,
                        intensity_kg_per_mwh=values, grid_available=np.ones(n, bool), time=time)


def state(step):
    return SiteState(step=step, time=pd.Timestamp("2023-01-01", tz="UTC"), soc_mwh=0.0,
                     generator_power_mw=np.zeros(0), generator_on=np.zeros(0, bool))


def feed(model):
    return Learned(model, horizon_steps=36, block_steps=6, refit_every_steps=24)


def test_seasonal_naive_feed_repeats_the_last_day_and_never_sees_the_future():
    day = np.sin(np.arange(24) / 24 * 2 * np.pi) + 2
    series = np.tile(day, 5)
    f = feed("seasonal_naive")
    for t0 in range(0, 48, 6):
        fc = f.forecast(state(t0), truth(series[t0:t0 + 36], t0))
    # a day observed: a periodic series is forecast exactly, the present as measured
    assert np.allclose(fc.load_mw, series[42:78])
    # the look-ahead guard: changing the future leaves the forecast unchanged
    g, changed = feed("seasonal_naive"), series.copy()
    changed[49:] += 100.0
    for t0 in range(0, 48, 6):
        g.forecast(state(t0), truth(series[t0:t0 + 36], t0))
    assert np.allclose(g.forecast(state(48), truth(changed[48:84], 48)).load_mw,
                       f.forecast(state(48), truth(series[48:84], 48)).load_mw)


def test_persistence_feed_holds_the_present_and_constant_series_stay_constant():
    f = feed("persistence")
    ramp = np.arange(100.0)
    for t0 in range(0, 30, 6):
        fc = f.forecast(state(t0), truth(ramp[t0:t0 + 36], t0))
    assert np.allclose(fc.price_usd_per_mwh, ramp[24])  # the present (step 24), held


def test_noisy_forecasts_are_exact_now_and_spread_with_lead_time():
    f = Noisy(24, 0.2, seed=1)
    values = np.full(48, 100.0)
    errors = np.array([f.forecast(state(t), truth(values, t)).price_usd_per_mwh - 100 for t in range(400)])
    assert np.all(errors[:, 0] == 0)
    assert errors[:, 1].std() < errors[:, 24].std()
    assert errors[:, 24].std() == pytest.approx(20.0, rel=0.15)


def test_the_time_limit_applies_to_each_plan_not_to_all_of_them_together():
    problem = DispatchProblem([site()], 1.0, commitment="milp")
    dispatch = Dispatch(problem, time_limit_s=0.5)
    spent = 0.0
    while spent < 1.5:  # well beyond one time limit in total
        plan = dispatch.plan(problem)
        assert plan.status == "optimal"
        spent += plan.solve_s


def test_update_in_place_equals_a_fresh_build_with_rows_left_out():
    """Rows that cannot bind are never built (fast units' ramps, budgets without a deadline); an update must
    still reach every row that is built."""
    def problem(p0, budget):
        s = site(seed=4)
        s.generators[0].ramp_mw_per_step = 10.0  # the turbine ramps slowly, the engine covers its capacity in a step
        s.generators[0].on, s.generators[0].power_mw = True, p0
        s.flex = [FlexTerms("a", np.full(48, 30.0), 300.0, budget), FlexTerms("b", np.full(48, 10.0), 400.0),
                  FlexTerms("c", np.full(48, 10.0), 500.0)]
        return DispatchProblem([s], 1.0, commitment="relaxed")
    dispatch = Dispatch(problem(90.0, 200.0))
    dispatch.plan()
    changed = problem(30.0, 5.0)
    updated, fresh = dispatch.plan(changed), plan_dispatch(changed)
    assert updated.objective_usd == pytest.approx(fresh.objective_usd, rel=1e-7)
    assert updated.sites[0].shed_mw[0].sum() <= 5.0 + 1e-6
    assert updated.sites[0].generator_mw[0, 0] <= 40.0 + 1e-6


def test_negative_prices_never_buy_energy_to_throw_it_away():
    """At a negative price the plan may import for the load and the battery, never more to dump it: with no
    generator nothing can be dumped, and with one only what it cannot turn down."""
    n = 24
    price = np.where(np.arange(n) % 6 == 0, -200.0, 40.0)
    grid = GridTerms(up=np.ones(n, bool), import_limit_mw=np.full(n, 500.0), export_limit_mw=np.zeros(n),
                     price_usd_per_mwh=price, export_price_usd_per_mwh=price, intensity_kg_per_mwh=np.full(n, 300.0))
    battery = BatteryTerms(power_mw=10, energy_min_mwh=2, energy_max_mwh=38, charge_efficiency=0.95,
                           discharge_efficiency=0.95, keep_per_step=1.0, soc_initial_mwh=20)
    gen = GeneratorTerms(name="g", capacity_mw=20, min_mw=8, ramp_mw_per_step=20, start_steps=0,
                         cost_usd_per_mwh=60, co2_kg_per_mwh=500)
    for generators in ([], [gen]):
        load = np.full(n, 50.0)
        s = SiteProblem("a", load_mw=load, pv_mw=np.zeros(n), wind_mw=np.zeros(n), grid=grid, battery=battery,
                        generators=generators)
        sp = plan_dispatch(DispatchProblem([s], step_h=1.0, commitment="relaxed")).sites[0]
        gen_mw = sp.generator_mw.sum(axis=0) if generators else np.zeros(n)
        assert np.all(sp.dumped_mw <= gen_mw + 1e-6)
        assert np.all(sp.import_mw <= load + sp.charge_mw + 1e-6)  # energy bought is used
        assert sp.import_mw[0] == pytest.approx(load[0] + sp.charge_mw[0])  # and the load is served from it


def test_the_engine_hands_the_controller_its_forecast_not_the_truth():
    """The engine owns the forecaster: with a noisy one, what the controller receives differs from the truth
    beyond the present, and the present is exact."""
    from wattscale.decisions.protocol import Setpoints

    inputs = campus_inputs(n=72)
    truth_load = inputs.load_mw

    class Recorder:
        block_steps, horizon_steps = 24, 48
        seen: list = []

        def decide(self, state, forecast):
            self.seen.append((state.step, forecast.load_mw.copy()))
            return Setpoints.follow(len(forecast.load_mw[:24]), len(inputs.generators))

    spec = MpcSpec(kind="mpc", forecaster="noisy", noise_fraction=0.2, horizon_h=48, replan_every_h=24)
    simulate_site(inputs, Recorder(), forecaster=build_forecaster(spec, inputs.timeline.step_s))
    for step, load in Recorder.seen:
        actual = truth_load[step: step + len(load)]
        assert load[0] == pytest.approx(actual[0])
        assert np.abs(load[1:] - actual[1:]).max() > 0.01 * actual.max()
    Recorder.seen = []
    simulate_site(inputs, Recorder())  # no forecaster: perfect foresight
    assert all(np.array_equal(load, truth_load[s: s + len(load)]) for s, load in Recorder.seen)


def test_extra_constraints_bind_cost_what_they_should_and_survive_a_re_plan():
    """Your own row: no charging from the grid at night (import <= load before 8 h). The battery then cannot
    buy cheap night energy, so the plan pays the day price for what it would have shifted."""
    from wattscale.decisions.operate.problem import BatteryTerms

    n = 24
    price = np.where(np.arange(n) < 8, 20.0, 80.0)
    grid = GridTerms(up=np.ones(n, bool), import_limit_mw=np.full(n, 100.0), export_limit_mw=np.zeros(n),
                     price_usd_per_mwh=price, export_price_usd_per_mwh=price, intensity_kg_per_mwh=np.zeros(n))
    battery = BatteryTerms(power_mw=20, energy_min_mwh=4, energy_max_mwh=76, charge_efficiency=1.0,
                           discharge_efficiency=1.0, keep_per_step=1.0, soc_initial_mwh=4)
    site = SiteProblem("campus", load_mw=np.full(n, 60.0), pv_mw=np.zeros(n), wind_mw=np.zeros(n), grid=grid,
                       battery=battery)
    problem = DispatchProblem([site], step_h=1.0)

    def no_night_charging(prog, p):
        imp = prog.variable("0.import")
        prog.con("mine.night", lambda: imp.isel(t=slice(0, 8)), "<=", p.sites[0].load_mw[:8])

    free = plan_dispatch(problem)
    held = plan_dispatch(problem, extra_constraints=no_night_charging)
    assert free.sites[0].import_mw[:8].max() > 60.0 + 1.0  # the free plan charges at night
    assert held.sites[0].import_mw[:8].max() <= 60.0 + 1e-6
    # closed form: 72 MWh of shifting (the battery's usable energy, lossless) no longer bought at 20 but at 80
    assert held.objective_usd - free.objective_usd == pytest.approx(72.0 * (80.0 - 20.0), rel=1e-6)
    d = Dispatch(problem, extra=no_night_charging)
    assert d.plan().objective_usd == pytest.approx(held.objective_usd)
    again = d.plan(problem)  # re-filled in place: the extra row is still there
    assert again.sites[0].import_mw[:8].max() <= 60.0 + 1e-6

"""KPI arithmetic on small hand-computed cases, including the hourly 24/7 CFE score."""
from __future__ import annotations

import math

import numpy as np
import pytest

from builders import FixedController, make_inputs
from wattscale.engine.simulate import simulate_site
from wattscale.scenario.schema import Battery, Generator
from wattscale.studies.simulation.kpi import hourly_cfe_score, site_kpis


def kpis_of(inputs, controller):
    frame = simulate_site(inputs, controller)
    tl = inputs.timeline
    return site_kpis(frame, inputs.site, step_s=tl.step_s, hour_groups=tl.hour_groups(),
                     month_groups=tl.month_groups(), voll_usd_per_mwh=1000.0)


def follow(n, n_gen=0):
    return FixedController(np.full(n, np.nan), np.full((n_gen, n), np.nan), block_steps=n)


def test_grid_and_pv_hand_case():
    # h0: 100 MW load, 60 MW PV, 40 MW import (grid 50 % carbon-free, 50 USD/MWh, 400 kg/MWh)
    # h1: 100 MW load, no PV, 100 MW import (50 % carbon-free, 100 USD/MWh, 500 kg/MWh)
    inputs = make_inputs([100.0, 100.0], pv_mw=[60.0, 0.0], price=[50.0, 100.0], intensity=[400.0, 500.0],
                         cfe_share=0.5, demand_charge=10.0)
    k = kpis_of(inputs, follow(2))
    assert k["energy_cost_usd"] == pytest.approx(40 * 50 + 100 * 100)
    assert k["demand_charge_usd"] == pytest.approx(100 * 1000 * 10)  # 100 MW peak in one month at 10 USD/kW
    assert k["total_cost_usd"] == pytest.approx(12_000 + 1_000_000)
    assert k["grid_co2_t"] == pytest.approx((40 * 400 + 100 * 500) / 1000)
    assert k["cfe_score_hourly"] == pytest.approx((60 + 40 * 0.5 + 100 * 0.5) / 200)
    assert k["renewable_share"] == pytest.approx(60 / 200)
    assert k["peak_import_mw"] == 100
    assert k["unserved_mwh"] == 0


def test_battery_moves_solar_into_the_night_and_counts_as_carbon_free():
    b = Battery(power_mw=100, energy_mwh=200, charge_efficiency=1, discharge_efficiency=1, soc_min=0, soc_max=1,
                soc_initial=0, self_discharge_per_day=0)
    inputs = make_inputs([100.0, 100.0], pv_mw=[200.0, 0.0], battery=b, cfe_share=0.0)
    k = kpis_of(inputs, follow(2))
    assert k["grid_import_mwh"] == 0
    assert k["cfe_score_hourly"] == pytest.approx(1.0)
    assert k["renewable_share"] == pytest.approx(1.0)
    assert k["battery_equivalent_cycles"] == pytest.approx(100 / 200)


def test_battery_charged_from_dirty_grid_is_not_carbon_free():
    b = Battery(power_mw=50, energy_mwh=100, charge_efficiency=1, discharge_efficiency=1, soc_min=0, soc_max=1,
                soc_initial=0, self_discharge_per_day=0)
    inputs = make_inputs([0.0, 50.0], battery=b, cfe_share=[0.0, 1.0], export_limit_mw=0)
    # h0: charge 50 MW from a 0 % carbon-free grid; h1: serve 50 MW load from the battery only
    k = kpis_of(inputs, FixedController([-50.0, 50.0], np.zeros((0, 2)), block_steps=2))
    assert k["cfe_score_hourly"] == pytest.approx(0.0)


def test_hourly_matching_caps_each_hour_at_its_load():
    load = np.array([10.0, 10.0, 10.0])
    cfe = np.array([30.0, 0.0, 5.0])  # surplus in hour 0 cannot cover hour 1
    assert hourly_cfe_score(load, cfe) == pytest.approx((10 + 0 + 5) / 30)


def test_sub_hourly_steps_are_summed_per_clock_hour():
    # 15-minute steps: 8 steps = 2 hours; PV only in the first hour
    inputs = make_inputs(np.full(8, 40.0), pv_mw=[40, 40, 40, 40, 0, 0, 0, 0], step_s=900, cfe_share=0.25)
    k = kpis_of(inputs, follow(8))
    assert k["cfe_score_hourly"] == pytest.approx((40 + 40 * 0.25) / 80)
    assert k["load_mwh"] == pytest.approx(80)


def test_generator_fuel_co2_start_cost_and_unserved():
    gen = Generator(name="d", kind="diesel", capacity_mw=10, min_load_fraction=0.0, ramp_mw_per_min=100,
                    start_up_time_s=0, start_up_cost_usd=500, heat_rate_mmbtu_per_mwh=10, fuel_price_usd_per_mmbtu=20,
                    co2_kg_per_mmbtu=73.96, variable_om_usd_per_mwh=5)
    up = [True, False, False, True]
    inputs = make_inputs([15.0, 15.0, 15.0, 15.0], generators=[gen], grid_up=up, intensity=0.0)
    k = kpis_of(inputs, follow(4, 1))
    assert k["generation_mwh"] == pytest.approx(20)
    assert k["unserved_mwh"] == pytest.approx(10)
    assert k["unserved_hours"] == 2
    assert k["unserved_cost_usd"] == pytest.approx(10 * 1000)
    assert k["fuel_cost_usd"] == pytest.approx(200 * 20)
    assert k["generator_co2_t"] == pytest.approx(200 * 73.96 / 1000)
    assert k["start_up_cost_usd"] == pytest.approx(500)
    assert k["generator_om_usd"] == pytest.approx(20 * 5)
    assert k["generators"]["d"]["starts"] == 1
    assert math.isclose(k["co2_t"], k["grid_co2_t"] + k["generator_co2_t"])


def test_demand_charge_takes_each_months_peak():
    # 31 days of January at 10 MW plus one February hour at 30 MW
    n = 31 * 24 + 1
    load = np.full(n, 10.0)
    load[-1] = 30.0
    k = kpis_of(make_inputs(load, demand_charge=2.0), follow(n))
    assert k["demand_charge_usd"] == pytest.approx((10 + 30) * 1000 * 2.0)

"""Energy assets against their reference libraries: PV vs pvlib's ModelChain, wind vs windpowerlib, battery fade."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rainflow
from pvlib.location import Location
from pvlib.modelchain import ModelChain
from pvlib.pvsystem import Array, FixedMount, PVSystem, SingleAxisTrackerMount

from wattscale.energy import facility
from wattscale.energy.battery import cycle_fade_fraction, degradation_by_year
from wattscale.energy.solar import TEMPERATURE_PARAMETERS, pv_power_mw
from wattscale.energy.wind import hub_wind_speed, wind_power_mw
from wattscale.scenario.schema import Battery, Solar, TemperaturePUE, Wind
from wattscale.timeseries.weather import read_weather


@pytest.fixture(scope="module")
def tmy3():
    return read_weather(None, "tmy3", field="weather")


@pytest.mark.parametrize("tracking", [False, True])
def test_annual_pv_energy_matches_pvlib_modelchain(tmy3, tracking):
    solar = Solar(capacity_mwdc=100, capacity_mwac=80, tilt_deg=30, azimuth_deg=180, tracking=tracking,
                  system_losses_fraction=0.0, inverter_efficiency=0.96)
    ours_mwh = pv_power_mw(solar, tmy3.frame, tmy3.latitude, tmy3.longitude, tmy3.altitude_m).sum()
    mount = (SingleAxisTrackerMount(axis_azimuth=180, max_angle=60, backtrack=True, gcr=0.35) if tracking
             else FixedMount(surface_tilt=30, surface_azimuth=180))
    system = PVSystem(arrays=[Array(mount, albedo=0.2, module_parameters={"pdc0": 100e6, "gamma_pdc": -0.0035},
                                    temperature_model_parameters=TEMPERATURE_PARAMETERS)],
                      inverter_parameters={"pdc0": 80e6 / 0.96, "eta_inv_nom": 0.96})
    loc = Location(tmy3.latitude, tmy3.longitude, altitude=tmy3.altitude_m)
    mc = ModelChain(system, loc, aoi_model="physical", spectral_model="no_loss", transposition_model="haydavies",
                    losses_model="no_loss")
    weather = tmy3.frame.set_axis(tmy3.frame.index + pd.Timedelta(minutes=30))  # mid-interval sun positions
    mc.run_model(weather)
    ref_mwh = mc.results.ac.clip(lower=0).sum() / 1e6
    assert ours_mwh == pytest.approx(ref_mwh, rel=0.01)
    # sanity: a fixed plant in North Carolina yields 1,200-1,700 kWh per kWdc per year
    assert 1200 < ours_mwh * 1000 / 100e3 < (2000 if tracking else 1700)


def test_pv_never_exceeds_inverter_rating(tmy3):
    solar = Solar(capacity_mwdc=150, capacity_mwac=100)
    p = pv_power_mw(solar, tmy3.frame, tmy3.latitude, tmy3.longitude)
    assert p.max() <= 100 + 1e-9 and p.min() >= 0
    assert (p == 100).sum() > 50  # a DC/AC ratio of 1.5 clips often


def test_wind_follows_the_turbine_power_curve():
    wind = Wind(turbine_type="E-126/4200", n_turbines=10, hub_height_m=135, wake_losses_fraction=0.0)
    from windpowerlib import WindTurbine

    curve = WindTurbine(turbine_type="E-126/4200", hub_height=135).power_curve
    speeds_10m = pd.Series([0.0, 2.0, 4.0, 6.0, 8.0, 30.0])
    frame = pd.DataFrame({"wind_speed": speeds_10m})
    p = wind_power_mw(wind, frame).to_numpy()
    hub = (speeds_10m * (135 / 10) ** (1 / 7)).to_numpy()  # Hellman law, written out independently
    assert np.allclose(hub_wind_speed(wind, speeds_10m, 10.0), hub)
    expect = np.interp(hub, curve["wind_speed"], curve["value"], left=0, right=0) * 10 / 1e6
    assert np.allclose(p, expect)
    assert p[0] == 0 and p[-1] == 0  # below cut-in and beyond cut-out


def test_rainflow_fade_counts_full_cycles():
    b = Battery(power_mw=1, energy_mwh=1, cycle_life_full_dod=5000, dod_exponent=1.3)
    # 100 full cycles 0 -> 1 -> 0 and then 100 half cycles 0.25 -> 0.75
    full = np.tile([0.0, 1.0], 100)
    half = np.tile([0.25, 0.75], 100)
    life_full, efc_full = cycle_fade_fraction(np.concatenate([full, [0.0]]), b)
    life_half, _ = cycle_fade_fraction(np.concatenate([half, [0.25]]), b)
    ref_cycles = sum(c for _, c in rainflow.count_cycles(np.concatenate([full, [0.0]])))
    assert efc_full == pytest.approx(ref_cycles)
    assert life_full == pytest.approx(100 / 5000)
    assert life_half == pytest.approx(100 / (5000 * 0.5**-1.3))


def test_degradation_reports_each_year():
    b = Battery(power_mw=1, energy_mwh=10, calendar_fade_per_year=0.02, end_of_life_capacity=0.8)
    idx = pd.date_range("2023-01-01", periods=2 * 8760, freq="h", tz="UTC")
    soc = np.full(len(idx), 5.0)
    table = degradation_by_year(soc, np.zeros(len(idx)), idx, b)
    assert list(table["year"]) == [2023, 2024]
    assert table["calendar_fade_fraction"].iloc[0] == pytest.approx(0.02)
    assert table["capacity_end_fraction"].iloc[-1] < table["capacity_end_fraction"].iloc[0] < 1


def test_pue_rises_above_free_cooling_and_is_clipped():
    model = TemperaturePUE(pue_min=1.1, free_cooling_below_c=18, slope_per_c=0.01, pue_max=1.3)
    assert np.allclose(facility.pue(model, np.array([-5.0, 18.0, 28.0, 60.0])), [1.1, 1.1, 1.2, 1.3])
    assert np.allclose(facility.pue(1.25, np.zeros(3)), 1.25)

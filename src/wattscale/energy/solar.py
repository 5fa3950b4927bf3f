"""Solar PV output from weather through pvlib.

Model (each step pvlib's own function): solar position at each interval's midpoint; Hay-Davies
transposition to the plane of array (fixed tilt, or a single-axis tracker with backtracking);
physical (Fresnel) incidence-angle loss on the beam component; SAPM cell temperature (open rack,
glass/polymer); PVWatts DC power with its temperature coefficient; flat system losses; PVWatts
inverter clipping at ``capacity_mwac``. No spectral loss.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib

from wattscale.scenario.schema import Solar

TEMPERATURE_PARAMETERS = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]


def pv_power_mw(solar: Solar, weather: pd.DataFrame, latitude: float, longitude: float,
                altitude_m: float = 0.0) -> pd.Series:
    """AC output (MW) of the PV plant for each weather interval (index = interval starts)."""
    step = pd.Timedelta(seconds=float(np.median(np.diff(weather.index.asi8))) / _ticks_per_s(weather.index))
    mid = weather.index + step / 2
    pos = pvlib.solarposition.get_solarposition(mid, latitude, longitude, altitude=altitude_m)
    if solar.tracking:
        trk = pvlib.tracking.singleaxis(pos["apparent_zenith"], pos["azimuth"], axis_azimuth=180.0,
                                        max_angle=60.0, backtrack=True, gcr=0.35)
        tilt = trk["surface_tilt"].fillna(0.0)
        azimuth = trk["surface_azimuth"].fillna(180.0)
    else:
        tilt, azimuth = solar.tilt_deg, solar.azimuth_deg
    dni_extra = pvlib.irradiance.get_extra_radiation(mid)
    w = weather.set_axis(mid)
    poa = pvlib.irradiance.get_total_irradiance(
        tilt, azimuth, pos["apparent_zenith"], pos["azimuth"], w["dni"], w["ghi"], w["dhi"],
        dni_extra=dni_extra, model="haydavies", albedo=solar.albedo)
    aoi = pvlib.irradiance.aoi(tilt, azimuth, pos["apparent_zenith"], pos["azimuth"])
    iam = pvlib.iam.physical(aoi)
    effective = (poa["poa_direct"] * iam + poa["poa_diffuse"]).fillna(0.0).clip(lower=0.0)
    cell_c = pvlib.temperature.sapm_cell(poa["poa_global"].fillna(0.0), w["temp_air"], w["wind_speed"],
                                         **TEMPERATURE_PARAMETERS)
    dc_w = pvlib.pvsystem.pvwatts_dc(effective, cell_c, solar.capacity_mwdc * 1e6, solar.gamma_pdc_per_c)
    dc_w = dc_w * (1.0 - solar.system_losses_fraction)
    ac_w = pvlib.inverter.pvwatts(dc_w, solar.capacity_mwac * 1e6 / solar.inverter_efficiency,
                                  eta_inv_nom=solar.inverter_efficiency)
    return pd.Series(np.clip(ac_w.to_numpy() / 1e6, 0.0, solar.capacity_mwac), index=weather.index, name="pv_mw")


def _ticks_per_s(index: pd.DatetimeIndex) -> float:
    return {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[index.unit]

"""Wind farm output from measured wind speed through a windpowerlib turbine power curve.

Wind speed is extrapolated from the measurement height to hub height with the Hellman power
law (exponent 1/7 by default) or the logarithmic profile (roughness length), both from
windpowerlib; the turbine's OEDB power curve gives power per turbine; a flat wake loss applies.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from windpowerlib import WindTurbine, get_turbine_types, power_output, wind_speed

from wattscale.errors import ScenarioError
from wattscale.scenario.schema import Wind


def turbine(wind: Wind, *, field: str = "wind.turbine_type") -> WindTurbine:
    """The windpowerlib turbine of this farm, with a clear error for unknown types."""
    try:
        t = WindTurbine(turbine_type=wind.turbine_type, hub_height=wind.hub_height_m)
        if t.power_curve is None:
            raise ValueError
        return t
    except Exception:  # noqa: BLE001
        known = get_turbine_types(print_out=False)
        known = known[known["has_power_curve"]]["turbine_type"].tolist()
        import difflib

        hint = difflib.get_close_matches(wind.turbine_type, known, n=3)
        from wattscale.guards import excerpt
        raise ScenarioError(f"unknown turbine type '{excerpt(wind.turbine_type, 40)}'", field=field,
                            expected="a windpowerlib turbine with a power curve"
                                     + (", e.g. " + ", ".join(hint) if hint else "")) from None


def hub_wind_speed(wind: Wind, speed_m_s: pd.Series, measured_at_m: float) -> pd.Series:
    if wind.wind_profile == "hellman":
        return wind_speed.hellman(speed_m_s, measured_at_m, wind.hub_height_m,
                                  hellman_exponent=wind.hellman_exponent)
    return wind_speed.logarithmic_profile(speed_m_s, measured_at_m, wind.hub_height_m, wind.roughness_length_m)


def wind_power_mw(wind: Wind, weather: pd.DataFrame, measured_at_m: float = 10.0) -> pd.Series:
    """Farm output (MW) for each weather interval."""
    t = turbine(wind)
    hub = hub_wind_speed(wind, weather["wind_speed"].clip(lower=0.0), measured_at_m)
    per_turbine_w = power_output.power_curve(hub, t.power_curve["wind_speed"], t.power_curve["value"])
    farm_mw = np.asarray(per_turbine_w, dtype=float) / 1e6 * wind.n_turbines * (1.0 - wind.wake_losses_fraction)
    return pd.Series(farm_mw, index=weather.index, name="wind_mw")


def capacity_mw(wind: Wind) -> float:
    return turbine(wind).nominal_power / 1e6 * wind.n_turbines

"""Unit conversion of input series to wattscale's internal units (MW, USD/MWh, kg/MWh, fraction, C, m/s)."""
from __future__ import annotations

from wattscale.errors import DataError

# Physical ranges of series (the scenario schema uses the same bounds for constants)
MAX_MW = 1e5  # 100 GW: any one asset, connection, load or limit
MAX_PRICE = 1e5  # USD/MWh, either sign (energy prices, thresholds, payments, market floor and cap)
MAX_INTENSITY = 1e4  # kg CO2/MWh (coal is about 1,000)
SERIES_RANGE = {"power": (0.0, MAX_MW), "price": (-MAX_PRICE, MAX_PRICE), "intensity": (0.0, MAX_INTENSITY),
                "fraction": (0.0, 1.0)}

#: quantity -> {unit spelling (lower case, spaces removed): (scale, offset)} giving internal = raw * scale + offset
UNITS: dict[str, dict[str, tuple[float, float]]] = {
    "power": {"w": (1e-6, 0.0), "kw": (1e-3, 0.0), "mw": (1.0, 0.0), "gw": (1e3, 0.0)},
    "price": {"usd/mwh": (1.0, 0.0), "$/mwh": (1.0, 0.0), "usd/kwh": (1e3, 0.0), "$/kwh": (1e3, 0.0)},
    "intensity": {"kg/mwh": (1.0, 0.0), "g/kwh": (1.0, 0.0), "gco2/kwh": (1.0, 0.0), "gco2eq/kwh": (1.0, 0.0),
                  "gco₂eq/kwh": (1.0, 0.0), "kgco2/mwh": (1.0, 0.0), "t/mwh": (1e3, 0.0),
                  "lb/mwh": (0.45359237, 0.0), "lbs/mwh": (0.45359237, 0.0)},
    "fraction": {"fraction": (1.0, 0.0), "1": (1.0, 0.0), "%": (0.01, 0.0), "percent": (0.01, 0.0)},
    "temperature": {"c": (1.0, 0.0), "degc": (1.0, 0.0), "k": (1.0, -273.15), "f": (5 / 9, -32 * 5 / 9)},
    "speed": {"m/s": (1.0, 0.0), "km/h": (1 / 3.6, 0.0)},
    "irradiance": {"w/m2": (1.0, 0.0), "w/m^2": (1.0, 0.0)},
}

#: the internal unit of each quantity, as users should write it
INTERNAL_UNIT = {"power": "MW", "price": "USD/MWh", "intensity": "kg/MWh", "fraction": "fraction",
                 "temperature": "C", "speed": "m/s", "irradiance": "W/m2"}


def unit_factor(quantity: str, unit: str, *, file: str | None = None,
                field: str | None = None) -> tuple[float, float]:
    """Return ``(scale, offset)`` converting ``unit`` to the internal unit of ``quantity``."""
    table = UNITS[quantity]
    key = unit.strip().lower().replace(" ", "")
    if key not in table:
        from wattscale.guards import excerpt
        raise DataError(f"unit '{excerpt(unit, 40)}' is not a {quantity} unit", file=file, field=field,
                        expected="one of " + ", ".join(sorted(_display(quantity))))
    return table[key]


def _display(quantity: str) -> list[str]:
    return {"power": ["W", "kW", "MW", "GW"], "price": ["USD/MWh", "USD/kWh"],
            "intensity": ["kg/MWh", "g/kWh", "t/MWh", "lb/MWh"], "fraction": ["fraction", "%"],
            "temperature": ["C", "K", "F"], "speed": ["m/s", "km/h"], "irradiance": ["W/m2"]}[quantity]

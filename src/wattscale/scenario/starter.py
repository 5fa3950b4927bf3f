"""A commented starter scenario for a campus at a location (``wattscale init``): the nearest built-in market's
prices and carbon, the location's time zone, a year at hourly steps, every section explained."""
from __future__ import annotations

import math
from dataclasses import dataclass

from wattscale.scenario.notes import distance_km


@dataclass(frozen=True)
class Market:
    name: str
    where: tuple[float, float]  # a point in the market, for "nearest"
    timezone: str
    price: str
    intensity: str
    cfe: str


# the markets whose 2023 month-by-hour profiles are built in ('wattscale defaults')
MARKETS = (
    Market("PJM (Dominion zone)", (37.54, -77.44), "America/New_York", "pjm-dom-2023-price", "pjm-2023-intensity",
           "pjm-2023-cfe"),
    Market("ERCOT", (30.27, -97.74), "America/Chicago", "ercot-2023-price", "ercot-2023-intensity", "ercot-2023-cfe"),
    Market("CAISO (NP15)", (38.58, -121.49), "America/Los_Angeles", "caiso-np15-2023-price", "caiso-2023-intensity",
           "caiso-2023-cfe"),
)
FAR_KM = 1_000.0


def nearest_market(latitude: float, longitude: float) -> tuple[Market, float]:
    """The built-in market nearest the site, and how far its reference point is (km)."""
    return min(((m, distance_km((latitude, longitude), m.where)) for m in MARKETS), key=lambda x: x[1])


def starter_scenario(name: str, latitude: float, longitude: float, it_mw: float) -> str:
    """The YAML text of a starter scenario (checked by the caller before it is written)."""
    market, km = nearest_market(latitude, longitude)
    far = (f"\n# NOTE: the nearest built-in market, {market.name}, is {km:,.0f} km away: give this site's own price,"
           "\n# carbon and weather files (see 'Series' in the README)." if km > FAR_KM else "")
    grid_mw = max(math.ceil(1.3 * it_mw * 1.3 * 10) / 10, 0.1)  # IT x PUE, with room; rounded up, never 0
    return f"""# wattscale scenario: {name}
# Started by 'wattscale init'. Check it with 'wattscale validate {name}.yaml', run it with 'wattscale run'.
# Every key is documented in the README ('Scenario files'); 'wattscale schema' gives the JSON Schema.{far}
name: {name}
description: A {it_mw:g} MW (IT) campus at {latitude:.4f}, {longitude:.4f}; grid series of {market.name}.
time:
  start: 2023-01-01
  duration: 365d
  step: 1h                        # 1s .. 1h
  timezone: {market.timezone}
sites:
  - name: campus
    location: {{latitude: {latitude:.4f}, longitude: {longitude:.4f}}}
    weather: default              # the bundled typical year of Greensboro, NC; give your site's own:
    # weather: {{file: site.epw, format: epw}}
    facility:
      it_load_mw: {it_mw:g}              # constant; or workloads: (training jobs, inference fleets; README)
      pue: {{model: temperature, pue_min: 1.1, free_cooling_below_c: 18, slope_per_c: 0.008, pue_max: 1.45}}
    # solar: {{capacity_mwdc: {round(0.6 * it_mw, 1):g}, capacity_mwac: {round(0.5 * it_mw, 1):g}}}
    # wind: {{turbine_type: E-126/4200, n_turbines: 20, hub_height_m: 135}}
    # battery: {{power_mw: {round(0.5 * it_mw, 1):g}, energy_mwh: {round(2 * it_mw, 1):g}}}
    # generators: [{{name: gt1, kind: gas_turbine, capacity_mw: {round(0.5 * it_mw, 1):g}}}]
    grid:
      import_limit_mw: {grid_mw:g}         # the connection (IT load x PUE, with room)
      price_usd_per_mwh: {{default: {market.price}}}      # or {{file: prices.csv, column: ..., unit: USD/MWh}}
      intensity_kg_per_mwh: {{default: {market.intensity}}}
      cfe_share: {{default: {market.cfe}}}
controller:
  kind: rules                     # or kind: mpc (linopy + HiGHS; README 'Optimisation')
"""

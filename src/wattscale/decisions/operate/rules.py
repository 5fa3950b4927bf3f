"""Rule-based controller: renewables first, battery on surplus / deficit and price, generators as backup."""
from __future__ import annotations

import numpy as np

from wattscale.decisions.protocol import FOLLOW, Setpoints, SiteForecast, SiteState


class RuleController:
    """Battery charges on surplus (and at full power below ``charge_below``), discharges on deficit (and at
    full power above ``discharge_above``, down to ``reserve_mwh``); generators follow whatever the grid cannot
    supply."""

    def __init__(self, *, n_generators: int, battery_power_mw: float, block_steps: int, reserve_mwh: float = 0.0,
                 charge_below_usd_per_mwh: float | None = None, discharge_above_usd_per_mwh: float | None = None,
                 discharge_on_deficit: bool = True) -> None:
        self.n_generators = n_generators
        self.battery_power_mw = battery_power_mw
        self.block_steps = block_steps
        self.horizon_steps = block_steps
        self.charge_below = charge_below_usd_per_mwh
        self.discharge_above = discharge_above_usd_per_mwh
        self.discharge_on_deficit = discharge_on_deficit
        self.reserve_mwh = reserve_mwh

    def decide(self, state: SiteState, forecast: SiteForecast) -> Setpoints:
        n = len(forecast.price_usd_per_mwh)
        points = Setpoints.follow(n, self.n_generators)
        battery = points.battery_mw
        price = forecast.price_usd_per_mwh
        points.battery_grid_first[:] = not self.discharge_on_deficit
        points.battery_reserve_mwh = self.reserve_mwh
        if self.charge_below is not None:
            battery[price < self.charge_below] = -self.battery_power_mw
        if self.discharge_above is not None:
            battery[price > self.discharge_above] = self.battery_power_mw
        battery[~forecast.grid_available & ~np.isnan(battery)] = FOLLOW  # islanded: battery balances
        return points

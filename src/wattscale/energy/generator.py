"""Dispatchable generator figures on a timeline: marginal cost, emissions, ramp and warm-up in steps."""
from __future__ import annotations

import math

from wattscale.scenario.schema import Generator


def marginal_cost_usd_per_mwh(g: Generator) -> float:
    """Fuel plus variable O&M per MWh of output."""
    return g.heat_rate_mmbtu_per_mwh * g.fuel_price_usd_per_mmbtu + g.variable_om_usd_per_mwh


def co2_kg_per_mwh(g: Generator) -> float:
    return g.heat_rate_mmbtu_per_mwh * g.co2_kg_per_mmbtu


def ramp_mw_per_step(g: Generator, step_s: float) -> float:
    return g.ramp_mw_per_min * step_s / 60.0


def start_steps(g: Generator, step_s: float) -> int:
    """Whole steps of warm-up without output after a start command (a start-up time rounds up)."""
    return math.ceil(g.start_up_time_s / step_s - 1e-9)

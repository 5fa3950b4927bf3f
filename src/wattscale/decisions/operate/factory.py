"""Build the controller a scenario asks for."""
from __future__ import annotations

from wattscale.decisions.operate.rules import RuleController
from wattscale.decisions.protocol import Controller
from wattscale.scenario.schema import RulesController


def build_controller(spec: RulesController, *, n_generators: int, battery_power_mw: float,
                     battery_energy_mwh: float, step_s: int) -> Controller:
    block_steps = max(1, 86400 // step_s)
    if spec.kind == "rules":
        return RuleController(n_generators=n_generators, battery_power_mw=battery_power_mw,
                              block_steps=block_steps, reserve_mwh=spec.backup_reserve_fraction * battery_energy_mwh,
                              charge_below_usd_per_mwh=spec.charge_below_usd_per_mwh,
                              discharge_above_usd_per_mwh=spec.discharge_above_usd_per_mwh,
                              discharge_on_deficit=spec.discharge_on_deficit)
    raise ValueError(f"unknown controller kind {spec.kind}")

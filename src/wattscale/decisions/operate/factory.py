"""Build the controller a scenario asks for, and the forecaster the engine feeds it through."""
from __future__ import annotations

from wattscale.decisions.forecast.baseline import Noisy, PerfectForesight
from wattscale.decisions.forecast.feed import Learned
from wattscale.decisions.operate.mpc import MpcController
from wattscale.decisions.operate.rules import RuleController
from wattscale.decisions.protocol import Controller, SiteAssets
from wattscale.scenario.schema import MpcController as MpcSpec
from wattscale.scenario.schema import RulesController


def build_controller(spec: RulesController | MpcSpec, assets: SiteAssets, *, carbon_price_usd_per_t: float = 0.0,
                     value_of_lost_load_usd_per_mwh: float = 10_000.0) -> Controller:
    if spec.kind == "mpc":
        return MpcController(spec, assets, carbon_price_usd_per_t=carbon_price_usd_per_t,
                             value_of_lost_load_usd_per_mwh=value_of_lost_load_usd_per_mwh)
    b = assets.battery
    return RuleController(n_generators=len(assets.generators), battery_power_mw=b.power_mw if b else 0.0,
                          block_steps=max(1, 86400 // assets.step_s),
                          reserve_mwh=spec.backup_reserve_fraction * (b.energy_mwh if b else 0.0),
                          charge_below_usd_per_mwh=spec.charge_below_usd_per_mwh,
                          discharge_above_usd_per_mwh=spec.discharge_above_usd_per_mwh,
                          discharge_on_deficit=spec.discharge_on_deficit)


def build_forecaster(spec: RulesController | MpcSpec, step_s: int):
    """What the controller may know of the horizon: the truth for the rules (they look at the present only) and
    for a perfect-foresight MPC; otherwise the truth with growing noise, or a forecasting model fed only what
    has been observed."""
    if spec.kind != "mpc" or spec.forecaster == "perfect":
        return PerfectForesight()
    if spec.forecaster == "noisy":
        return Noisy(max(1, round(86400 / step_s)), spec.noise_fraction, spec.seed)
    block = max(1, round(spec.replan_every_h * 3600 / step_s))
    horizon = max(block, round(spec.horizon_h * 3600 / step_s))
    return Learned(spec.forecaster, horizon_steps=horizon, block_steps=block,
                   refit_every_steps=max(1, round(spec.refit_every_h * 3600 / step_s)))

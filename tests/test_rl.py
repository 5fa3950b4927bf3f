"""The Gymnasium environment: Gymnasium's own checker, the engine's results replayed to 1e-9 by the rule
controller's actions, and rewards that add up to the run study's system cost."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from wattscale.decisions.operate.factory import build_controller
from wattscale.decisions.protocol import SiteState
from wattscale.engine.campus import prepare
from wattscale.engine.kernel import ON
from wattscale.engine.simulate import simulate, site_assets, site_forecast
from wattscale.errors import ScenarioError
from wattscale.rl import CampusEnv, setpoints_to_actions
from wattscale.studies.registry import run_study

ROOT = Path(__file__).resolve().parents[1]
DEMO = (ROOT / "examples" / "llm-campus.yaml").read_text()
DAYS = DEMO.replace("start: 2023-01-01\n  duration: 365d", "start: 2023-07-17\n  duration: 3d")  # with an outage


def test_the_environment_passes_gymnasiums_checker():
    env = CampusEnv(DAYS, episode_steps=48)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unbounded observations (MW, USD) are warned about, not wrong
        check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (len(env.observation_names),)
    obs, info = env.reset(seed=3)
    again, info2 = env.reset(seed=3)
    assert info == info2 and np.array_equal(obs, again)  # seeds make episodes reproducible


def _replay_rules(env: CampusEnv) -> float:
    controller = build_controller(env.campus.scenario.controller, site_assets(env.inputs))
    env.reset(options={"start_step": 0})
    total = 0.0
    for b0 in range(0, env.n, controller.block_steps):
        state = SiteState(step=b0, time=env.inputs.timeline.index[b0], soc_mwh=float(env.soc_state[0]),
                          generator_power_mw=env.gen_power.copy(), generator_on=env.gen_state == ON)
        points = controller.decide(state, site_forecast(env.inputs, b0, min(env.n, b0 + controller.horizon_steps)))
        for action in setpoints_to_actions(env, points)[: min(controller.block_steps, env.n - b0)]:
            total += env.step(action)[1]
    return total


def test_the_rule_controllers_actions_reproduce_the_engine_and_its_costs():
    env = CampusEnv(DAYS, episode_steps=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)  # leaves steps behind: a reset must forget them
    reward = _replay_rules(env)
    ours, engine = env.frame(), simulate(prepare(DAYS)).steps["campus"]
    assert list(ours.columns) == list(engine.columns)
    np.testing.assert_allclose(ours.to_numpy(float), engine.to_numpy(float), rtol=0, atol=1e-9)
    assert engine["unserved_mw"].sum() == 0 and (~engine["grid_available"]).any()  # the outage is in it
    system_cost = run_study("run", DAYS).kpis["system_cost_usd"]
    assert -reward == pytest.approx(system_cost, rel=1e-9)


def test_actions_are_the_engines_setpoints():
    env = CampusEnv(DAYS, episode_steps=12, start_step=0)
    env.reset()
    follow = np.zeros(1 + env.n_gen, dtype=np.int8)
    follow[1:] = 1  # generators follow; the battery charges at 100 MW
    action = {"follow": follow, "battery_mw": np.array([-100.0]), "generator_mw": np.zeros(env.n_gen),
              "compute_shed_mw": np.zeros(env.n_flex)}
    soc = [env.soc_state[0]]
    for _ in range(12):
        obs, reward, done, truncated, info = env.step(action)
        soc.append(env.soc_state[0])
        assert reward == pytest.approx(-info["cost_usd"])
    gained = np.diff(soc)
    charged = env.frame()["battery_charge_mw"].to_numpy()[:12]
    # charging at the setpoint, less where the 350 MW connection cannot carry load and charge (no generator
    # starts to charge a battery): the kernel's rule, the same as the engine's
    assert done and np.all(charged <= 100 + 1e-9) and np.all(charged > 50)
    self_discharge = np.array(soc[:-1]) * (1 - env.bp[5])  # 0.05 % a day
    np.testing.assert_allclose(gained, charged * env.dt_h * env.battery.charge_efficiency - self_discharge, atol=1e-5)
    assert obs[0] == pytest.approx(soc[-1] / env.battery.energy_mwh)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(action)
    env.reset()
    with pytest.raises(ValueError, match="finite"):
        env.step({**action, "battery_mw": np.array([np.nan])})  # would otherwise mean 'follow', silently
    env.step({**action, "battery_mw": np.array([-1e9])})  # clipped to the battery's power
    assert env.frame()["battery_charge_mw"].iloc[0] <= env.battery.power_mw + 1e-9


def test_an_episode_starting_mid_month_charges_only_the_rise_of_its_peak():
    env = CampusEnv(DEMO, episode_steps=288, start_step=288 * 10)  # 11 January
    env.reset()
    follow = {"follow": np.ones(1 + env.n_gen, dtype=np.int8), "battery_mw": np.zeros(1),
              "generator_mw": np.zeros(env.n_gen), "compute_shed_mw": np.zeros(env.n_flex)}
    costs = [env.step(follow)[4]["cost_usd"] for _ in range(288)]
    energy_first = env.frame()["grid_import_mw"].iloc[288 * 10] * env.inputs.price_usd_per_mwh[288 * 10] * env.dt_h
    assert costs[0] < 10 * energy_first + 1e3  # no whole month's demand charge on the first step
    assert env.generator_names == [g.name for g in env.inputs.generators] and len(env.workload_names) == env.n_flex


def test_episodes_that_do_not_fit_are_refused():
    with pytest.raises(ScenarioError, match="episode_steps"):
        CampusEnv(DAYS, episode_steps=10**7)
    with pytest.raises(ScenarioError, match="start_step"):
        CampusEnv(DAYS, episode_steps=100, start_step=860)
    with pytest.raises(ScenarioError, match="horizon_steps"):
        CampusEnv(DAYS, horizon_steps=-1)
    from tests.test_fleet import scenario

    with pytest.raises(ScenarioError, match="FleetEnv"):
        CampusEnv(scenario("  migration: [{between: [a, b], max_mw: 8}]\n"))


def test_the_fleet_environment_replays_the_rule_coordinator_exactly():
    from wattscale.engine.coupling import couple
    from wattscale.rl import FleetEnv
    from tests.test_fleet import scenario

    text = scenario("  migration: [{between: [a, b], max_mw: 8, cost_usd_per_mwh: 2}]\n"
                    "  shared_connections: [{name: sub, sites: [a, b], import_limit_mw: 45}]\n")
    env = FleetEnv(text, episode_steps=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)
    campus = prepare(text)
    moved = couple(campus.scenario.fleet, {s: campus.inputs(s) for s in ("a", "b")}).moved_it_mw
    env.reset(options={"start_step": 0})
    controllers = {s: build_controller(campus.scenario.controller, site_assets(env.sites[s].inputs))
                   for s in env.names}
    total = 0.0
    block = controllers["a"].block_steps
    for b0 in range(0, env.n, block):
        plans = {}
        for s, site_env in env.sites.items():
            state = SiteState(step=b0, time=site_env.inputs.timeline.index[b0], soc_mwh=float(site_env.soc_state[0]),
                              generator_power_mw=site_env.gen_power.copy(), generator_on=site_env.gen_state == ON)
            points = controllers[s].decide(state, site_forecast(site_env.inputs, b0, min(env.n, b0 + block)))
            plans[s] = setpoints_to_actions(site_env, points)
        for j in range(min(block, env.n - b0)):
            t = b0 + j
            action = {s: plans[s][j] for s in env.names}
            action["move_it_mw"] = np.array([moved[("a", "b")][t], moved[("b", "a")][t]])
            total += env.step(action)[1]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(action)
    engine = run_study("run", text)
    for name, frame in env.frames().items():
        ours, theirs = frame, engine.value.steps[name]
        cols = [c for c in ours.columns if c in theirs.columns]
        np.testing.assert_allclose(ours[cols].to_numpy(float), theirs[cols].to_numpy(float), rtol=0, atol=1e-9)
    assert -total == pytest.approx(engine.kpis["system_cost_usd"], rel=1e-9)

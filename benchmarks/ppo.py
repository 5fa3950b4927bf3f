"""A learned controller, measured honestly: PPO (Stable-Baselines3) trained on the reference campus in June 2023
and evaluated on the first week of July against the rule controller and MPC, on the same physics (the engine's
kernel) and the same knowledge of the future (perfect foresight: PPO sees the next hour, MPC plans 48 h).

The policy sets the battery's power and how much flexible compute to shed each 5-minute step (generators follow,
covering what the grid and battery cannot, as with the rules); its reward is minus the step's system cost.
Printed: system cost, CO2, unserved energy and compute shed over the held-out week for each controller, whatever
they show. Needs the optional extra: pip install -e '.[rl]'.

Run: python benchmarks/ppo.py [--timesteps 200000] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEMO = (ROOT / "examples" / "llm-campus.yaml").read_text()
TRAIN = DEMO.replace("start: 2023-01-01\n  duration: 365d", "start: 2023-06-01\n  duration: 30d")
HELD_OUT = DEMO.replace("start: 2023-01-01\n  duration: 365d", "start: 2023-07-01\n  duration: 7d")
for text in (TRAIN, HELD_OUT):
    assert text != DEMO


def without_other_windows(text: str) -> str:
    """The campus without its July outage and study sections (they fall outside these windows)."""
    from wattscale.scenario.load import parse_yaml

    import yaml

    data = parse_yaml(text, file="<campus>", what="scenario", keys="sites")
    data["sites"][0]["grid"].pop("outages", None)
    for key in ("swings", "sizing", "market", "gridcode", "resilience", "power_system"):
        data.pop(key, None)
    return yaml.safe_dump(data, sort_keys=False)


def kpis_of(frame, env) -> dict:
    from wattscale.studies.simulation.kpi import site_kpis

    tl = env.inputs.timeline
    k = site_kpis(frame, env.site, step_s=tl.step_s, hour_groups=tl.hour_groups(), month_groups=tl.month_groups(),
                  voll_usd_per_mwh=env.campus.scenario.value_of_lost_load_usd_per_mwh,
                  carbon_price_usd_per_t=env.campus.scenario.carbon_price_usd_per_t)
    return {"system cost (USD)": k["system_cost_usd"], "CO2 (t)": k["co2_t"], "unserved (MWh)": k["unserved_mwh"],
            "compute shed (MWh)": k["compute_shed_mwh"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timesteps", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        from stable_baselines3 import PPO
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize
    except ImportError:
        sys.exit("PPO needs the optional extra: pip install -e '.[rl]'")
    from wattscale.engine.campus import prepare
    from wattscale.engine.simulate import simulate
    from wattscale.rl import BatteryAndShedActions, CampusEnv

    train, held = without_other_windows(TRAIN), without_other_windows(HELD_OUT)
    scale = 1e-4  # rewards in units of 10,000 USD per step keep PPO's value function in range
    venv = VecNormalize(DummyVecEnv([lambda: BatteryAndShedActions(CampusEnv(train, episode_steps=2016,
                                                                            reward_scale=scale))]),
                        norm_obs=True, norm_reward=True)
    venv.seed(args.seed)
    model = PPO("MlpPolicy", venv, seed=args.seed, n_steps=2016, batch_size=288, learning_rate=3e-4, gamma=0.995,
                verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=args.timesteps)
    train_s = time.perf_counter() - start
    venv.training = False
    env = CampusEnv(held, episode_steps=None, start_step=0, reward_scale=scale)
    wrapped = BatteryAndShedActions(env)
    obs, _ = wrapped.reset()
    done = False
    while not done:
        action, _ = model.predict(venv.normalize_obs(obs[None, :]), deterministic=True)
        obs, _, done, _, _ = wrapped.step(action[0])
    rows = {"PPO (learned)": kpis_of(env.frame(), env)}
    rules = simulate(prepare(held)).steps["campus"]
    rows["rules"] = kpis_of(rules, env)
    mpc = prepare(held).with_changes({"controller": {"kind": "mpc", "horizon_h": 48, "replan_every_h": 24,
                                                     "forecaster": "perfect", "commitment": "relaxed"}})
    rows["MPC (48 h, perfect foresight)"] = kpis_of(simulate(mpc).steps["campus"], env)
    print(f"PPO trained {args.timesteps:,} steps on June 2023 in {train_s:.0f} s; held out: 1-7 July 2023 "
          f"(2,016 steps of 5 min)")
    head = f"{'controller':32s}{'system cost USD':>18s}{'CO2 t':>10s}{'unserved MWh':>14s}{'shed MWh':>10s}"
    print(head)
    for name, k in rows.items():
        print(f"{name:32s}{k['system cost (USD)']:>18,.0f}{k['CO2 (t)']:>10,.0f}{k['unserved (MWh)']:>14,.1f}"
              f"{k['compute shed (MWh)']:>10,.1f}")


if __name__ == "__main__":
    main()

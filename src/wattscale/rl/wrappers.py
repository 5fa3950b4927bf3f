"""A flat action space for learning libraries that take one ``Box`` (Stable-Baselines3's PPO): the battery's
power and each flexible workload's shed as shares in [-1, 1], generators following (covering what the grid and
battery cannot), as the engine's rule controller lets them."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from wattscale.rl.env import CampusEnv


class BatteryAndShedActions(gym.ActionWrapper):
    """Actions ``[battery, shed_1 .. shed_W]`` in [-1, 1]: battery -1 charges at full power, +1 discharges at full
    power; a workload's -1 sheds nothing, +1 its whole envelope at this step."""

    def __init__(self, env: CampusEnv) -> None:
        super().__init__(env)
        self.campus_env = env
        self.action_space = spaces.Box(-1.0, 1.0, (1 + env.n_flex,), np.float32)
        self._power = float(env.battery.power_mw) if env.battery is not None else 0.0
        self._follow = np.ones(1 + env.n_gen, dtype=np.int8)
        self._follow[0] = 0 if env.battery is not None else 1

    def action(self, act) -> dict:
        env = self.campus_env
        act = np.clip(np.asarray(act, float), -1.0, 1.0)
        out = {"follow": self._follow}
        if env.battery is not None:
            out["battery_mw"] = np.array([act[0] * self._power])
        if env.n_gen:
            out["generator_mw"] = np.zeros(env.n_gen)
        if env.n_flex:
            t = min(env._t, env.n - 1)
            out["compute_shed_mw"] = (act[1:] + 1.0) / 2.0 * env.flex_mw[:, t]
        return out

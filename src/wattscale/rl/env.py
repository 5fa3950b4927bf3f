"""``CampusEnv``: one site of a scenario as a Gymnasium environment, stepped by the engine's own numba kernel.

Each ``step`` is one step of the scenario's timeline (e.g. 5 minutes): the action is that step's setpoints, the
kernel resolves them exactly as ``simulate`` does (so a policy's actions get exactly the engine's physics), and
the reward is minus the step's system cost.

**Action** (``gymnasium.spaces.Dict``):

- ``battery_mw`` ``Box(-P, P, (1,))``: + discharge, - charge (MW), when the site has a battery;
- ``generator_mw`` ``Box(0, capacity, (G,))``: each generator's setpoint (MW), in merit order
  (``generator_names``), when it has generators;
- ``follow`` ``MultiBinary(1 + G)``: 1 lets the battery (first) or a generator *follow*: balance the site in merit
  order within its limits, as the engine's rule controller asks (the value given for it is then ignored);
- ``compute_shed_mw`` ``Box(0, envelope, (W,))``: facility MW of each flexible workload to shed on purpose
  (``workload_names``).

Values outside their ``Box`` are clipped to it; NaN or infinity is refused with a ``ValueError``.

**Observation** (``Box`` of ``observation_names``): state of charge (share), each generator's on-state and output
(share of capacity), this step's load, PV, wind, price, carbon intensity, import limit and grid availability,
the next ``horizon_steps`` of load, PV, wind and price (perfect foresight, as the engine's default forecaster),
the hour and weekday as sine and cosine, and the month's peak import so far.

**Reward**: minus the step's cost in USD: grid energy less export revenue, fuel, generator O&M and start-ups,
battery wear, demand-response payments forgone, carbon at the scenario's price, unserved energy at the value of
lost load, compute given up at its value, and the demand charge as the month's peak import rises (an episode that
starts mid-month takes its first step's import as the peak so far). Summed over a whole timeline it is minus the
system cost the ``run`` study reports (tested).

An episode is ``episode_steps`` steps from ``start_step`` (default: a random step drawn with the seed given to
``reset``), or the whole timeline.
"""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from wattscale.engine.kernel import ON, run_block
from wattscale.errors import ScenarioError

MAX_HORIZON_STEPS = 2016  # a week of 5-minute steps in every observation is already a wide one


class CampusEnv(gym.Env):
    """One site of ``scenario`` (a path, YAML text, Scenario or prepared campus) as an environment."""

    metadata = {"render_modes": []}

    def __init__(self, scenario, *, site: str | None = None, episode_steps: int | None = 288,
                 start_step: int | None = None, horizon_steps: int = 12, reward_scale: float = 1.0,
                 coupled: bool = False) -> None:
        from wattscale.decisions.operate.factory import build_controller
        from wattscale.engine.campus import prepare
        from wattscale.engine.simulate import site_assets

        campus = prepare(scenario)
        if campus.scenario.fleet is not None and not coupled:
            raise ScenarioError("the scenario couples its sites (a fleet section): one site alone would ignore that",
                                field="fleet", expected="wattscale.rl.FleetEnv for the coupled sites")
        if not (isinstance(horizon_steps, int) and 0 <= horizon_steps <= MAX_HORIZON_STEPS):
            raise ScenarioError(f"horizon_steps {horizon_steps!r:.30} is out of range", field="horizon_steps",
                                expected=f"a whole number of steps from 0 to {MAX_HORIZON_STEPS}")
        self.campus = campus
        self.inputs = inp = campus.inputs(site)
        self.site = inp.site
        tl = inp.timeline
        self.n = tl.n_steps
        self.dt_h = tl.step_h
        self.episode_steps = self.n if episode_steps is None else int(episode_steps)
        if not 1 <= self.episode_steps <= self.n:
            raise ScenarioError(f"episode_steps {episode_steps} does not fit a timeline of {self.n} steps",
                                field="episode_steps", expected=f"1 to {self.n}")
        if start_step is not None and not 0 <= start_step <= self.n - self.episode_steps:
            raise ScenarioError(f"start_step {start_step} leaves no room for the episode", field="start_step",
                                expected=f"0 to {self.n - self.episode_steps}")
        self.start_step = start_step
        self.horizon = int(horizon_steps)
        self.reward_scale = float(reward_scale)
        self.bp, self.gp = inp.battery_params(), inp.generator_params()
        self.flex_mw, self._budget0 = inp.flex_params()
        self.gens = inp.generators
        self.n_gen, self.n_flex = len(self.gens), len(self.flex_mw)
        #: the order of ``generator_mw`` and of the generators' ``follow`` flags (merit order, cheapest first)
        self.generator_names = [g.name for g in self.gens]
        #: the order of ``compute_shed_mw`` (cheapest to shed first)
        self.workload_names = [e.name for e in inp.envelopes]
        battery = self.site.battery
        self.battery = battery
        scen = campus.scenario
        rules = build_controller(scen.controller, site_assets(inp)) if scen.controller.kind == "rules" else None
        #: the rule controller's battery reserve and grid-first setting, so that its actions replay exactly
        self.reserve_mwh = float(getattr(rules, "reserve_mwh", 0.0) or 0.0)
        self.grid_first = bool(rules is not None and not rules.discharge_on_deficit)
        self._costs(scen)
        self._spaces()
        self._month = tl.month_groups()
        idx = tl.index
        hours = idx.hour.to_numpy() + idx.minute.to_numpy() / 60
        days = idx.dayofweek.to_numpy()
        h = self.horizon
        ahead = []
        for a in (inp.load_mw, inp.pv_mw, inp.wind_mw, inp.price_usd_per_mwh):  # the next h steps (the last repeats)
            padded = np.concatenate([np.asarray(a, float), np.repeat(np.asarray(a, float)[-1:], h)])
            ahead.append(np.lib.stride_tricks.sliding_window_view(padded[1:], h)[: self.n])
        #: what an observation holds that does not depend on the actions, one row per step (computed once)
        self._static = np.column_stack([
            inp.load_mw, inp.pv_mw, inp.wind_mw, inp.price_usd_per_mwh, inp.intensity_kg_per_mwh,
            np.minimum(inp.import_limit_mw, 1e9), inp.grid_up.astype(float), *ahead,
            np.sin(2 * np.pi * hours / 24), np.cos(2 * np.pi * hours / 24), np.sin(2 * np.pi * days / 7),
            np.cos(2 * np.pi * days / 7)]).astype(float)
        self._n_dynamic = 1 + 2 * self.n_gen
        self._alloc()
        self._t = self._end = 0

    # ------------------------------------------------------------ spaces
    def _spaces(self) -> None:
        act = {}
        if self.battery is not None:
            p = float(self.battery.power_mw)
            act["battery_mw"] = spaces.Box(-p, p, (1,), np.float64)
        if self.n_gen:
            act["generator_mw"] = spaces.Box(0.0, np.array([g.capacity_mw for g in self.gens], float),
                                             (self.n_gen,), np.float64)
        act["follow"] = spaces.MultiBinary(1 + self.n_gen)
        if self.n_flex:
            act["compute_shed_mw"] = spaces.Box(0.0, np.maximum(self.flex_mw.max(axis=1), 0.0), (self.n_flex,),
                                                np.float64)
        self.action_space = spaces.Dict(act)
        names = ["soc_share"] + [f"{g.name}_on" for g in self.gens] + [f"{g.name}_output_share" for g in self.gens]
        names += ["load_mw", "pv_mw", "wind_mw", "price_usd_per_mwh", "intensity_kg_per_mwh", "import_limit_mw",
                  "grid_available"]
        names += [f"{q}_ahead_{k + 1}" for q in ("load_mw", "pv_mw", "wind_mw", "price_usd_per_mwh")
                  for k in range(self.horizon)]
        names += ["hour_sin", "hour_cos", "weekday_sin", "weekday_cos", "month_peak_import_mw"]
        #: what each entry of an observation is, in order
        self.observation_names = names
        self.observation_space = spaces.Box(-np.inf, np.inf, (len(names),), np.float64)

    def _costs(self, scen) -> None:
        inp = self.inputs
        g = self.gens
        self._fuel_usd = np.array([x.heat_rate_mmbtu_per_mwh * x.fuel_price_usd_per_mmbtu for x in g], float)
        self._om_usd = np.array([x.variable_om_usd_per_mwh for x in g], float)
        self._start_usd = np.array([x.start_up_cost_usd for x in g], float)
        self._gen_co2_kg = np.array([x.heat_rate_mmbtu_per_mwh * x.co2_kg_per_mmbtu for x in g], float)
        self._wear_usd = float(self.battery.wear_cost_usd_per_mwh) if self.battery is not None else 0.0
        self._carbon_usd_per_kg = scen.carbon_price_usd_per_t / 1e3
        self._voll = scen.value_of_lost_load_usd_per_mwh
        self._compute_usd = np.array([e.cost_usd_per_mwh for e in inp.envelopes], float)
        self._demand_usd_per_mw = self.site.grid.demand_charge_usd_per_kw_month * 1000.0
        self._dr_hold = inp.dr_soft_mw if inp.dr_soft_mw is not None else np.full(self.n, np.inf)
        self._dr_pay = inp.dr_payment_usd_per_mwh if inp.dr_payment_usd_per_mwh is not None else np.zeros(self.n)

    def _alloc(self) -> None:
        n, g = self.n, self.n_gen
        self.out = {k: np.zeros(n) for k in ("curtailed", "charge", "discharge", "soc", "import", "export",
                                             "unserved", "dumped")}
        self.gen_out = np.zeros((g, n))
        self.gen_start = np.zeros((g, n), dtype=np.int64)
        self.flex_shed = np.zeros_like(self.flex_mw)
        self._bt, self._gf = np.zeros(1), np.zeros(1, dtype=np.bool_)
        self._gt, self._st, self._xt = np.zeros((g, 1)), np.zeros((self.n_flex, 1)), np.full(1, np.inf)

    # ------------------------------------------------------------ episode
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        start = (options or {}).get("start_step", self.start_step)
        if start is None:
            start = int(self.np_random.integers(0, self.n - self.episode_steps + 1))
        if not 0 <= int(start) <= self.n - self.episode_steps:
            raise ScenarioError(f"start_step {start} leaves no room for the episode", field="start_step",
                                expected=f"0 to {self.n - self.episode_steps}")
        self._t, self._end = int(start), int(start) + self.episode_steps
        for a in (*self.out.values(), self.gen_out, self.gen_start, self.flex_shed):  # nothing of an earlier episode
            a[..., self._t: self._end] = 0
        b = self.battery
        self.soc_state = np.array([b.soc_initial * b.energy_mwh if b else 0.0])
        self.gen_state = np.zeros(self.n_gen, dtype=np.int64)
        self.gen_timer = np.zeros(self.n_gen, dtype=np.int64)
        self.gen_power = np.zeros(self.n_gen)
        self.flex_budget = self._budget0.copy()
        self._month_now = self._month[self._t]
        # the month's peak so far: zero when the episode starts its month; else unknown, so the first step sets it
        # without charge and only what rises above it is charged
        self.month_peak = 0.0 if self._t == 0 or self._month[self._t - 1] != self._month_now else None
        return self._observation(), {"step": self._t, "time": str(self.inputs.timeline.index[self._t])}

    def step(self, action):
        if self._t >= self._end:
            raise RuntimeError("the episode is over: call reset()")
        t, inp = self._t, self.inputs
        follow = np.asarray(action["follow"], dtype=bool)
        self._bt[0] = math.nan if follow[0] or self.battery is None else self._value(action, "battery_mw")[0]
        if self.n_gen:
            self._gt[:, 0] = np.where(follow[1:], np.nan, self._value(action, "generator_mw"))
        if self.n_flex:
            self._st[:, 0] = self._value(action, "compute_shed_mw")
        self._gf[0] = self.grid_first
        o = self.out
        run_block(t, t + 1, self.dt_h, inp.load_mw, inp.pv_mw, inp.wind_mw, inp.grid_up, inp.import_limit_mw,
                  inp.export_limit_mw, self._bt, self._gf, self.reserve_mwh, self._gt, self.bp, self.gp, self._st,
                  self._xt, self.flex_mw, self.soc_state, self.gen_state, self.gen_timer, self.gen_power,
                  self.flex_budget, o["curtailed"], o["charge"], o["discharge"], o["soc"], self.gen_out,
                  self.gen_start, o["import"], o["export"], self.flex_shed, o["unserved"], o["dumped"])
        cost = self._step_cost(t)
        self._t += 1
        done = self._t >= self._end
        obs = self._observation() if not done else self._observation(t)
        return obs, -cost * self.reward_scale, done, False, {"cost_usd": cost}

    def _value(self, action: dict, key: str) -> np.ndarray:
        """Action ``key`` clipped to its space; NaN or infinity is refused (NaN would silently mean 'follow')."""
        space = self.action_space[key]
        value = np.asarray(action[key], dtype=float).reshape(space.shape)
        if not np.isfinite(value).all():
            hint = "" if key == "compute_shed_mw" else " (a 'follow' flag lets it follow)"
            raise ValueError(f"action '{key}' holds {value.tolist()!s:.80}: each value must be a finite number of "
                             f"MW within [{space.low.min():g}, {space.high.max():g}]{hint}")
        return np.clip(value, space.low, space.high)

    def _step_cost(self, t: int) -> float:
        inp, o, dt = self.inputs, self.out, self.dt_h
        imp = o["import"][t]
        gen = self.gen_out[:, t]
        cost = imp * inp.price_usd_per_mwh[t] * dt - o["export"][t] * inp.export_price_usd_per_mwh[t] * dt
        cost += float(gen @ self._fuel_usd) * dt + float(gen @ self._om_usd) * dt
        cost += float(self.gen_start[:, t] @ self._start_usd)
        cost += o["discharge"][t] * dt * self._wear_usd
        hold = self._dr_hold[t]
        if imp > hold:
            cost += (imp - hold) * self._dr_pay[t] * dt
        co2 = imp * inp.intensity_kg_per_mwh[t] * dt + float(gen @ self._gen_co2_kg) * dt
        cost += co2 * self._carbon_usd_per_kg + o["unserved"][t] * dt * self._voll
        if self.n_flex:
            cost += float(self.flex_shed[:, t] @ self._compute_usd) / inp.pue[t] * dt
        if self._month[t] != self._month_now:
            self._month_now, self.month_peak = self._month[t], 0.0
        if self.month_peak is None:
            self.month_peak = imp
        if imp > self.month_peak:
            cost += (imp - self.month_peak) * self._demand_usd_per_mw
            self.month_peak = imp
        return float(cost)

    def _observation(self, t: int | None = None) -> np.ndarray:
        t = self._t if t is None else t
        obs = np.empty(len(self.observation_names))
        b, g = self.battery, self.n_gen
        obs[0] = self.soc_state[0] / b.energy_mwh if b is not None and b.energy_mwh > 0 else 0.0
        if g:
            obs[1: 1 + g] = self.gen_state == ON
            obs[1 + g: 1 + 2 * g] = self.gen_power / np.maximum(self.gp[:, 0], 1e-9)
        obs[self._n_dynamic: -1] = self._static[t]
        obs[-1] = self.month_peak or 0.0
        return obs

    def frame(self):
        """The engine's per-step frame of what the environment has simulated so far (as ``simulate`` gives)."""
        from wattscale.engine.simulate import _frame

        return _frame(self.inputs, self.out, self.gen_out, self.gen_start, self.flex_mw, self.flex_shed)


def setpoints_to_actions(env: CampusEnv, points) -> list[dict]:
    """A controller's ``Setpoints`` for a block, as one action per step (NaN = follow): how an engine controller
    drives the environment."""
    k = len(points.battery_mw)
    out = []
    for j in range(k):
        action = {"follow": np.zeros(1 + env.n_gen, dtype=np.int8)}
        if env.battery is not None:
            b = points.battery_mw[j]
            action["follow"][0] = int(math.isnan(b))
            action["battery_mw"] = np.array([0.0 if math.isnan(b) else b])
        if env.n_gen:
            g = np.asarray(points.generator_mw, float)[:, j]
            action["follow"][1:] = np.isnan(g)
            action["generator_mw"] = np.nan_to_num(g, nan=0.0)
        if env.n_flex:
            shed = points.compute_shed_mw
            action["compute_shed_mw"] = np.zeros(env.n_flex) if shed is None else np.asarray(shed, float)[:, j]
        if env.battery is None:
            action["follow"][0] = 1
        out.append(action)
    return out

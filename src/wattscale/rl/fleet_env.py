"""``FleetEnv``: the coupled sites of a scenario with a ``fleet`` section as one Gymnasium environment.

Each step is one step of every site. The action is a ``Dict`` holding each site's ``CampusEnv`` action under its
name, and ``move_it_mw``: the IT MW to move over each migration link and direction (``move_names``), as the fleet
MPC would. A move is held to what physics and the link allow, as the rule coordinator holds its own: at most the
link's ``max_mw``, its ``share`` of the source's movable inference less what already left it, and what the
destination's connection and renewables can carry; it leaves the source's load at its PUE (and its flexibility
envelope) and joins the destination's at its PUE. Shared connections are split on the loads after the moves, as
in ``engine.coupling``. Each site's kernel then steps. The observation is every site's observation (in the
scenario's order) followed by each link direction's movable IT MW; the reward is the sum of the sites' rewards
less the cost of what moved. Replaying the rule coordinator's moves and the rule controllers' actions gives the
engine's coupled result to 1e-9 (tested).
"""
from __future__ import annotations

from dataclasses import replace

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from wattscale.engine.coupling import _movable, split_connection
from wattscale.errors import ScenarioError
from wattscale.rl.env import CampusEnv


class FleetEnv(gym.Env):
    """The coupled sites of ``scenario`` (it needs a ``fleet`` section)."""

    metadata = {"render_modes": []}

    def __init__(self, scenario, *, episode_steps: int | None = 288, start_step: int | None = None,
                 horizon_steps: int = 12, reward_scale: float = 1.0) -> None:
        from wattscale.engine.campus import prepare

        campus = prepare(scenario)
        fleet = campus.scenario.fleet
        if fleet is None:
            raise ScenarioError("the scenario has no fleet section", field="fleet",
                                expected="shared_connections and/or migration between its sites")
        self.fleet = fleet
        self.names = [s.name for s in campus.scenario.sites]
        self.sites = {}
        for name in self.names:
            env = CampusEnv(campus, site=name, episode_steps=episode_steps, start_step=start_step,
                            horizon_steps=horizon_steps, reward_scale=reward_scale, coupled=True)
            base = env.inputs
            env.inputs = replace(base, load_mw=base.load_mw.astype(float).copy(),
                                 it_load_mw=base.it_load_mw.astype(float).copy(),
                                 workload_it_mw={k: v.astype(float).copy() for k, v in base.workload_it_mw.items()},
                                 import_limit_mw=base.import_limit_mw.astype(float).copy(),
                                 export_limit_mw=base.export_limit_mw.astype(float).copy())
            env.flex_mw = env.flex_mw.copy()
            env._base = base
            self.sites[name] = env
        first = self.sites[self.names[0]]
        self.n, self.dt_h, self.reward_scale = first.n, first.dt_h, float(reward_scale)
        self._group = {s: c for c in fleet.shared_connections for s in c.sites}
        self._last_moves: dict[str, float] = {}
        self.links = [(link, a, b) for link in fleet.migration
                      for a, b in (tuple(link.between), tuple(reversed(link.between)))]
        #: each entry of ``move_it_mw``: 'from->to'
        self.move_names = [f"{a}->{b}" for _, a, b in self.links]
        self._movable = {s: _movable(self.sites[s]._base) for s in self.names}
        self._movable_share = {s: np.array([e.movable_mw for e in self.sites[s]._base.envelopes])
                               for s in self.names}
        act = {name: self.sites[name].action_space for name in self.names}
        if self.links:
            act["move_it_mw"] = spaces.Box(0.0, np.array([link.max_mw for link, _, _ in self.links], float),
                                           (len(self.links),), np.float64)
        self.action_space = spaces.Dict(act)
        self.observation_names = [f"{s}.{o}" for s in self.names for o in self.sites[s].observation_names] + \
            [f"movable_it_mw.{m}" for m in self.move_names]
        self.observation_space = spaces.Box(-np.inf, np.inf, (len(self.observation_names),), np.float64)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        start = (options or {}).get("start_step")
        if start is None:
            first = self.sites[self.names[0]]
            start = first.start_step if first.start_step is not None else \
                int(self.np_random.integers(0, self.n - first.episode_steps + 1))
        infos = {}
        for name, env in self.sites.items():
            b, x = env._base, env.inputs
            for attr in ("load_mw", "it_load_mw", "import_limit_mw", "export_limit_mw"):
                getattr(x, attr)[:] = getattr(b, attr)
            for key, values in b.workload_it_mw.items():
                x.workload_it_mw[key][:] = values
            env.flex_mw[:] = b.flex_params()[0]
            _, infos[name] = env.reset(options={"start_step": start})
        self._sent = {s: 0.0 for s in self.names}
        self._sent_log = {s: np.zeros(self.n) for s in self.names}
        return self._observation(), infos[self.names[0]]

    def step(self, action):
        first = self.sites[self.names[0]]
        t = first._t
        if first._t >= first._end:
            raise RuntimeError("the episode is over: call reset()")
        self._sent = {s: 0.0 for s in self.names}
        self._last_moves = {}
        cost = 0.0
        moves = np.asarray(action.get("move_it_mw", np.zeros(0)), float)
        if not np.isfinite(moves).all():
            raise ValueError(f"action 'move_it_mw' holds {moves.tolist()!s:.80}: each value must be a finite number "
                             "of IT MW (what physics and the link cannot carry is not moved)")
        for k, (link, a, b) in enumerate(self.links):
            cost += self._move(t, link, a, b, float(moves[k])) * link.cost_usd_per_mwh * self.dt_h
        for conn in self.fleet.shared_connections:  # on the loads after the moves, as the coordinator splits them
            at = slice(t, t + 1)
            bases = {s: self.sites[s]._base for s in conn.sites}
            load = {s: self.sites[s].inputs.load_mw[at] for s in conn.sites}
            for s, (imp, exp) in split_connection(conn, bases, load, at).items():
                self.sites[s].inputs.import_limit_mw[t], self.sites[s].inputs.export_limit_mw[t] = imp[0], exp[0]
        reward, done, info = 0.0, False, {"cost_usd": cost, "moved_it_mw": {}}
        for name in self.names:
            _, r, done, _, site_info = self.sites[name].step(action[name])
            reward += r
            info["cost_usd"] += site_info["cost_usd"]
        reward -= cost * self.reward_scale
        info["moved_it_mw"] = dict(self._last_moves)
        return self._observation(), reward, done, False, info

    def _cap(self, s: str, t: int) -> float:
        base = self.sites[s]._base
        return min(base.import_limit_mw[t], 1e9) if base.grid_up[t] else 0.0

    def _need(self, s: str, t: int) -> float:
        x = self.sites[s].inputs
        return min(max(x.load_mw[t] - x.pv_mw[t] - x.wind_mw[t], 0.0), self._cap(s, t))

    def _move(self, t: int, link, a: str, b: str, asked: float) -> float:
        """Move up to ``asked`` IT MW from ``a`` to ``b`` at step ``t``, within the link and physics (as the rule
        coordinator holds its own moves); the MW moved."""
        src, dst = self.sites[a], self.sites[b]
        x, y = src.inputs, dst.inputs
        can = min(max(self._movable[a][t] * link.share - self._sent[a], 0.0), link.max_mw)
        room = max(self._cap(b, t) + y.pv_mw[t] + y.wind_mw[t] - y.load_mw[t], 0.0) if dst._base.grid_up[t] else 0.0
        group = self._group.get(b)
        if group is not None and self._group.get(a) is not group:
            room = min(room, max(group.import_limit_mw - sum(self._need(s, t) for s in group.sites), 0.0))
        m = max(0.0, min(asked, can, room / y.pue[t]))
        if m < 1e-9:
            m = 0.0
        self._last_moves[f"{a}->{b}"] = m
        if m == 0.0:
            return 0.0
        x.load_mw[t] -= m * x.pue[t]
        x.it_load_mw[t] -= m
        y.load_mw[t] += m * y.pue[t]
        y.it_load_mw[t] += m
        self._sent[a] += m
        self._sent_log[a][t] = self._sent[a]
        shares = self._movable_share[a][:, t]
        total = shares.sum()
        if total > 0:  # as the coordinator: what left shrinks its workloads' envelopes in proportion
            part = self._sent[a] * shares / total
            for w, e in enumerate(src._base.envelopes):
                fleet = src._base.workload_it_mw.get(e.name)
                if fleet is not None:
                    stays = min(max(1.0 - part[w] / fleet[t], 0.0), 1.0) if fleet[t] > 0 else 1.0
                    src.flex_mw[w, t] = e.reducible_mw[t] * stays * x.pue[t]
                    x.workload_it_mw[e.name][t] = max(fleet[t] - part[w], 0.0)
                else:
                    src.flex_mw[w, t] = max(e.reducible_mw[t] - part[w], 0.0) * x.pue[t]
        return m

    def _observation(self) -> np.ndarray:
        first = self.sites[self.names[0]]
        t = min(first._t, self.n - 1)
        movable = [max(self._movable[a][t] * link.share, 0.0) for link, a, _ in self.links]
        return np.concatenate([self.sites[s]._observation(min(self.sites[s]._t, self.n - 1)) for s in self.names]
                              + [np.asarray(movable, float)])

    def frames(self) -> dict:
        """Each site's engine frame of what the environment has simulated (movable inference net of what left)."""
        out = {}
        for name, env in self.sites.items():
            frame = env.frame()
            if "movable_it_mw" in frame:
                frame["movable_it_mw"] = np.maximum(frame["movable_it_mw"].to_numpy() - self._sent_log[name], 0.0)
            out[name] = frame
        return out

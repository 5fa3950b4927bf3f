"""A campus run live (software in the loop): the engine steps one site block by block, as fast as it can or at a
multiple of real time, and every block's powers go to the stream as soon as they are computed.

An external controller steers through the engine's own protocol: it reads the site's state (``SiteState``) and
puts ``Setpoints`` for the next block; a block without them is decided by the scenario's controller. Without
outside setpoints, a live run gives exactly the engine's result for the same site (tested)."""
from __future__ import annotations

import collections
import itertools
import json
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from wattscale.decisions.protocol import Controller, Setpoints, SiteForecast, SiteState
from wattscale.errors import ScenarioError, WattscaleError

MAX_SESSIONS = 8
MAX_SESSIONS_PER_OWNER = 2
BUFFER_STEPS = 100_000  # the stream keeps the recent blocks holding at most this many steps (about 40 MB of JSON)
MAX_STEPS = 550_000  # a year at 1-minute steps
VIEWER_WAIT_S = 10.0


@dataclass
class LiveSession:
    """One live run: its status, the recent steps, the setpoints waiting for the next block."""

    id: str
    owner: str
    site: str
    speed: float  # simulated seconds per wall-clock second; 0: as fast as possible
    block_steps: int
    n_steps: int
    n_generators: int
    external: bool = False  # wait (up to wait_s) for outside setpoints before each block
    wait_s: float = 5.0
    status: str = "starting"
    message: str = ""
    step: int = 0
    state: dict = field(default_factory=dict)
    blocks: collections.deque = field(default_factory=collections.deque)  # (first step, last step, JSON)
    buffered_steps: int = 0
    viewers: dict = field(default_factory=dict)  # viewer -> last step it was sent
    lagging: set = field(default_factory=set)  # viewers that once held the run for VIEWER_WAIT_S: not waited for
    pending: Setpoints | None = None
    lock: threading.Condition = field(default_factory=threading.Condition)
    stop: threading.Event = field(default_factory=threading.Event)
    started_wall: float = 0.0
    steps_per_s: float = 0.0

    def blocks_after(self, step: int) -> list[tuple[int, int, str]]:
        """(first step, last step, JSON of the block's steps) of the buffered blocks that end after ``step``."""
        with self.lock:
            blocks = self.blocks
            k = len(blocks)
            while k > 0 and blocks[k - 1][1] > step:
                k -= 1
            return list(itertools.islice(blocks, k, None))

    def _behind(self, step: int) -> list[int]:
        """The viewers still waited for that have not been sent ``step``."""
        return [v for v, sent in self.viewers.items() if sent < step and v not in self.lagging]

    def viewed(self, viewer: int, step: int | None) -> None:
        """A viewer has been sent everything up to ``step`` (None: it has gone)."""
        with self.lock:
            if step is None:
                self.viewers.pop(viewer, None)
                self.lagging.discard(viewer)
            else:
                self.viewers[viewer] = step
                if self.blocks and step >= self.blocks[0][0]:
                    self.lagging.discard(viewer)  # caught up with the buffer: waited for again
            self.lock.notify_all()

    def add_block(self, first: int, last: int, text: str) -> None:
        """Buffer a block (the caller holds the lock), dropping the oldest beyond BUFFER_STEPS. A block a viewer
        has not been sent is not dropped until that viewer catches up, or has held the run for VIEWER_WAIT_S once:
        from then on that viewer is not waited for (it is told of the gap) and the run goes at its own pace."""
        self.blocks.append((first, last, text))
        self.buffered_steps += last - first + 1
        while self.buffered_steps > BUFFER_STEPS and len(self.blocks) > 1:
            oldest = self.blocks[0][1]
            end = time.monotonic() + VIEWER_WAIT_S
            while self._behind(oldest) and not self.stop.is_set() and time.monotonic() < end:
                self.lock.wait(timeout=0.1)
            self.lagging.update(self._behind(oldest))
            first_old, last_old, _ = self.blocks.popleft()
            self.buffered_steps -= last_old - first_old + 1

    def public(self) -> dict:
        return {"id": self.id, "site": self.site, "status": self.status, "message": self.message,
                "step": self.step, "n_steps": self.n_steps, "block_steps": self.block_steps, "speed": self.speed,
                "external": self.external, "n_generators": self.n_generators, "state": self.state,
                "steps_per_s": round(self.steps_per_s, 1)}

    def put_setpoints(self, body: dict) -> None:
        """Setpoints for the next block from JSON: battery_mw (list, null = follow), generator_mw (one list per
        generator), optional compute_shed_mw and export_limit_mw; shorter lists are padded with 'follow'."""
        self.pending_check()
        k = self.block_steps

        def series(name: str, value, fill: float) -> np.ndarray:
            if value is None:
                return np.full(k, fill)
            if not isinstance(value, list) or len(value) > k:
                raise ScenarioError(f"{name} must be a list of at most {k} numbers", field=name,
                                    expected=f"{k} values (MW), null meaning follow")
            out = np.full(k, fill)
            for i, v in enumerate(value):
                if v is None:
                    continue
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > 1e6:
                    raise ScenarioError(f"{name}[{i}] is not a finite number of MW", field=f"{name}[{i}]",
                                        expected="a number within ±1e6 MW, or null")
                out[i] = float(v)
            return out

        gens = body.get("generator_mw") or []
        if not isinstance(gens, list) or len(gens) not in (0, self.n_generators):
            raise ScenarioError(f"generator_mw must hold one list per generator ({self.n_generators})",
                                field="generator_mw", expected=f"{self.n_generators} lists")
        points = Setpoints(
            battery_mw=series("battery_mw", body.get("battery_mw"), np.nan),
            generator_mw=np.array([series(f"generator_mw[{g}]", gens[g] if gens else None, np.nan)
                                   for g in range(self.n_generators)]).reshape(self.n_generators, k),
            battery_grid_first=np.zeros(k, bool),
            export_limit_mw=series("export_limit_mw", body.get("export_limit_mw"), np.inf))
        if np.any(points.export_limit_mw < 0):
            raise ScenarioError("export_limit_mw must not be negative", field="export_limit_mw")
        with self.lock:
            self.pending = points
            self.lock.notify_all()

    def pending_check(self) -> None:
        if self.status not in ("starting", "running"):
            raise WattscaleError(f"the live run is {self.status}", field="setpoints", expected="a running live run")


class SteeredController:
    """The scenario's controller, asked at its own cadence, with its plan fed to the engine in live blocks; a
    block with outside setpoints takes those instead."""

    def __init__(self, inner: Controller, session: LiveSession) -> None:
        self.inner = inner
        self.session = session
        self.block_steps = session.block_steps
        self.horizon_steps = max(int(inner.horizon_steps), session.block_steps)
        self._plan: Setpoints | None = None
        self._plan_from = 0
        self._next_plan = 0

    def decide(self, state: SiteState, forecast: SiteForecast) -> Setpoints:
        s = self.session
        s.state = {"step": state.step, "time": state.time.isoformat(), "soc_mwh": state.soc_mwh,
                   "generator_power_mw": state.generator_power_mw.tolist(),
                   "generator_on": state.generator_on.tolist(),
                   "month_peak_import_mw": state.month_peak_import_mw}
        with s.lock:
            if s.external and s.pending is None:
                s.lock.wait_for(lambda: s.pending is not None or s.stop.is_set(), timeout=s.wait_s)
            outside, s.pending = s.pending, None
        if state.step >= self._next_plan:
            self._plan = self.inner.decide(state, forecast)
            self._plan_from = state.step
            self._next_plan = state.step + max(1, int(self.inner.block_steps))
        if outside is not None:
            return outside
        return _slice(self._plan, state.step - self._plan_from, self.block_steps)


def _slice(points: Setpoints, start: int, k: int) -> Setpoints:
    def cut(a, fill):
        if a is None:
            return None
        a = np.asarray(a)
        part = a[..., start:start + k]
        if part.shape[-1] < k:  # the plan ends before the block does: follow for the rest
            pad = np.full(a.shape[:-1] + (k - part.shape[-1],), fill, dtype=a.dtype)
            part = np.concatenate([part, pad], axis=-1)
        return part

    return Setpoints(battery_mw=cut(points.battery_mw, np.nan), generator_mw=cut(points.generator_mw, np.nan),
                     battery_grid_first=cut(points.battery_grid_first, False),
                     battery_reserve_mwh=points.battery_reserve_mwh,
                     compute_shed_mw=cut(points.compute_shed_mw, 0.0),
                     export_limit_mw=cut(points.export_limit_mw, np.inf))


def run_session(session: LiveSession, campus) -> None:
    """Run the session's site to the end (or until stopped), filling its stream; in a thread of the server."""
    from wattscale.decisions.operate.factory import build_controller, build_forecaster
    from wattscale.engine.simulate import simulate_site, site_assets

    scenario = campus.scenario
    try:
        inputs = campus.inputs(session.site)
        inner = build_controller(scenario.controller, site_assets(inputs),
                                 carbon_price_usd_per_t=scenario.carbon_price_usd_per_t,
                                 value_of_lost_load_usd_per_mwh=scenario.value_of_lost_load_usd_per_mwh)
        forecaster = build_forecaster(scenario.controller, inputs.timeline.step_s)
        step_s = inputs.timeline.step_s
        times = inputs.timeline.index
        battery = inputs.site.battery
        session.status = "running"
        session.started_wall = time.monotonic()

        iso = times.strftime("%Y-%m-%dT%H:%M:%S%z")  # once: every block's times are a slice of these
        limit = np.where(np.isfinite(inputs.import_limit_mw), inputs.import_limit_mw, np.nan)

        def observe(t0: int, t1: int, block: dict) -> None:
            if session.stop.is_set():
                raise _Stopped
            cut = slice(t0, t1)
            soc = block["soc"]
            columns = {
                "step": list(range(t0, t1)), "time": list(iso[cut]),
                "load_mw": inputs.load_mw[cut], "pv_mw": inputs.pv_mw[cut], "wind_mw": inputs.wind_mw[cut],
                "curtailed_mw": block["curtailed"], "battery_mw": block["discharge"] - block["charge"],
                "soc_mwh": soc, "soc_share": soc / battery.energy_mwh if battery else None,
                "generators_mw": block["generators"], "shed_mw": block["shed"],
                "grid_import_mw": block["import"], "grid_export_mw": block["export"],
                "import_limit_mw": limit[cut], "unserved_mw": block["unserved"],
                "price_usd_per_mwh": inputs.price_usd_per_mwh[cut], "grid_available": inputs.grid_up[cut]}
            text = json.dumps({k: _listed(v) for k, v in columns.items()})
            with session.lock:
                session.add_block(t0, t1 - 1, text)
                session.step = t1
                session.lock.notify_all()
            elapsed = time.monotonic() - session.started_wall
            session.steps_per_s = t1 / elapsed if elapsed > 0 else 0.0
            if session.speed > 0:  # hold the pace: t1 steps of step_s simulated seconds at `speed` x real time
                ahead = t1 * step_s / session.speed - elapsed
                if ahead > 0 and session.stop.wait(ahead):
                    raise _Stopped

        simulate_site(inputs, SteeredController(inner, session), forecaster=forecaster, observer=observe)
        session.status = "done"
    except _Stopped:
        session.status = "stopped"
    except WattscaleError as exc:
        session.status, session.message = "failed", str(exc)
    except Exception as exc:
        session.status, session.message = "failed", f"internal error ({type(exc).__name__})"
    finally:
        with session.lock:
            session.lock.notify_all()


class _Stopped(Exception):
    pass


def _listed(values):
    """A column as JSON-ready values: NaN (no limit) as null."""
    if values is None or isinstance(values, list):
        return values
    array = np.asarray(values)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return [None if not math.isfinite(v) else v for v in array.tolist()]
    return array.tolist()

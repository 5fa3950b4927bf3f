"""A campus in a sequence of voltage dips: when its UPS leaves the grid, when it comes back, and whether it rode
through what a no-trip envelope asks of it.

The front end (``RideThrough``) sees each dip below ``transfer_below_pu``. A dip longer than ``transfer_after_s``
moves the campus onto backup (UPS battery, then generators) ``transfer_after_s`` into the dip; the campus returns
once the voltage has stayed above the threshold for ``retransfer_after_s`` (a dip in between restarts the wait).
The ``lockout_dips``-th dip within ``lockout_window_s`` moves it onto backup whatever the dip's length and locks it
there until a manual return (``return_after_lockout_s``), as in the NERC review of the 10 July 2024 event in
Virginia. Events are handled exactly, in order; the grid's view is then sampled on any time grid.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wattscale.errors import DataError
from wattscale.guards import excerpt
from wattscale.scenario.schema import RideThrough
from wattscale.timeseries.loading import read_table

MAX_DIPS = 10_000
MAX_ENVELOPE_POINTS = 1_000


@dataclass(frozen=True)
class Dip:
    """A voltage dip: from ``time_s`` for ``duration_s``, the voltage ``1 - depth_pu``."""

    time_s: float
    depth_pu: float
    duration_s: float

    @property
    def voltage_pu(self) -> float:
        return _clean(1.0 - self.depth_pu)  # 1 - 0.55 is 0.45, not 0.44999999999999996

    @property
    def end_s(self) -> float:
        return _clean(self.time_s + self.duration_s)


def _clean(x: float) -> float:
    """``x`` without the last bits of binary rounding (to 1e-9), so that 0.45 pu compares as 0.45 pu."""
    return round(x, 9)


@dataclass(frozen=True)
class Envelope:
    """A no-trip curve: a dip to ``voltage_pu[i]`` or above must be ridden through if it lasts at most
    ``duration_s[i]`` (a step curve; voltages rising, durations not falling)."""

    voltage_pu: tuple[float, ...]
    duration_s: tuple[float, ...]
    name: str = "envelope"

    def required_s(self, voltage_pu: float) -> float:
        """How long a dip to ``voltage_pu`` must be ridden through (0 below the curve's lowest voltage)."""
        i = int(np.searchsorted(self.voltage_pu, voltage_pu, side="right")) - 1
        return self.duration_s[i] if i >= 0 else 0.0

    def inside(self, dip: Dip) -> bool:
        return dip.duration_s <= self.required_s(dip.voltage_pu)


@dataclass
class Outcome:
    """What one campus did: when it left the grid and came back, and why."""

    name: str
    load_mw: float
    leaves_s: list[float] = field(default_factory=list)
    returns_s: list[float | None] = field(default_factory=list)  # None: still on backup at the end
    causes: list[str] = field(default_factory=list)
    leaving_dips: list[int] = field(default_factory=list)  # the dip that moved it off, per stay on backup
    locking_dips: list[int] = field(default_factory=list)  # the dips that locked it onto backup
    dips_seen: int = 0
    return_ramp_s: float = 0.0

    @property
    def left_grid(self) -> bool:
        return bool(self.leaves_s)

    @property
    def locked_out(self) -> bool:
        return bool(self.locking_dips)

    @property
    def causing_dips(self) -> list[int]:
        """Every dip that moved the campus off the grid or locked it there."""
        return sorted(set(self.leaving_dips) | set(self.locking_dips))

    def back_by(self, end_s: float) -> float | None:
        """When the campus was last back on the grid, if it was by ``end_s`` (None: still off, or never left)."""
        if not self.leaves_s or self.returns_s[-1] is None or self.returns_s[-1] > end_s:
            return None
        return self.returns_s[-1]

    def off_grid_s(self, end_s: float) -> float:
        return float(sum((end_s if r is None else min(r, end_s)) - max(0.0, min(t, end_s))
                         for t, r in zip(self.leaves_s, self.returns_s)))

    def connected(self, time_s: np.ndarray) -> np.ndarray:
        """Share of the load drawn from the grid at each time (0 on backup, ramping back on return)."""
        on = np.ones(len(time_s))
        time_s = np.round(time_s, 9)  # sorted: each stay is a slice
        for t, r in zip(self.leaves_s, self.returns_s):
            a = int(np.searchsorted(time_s, t, side="left"))
            if r is None:
                on[a:] = 0.0
                continue
            b = int(np.searchsorted(time_s, r, side="left"))
            on[a:b] = 0.0
            if self.return_ramp_s > 0:
                c = int(np.searchsorted(time_s, r + self.return_ramp_s, side="left"))
                on[b:c] = np.minimum(on[b:c], (time_s[b:c] - r) / self.return_ramp_s)
        return on


def ride_through(name: str, setting: RideThrough, load_mw: float, dips: list[Dip]) -> Outcome:
    """The campus's path through ``dips`` (sorted, not overlapping) under ``setting``. A lockout acts when the UPS
    acts on the locking dip (``transfer_after_s`` into it, or its end if shorter); the manual return counts from
    then, and dips while locked change nothing."""
    out = Outcome(name, load_mw, return_ramp_s=setting.return_ramp_s)
    seen = [i for i, d in enumerate(dips) if d.voltage_pu < setting.transfer_below_pu]
    recent: deque[float] = deque()
    off = locked = False
    for k, i in enumerate(seen):
        dip = dips[i]
        out.dips_seen += 1
        recent.append(dip.time_s)
        while recent and recent[0] < dip.time_s - setting.lockout_window_s:
            recent.popleft()
        lockout = setting.lockout_dips is not None and len(recent) >= setting.lockout_dips
        acts = _clean(dip.time_s + min(setting.transfer_after_s, dip.duration_s))
        if not off and (dip.duration_s > setting.transfer_after_s or lockout):
            out.leaves_s.append(acts)
            out.returns_s.append(None)
            out.causes.append(f"dip {i + 1} to {dip.voltage_pu:.2f} pu for {dip.duration_s:g} s")
            out.leaving_dips.append(i)
            off, locked = True, False
        if not off:
            continue
        if lockout and not locked:
            locked = True
            out.locking_dips.append(i)
            out.causes[-1] += f"; locked onto backup by {len(recent)} dips within {setting.lockout_window_s:g} s"
            out.returns_s[-1] = (None if setting.return_after_lockout_s is None  # never before good voltage
                                 else _clean(max(acts + setting.return_after_lockout_s,
                                                 dip.end_s + setting.retransfer_after_s)))
        elif not locked:
            out.returns_s[-1] = _clean(dip.end_s + setting.retransfer_after_s)
        back = out.returns_s[-1]
        if back is not None and (k + 1 == len(seen) or dips[seen[k + 1]].time_s >= back):
            off = False
    return out


def met_envelope(outcome: Outcome, dips: list[Dip], envelope: Envelope | None) -> bool | None:
    """True if every dip that moved the campus off the grid lay outside the envelope (None: no envelope)."""
    if envelope is None:
        return None
    return not any(envelope.inside(dips[i]) for i in outcome.causing_dips)


def voltage_pu(dips: list[Dip], time_s: np.ndarray) -> np.ndarray:
    """The voltage at each time: 1 pu outside the dips."""
    v = np.ones(len(time_s))
    for d in dips:  # time_s is sorted: each dip is a slice
        a, b = np.searchsorted(time_s, [d.time_s, d.end_s], side="left")
        v[a:b] = np.minimum(v[a:b], d.voltage_pu)
    return v


# ---------------------------------------------------------------- files
def _numbers(frame, file: str, columns: tuple[str, ...], what: str, limit: int) -> dict[str, np.ndarray]:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"the {what} has no column '{excerpt(missing[0], 40)}' (columns: "
                        f"{excerpt(', '.join(map(str, frame.columns)), 80)})", file=file, field=missing[0],
                        expected=f"columns {', '.join(columns)}")
    if not 1 <= len(frame) <= limit:
        raise DataError(f"the {what} has {len(frame):,} rows", file=file, expected=f"1 to {limit:,} rows")
    out = {}
    for c in columns:
        values = np.asarray(frame[c].map(_number), dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(f"row {row + 2}: '{excerpt(frame[c].iloc[row], 30)}' is not a finite number", file=file,
                            field=c, expected="a number in every row")
        out[c] = values
    return out


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def read_dips(path: str | Path) -> list[Dip]:
    """Dips from a CSV file with columns ``time_s, depth_pu, duration_s``: in time order, depths in (0, 1],
    durations positive, none overlapping the next."""
    file = str(path)
    cols = _numbers(read_table(Path(path), field="gridcode.disturbances"), file, ("time_s", "depth_pu", "duration_s"),
                    "disturbance file", MAX_DIPS)
    t, depth, dur = cols["time_s"], cols["depth_pu"], cols["duration_s"]
    for name, values, ok, rule in (
            ("time_s", t, (t >= 0) & (t <= 7 * 86400), "a time from 0 to 604,800 s"),
            ("depth_pu", depth, (depth > 0) & (depth <= 1), "a depth above 0 and at most 1 pu (1: no voltage)"),
            ("duration_s", dur, (dur > 0) & (dur <= 86400), "a duration above 0 and at most 86,400 s")):
        if not ok.all():
            row = int(np.argmin(ok))
            raise DataError(f"row {row + 2}: {name} is {values[row]:g}", file=file, field=name, expected=rule)
    for k in range(1, len(t)):
        if t[k] < t[k - 1] + dur[k - 1]:
            raise DataError(f"row {k + 2}: the dip at {t[k]:g} s starts before the one at {t[k - 1]:g} s ends "
                            f"({t[k - 1] + dur[k - 1]:g} s)", file=file, field="time_s",
                            expected="dips in time order, each after the previous one ends")
    return [Dip(float(a), float(b), float(c)) for a, b, c in zip(t, depth, dur)]


def read_envelope(path: str | Path) -> Envelope:
    """A no-trip curve from a CSV file with columns ``voltage_pu, duration_s``: voltages rising in [0, 1],
    durations not falling (the higher the voltage, the longer the dip that must be ridden through)."""
    file = str(path)
    cols = _numbers(read_table(Path(path), field="gridcode.envelope"), file, ("voltage_pu", "duration_s"),
                    "envelope file", MAX_ENVELOPE_POINTS)
    v, d = cols["voltage_pu"], cols["duration_s"]
    if ((v < 0) | (v > 1)).any():
        row = int(np.argmax((v < 0) | (v > 1)))
        raise DataError(f"row {row + 2}: voltage_pu is {v[row]:g}", file=file, field="voltage_pu",
                        expected="voltages from 0 to 1 pu")
    if ((d < 0) | (d > 1e7)).any():
        row = int(np.argmax((d < 0) | (d > 1e7)))
        raise DataError(f"row {row + 2}: duration_s is {d[row]:g}", file=file, field="duration_s",
                        expected="durations from 0 to 10,000,000 s")
    for k in range(1, len(v)):
        if v[k] <= v[k - 1] or d[k] < d[k - 1]:
            raise DataError(f"row {k + 2}: the curve is not monotonic ({v[k - 1]:g} pu for {d[k - 1]:g} s, then "
                            f"{v[k]:g} pu for {d[k]:g} s)", file=file,
                            field="voltage_pu" if v[k] <= v[k - 1] else "duration_s",
                            expected="voltages rising row by row, durations never falling")
    return Envelope(tuple(map(float, v)), tuple(map(float, d)), Path(path).stem)

"""The simulation timeline: start, step, number of steps and time zone; owns the index."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Timeline:
    """Regular timeline of ``n_steps`` intervals of ``step_s`` seconds starting at ``start``.

    Each timestamp labels the start of its interval. ``start`` is tz-aware.
    """

    start: pd.Timestamp
    step_s: int
    n_steps: int

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("Timeline.start must be time-zone aware")
        if not 1 <= self.step_s <= 3600:
            raise ValueError("Timeline.step_s must be between 1 and 3600 seconds")
        if self.n_steps < 1:
            raise ValueError("Timeline must have at least one step")

    @classmethod
    def from_range(cls, start: str | pd.Timestamp, end: str | pd.Timestamp, step_s: int,
                   tz: str = "UTC") -> "Timeline":
        """Timeline covering ``[start, end)`` in steps of ``step_s`` (naive times are in ``tz``)."""
        start_ts, end_ts = localize(start, tz), localize(end, tz)
        n = int((end_ts - start_ts).total_seconds() // step_s)
        return cls(start_ts, int(step_s), n)

    @property
    def tz(self):
        return self.start.tzinfo

    @property
    def step_h(self) -> float:
        return self.step_s / 3600.0

    @property
    def end(self) -> pd.Timestamp:
        """End of the last interval (exclusive)."""
        return self.start + pd.Timedelta(seconds=self.step_s * self.n_steps)

    @property
    def duration_h(self) -> float:
        return self.n_steps * self.step_h

    @cached_property
    def index(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, periods=self.n_steps, freq=pd.Timedelta(seconds=self.step_s),
                             name="time")

    @cached_property
    def seconds_from_start(self) -> np.ndarray:
        return np.arange(self.n_steps, dtype=np.int64) * self.step_s

    def hour_groups(self) -> np.ndarray:
        """Integer label of the clock hour (in UTC, so DST never merges hours) for every step."""
        t0 = self.start.tz_convert("UTC").floor("h")
        offset_s = int((self.start - t0).total_seconds())
        return (offset_s + self.seconds_from_start) // 3600

    def month_groups(self) -> np.ndarray:
        """Calendar month (in the timeline's time zone) of every step as ``year * 12 + month - 1``."""
        idx = self.index
        return (idx.year * 12 + idx.month - 1).to_numpy()


def localize(value: str | pd.Timestamp, tz) -> pd.Timestamp:
    """``value`` in zone ``tz``: a naive time is local to it, an aware one is converted (the one place where
    wattscale gives timestamps their zone)."""
    ts = pd.Timestamp(value)
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def parse_duration(text: str) -> pd.Timedelta:
    """A duration such as ``365d``, ``48h``, ``5min`` or ``1s`` (days may be written ``d`` or ``D``)."""
    import re

    return pd.Timedelta(re.sub(r"(?<=\d)\s*d(ays?)?\b", "D", str(text).strip()))

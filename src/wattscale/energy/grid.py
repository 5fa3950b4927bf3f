"""Grid connection: availability from outage events (price, carbon and limits are plain series)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from wattscale.errors import ScenarioError
from wattscale.scenario.schema import Outage
from wattscale.timeseries.timeline import Timeline, parse_duration


def grid_available(outages: list[Outage], timeline: Timeline, *, field: str = "grid.outages") -> np.ndarray:
    """Boolean per step: True when the grid connection is up. A step is out if any part of it is in an outage."""
    up = np.ones(timeline.n_steps, dtype=bool)
    idx = timeline.index
    for i, outage in enumerate(outages):
        try:
            start = _at(outage.start, timeline)
            end = _at(outage.end, timeline) if outage.end else start + parse_duration(outage.duration)
        except (ValueError, TypeError) as exc:
            raise ScenarioError(f"cannot read outage time: {exc}", field=f"{field}[{i}]",
                                expected="timestamps like 2023-07-01 14:00 and durations like 4h") from None
        if end <= start:
            raise ScenarioError("outage ends before it starts", field=f"{field}[{i}]")
        hit = (idx < end) & (idx + pd.Timedelta(seconds=timeline.step_s) > start)
        if not hit.any():
            raise ScenarioError(f"outage {start} .. {end} lies outside the timeline {timeline.start} .. {timeline.end}",
                                field=f"{field}[{i}]", expected="an outage that overlaps the simulated period")
        up &= ~hit
    return up


def _at(text: str, timeline: Timeline) -> pd.Timestamp:
    ts = pd.Timestamp(text)
    return ts.tz_localize(timeline.tz) if ts.tzinfo is None else ts

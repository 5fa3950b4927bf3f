"""Grid connection: availability from outage events and demand-response holds (price, carbon and limits are
plain series)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from wattscale.errors import ScenarioError
from wattscale.scenario.schema import DemandResponse, Outage, Span
from wattscale.timeseries.timeline import Timeline, localize, parse_duration


def grid_available(outages: list[Outage], timeline: Timeline, *, field: str = "grid.outages") -> np.ndarray:
    """Boolean per step: True when the grid connection is up. A step is out if any part of it is in an outage."""
    up = np.ones(timeline.n_steps, dtype=bool)
    for i, outage in enumerate(outages):
        up &= ~span_steps(outage, timeline, f"{field}[{i}]", "outage")
    return up


def demand_response(events: list[DemandResponse], timeline: Timeline, *,
                    field: str = "grid.demand_response") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per step: the hard import hold (MW, inf outside events), and the paid hold with its payment (USD/MWh).

    A step is in an event if any part of it is; overlapping events keep the lowest hold."""
    n = timeline.n_steps
    hold, soft, pay = np.full(n, np.inf), np.full(n, np.inf), np.zeros(n)
    for i, e in enumerate(events):
        hit = span_steps(e, timeline, f"{field}[{i}]", "demand-response event")
        if e.payment_usd_per_mwh is None:
            hold[hit] = np.minimum(hold[hit], e.hold_import_mw)
        else:
            soft[hit] = np.minimum(soft[hit], e.hold_import_mw)
            pay[hit] = np.maximum(pay[hit], e.payment_usd_per_mwh)
    return hold, soft, pay


def span_steps(span: Span, timeline: Timeline, field: str, what: str) -> np.ndarray:
    idx = timeline.index
    try:
        start = _at(span.start, timeline)
        end = _at(span.end, timeline) if span.end else start + parse_duration(span.duration)
    except (ValueError, TypeError) as exc:
        raise ScenarioError(f"cannot read {what} time: {exc}", field=field,
                            expected="timestamps like 2023-07-01 14:00 and durations like 4h") from None
    if end <= start:
        raise ScenarioError(f"{what} ends before it starts", field=field)
    hit = (idx < end) & (idx + pd.Timedelta(seconds=timeline.step_s) > start)
    if not hit.any():
        raise ScenarioError(f"{what} {start} .. {end} lies outside the timeline {timeline.start} .. {timeline.end}",
                            field=field, expected=f"an {what} that overlaps the simulated period"
                            if what[0] in "aeiou" else f"a {what} that overlaps the simulated period")
    return np.asarray(hit)


def _at(text: str, timeline: Timeline) -> pd.Timestamp:
    return localize(text, timeline.tz)

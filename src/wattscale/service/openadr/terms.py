"""What an OpenADR event asks of a campus, and what a campus's report says it did, in wattscale's units.

A reduction event carries, in its intervals' payloads, ``DISPATCH_SETPOINT_RELATIVE`` (the change of draw asked
for: negative is a reduction; units from its payload descriptor, MW or KW), ``PRICE`` (paid per MWh delivered;
per KWH if so described) and, optionally, the private type ``SHORTFALL_PENALTY`` (owed per MWh asked for and
not delivered). A report gives, per interval, ``BASELINE`` and ``USAGE`` (MW)."""
from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

import numpy as np

from wattscale.errors import MarketError
from wattscale.service.openadr.objects import Event, IntervalPeriod, Report

REDUCE, PRICE, PENALTY = "DISPATCH_SETPOINT_RELATIVE", "PRICE", "SHORTFALL_PENALTY"
BASELINE, USAGE = "BASELINE", "USAGE"
MAX_EVENT_H = 24 * 14
MAX_REDUCE_MW = 100_000.0
MAX_PRICE_USD_PER_MWH = 100_000.0


@dataclass(frozen=True)
class Terms:
    """A reduction event: from ``start`` for ``duration_h``, draw ``reduce_mw`` less than the baseline."""

    start: datetime.datetime
    duration_h: float
    reduce_mw: float
    price_usd_per_mwh: float
    penalty_usd_per_mwh: float


def _scale(event: Event, payload_type: str, *, energy: bool) -> float:
    for d in event.payloadDescriptors or []:
        if d.payloadType == payload_type and d.units:
            unit = d.units.upper()
            if energy:  # a price per unit of energy
                return {"MWH": 1.0, "KWH": 1000.0}.get(unit, 1.0)
            return {"MW": 1.0, "KW": 1e-3}.get(unit, 1.0)
    return 1.0


def event_terms(event: Event) -> Terms | None:
    """The reduction an event asks for, or None when it is not a reduction event."""
    values: dict[str, float] = {}
    period: IntervalPeriod | None = event.intervalPeriod
    for interval in event.intervals:
        period = interval.intervalPeriod or period
        for p in interval.payloads:
            if p.type in (REDUCE, PRICE, PENALTY) and p.type not in values:
                v = p.values[0] if p.values else None
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise MarketError(f"the {p.type} payload must hold one finite number", field="intervals.payloads",
                                      expected="e.g. {type: DISPATCH_SETPOINT_RELATIVE, values: [-50]}")
                values[p.type] = float(v)
    if REDUCE not in values:
        return None
    if period is None or period.duration.total_seconds() <= 0:
        raise MarketError("a reduction event needs an intervalPeriod with a start and a positive duration",
                          field="intervalPeriod", expected="e.g. {start: 2023-07-20T14:00:00Z, duration: PT4H}")
    hours = period.duration.total_seconds() / 3600
    if hours > MAX_EVENT_H:
        raise MarketError(f"an event of {hours:g} h is longer than {MAX_EVENT_H} h", field="intervalPeriod.duration")
    reduce_mw = -values[REDUCE] * _scale(event, REDUCE, energy=False)
    if reduce_mw > MAX_REDUCE_MW:
        raise MarketError(f"a reduction of {reduce_mw:,.4g} MW is beyond any campus", field="intervals.payloads",
                          expected=f"at most {MAX_REDUCE_MW:,.0f} MW")
    if reduce_mw <= 0:
        raise MarketError(f"{REDUCE} is {values[REDUCE]:g}: a reduction is a negative change of draw",
                          field="intervals[0].payloads", expected="a negative value, e.g. -50 (MW)")
    price = values.get(PRICE, 0.0) * _scale(event, PRICE, energy=True)
    penalty = values.get(PENALTY, 0.0) * _scale(event, PENALTY, energy=True)
    if not (0 <= price <= MAX_PRICE_USD_PER_MWH and 0 <= penalty <= MAX_PRICE_USD_PER_MWH):
        raise MarketError("a price or penalty is negative or beyond any market's cap", field="intervals.payloads",
                          expected=f"0 to {MAX_PRICE_USD_PER_MWH:,.0f} USD/MWh")
    start = period.start if period.start.tzinfo else period.start.replace(tzinfo=datetime.timezone.utc)
    return Terms(start, hours, reduce_mw, price, penalty)


def report_series(report: Report) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(interval hours, baseline MW, usage MW) summed over the report's resources."""
    hours, base, use = [], [], []
    for res in report.resources:
        for k, interval in enumerate(res.intervals):
            period = interval.intervalPeriod or res.intervalPeriod
            if period is None or period.duration.total_seconds() <= 0:
                raise MarketError("each report interval needs a duration", field=f"resources.intervals[{k}]",
                                  expected="an intervalPeriod with a duration, e.g. PT1H")
            got = {p.type: p.values[0] for p in interval.payloads if p.values}
            if not all(isinstance(got.get(t), (int, float)) and not isinstance(got.get(t), bool)
                       and math.isfinite(got[t]) and abs(got[t]) <= MAX_REDUCE_MW for t in (BASELINE, USAGE)):
                raise MarketError(f"interval {k} lacks a finite {BASELINE} or {USAGE} payload",
                                  field=f"resources.intervals[{k}].payloads",
                                  expected=f"BASELINE and USAGE in MW, within ±{MAX_REDUCE_MW:,.0f}")
            hours.append(period.duration.total_seconds() / 3600)
            base.append(float(got[BASELINE]))
            use.append(float(got[USAGE]))
    if not hours:
        raise MarketError("the report has no intervals", field="resources", expected="one interval per hour")
    return np.array(hours), np.array(base), np.array(use)

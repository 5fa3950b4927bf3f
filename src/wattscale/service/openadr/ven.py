"""A campus's VEN: it polls the VTN for the events that target it, re-plans the campus with MPC for each
reduction event, and reports what it delivered against its baseline. The OpenADR side is the ``toadr3`` client
(a third-party OpenADR 3 client library); the planning is wattscale's engine.

For an event the VEN simulates the site over the event's day and the ``history_days`` before it (hourly steps,
MPC with a 48 h horizon re-planned daily, perfect foresight, unit commitment as a MILP): once as planned, giving its customer baseline (PJM's
'high 4 of 5': at each event hour, the mean draw over the 4 highest-energy of the 5 previous days), and once with
the event as a paid hold of import at baseline minus the reduction (paid at the price plus the penalty it would
avoid). Its report gives BASELINE and USAGE in MW per hour of the event."""
from __future__ import annotations

import asyncio
import datetime
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wattscale.service.openadr.objects import Event as OadrEvent
from wattscale.service.openadr.terms import BASELINE, USAGE, Terms, event_terms


@dataclass(frozen=True)
class Response:
    """What the campus did for one event: per event hour, its baseline and its metered draw (MW)."""

    event_id: str
    program_id: str
    start: datetime.datetime
    baseline_mw: np.ndarray
    usage_mw: np.ndarray

    @property
    def delivered_mw(self) -> np.ndarray:
        return self.baseline_mw - self.usage_mw


def _overlaps(event: dict, first: pd.Timestamp, last: pd.Timestamp, tz: str) -> bool:
    start = pd.Timestamp(event["start"])
    start = start.tz_localize(tz) if start.tzinfo is None else start
    end = pd.Timestamp(event["end"]) if event.get("end") else start + pd.Timedelta(event.get("duration", "0h"))
    end = end.tz_localize(tz) if end.tzinfo is None else end
    return start < last and end > first


class CampusVen:
    """The VEN of one campus site: ``await ven.respond()`` answers every event for it not yet reported on."""

    def __init__(self, scenario, vtn_url: str, token: str, name: str, *, site: str | None = None,
                 history_days: int = 5) -> None:
        from wattscale.engine.campus import prepare

        self.campus = prepare(scenario)
        self.vtn_url = vtn_url.rstrip("/")
        self.token = token
        self.name = name
        self.site_index, self.site = self.campus.site(site)
        self.history_days = history_days

    def client(self):
        import toadr3

        return toadr3.ToadrClient(self.vtn_url, None,
                                  default_custom_headers={"Authorization": f"Bearer {self.token}"})

    async def respond(self) -> list[Response]:
        """Poll, plan and report each new event; returns what was reported."""
        async with self.client() as client:
            events = await client.get_events(target_type="VEN_NAME", target_values=[self.name])
            reported = {r.event_id for r in await client.get_reports(client_name=self.name)}
            out = []
            for event in events:
                if event.id in reported:
                    continue
                terms = event_terms(OadrEvent.model_validate_json(event.as_json()))
                if terms is None:
                    continue
                response = await asyncio.to_thread(self.plan, terms, event.id, event.program_id)
                await client.post_report(self.report(event, response))
                out.append(response)
            return out

    def plan(self, terms: Terms, event_id: str = "", program_id: str = "") -> Response:
        """The campus's baseline and its draw re-planned for the event (see the module's docstring)."""
        from wattscale.decisions.market.vpp import baseline_mw

        tz = self.campus.scenario.time.timezone or "UTC"
        start = pd.Timestamp(terms.start).tz_convert(tz)
        end = start + pd.Timedelta(hours=terms.duration_h)
        first = start.normalize() - pd.Timedelta(days=self.history_days + 1)
        last = (end + pd.Timedelta(days=1)).normalize() + pd.Timedelta(days=1)
        planned = self._draw(self._window(first, last))
        event_steps = (planned.index >= start) & (planned.index < end)
        base = baseline_mw(planned.to_numpy(), planned.index, event_steps, high=4, days=self.history_days)
        base_mw = base[event_steps]
        hold = max(0.0, float(np.mean(base_mw)) - terms.reduce_mw)
        event = {"start": start.strftime("%Y-%m-%d %H:%M"), "duration": f"{terms.duration_h:g}h",
                 "hold_import_mw": hold, "payment_usd_per_mwh": terms.price_usd_per_mwh + terms.penalty_usd_per_mwh}
        draw = self._draw(self._window(first, last, event))
        return Response(event_id, program_id, start.to_pydatetime(), base_mw, draw.to_numpy()[event_steps])

    def _window(self, first: pd.Timestamp, last: pd.Timestamp, event: dict | None = None):
        """The campus scenario over [first, last) at hourly steps under MPC (unit commitment as a MILP, so the
        generators it plans are the ones it runs), with the site's outages and demand-response events of that
        window (and ``event``), without the studies' own sections."""
        from wattscale.scenario.load import scenario_from_dict

        data = self.campus.scenario.model_dump(mode="json", exclude_none=True)
        for section in ("swings", "sizing", "market", "gridcode", "resilience", "power_system"):
            data.pop(section, None)
        data["time"] = {**data["time"], "start": first.strftime("%Y-%m-%d %H:%M"), "step": "1h",
                        "duration": f"{int((last - first) / pd.Timedelta(hours=1))}h"}
        data["time"].pop("end", None)
        data["controller"] = {"kind": "mpc", "horizon_h": 48, "replan_every_h": 24, "forecaster": "perfect",
                              "commitment": "milp"}
        tz = data["time"].get("timezone") or "UTC"
        grid = data["sites"][self.site_index]["grid"]
        for key in ("outages", "demand_response"):
            grid[key] = [e for e in grid.get(key, []) if _overlaps(e, first, last, tz)]
        if event is not None:
            grid["demand_response"] = grid["demand_response"] + [event]
        return self.campus.__class__(scenario_from_dict(data, source=self.campus.file), file=self.campus.file)

    def _draw(self, campus) -> pd.Series:
        from wattscale.engine.simulate import simulate

        results = simulate(campus)
        steps = results.steps[self.site.name]
        return steps["grid_import_mw"] - steps["grid_export_mw"]

    def report(self, event, response: Response):
        """The OpenADR report of ``response`` (toadr3's model of the specification's ``report``)."""
        from toadr3.models import Interval, IntervalPeriod, Report, ReportData, ReportPayloadDescriptor, ValuesMap

        intervals = [Interval(id=k, payloads=[ValuesMap(type=BASELINE, values=[round(float(b), 6)]),
                                              ValuesMap(type=USAGE, values=[round(float(u), 6)])])
                     for k, (b, u) in enumerate(zip(response.baseline_mw, response.usage_mw))]
        return Report(program_id=event.program_id, event_id=event.id, client_name=self.name,
                      report_name=f"{self.name} delivery",
                      payload_descriptors=[ReportPayloadDescriptor(payload_type=BASELINE, reading_type="ESTIMATED",
                                                                   units="MW"),
                                           ReportPayloadDescriptor(payload_type=USAGE, reading_type="DIRECT_READ",
                                                                   units="MW")],
                      resources=[ReportData(resource_name=self.name,
                                            interval_period=IntervalPeriod(start=response.start,
                                                                           duration="PT1H"),
                                            intervals=intervals)])

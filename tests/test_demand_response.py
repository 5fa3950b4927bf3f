"""Demand-response settlement and OpenADR event terms, worked by hand; the campus VEN's planning window."""
from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest

from wattscale.decisions.market.demand_response import settle
from wattscale.errors import MarketError
from wattscale.service.openadr.objects import Event
from wattscale.service.openadr.terms import event_terms

ROOT = Path(__file__).resolve().parents[1]


def test_settlement_by_hand():
    # asked 10 MW for 3 h; delivered 10 (capped from 12), 4 and 0 (drew more than baseline): 14 of 30 MWh
    s = settle("v", "e", reduce_mw=10, interval_h=np.ones(3), baseline_mw=np.array([100, 100, 100.0]),
               usage_mw=np.array([88, 96, 105.0]), price_usd_per_mwh=50, penalty_usd_per_mwh=20)
    assert (s.requested_mwh, s.delivered_mwh, s.shortfall_mwh) == (30, 14, 16)
    assert (s.payment_usd, s.penalty_usd, s.amount_usd) == (700, 320, 380)
    assert s.baseline_mwh == 300 and s.usage_mwh == 289
    half = settle("v", "e", reduce_mw=10, interval_h=np.array([0.5, 0.5]), baseline_mw=np.array([20, 20.0]),
                  usage_mw=np.array([10, 10.0]), price_usd_per_mwh=1, penalty_usd_per_mwh=1)
    assert half.delivered_mwh == 10 and half.shortfall_mwh == 0  # intervals weigh by their length


def _event(payloads, units="MW", duration="PT2H"):
    return Event.model_validate({"programID": "p", "intervalPeriod": {"start": "2023-07-21T02:00:00Z",
                                                                       "duration": duration},
                                 "payloadDescriptors": [{"payloadType": "DISPATCH_SETPOINT_RELATIVE",
                                                         "units": units}],
                                 "intervals": [{"id": 0, "payloads": payloads}]})


def test_event_terms_read_units_and_refuse_nonsense():
    t = event_terms(_event([{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-5000]},
                            {"type": "PRICE", "values": [300]}], units="KW"))
    assert (t.reduce_mw, t.duration_h, t.price_usd_per_mwh, t.penalty_usd_per_mwh) == (5.0, 2.0, 300.0, 0.0)
    assert t.start == datetime.datetime(2023, 7, 21, 2, tzinfo=datetime.timezone.utc)
    assert event_terms(_event([{"type": "PRICE", "values": [1]}])) is None  # a price signal, not a reduction
    with pytest.raises(MarketError, match="negative"):
        event_terms(_event([{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [5]}]))
    with pytest.raises(MarketError, match="duration"):
        event_terms(_event([{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-5]}], duration="PT0S"))


def test_the_ven_plans_any_date_whatever_else_the_scenario_holds():
    """The reference campus has an outage and a swing window in July; an event in March is planned over its own
    window, without them."""
    from wattscale.service.openadr.ven import CampusVen
    from wattscale.service.openadr.terms import Terms

    ven = CampusVen(ROOT / "examples" / "openadr" / "campus.yaml", "http://127.0.0.1:9", "t", "a")
    demo = CampusVen(ROOT / "examples" / "llm-campus.yaml", "http://127.0.0.1:9", "t", "a")
    march = Terms(datetime.datetime(2023, 3, 15, 23, tzinfo=datetime.timezone.utc), 2, 20, 500, 0)
    for v in (ven, demo):
        r = v.plan(march)
        assert len(r.baseline_mw) == len(r.usage_mw) == 2 and np.isfinite(r.baseline_mw).all()
    r = ven.plan(march)
    assert np.all(r.delivered_mw >= 20 - 1e-6)  # a grid-fed campus with a battery gives 20 MW for 2 h

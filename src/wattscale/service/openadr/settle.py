"""The operator settles a reduction event: each target's account from its report (a target that did not report
delivered nothing), written to the ledger once per site and event."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
from fastapi import Request

from wattscale.decisions.market.demand_response import Settlement
from wattscale.errors import WattscaleError
from wattscale.service.openadr.ledger_book import DrLedger, account_of, ledger_lock
from wattscale.service.openadr.objects import Event, Report, target_values
from wattscale.service.openadr.terms import event_terms, report_series
from wattscale.service.openadr.vtn import Objects, problem


def _row(account: Settlement, reported: bool) -> dict:
    return {**dataclasses.asdict(account), "amount_usd": account.amount_usd,
            "delivered_share": account.delivered_share, "reported": reported}


def settle_event(request: Request, event_id: str) -> dict:
    with ledger_lock(request.app.state.data_dir):  # one settlement at a time: each site is settled once
        return _settle(request, event_id)


def _settle(request: Request, event_id: str) -> dict:
    objects = Objects(request)
    event = objects.get("EVENT", event_id)
    if event is None:
        raise problem(404, "Not Found", f"no event with id '{event_id[:128]}'")
    try:
        terms = event_terms(Event.model_validate(event))
    except WattscaleError as exc:
        raise problem(400, "Bad Request", str(exc)) from None
    if terms is None:
        raise problem(400, "Bad Request", "the event asks for no reduction (DISPATCH_SETPOINT_RELATIVE); "
                                          "there is nothing to settle")
    ledger = DrLedger(request.app.state.data_dir)
    reports = {r["clientName"]: r for r in objects.rows("REPORT", event=event_id)}
    out = []
    for ven in target_values(event.get("targets")):
        row = objects.conn.execute("SELECT body FROM dr_settlements WHERE event = ? AND ven = ?",
                                   (event_id, ven)).fetchone()
        if row is not None:
            out.append(json.loads(row[0]))
            continue
        if ven in reports:
            hours, base, use = report_series(Report.model_validate(reports[ven]))
        else:  # no report: nothing delivered
            hours, base, use = np.array([terms.duration_h]), np.zeros(1), np.zeros(1)
        account = account_of(ven, event_id, terms, hours, base, use)
        ledger.settlement(account)
        body = _row(account, ven in reports)
        objects.conn.execute("INSERT INTO dr_settlements VALUES (?, ?, ?)", (event_id, ven, json.dumps(body)))
        out.append(body)
    return {"event": event_id, "ledger": str(ledger.path.name), "settlements": out}


def settlements(request: Request) -> list[dict]:
    objects = Objects(request)
    return [json.loads(r[0]) for r in objects.conn.execute("SELECT body FROM dr_settlements").fetchall()]

"""Demand-response settlement: what a site delivered against its baseline, what it is paid, what it owes, and the
three entries that put an event on the signed ledger.

Per interval of the event, delivered power is the baseline minus the metered draw, counted between 0 and the
power asked for; delivered energy is paid at the event's price, and energy asked for but not delivered costs
the penalty rate. Entries (all signed by the operator, who received them):

- ``dr_event``: the event as posted (program, targets, start, hours, MW asked for, price, penalty);
- ``dr_report``: a site's report as received: baseline and metered energy, delivered energy, and the SHA-256 of
  the report's JSON, so the report itself can be checked against the ledger;
- ``dr_settlement``: the site's payment, penalty and net amount for the event.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from wattscale.ledger.rules import EntryKind, EntryRules, register_kind


@dataclass(frozen=True)
class Settlement:
    """One site's account of one event."""

    ven: str
    event: str
    requested_mwh: float
    baseline_mwh: float
    usage_mwh: float
    delivered_mwh: float
    shortfall_mwh: float
    payment_usd: float
    penalty_usd: float

    @property
    def amount_usd(self) -> float:
        return self.payment_usd - self.penalty_usd

    @property
    def delivered_share(self) -> float:
        return self.delivered_mwh / self.requested_mwh if self.requested_mwh > 0 else 1.0


def settle(ven: str, event: str, *, reduce_mw: float, interval_h: np.ndarray, baseline_mw: np.ndarray,
           usage_mw: np.ndarray, price_usd_per_mwh: float, penalty_usd_per_mwh: float) -> Settlement:
    """The site's settlement from its interval baseline and metered draw (MW, one value per interval)."""
    hours = np.asarray(interval_h, float)
    base, use = np.asarray(baseline_mw, float), np.asarray(usage_mw, float)
    delivered = np.clip(base - use, 0.0, reduce_mw)
    requested_mwh = float(reduce_mw * hours.sum())
    delivered_mwh = float(delivered @ hours)
    shortfall = max(0.0, requested_mwh - delivered_mwh)
    return Settlement(ven, event, requested_mwh, float(base @ hours), float(use @ hours), delivered_mwh, shortfall,
                      delivered_mwh * price_usd_per_mwh, shortfall * penalty_usd_per_mwh)


def _number_problem(body: dict, names: tuple[str, ...], *, signed: tuple[str, ...] = ()) -> str:
    """'' when every one of ``names`` is a finite number, >= 0 unless it is among ``signed``."""
    for name in names:
        try:
            value = float(body[name])
        except OverflowError:
            return f"{name} is too large"
        if not math.isfinite(value) or (value < 0 and name not in signed):
            return f"{name} is {value}, not a finite number" + ("" if name in signed else " >= 0")
    return ""


def _event_of(rules: EntryRules, body: dict) -> tuple[dict | None, str]:
    known = rules.known(body["event"])
    if known is None or known[0] != "dr_event":
        return None, f"event '{body['event']}' is not in the ledger"
    targets = known[1]["targets"].split(",")
    if body["ven"] not in targets:
        return None, f"'{body['ven']}' is not a target of event '{body['event']}'"
    return known[1], ""


def _report_problem(rules: EntryRules, body: dict) -> str:
    return _event_of(rules, body)[1] or _number_problem(body, ("baseline_mwh", "usage_mwh", "delivered_mwh"),
                                                        signed=("baseline_mwh", "usage_mwh"))  # a net exporter


def _settlement_problem(rules: EntryRules, body: dict) -> str:
    event, problem = _event_of(rules, body)
    if problem:
        return problem
    problem = _number_problem(body, ("requested_mwh", "delivered_mwh", "shortfall_mwh", "payment_usd",
                                     "penalty_usd"))
    if problem:
        return problem
    if body["delivered_mwh"] > body["requested_mwh"] * (1 + 1e-9) + 1e-9:
        return "delivered more than was asked for"
    if not math.isclose(body["amount_usd"], body["payment_usd"] - body["penalty_usd"], rel_tol=1e-9, abs_tol=1e-6):
        return "amount is not payment minus penalty"
    if not math.isclose(body["payment_usd"], body["delivered_mwh"] * event["price_usd_per_mwh"], rel_tol=1e-9,
                        abs_tol=1e-6):
        return "payment is not delivered energy times the event's price"
    return ""


def _event_problem(rules: EntryRules, body: dict) -> str:
    if not body["targets"] or any(not t for t in body["targets"].split(",")):
        return "an event needs at least one target"
    return _number_problem(body, ("duration_h", "reduce_mw", "price_usd_per_mwh", "penalty_usd_per_mwh"))


DR_EVENT = register_kind(EntryKind(
    "dr_event", {"id": str, "program": str, "targets": str, "start": str, "duration_h": float, "reduce_mw": float,
                 "price_usd_per_mwh": float, "penalty_usd_per_mwh": float},
    signers=lambda rules, body: rules.operator_key(), check=_event_problem, has_id=True))
DR_REPORT = register_kind(EntryKind(
    "dr_report", {"id": str, "event": str, "ven": str, "baseline_mwh": float, "usage_mwh": float,
                  "delivered_mwh": float, "report_sha256": str},
    signers=lambda rules, body: rules.operator_key(), check=_report_problem, has_id=True))
DR_SETTLEMENT = register_kind(EntryKind(
    "dr_settlement", {"id": str, "event": str, "ven": str, "requested_mwh": float, "delivered_mwh": float,
                      "shortfall_mwh": float, "payment_usd": float, "penalty_usd": float, "amount_usd": float},
    signers=lambda rules, body: rules.operator_key(), check=_settlement_problem, has_id=True))

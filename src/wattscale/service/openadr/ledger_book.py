"""The VTN's signed ledger of demand response: every reduction event, every report received and every settlement,
appended in order by the operator (key in DIR/keys, made on first use)."""
from __future__ import annotations

import hashlib
import threading
from contextlib import contextmanager
from pathlib import Path

from wattscale.decisions.market.demand_response import Settlement, settle
from wattscale.ledger.book import Ledger, make
from wattscale.ledger.keys import Keystore
from wattscale.service.openadr.terms import Terms

OPERATOR = "vtn-operator"
LEDGER_FILE = "demand-response-ledger.sqlite"


_LOCKS: dict[Path, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def ledger_lock(data_dir: Path) -> threading.RLock:
    """The one lock of a data folder's ledger in this process: every append, and every settlement (which reads,
    then appends), holds it."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(data_dir, threading.RLock())


class DrLedger:
    """Appends demand-response entries to DIR/ledger/demand-response-ledger.sqlite (one writer at a time)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "ledger" / LEDGER_FILE
        self.keys = Keystore(data_dir / "keys")
        self.lock = ledger_lock(data_dir)

    @contextmanager
    def _opened(self):
        """(ledger, operator) under the lock, the ledger made on first use and closed after."""
        with self.lock:
            operator = self.keys.get(OPERATOR)
            ledger = Ledger.open(self.path) if self.path.exists() else \
                Ledger.create(self.path, operator, market="wattscale demand response")
            try:
                yield ledger, operator
            finally:
                ledger.close()

    def _append(self, kind: str, body: dict) -> None:
        with self._opened() as (ledger, operator):
            ledger.append([make(kind, body, operator)], operator)

    def trust(self) -> dict:
        """The operator's public key, for verifiers to pin (``wattscale ledger verify --trust``)."""
        with self._opened() as (ledger, _):
            return ledger.trust()

    def checkpoint(self) -> dict:
        """The head of the ledger signed by the operator (``wattscale ledger verify --checkpoint``)."""
        with self._opened() as (ledger, operator):
            return ledger.checkpoint(operator)

    def event(self, event_id: str, program_id: str, targets: list[str], terms: Terms) -> None:
        self._append("dr_event", {"id": f"event-{event_id}", "program": program_id, "targets": ",".join(targets),
                                  "start": terms.start.isoformat(), "duration_h": terms.duration_h,
                                  "reduce_mw": terms.reduce_mw, "price_usd_per_mwh": terms.price_usd_per_mwh,
                                  "penalty_usd_per_mwh": terms.penalty_usd_per_mwh})

    def report(self, report_id: str, event_id: str, ven: str, account: Settlement, report_json: bytes) -> None:
        self._append("dr_report", {"id": f"report-{report_id}", "event": f"event-{event_id}", "ven": ven,
                                   "baseline_mwh": account.baseline_mwh, "usage_mwh": account.usage_mwh,
                                   "delivered_mwh": account.delivered_mwh,
                                   "report_sha256": hashlib.sha256(report_json).hexdigest()})

    def settlement(self, account: Settlement) -> None:
        self._append("dr_settlement", {
            "id": f"settlement-{account.event}-{account.ven}", "event": f"event-{account.event}", "ven": account.ven,
            "requested_mwh": account.requested_mwh, "delivered_mwh": account.delivered_mwh,
            "shortfall_mwh": account.shortfall_mwh, "payment_usd": account.payment_usd,
            "penalty_usd": account.penalty_usd, "amount_usd": account.amount_usd})


def account_of(ven: str, event_id: str, terms: Terms, hours, baseline_mw, usage_mw) -> Settlement:
    return settle(ven, event_id, reduce_mw=terms.reduce_mw, interval_h=hours, baseline_mw=baseline_mw,
                  usage_mw=usage_mw, price_usd_per_mwh=terms.price_usd_per_mwh,
                  penalty_usd_per_mwh=terms.penalty_usd_per_mwh)

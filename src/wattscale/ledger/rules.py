"""The entry rules of the settlement ledger, shared by appending and verifying: the database schema, who must
sign each kind of entry and what it must hold given what came before, and the batch signature check."""
from __future__ import annotations

import json
import math
import os
from concurrent.futures import ThreadPoolExecutor

from wattscale.errors import LedgerError
from wattscale.ledger.keys import check_name, signature_ok

SIDES = ("buy", "sell")

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL, header TEXT NOT NULL, signature TEXT NOT NULL);
CREATE TABLE entries (seq INTEGER PRIMARY KEY, height INTEGER NOT NULL, kind TEXT NOT NULL, ref TEXT UNIQUE,
                      party TEXT, record TEXT NOT NULL);
CREATE INDEX entries_height ON entries(height);
"""


# ---------------------------------------------------------------- signatures
_POOL = None
PARALLEL_FROM = 64  # signatures; fewer are checked in this thread


def first_bad_signature(jobs: list[tuple]) -> tuple | None:
    """The first ``(tag, name, key, signature, payload)`` whose signature fails, or None. Ed25519 checks release
    the GIL, so large batches run on a thread per core."""
    global _POOL
    if len(jobs) < PARALLEL_FROM or (os.cpu_count() or 1) < 2:
        return next((j for j in jobs if not signature_ok(*j[2:])), None)
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=os.cpu_count(), thread_name_prefix="wattscale-verify")
    n = len(jobs)
    size = -(-n // os.cpu_count())
    parts = [jobs[i: i + size] for i in range(0, n, size)]
    found = list(_POOL.map(lambda part: next((j for j in part if not signature_ok(*j[2:])), None), parts))
    return next((f for f in found if f is not None), None)


# ---------------------------------------------------------------- rules
class EntryRules:
    """The rules an entry must meet given what came before; ``commit`` makes the last checked entry 'before'
    (the ledger adopts the participants only once their block is stored)."""

    def __init__(self, ledger, *, pending: bool) -> None:  # a Ledger, or the state a verification rebuilds
        self.ledger = ledger
        self.pending = pending  # appending: earlier state is in the ledger; verifying: rebuilt from the start
        self.participants = dict(ledger.participants) if pending else {}
        self.genesis = dict(ledger.genesis) if pending else {}
        self.refs: dict[str, tuple[str, dict]] = {}  # id -> (kind, body) within this walk or block
        self._last: tuple | None = None

    def _knownentry_ref(self, ref: str) -> tuple[str, dict] | None:
        if ref in self.refs:
            return self.refs[ref]
        if not self.pending:
            return None
        row = self.ledger.conn.execute("SELECT record FROM entries WHERE ref = ?", (ref,)).fetchone()
        if row is None:
            return None
        rec = parse_record(row[0])
        return rec["kind"], rec["body"]

    def check(self, kind: str, body: dict, sigs: dict, payload: bytes) -> str:
        """'' when the entry meets the rules (its signatures to check are then in ``self.signatures``)."""
        self._last = None
        self.signatures: list[tuple] = []
        if not isinstance(body, dict) or not isinstance(sigs, dict):
            return "body and signatures must be objects"
        if kind == "genesis":
            if self.genesis:
                return "a second genesis entry"
            need = {"operator": str, "public_key": str, "price_floor_usd_per_mwh": float,
                    "price_cap_usd_per_mwh": float}
            missing = missing_fields(body, need)
            if missing:
                return missing
            signers = {body["operator"]: body["public_key"]}
        elif not self.genesis:
            return "the ledger does not start with a genesis entry"
        elif kind == "participant":
            missing = missing_fields(body, {"name": str, "public_key": str})
            if missing:
                return missing
            try:
                check_name(body["name"])
            except LedgerError as exc:
                return exc.detail
            if body["name"] in self.participants:
                return f"participant '{body['name']}' is already registered"
            signers = {self.genesis["operator"]: self.participants[self.genesis["operator"]],
                       body["name"]: body["public_key"]}
        elif kind == "order":
            missing = missing_fields(body, {"id": str, "participant": str, "interval": str, "side": str,
                                     "quantity_mwh": float, "price_usd_per_mwh": float})
            if missing:
                return missing
            who = body["participant"]
            if who not in self.participants:
                return f"unknown participant '{who}'"
            if body["side"] not in SIDES:
                return f"side '{body['side']}' is neither 'buy' nor 'sell'"
            problem = self._quantity_price(body)
            if problem:
                return problem
            signers = {who: self.participants[who]}
        elif kind == "match":
            missing = missing_fields(body, {"id": str, "interval": str, "buy_order": str, "sell_order": str,
                                     "quantity_mwh": float, "price_usd_per_mwh": float})
            if missing:
                return missing
            for side, ref in (("buy", body["buy_order"]), ("sell", body["sell_order"])):
                known = self._knownentry_ref(ref)
                if known is None or known[0] != "order":
                    return f"{side} order '{ref}' is not in the ledger"
                if known[1]["side"] != side or known[1]["interval"] != body["interval"]:
                    return f"order '{ref}' is not a {side} order for interval {body['interval']}"
            problem = self._quantity_price(body)
            if problem:
                return problem
            signers = {self.genesis["operator"]: self.participants[self.genesis["operator"]]}
        elif kind == "settlement":
            missing = missing_fields(body, {"id": str, "participant": str, "period": str, "energy_mwh": float,
                                     "amount_usd": float})
            if missing:
                return missing
            who = body["participant"]
            if who not in self.participants:
                return f"unknown participant '{who}'"
            signers = {who: self.participants[who],
                       self.genesis["operator"]: self.participants[self.genesis["operator"]]}
        else:
            return f"unknown kind '{kind}'"
        ref = entry_ref(kind, body)
        if ref is not None and self._knownentry_ref(ref) is not None:
            return f"id '{ref}' is already used"
        extra = set(sigs) - set(signers)
        if extra:
            return f"signed by '{sorted(extra)[0]}', who is not a party to it"
        for name in signers:
            if not isinstance(sigs.get(name), str):
                return f"not signed by '{name}'"
        self.signatures = [(name, key, sigs[name], payload) for name, key in signers.items()]
        self._last = (kind, body, ref)
        return ""

    def _quantity_price(self, body: dict) -> str:
        try:
            q, p = float(body["quantity_mwh"]), float(body["price_usd_per_mwh"])
        except OverflowError:
            return "a quantity or price is too large"
        if not math.isfinite(q) or q <= 0:
            return f"quantity {q} MWh is not positive"
        lo, hi = self.genesis["price_floor_usd_per_mwh"], self.genesis["price_cap_usd_per_mwh"]
        if not (math.isfinite(p) and lo <= p <= hi):
            return f"price {p} USD/MWh is outside the market's bounds [{lo:g}, {hi:g}]"
        return ""

    def commit(self) -> None:
        if self._last is None:
            return
        kind, body, ref = self._last
        if kind == "genesis":
            self.genesis = body
            self.participants[body["operator"]] = body["public_key"]
        elif kind == "participant":
            self.participants[body["name"]] = body["public_key"]
        if ref is not None:
            self.refs[ref] = (kind, body)
        self._last = None


def missing_fields(body: dict, need: dict) -> str:
    for name, typ in need.items():
        value = body.get(name)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if typ is float else \
            isinstance(value, typ)
        if not ok:
            return f"field '{name}' is missing or not a {'number' if typ is float else 'string'}"
    return ""


def entry_ref(kind: str, body: dict) -> str | None:
    return body.get("id") if kind in ("order", "match", "settlement") and isinstance(body, dict) else None


def entry_party(kind: str, body: dict) -> str | None:
    return body.get("participant") or body.get("name") or body.get("operator")


def entry_label(body) -> str:
    if not isinstance(body, dict):
        return ""
    for key in ("id", "name", "operator"):
        if isinstance(body.get(key), str):
            return f"'{body[key]}'"
    return ""


def parse_record(text: str):
    return json.loads(text)

"""The entry rules of the settlement ledger, shared by appending and verifying: the database schema, the kinds of
entry (the ledger's own genesis and participant; others, such as the market's, registered by their owners), who
must sign each and what it must hold given what came before, and the batch signature check."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from wattscale.errors import LedgerError
from wattscale.ledger.keys import check_name, signature_ok

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


# ---------------------------------------------------------------- kinds of entry
@dataclass(frozen=True)
class EntryKind:
    """A kind of entry: the fields its body must have, what else it must meet given what came before, and who
    signs it. ``has_id``: its body's ``id`` names it, once in the whole ledger."""

    name: str
    fields: dict[str, type]
    signers: Callable[["EntryRules", dict], dict[str, str]]  # party name -> public key
    check: Callable[["EntryRules", dict], str] = lambda rules, body: ""  # '' or the problem
    has_id: bool = False


KINDS: dict[str, EntryKind] = {}


def register_kind(kind: EntryKind) -> EntryKind:
    """Make ``kind`` known to the ledger (the market registers its orders, matches and settlements)."""
    if kind.name in KINDS and KINDS[kind.name] != kind:
        raise ValueError(f"entry kind '{kind.name}' is registered twice")
    KINDS[kind.name] = kind
    return kind


def _participant_problem(rules: "EntryRules", body: dict) -> str:
    try:
        check_name(body["name"])
    except LedgerError as exc:
        return exc.detail
    return f"participant '{body['name']}' is already registered" if body["name"] in rules.participants else ""


register_kind(EntryKind("genesis", {"operator": str, "public_key": str, "price_floor_usd_per_mwh": float,
                                    "price_cap_usd_per_mwh": float},
                        signers=lambda rules, body: {body["operator"]: body["public_key"]},
                        check=lambda rules, body: "a second genesis entry" if rules.genesis else ""))
register_kind(EntryKind("participant", {"name": str, "public_key": str},
                        signers=lambda rules, body: {**rules.operator_key(), body["name"]: body["public_key"]},
                        check=_participant_problem))


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

    def known(self, ref: str) -> tuple[str, dict] | None:
        """The (kind, body) of the entry with id ``ref`` before this one, or None."""
        if ref in self.refs:
            return self.refs[ref]
        if not self.pending:
            return None
        row = self.ledger.conn.execute("SELECT record FROM entries WHERE ref = ?", (ref,)).fetchone()
        if row is None:
            return None
        rec = parse_record(row[0])
        return rec["kind"], rec["body"]

    def operator_key(self) -> dict[str, str]:
        """The operator's name and public key, as the genesis entry set them."""
        return {self.genesis["operator"]: self.participants[self.genesis["operator"]]}

    def check(self, kind: str, body: dict, sigs: dict, payload: bytes) -> str:
        """'' when the entry meets the rules (its signatures to check are then in ``self.signatures``)."""
        self._last = None
        self.signatures: list[tuple] = []
        if not isinstance(body, dict) or not isinstance(sigs, dict):
            return "body and signatures must be objects"
        if kind != "genesis" and not self.genesis:
            return "the ledger does not start with a genesis entry"
        spec = KINDS.get(kind) if isinstance(kind, str) else None
        if spec is None:
            return f"unknown kind '{kind}'"
        problem = missing_fields(body, spec.fields) or spec.check(self, body)
        if problem:
            return problem
        signers = spec.signers(self, body)
        ref = entry_ref(kind, body)
        if ref is not None and self.known(ref) is not None:
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
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    return body.get("id") if spec is not None and spec.has_id and isinstance(body, dict) else None


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

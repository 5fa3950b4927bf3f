"""The settlement ledger: signed entries in blocks, a hash chain of blocks, a Merkle root per block, in SQLite.

Every entry is canonical JSON ``{seq, kind, body, signatures}``; its parties sign ``{kind, body}`` with
Ed25519. Kinds and who signs them:

- ``genesis`` (the operator): the operator's public key and the market's price bounds;
- ``participant`` (the operator and the participant, proving it holds the key): a name and public key;
- ``order`` (its participant): a bid or offer of energy for an interval;
- ``match`` (the operator): a trade between a buy and a sell order at a price;
- ``settlement`` (its participant and the operator): what a participant pays or is paid for a period.

A block's header holds its height, the previous block's hash, the Merkle root of its entries, their count
and first sequence number; the operator signs the header. Blocks are written one SQLite transaction each
(WAL journal), so a process killed during an append leaves the ledger as it was before that block; ``close``
checkpoints the WAL into the file, so the file alone holds every entry. ``verify`` (``verify.py``) re-checks
every signature, link, root and rule and names the first bad entry; only anchors from outside the file
(``anchors.py``: a pinned operator key, pinned participants, a signed checkpoint) make that an answer about who
wrote it. ``prove`` gives an inclusion proof that ``check_proof`` confirms against a pinned operator key.
"""
from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from wattscale.errors import LedgerError
from wattscale.ledger.anchors import Anchors, pin_matches, sign_checkpoint, trust_document
from wattscale.ledger.canonical import audit_path, canonical, leaf_hash, merkle_root, root_from_path, sha256_hex
from wattscale.ledger.keys import Identity, signature_ok
from wattscale.ledger.rules import (
    SCHEMA,
    EntryRules,
    entry_label,
    entry_party,
    entry_ref,
    first_bad_signature,
    parse_record,
)
from wattscale.ledger.verify import GENESIS_PREV, MALFORMED, Report, verify_ledger

FORMAT = "wattscale-ledger"
VERSION = 1


@dataclass(frozen=True)
class Entry:
    """An entry before it is stored: its kind, body and its parties' signatures of ``{kind, body}``."""

    kind: str
    body: dict
    signatures: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        return canonical({"kind": self.kind, "body": self.body})

    def signed_by(self, *identities: Identity) -> "Entry":
        data = self.payload()
        return Entry(self.kind, self.body, {**self.signatures, **{i.name: i.sign(data) for i in identities}})

    def record(self, seq: int) -> dict:
        return {"seq": seq, "kind": self.kind, "body": self.body, "signatures": self.signatures}


def make(kind: str, body: dict, *signers: Identity) -> Entry:
    """An entry of ``kind`` signed by ``signers``."""
    return Entry(kind, body).signed_by(*signers)


class Ledger:
    """A ledger file: open an existing one, or ``create`` a new one with its operator and market bounds."""

    def __init__(self, path: str | Path, conn: sqlite3.Connection, *, writable: bool = True) -> None:
        self.path = Path(path)
        self.conn = conn
        self.writable = writable
        self._load_state()

    # ------------------------------------------------------------ files
    @classmethod
    def create(cls, path: str | Path, operator: Identity, *, price_floor_usd_per_mwh: float = -1000.0,
               price_cap_usd_per_mwh: float = 5000.0, market: str = "wattscale p2p") -> "Ledger":
        path = Path(path)
        if path.exists():
            raise LedgerError("a file is already there; a new ledger never overwrites one", file=str(path))
        if not (math.isfinite(price_floor_usd_per_mwh) and math.isfinite(price_cap_usd_per_mwh)
                and price_floor_usd_per_mwh < price_cap_usd_per_mwh):
            raise LedgerError("the market's price bounds are not an interval", file=str(path), field="market",
                              expected="finite price_floor < price_cap (USD/MWh)")
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(path)
        with conn:
            conn.executescript(SCHEMA)
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [("format", FORMAT), ("version", str(VERSION))])
        ledger = cls(path, conn)
        body = {"market": market, "operator": operator.name, "public_key": operator.public_hex,
                "price_floor_usd_per_mwh": float(price_floor_usd_per_mwh),
                "price_cap_usd_per_mwh": float(price_cap_usd_per_mwh)}
        ledger.append([make("genesis", body, operator)], operator)
        return ledger

    @classmethod
    def open(cls, path: str | Path, *, write: bool = True) -> "Ledger":
        """Open a ledger file; ``write=False`` opens it read only (verifying never changes the file)."""
        path = Path(path)
        if not path.is_file():
            raise LedgerError("no such ledger file", file=str(path), expected="a ledger made by 'wattscale market'")
        try:
            with path.open("rb") as fh:
                magic = fh.read(16)
        except OSError as exc:
            raise LedgerError(f"cannot read the ledger ({exc.strerror or exc})", file=str(path)) from None
        if magic != b"SQLite format 3\x00":
            raise LedgerError("not a ledger: not an SQLite file", file=str(path), expected="a wattscale ledger (SQLite)")
        try:  # read the format mark without changing anything, then open for writing
            probe = _read_only(path)
            try:
                meta = dict(probe.execute("SELECT key, value FROM meta").fetchall())
            finally:
                probe.close()
        except (sqlite3.Error, ValueError) as exc:
            raise LedgerError(f"not a readable ledger ({exc})", file=str(path),
                              expected="a wattscale ledger (SQLite)") from None
        if meta.get("format") != FORMAT:
            raise LedgerError("not a ledger: the file has no wattscale ledger format mark", file=str(path),
                              expected=f"format '{FORMAT}'")
        if meta.get("version") != str(VERSION):
            raise LedgerError(f"ledger version {str(meta.get('version'))[:20]!r} is not supported", file=str(path),
                              expected=f"version {VERSION}")
        try:
            return cls(path, _connect(path) if write else _read_only(path), writable=write)
        except sqlite3.Error as exc:
            raise LedgerError(f"not a readable ledger ({exc})", file=str(path),
                              expected="a wattscale ledger (SQLite)") from None

    def checkpoint_wal(self) -> None:
        """Copy everything in the write-ahead log into the ledger file itself and empty the log, so that the file
        alone holds every entry; LedgerError if a reader of the file keeps that from finishing."""
        busy, _log, _done = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise LedgerError("the ledger could not be checkpointed: another process is reading it",
                              file=str(self.path))

    def close(self) -> None:
        """Close; a writer first checkpoints the log and, when no one else has the file open, turns it back into a
        single file (rollback journal), so deleting -wal or -shm files afterwards loses nothing."""
        if self.writable:
            try:
                self.conn.execute("PRAGMA busy_timeout=200")
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self.conn.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.Error:
                pass  # another connection holds the file: the log stays with it, as SQLite expects
        self.conn.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ state
    def _load_state(self) -> None:
        """The operator, participants and head as stored; a malformed file leaves ``damage`` set (``verify`` says
        where; appending and proving refuse)."""
        self.participants: dict[str, str] = {}
        self.genesis: dict = {}
        self.height, self.head_hash, self.next_seq, self.damage = -1, GENESIS_PREV, 0, ""
        try:
            for (record,) in self.conn.execute("SELECT record FROM entries WHERE kind IN ('genesis', 'participant') "
                                               "ORDER BY seq"):
                body = parse_record(record)["body"]
                if "market" in body:
                    self.genesis = body
                    self.participants[body["operator"]] = body["public_key"]
                else:
                    self.participants[body["name"]] = body["public_key"]
            row = self.conn.execute("SELECT height, hash FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
            self.height, self.head_hash = (row[0], row[1]) if row else (-1, GENESIS_PREV)
            last_seq = self.conn.execute("SELECT MAX(seq) FROM entries").fetchone()[0]
            self.next_seq = 0 if last_seq is None else last_seq + 1  # the genesis entry is seq 0, not none
        except MALFORMED as exc:
            self.damage = f"the ledger is malformed ({exc.__class__.__name__}: {str(exc)[:120]})"

    def _usable(self) -> None:
        if self.damage:
            raise LedgerError(f"{self.damage}; run 'wattscale ledger verify'", file=str(self.path))

    @property
    def operator(self) -> str:
        return self.genesis.get("operator", "")

    # ------------------------------------------------------------ appending
    def append(self, entries: Iterable[Entry], operator: Identity) -> int:
        """Check every entry, then store them as one block signed by ``operator``; returns the block's height.
        A refused entry refuses the whole block and leaves the ledger untouched."""
        entries = list(entries)
        self._usable()
        if not entries:
            raise LedgerError("an empty block", file=str(self.path), expected="at least one entry")
        if self.height >= 0 and operator.public_hex != self.participants.get(self.operator):
            raise LedgerError(f"'{operator.name}' is not this ledger's operator", file=str(self.path),
                              field="operator", expected=f"the key of '{self.operator}'")
        rules = EntryRules(self, pending=True)
        records, leaves, rows, jobs = [], [], [], []

        def refuse(k: int, problem: str):
            e = entries[k]
            return LedgerError(f"entry {k} ({e.kind} {entry_label(e.body)}) refused: {problem}; nothing was written",
                               file=str(self.path), field=f"entries[{k}]")

        for k, e in enumerate(entries):
            seq = self.next_seq + k
            try:
                payload = e.payload()
            except (TypeError, ValueError) as exc:
                raise refuse(k, f"not canonical JSON ({exc})") from None
            problem = rules.check(e.kind, e.body, e.signatures, payload)
            if problem:
                raise refuse(k, problem)
            jobs += [(k, *job) for job in rules.signatures]
            rules.commit()
            text = canonical(e.record(seq))
            leaves.append(leaf_hash(text))
            rows.append((seq, self.height + 1, e.kind, entry_ref(e.kind, e.body), entry_party(e.kind, e.body),
                         text.decode()))
            records.append(text)
        bad = first_bad_signature(jobs)
        if bad is not None:
            raise refuse(bad[0], f"the signature of '{bad[1]}' does not match")
        header = {"height": self.height + 1, "prev_hash": self.head_hash, "merkle_root": merkle_root(leaves).hex(),
                  "first_seq": self.next_seq, "n_entries": len(entries),
                  "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
        block_hash = sha256_hex(canonical(header))
        signature = operator.sign(canonical(header))
        try:
            with self.conn:  # one transaction: the whole block or nothing
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)", rows)
                self.conn.execute("INSERT INTO blocks VALUES (?, ?, ?, ?)",
                                  (header["height"], block_hash, canonical(header).decode(), signature))
        except sqlite3.IntegrityError as exc:
            raise LedgerError(f"the block could not be stored ({exc}); nothing was written", file=str(self.path)) \
                from None
        self.participants, self.genesis = rules.participants, rules.genesis
        self.height, self.head_hash = header["height"], block_hash
        self.next_seq += len(entries)
        return self.height

    # ------------------------------------------------------------ reading
    def blocks(self) -> Iterator[tuple[dict, str, str]]:
        for header, block_hash, signature in self.conn.execute(
                "SELECT header, hash, signature FROM blocks ORDER BY height"):
            yield parse_record(header), block_hash, signature

    def records(self, height: int | None = None) -> Iterator[tuple[int, str]]:
        """(seq, canonical record) in order, of one block or all."""
        for seq, text, *_ in self._rows(height):
            yield seq, text

    def _rows(self, height: int | None = None):
        cols = "seq, record, kind, ref, party"
        if height is None:
            return self.conn.execute(f"SELECT {cols} FROM entries ORDER BY seq")
        return self.conn.execute(f"SELECT {cols} FROM entries WHERE height = ? ORDER BY seq", (height,))

    def find(self, key: str) -> int:
        """The sequence number of an entry given by number or by its id (order, match or settlement id)."""
        row = self.conn.execute("SELECT seq FROM entries WHERE ref = ?", (key,)).fetchone()
        if row is None and key.isdigit():
            row = self.conn.execute("SELECT seq FROM entries WHERE seq = ?", (int(key),)).fetchone()
        if row is None:
            raise LedgerError(f"no entry '{key}'", file=str(self.path), expected="an entry number or id")
        return row[0]

    # ------------------------------------------------------------ verifying
    def verify(self, *, head_hash: str | None = None, anchors: Anchors | None = None) -> Report:
        """Check the file, then every block and entry from the start; the first problem stops the walk and is named.
        ``anchors`` (or a kept ``head_hash``) tie the answer to keys and heads kept outside the file; without them
        an ok report only says the file agrees with itself (``report.anchored`` is False)."""
        anchors = anchors or Anchors()
        if head_hash is not None:
            anchors = Anchors(anchors.operator, anchors.participants, anchors.checkpoint, head_hash)
        return verify_ledger(self, anchors)

    def checkpoint(self, operator: Identity) -> dict:
        """The head, signed by the operator: what a verifier keeps to detect a rewritten or cut chain later."""
        self._usable()
        if operator.public_hex != self.participants.get(self.operator):
            raise LedgerError(f"'{operator.name}' is not this ledger's operator", file=str(self.path),
                              field="operator", expected=f"the key of '{self.operator}'")
        return sign_checkpoint(operator, market=str(self.genesis.get("market", "")), height=self.height,
                               entries=self.next_seq, head_hash=self.head_hash)

    def trust(self) -> dict:
        """The operator's and participants' public keys as registered: what a verifier pins (trust.json)."""
        self._usable()
        others = {n: k for n, k in self.participants.items() if n != self.operator}
        return trust_document(str(self.genesis.get("market", "")), self.operator,
                              self.participants.get(self.operator, ""), others)

    # ------------------------------------------------------------ proofs
    def prove(self, key: str) -> dict:
        """An inclusion proof of an entry: the entry, its audit path, the signed block header and public keys."""
        self._usable()
        try:
            return self._prove(key)
        except MALFORMED as exc:
            raise LedgerError(f"cannot make a proof from a malformed ledger ({exc.__class__.__name__}); run "
                              "'wattscale ledger verify'", file=str(self.path)) from None

    def _prove(self, key: str) -> dict:
        seq = self.find(key)
        height = self.conn.execute("SELECT height FROM entries WHERE seq = ?", (seq,)).fetchone()[0]
        block = self.conn.execute("SELECT header, signature FROM blocks WHERE height = ?", (height,)).fetchone()
        if block is None:
            raise LedgerError(f"entry {seq}'s block {height} is missing", file=str(self.path))
        texts = [(s, t) for s, t in self.records(height)]
        index = [s for s, _ in texts].index(seq)
        leaves = [leaf_hash(t.encode()) for _, t in texts]
        record = parse_record(texts[index][1])
        signers = sorted(set(record["signatures"]) | {self.operator})
        return {"format": f"{FORMAT}-proof", "entry": record, "index": index, "tree_size": len(leaves),
                "audit_path": [x.hex() for x in audit_path(leaves, index)], "block_header": parse_record(block[0]),
                "block_signature": block[1], "operator": self.operator,
                "public_keys": {name: self.participants.get(name, "") for name in signers}}


def check_proof(proof: dict, *, operator_key: str | None = None, participants: dict[str, str] | None = None) -> str:
    """Check an inclusion proof; returns '' when it holds, else the reason. ``operator_key`` pins the operator's
    public key or fingerprint and ``participants`` their keys; without a pinned operator key the proof is only
    consistent with the keys it carries, which anyone can make."""
    pinned = participants or {}
    try:
        keys = proof["public_keys"]
        op = proof["operator"]
        key = keys[op]
        if operator_key and not pin_matches(operator_key, key):
            return "the block header is not signed by the pinned operator key (the proof names another key)"
        header = proof["block_header"]
        rec = proof["entry"]
        payload = canonical({"kind": rec["kind"], "body": rec["body"]})
        for name, sig in rec["signatures"].items():
            if name in pinned and keys.get(name) != pinned[name]:
                return f"the proof's key for '{name}' is not its pinned key"
            if name not in keys or not signature_ok(keys[name], sig, payload):
                return f"the entry's signature by '{name}' does not hold"
        root = root_from_path(leaf_hash(canonical(rec)), int(proof["index"]), int(proof["tree_size"]),
                              [bytes.fromhex(x) for x in proof["audit_path"]])
        if root is None or root.hex() != header["merkle_root"]:
            return "the audit path does not lead to the block's Merkle root"
        if int(proof["tree_size"]) != header["n_entries"]:
            return "the proof's tree size is not the block's entry count"
        if not signature_ok(key, proof["block_signature"], canonical(header)):
            return "the block header is not signed by the operator"
    except MALFORMED as exc:
        return f"not a ledger proof ({exc.__class__.__name__}: {str(exc)[:120]})"
    return ""


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def verify_file(path: str | Path, anchors: Anchors | None = None) -> Report:
    """Open the file as it is on disk (read only) and verify it; LedgerError if it is not a ledger at all."""
    with Ledger.open(path, write=False) as led:
        return led.verify(anchors=anchors)

"""Verifying a ledger: the SQLite integrity check and schema, then every block, entry, signature, link and Merkle
root from the start, then the verifier's own anchors (pinned keys, a signed checkpoint, a kept head).

Nothing in a malformed file raises: every problem becomes a ``Report`` that is not ok and names what is wrong.
Without anchors a ``Report`` may be ok but not ``anchored``: the file agrees with itself, which proves nothing about
who wrote it.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from functools import lru_cache

from wattscale.ledger.anchors import Anchors, checkpoint_problem, fingerprint, pin_matches
from wattscale.ledger.canonical import canonical, leaf_hash, merkle_root, sha256_hex
from wattscale.ledger.keys import signature_ok
from wattscale.ledger.rules import (
    SCHEMA,
    EntryRules,
    entry_label,
    entry_party,
    entry_ref,
    first_bad_signature,
    parse_record,
)

GENESIS_PREV = "0" * 64
MALFORMED = (sqlite3.Error, ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError,
             OverflowError, UnicodeError)


@dataclass
class Report:
    """What ``verify`` found: the ledger is sound, or the first bad entry or block and why; and which anchors from
    outside the file it was checked against (``anchors``) and what it could therefore not check (``unchecked``)."""

    ok: bool
    blocks: int
    entries: int
    head_hash: str
    problem: str = ""
    bad_seq: int | None = None
    bad_height: int | None = None
    anchors: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def anchored(self) -> bool:
        return self.ok and bool(self.anchors)


def verify_ledger(ledger, anchors: Anchors) -> Report:
    """``ledger.verify``: never raises on a malformed file."""
    seen: dict = {}
    try:
        report = _storage(ledger.conn) or _walk(ledger, anchors, seen)
    except MALFORMED as exc:
        report = Report(False, 0, 0, GENESIS_PREV, f"the ledger is malformed ({_reason(exc)})")
    if report.ok:
        _describe(report, anchors, seen["operator_key"], seen["participants"])
    return report


# ---------------------------------------------------------------- the file
@lru_cache(maxsize=1)
def _expected_schema() -> dict[str, tuple]:
    mem = sqlite3.connect(":memory:")
    mem.executescript(SCHEMA)
    found = _schema(mem)
    mem.close()
    return found


def _schema(conn: sqlite3.Connection) -> dict[str, tuple]:
    return {name: (kind, table, sql) for kind, name, table, sql in
            conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")}


def _storage(conn: sqlite3.Connection) -> Report | None:
    """A report if SQLite's integrity check fails or the tables are not the ones a ledger is made with."""
    def bad(problem: str) -> Report:
        return Report(False, 0, 0, GENESIS_PREV, problem)

    found = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
    if found != ["ok"]:
        lines = [ln for f in found for ln in str(f).splitlines() if ln.strip() and not ln.startswith("***")]
        return bad(f"the database file is corrupt (SQLite integrity check: {_cut('; '.join(lines), 200)})")
    want, have = _expected_schema(), _schema(conn)
    for name in sorted(want):
        if name not in have:
            return bad(f"the ledger's {want[name][0]} '{name}' is missing")
        if have[name] != want[name]:
            return bad(f"the ledger's {want[name][0]} '{name}' was changed")
    extra = sorted(set(have) - set(want))
    if extra:
        return bad(f"the ledger holds a {have[extra[0]][0]} '{_cut(str(extra[0]))}' that a ledger does not have")
    return None


# ---------------------------------------------------------------- the chain
def _walk(ledger, anchors: Anchors, seen: dict) -> Report:
    """The chain from the start; on success ``seen`` holds the operator's key and the registered participants."""
    rules = EntryRules(ledger, pending=False)
    cp = anchors.checkpoint
    pin = anchors.operator_pin
    if cp is not None:
        problem = checkpoint_problem(cp, pin)
        if problem:
            return Report(False, 0, 0, GENESIS_PREV, problem)
    prev, n_blocks, n_entries, next_seq = GENESIS_PREV, 0, 0, 0
    operator_key = None
    seen_heights = [h for (h,) in ledger.conn.execute("SELECT DISTINCT height FROM entries")]
    for row_height, header_text, stored_hash, signature in ledger.conn.execute(
            "SELECT height, header, hash, signature FROM blocks ORDER BY height"):
        where = dict(blocks=n_blocks, entries=n_entries, head_hash=prev, bad_height=n_blocks)
        if row_height != n_blocks:
            return Report(False, problem=f"block {n_blocks} is missing (found block {_cut(str(row_height))} next)",
                          **where)
        header = parse_record(header_text) if isinstance(header_text, str) else None
        if not isinstance(header, dict) or canonical(header).decode() != header_text:
            return Report(False, problem=f"block {n_blocks}'s header is not a canonical JSON object", **where)
        h = header.get("height")
        if h != n_blocks or not isinstance(h, int) or isinstance(h, bool):
            return Report(False, problem=f"block {n_blocks} is missing (found block {_cut(str(h))} next)", **where)
        if header.get("prev_hash") != prev:
            return Report(False, problem=f"block {h} does not link to block {h - 1} (previous hash differs)",
                          **where)
        if sha256_hex(canonical(header)) != stored_hash:
            return Report(False, problem=f"block {h}'s header was changed (its hash differs)", **where)
        leaves, jobs = [], []
        for seq, text, *columns in ledger._rows(h):
            where = dict(blocks=n_blocks, entries=n_entries, head_hash=prev, bad_height=h, bad_seq=seq)
            if seq != next_seq:
                return Report(False, problem=f"entry {next_seq} is missing (found entry {seq} next)", **where)
            rec = parse_record(text) if isinstance(text, str) else None
            if not isinstance(rec, dict) or not {"kind", "body", "signatures"} <= set(rec):
                return Report(False, problem=f"entry {seq} is not a ledger entry", **where)
            if canonical(rec).decode() != text:
                return Report(False, problem=f"entry {seq} is not in canonical form", **where)
            kind, body, sigs = rec["kind"], rec["body"], rec["signatures"]
            if not isinstance(kind, str) or not isinstance(body, dict):
                return Report(False, problem=f"entry {seq} is not a ledger entry", **where)
            if columns != [kind, entry_ref(kind, body), entry_party(kind, body)]:
                return Report(False, problem=f"entry {seq}'s index columns do not match its record", **where)
            if rec.get("seq") != seq:
                return Report(False, problem=f"entry {seq} holds entry {_cut(str(rec.get('seq')))}'s record "
                                             "(moved)", **where)
            if seq == 0 and kind != "genesis":
                return Report(False, problem="entry 0 is not the genesis entry", **where)
            problem = rules.check(kind, body, sigs, canonical({"kind": kind, "body": body}))
            if problem:
                bad = first_bad_signature(jobs)  # an earlier entry's signature fails first
                if bad is not None:
                    return _bad_signature(bad, n_blocks, prev, h)
                return Report(False, problem=f"entry {seq} ({kind} {entry_label(body)}): {problem}", **where)
            if seq == 0:
                operator_key = body["public_key"]
            problem = _pinned(kind, body, anchors, pin)
            if problem:
                return Report(False, problem=f"entry {seq} ({kind} {entry_label(body)}): {problem}", **where)
            jobs += [((seq, kind, entry_label(body)), *job) for job in rules.signatures]
            rules.commit()
            leaves.append(leaf_hash(text.encode()))
            next_seq += 1
            n_entries += 1
        bad = first_bad_signature(jobs)
        if bad is not None:
            return _bad_signature(bad, n_blocks, prev, h)
        where = dict(blocks=n_blocks, entries=n_entries, head_hash=prev, bad_height=h)
        first, count = header.get("first_seq"), header.get("n_entries")
        if first != next_seq - len(leaves) or count != len(leaves):
            held = f"block {h} should hold {_cut(str(count))} entries from {_cut(str(first))} but holds {len(leaves)}"
            if first == next_seq - len(leaves) and isinstance(count, int) and count > len(leaves):
                return Report(False, problem=f"entry {next_seq} is missing ({held})", bad_seq=next_seq, **where)
            return Report(False, problem=held, **where)
        if merkle_root(leaves).hex() != header.get("merkle_root"):
            return Report(False, problem=f"block {h}'s Merkle root does not match its entries "
                                         "(an entry was changed, added, removed or moved)", **where)
        if operator_key is None or not signature_ok(operator_key, signature, canonical(header)):
            return Report(False, problem=f"block {h}'s header is not signed by the operator", **where)
        prev, n_blocks = stored_hash, n_blocks + 1
        if cp is not None and h == cp["height"] and (prev, n_entries) != (cp["head_hash"], cp["entries"]):
            return Report(False, problem=f"block {h} is not the block of the signed checkpoint (its hash or the "
                                         "entries up to it differ: the chain was rewritten)", **where)
    orphans = sorted(set(seen_heights) - set(range(n_blocks)), key=str)
    if orphans:
        return Report(False, n_blocks, n_entries, prev, f"entries stored under block {_cut(str(orphans[0]))}, "
                                                        "which is not in the chain", bad_height=orphans[0])
    if n_blocks == 0:
        return Report(False, 0, 0, prev, "the ledger has no genesis block")
    if cp is not None and n_blocks <= cp["height"]:
        return Report(False, n_blocks, n_entries, prev, f"the ledger ends at block {n_blocks - 1} but the signed "
                      f"checkpoint is at block {cp['height']} ({_n(cp['height'] - n_blocks + 1, 'block')} cut from the end)")
    missing = sorted(set(anchors.participants) - set(rules.participants))
    if missing:
        return Report(False, n_blocks, n_entries, prev, f"participant '{missing[0]}' is pinned but not registered "
                                                        "(its registration was removed or cut)")
    if anchors.head_hash is not None and anchors.head_hash != prev:
        return Report(False, n_blocks, n_entries, prev, f"the chain ends at {prev[:16]}..., not at the "
                                                        f"expected head {anchors.head_hash[:16]}... (blocks removed?)")
    seen.update(operator_key=operator_key, participants={name: key for name, key in rules.participants.items()
                                                         if name != rules.genesis["operator"]})
    return Report(True, n_blocks, n_entries, prev)


def _pinned(kind: str, body: dict, anchors: Anchors, pin: str | None) -> str:
    """Why an entry contradicts the verifier's pins ('' if it does not)."""
    if kind == "genesis" and pin and not pin_matches(pin, body["public_key"]):
        return (f"the operator key {body['public_key'][:16]}... is not the pinned operator key "
                "(the chain was rebuilt with another key)")
    if kind == "participant" and body["name"] in anchors.participants \
            and body["public_key"] != anchors.participants[body["name"]]:
        return f"'{body['name']}' is registered with key {body['public_key'][:16]}..., not its pinned key"
    return ""


def _bad_signature(bad: tuple, blocks: int, prev: str, height: int) -> Report:
    (seq, kind, label), name = bad[0], bad[1]
    return Report(False, blocks, seq, prev, f"entry {seq} ({kind} {label}): the signature of "
                  f"'{name}' does not match", bad_seq=seq, bad_height=height)


def _describe(report: Report, anchors: Anchors, operator_key: str, participants: dict[str, str]) -> None:
    """Fill in what the verified ledger was anchored to and what that leaves unchecked."""
    if anchors.operator_pin:
        report.anchors.append(f"operator key {fingerprint(operator_key)[:23]}... pinned")
    if anchors.participants:
        report.anchors.append(f"{len(anchors.participants)} participant keys pinned")
        loose = len(set(participants) - set(anchors.participants))
        if loose:
            report.unchecked.append(f"the keys of {_n(loose, 'participant')} registered later are vouched for by "
                                    "the operator only (not pinned)")
    cp = anchors.checkpoint
    if cp is not None:
        extra = report.blocks - 1 - cp["height"]
        report.anchors.append(f"signed checkpoint at block {cp['height']} matched" +
                              (f", {_n(extra, 'block')} since" if extra else ""))
    if anchors.head_hash:
        report.anchors.append("the head hash you gave matched")
    if not report.anchors:
        report.unchecked.append("authenticity: the signatures hold against keys the file itself holds, and anyone "
                                "who can write the file can rebuild it with a new key")
    if cp is None and not anchors.head_hash:
        report.unchecked.append("blocks cut from the end (needs a checkpoint or a head hash)")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeError) or "decode" in str(exc).lower():
        return "text that is not UTF-8"
    if isinstance(exc, RecursionError):
        return "JSON nested too deep"
    return _cut(f"{exc.__class__.__name__}: {exc}")


def _cut(text: str, n: int = 120) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= n else text[: n - 3] + "..."

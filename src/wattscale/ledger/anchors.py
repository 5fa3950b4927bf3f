"""Trust anchors kept outside the ledger file: what a verifier pins so that a ledger rebuilt by whoever can write
the file does not verify.

- the operator's public key, or its fingerprint ``sha256:<hex of SHA-256 of the 32 key bytes>``;
- a trust file (``trust.json``): the operator's key and every participant's registered key;
- a signed checkpoint (``checkpoint.json``): the head hash, height, block and entry counts, signed by the operator.
  A ledger must hold that block with that hash (it may have grown since); fewer blocks means blocks were cut.

A kept head hash (``--head``) pins the whole chain up to it as well: every block hash covers the one before and the
Merkle root of its entries, the genesis entry with the operator's key among them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from wattscale.errors import LedgerError
from wattscale.ledger.canonical import canonical, sha256_hex
from wattscale.ledger.keys import KEY_HEX, Identity, signature_ok

TRUST_FORMAT = "wattscale-ledger-trust"
CHECKPOINT_FORMAT = "wattscale-ledger-checkpoint"
VERSION = 1
PIN_HELP = "64 lower-case hex digits (the key) or 'sha256:' and 64 hex digits (its fingerprint)"


def fingerprint(public_hex: str) -> str:
    """``sha256:`` and the SHA-256 of the raw 32-byte public key, in hex."""
    return "sha256:" + sha256_hex(bytes.fromhex(public_hex))


def pin_matches(pin: str, public_hex) -> bool:
    """True when ``public_hex`` is a well-formed key equal to ``pin`` (a key or a fingerprint)."""
    if not isinstance(public_hex, str) or not KEY_HEX.fullmatch(public_hex):
        return False
    return pin == public_hex or pin == fingerprint(public_hex)


def parse_pin(text: str, *, source: str = "--operator-key") -> str:
    """A pinned key or fingerprint in canonical form; LedgerError if it is neither."""
    pin = text.strip().lower() if isinstance(text, str) else ""
    body = pin[len("sha256:"):] if pin.startswith("sha256:") else pin
    if not KEY_HEX.fullmatch(body):
        raise LedgerError("not a public key or fingerprint", field=source, expected=PIN_HELP)
    return pin


@dataclass(frozen=True)
class Anchors:
    """What the verifier trusts from outside the file. Empty: nothing is anchored."""

    operator: str | None = None  # pinned operator key or fingerprint
    participants: dict[str, str] = field(default_factory=dict)  # name -> pinned key
    checkpoint: dict | None = None  # a signed checkpoint the verifier kept
    head_hash: str | None = None  # a head hash the verifier kept

    @property
    def operator_pin(self) -> str | None:
        """The pinned operator key: given, or the one of the kept checkpoint."""
        if self.operator:
            return self.operator
        return self.checkpoint["operator_key"] if self.checkpoint else None

    @property
    def anchored(self) -> bool:
        return bool(self.operator_pin or self.head_hash)


def anchors_from(*, operator_key: str | None = None, trust_file: str | Path | None = None,
                 checkpoint_file: str | Path | None = None, head_hash: str | None = None) -> Anchors:
    """Anchors from the verifier's own inputs (command-line options or files); LedgerError if one is malformed."""
    pin = parse_pin(operator_key) if operator_key else None
    participants: dict[str, str] = {}
    if trust_file is not None:
        trust = load_trust(trust_file)
        if pin and not pin_matches(pin, trust["operator_key"]):
            raise LedgerError("the operator key given and the trust file's differ", file=str(trust_file),
                              field="operator_key", expected="the same operator key")
        pin = pin or trust["operator_key"]
        participants = dict(trust["participants"])
    checkpoint = load_checkpoint(checkpoint_file) if checkpoint_file is not None else None
    if head_hash is not None and not KEY_HEX.fullmatch(head_hash.strip().lower()):
        raise LedgerError("not a head hash", field="--head", expected="64 hex digits (a block hash)")
    return Anchors(pin, participants, checkpoint, head_hash.strip().lower() if head_hash else None)


def anchors_of(trust: dict, checkpoint: dict | None = None) -> Anchors:
    """Anchors from a trust document and a checkpoint already in memory (as a market run makes them)."""
    return Anchors(trust["operator_key"], dict(trust["participants"]), checkpoint)


# ---------------------------------------------------------------- documents
def trust_document(market: str, operator: str, operator_key: str, participants: dict[str, str]) -> dict:
    return {"format": TRUST_FORMAT, "version": VERSION, "market": market, "operator": operator,
            "operator_key": operator_key, "participants": dict(sorted(participants.items()))}


def sign_checkpoint(operator: Identity, *, market: str, height: int, entries: int, head_hash: str) -> dict:
    """A checkpoint of the head, signed by the operator over its canonical JSON without the signature."""
    body = {"format": CHECKPOINT_FORMAT, "version": VERSION, "market": market, "operator": operator.name,
            "operator_key": operator.public_hex, "height": height, "blocks": height + 1, "entries": entries,
            "head_hash": head_hash, "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
    return {**body, "signature": operator.sign(canonical(body))}


def checkpoint_problem(checkpoint: dict, pin: str) -> str:
    """'' when ``checkpoint`` is signed by the pinned operator key, else why not."""
    key = checkpoint["operator_key"]
    if not pin_matches(pin, key):
        return f"the checkpoint names operator key {_short(key)}, not the pinned {_short(pin)}"
    body = {k: v for k, v in checkpoint.items() if k != "signature"}
    if not signature_ok(key, checkpoint["signature"], canonical(body)):
        return "the checkpoint's signature does not hold (it was changed or not made by the operator)"
    return ""


def load_trust(path: str | Path) -> dict:
    doc = _load(path, TRUST_FORMAT, "trust file")
    participants = doc.get("participants")
    if not isinstance(doc.get("operator_key"), str) or not KEY_HEX.fullmatch(doc["operator_key"]) \
            or not isinstance(participants, dict) \
            or not all(isinstance(k, str) and isinstance(v, str) and KEY_HEX.fullmatch(v)
                       for k, v in participants.items()):
        raise LedgerError("malformed trust file", file=str(path), field="operator_key, participants",
                          expected="hex public keys: operator_key and participants {name: key}")
    return doc


def load_checkpoint(path: str | Path) -> dict:
    doc = _load(path, CHECKPOINT_FORMAT, "checkpoint")
    ints = all(isinstance(doc.get(k), int) and not isinstance(doc.get(k), bool) and doc[k] >= 0
               for k in ("height", "blocks", "entries"))
    keys = all(isinstance(doc.get(k), str) and KEY_HEX.fullmatch(doc[k]) for k in ("operator_key", "head_hash"))
    if not (ints and keys and isinstance(doc.get("signature"), str)):
        raise LedgerError("malformed checkpoint", file=str(path), field="height, entries, head_hash, signature",
                          expected="a checkpoint written by 'wattscale market'")
    return doc


def _load(path: str | Path, fmt: str, what: str) -> dict:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc.__class__.__name__
        raise LedgerError(f"cannot read the {what} ({reason})", file=str(path), expected=f"a {fmt} JSON file") \
            from None
    if not isinstance(doc, dict) or doc.get("format") != fmt or doc.get("version") != VERSION:
        raise LedgerError(f"not a {what}", file=str(path), field="format", expected=f"format '{fmt}' version {VERSION}")
    return doc


def _short(key: str) -> str:
    return f"{key[:23]}..." if isinstance(key, str) and len(key) > 26 else str(key)

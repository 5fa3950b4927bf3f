"""Canonical JSON, hashes and Merkle trees (RFC 6962) for the settlement ledger.

Canonical JSON: keys sorted, no spaces, UTF-8, numbers in Python's shortest round-trip form, no NaN or
infinity; the same value always gives the same bytes. Leaves and inner nodes are hashed with SHA-256 and
RFC 6962's domain prefixes (0x00 for a leaf, 0x01 for a node), so a leaf can never pose as a node.
"""
from __future__ import annotations

import hashlib
import json


def canonical(value) -> bytes:
    """The canonical JSON bytes of ``value`` (dicts, lists, strings, finite numbers, booleans, None)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two below ``n`` (RFC 6962's split point)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def merkle_root(leaves: list[bytes]) -> bytes:
    """The Merkle tree hash of leaf hashes (the hash of the empty string for no leaves)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    if len(level) == 1:
        return level[0]
    k = _split(len(level))
    return node_hash(merkle_root(level[:k]), merkle_root(level[k:]))


def audit_path(leaves: list[bytes], index: int) -> list[bytes]:
    """The sibling hashes from leaf ``index`` up to the root (RFC 6962 section 2.1.1)."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return audit_path(leaves[:k], index) + [merkle_root(leaves[k:])]
    return audit_path(leaves[k:], index - k) + [merkle_root(leaves[:k])]


def root_from_path(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """The root implied by ``leaf`` at ``index`` of ``size`` leaves and its audit path (None if malformed)."""
    if not 0 <= index < size:
        return None

    def up(lo: int, n: int, i: int, sibs: list[bytes]) -> bytes | None:
        if n == 1:
            return leaf if not sibs else None
        if not sibs:
            return None
        k = _split(n)
        if i < k:
            below = up(lo, k, i, sibs[:-1])
            return None if below is None else node_hash(below, sibs[-1])
        below = up(lo + k, n - k, i - k, sibs[:-1])
        return None if below is None else node_hash(sibs[-1], below)

    return up(0, size, index, list(path))

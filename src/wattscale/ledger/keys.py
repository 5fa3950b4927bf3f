"""Ed25519 identities of market participants: make, store, load, sign and check (with ``cryptography``)."""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wattscale.errors import LedgerError
from wattscale.guards import PARTICIPANT_NAME, PARTICIPANT_NAME_RULE

KEY_HEX = re.compile(r"[0-9a-f]{64}")  # a public key: 32 bytes in lower-case hex, nothing else
SIGNATURE_HEX = re.compile(r"[0-9a-f]{128}")  # a signature: 64 bytes in lower-case hex


@dataclass(frozen=True)
class Identity:
    """A participant's name and private key; ``public_hex`` is what the others know of it."""

    name: str
    key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> "Identity":
        check_name(name)
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def public_hex(self) -> str:
        return self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()

    def sign(self, data: bytes) -> str:
        return self.key.sign(data).hex()

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (what a keystore file holds)."""
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def check_name(name: str) -> str:
    if not isinstance(name, str) or not PARTICIPANT_NAME.match(name):
        raise LedgerError(f"participant name {name!r} is not allowed", field="participant",
                          expected=PARTICIPANT_NAME_RULE)
    return name


@lru_cache(maxsize=4096)
def public_key(public_hex: str) -> Ed25519PublicKey | None:
    """The key, or None unless ``public_hex`` is exactly 64 lower-case hex digits of a valid key."""
    if not isinstance(public_hex, str) or not KEY_HEX.fullmatch(public_hex):
        return None
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
    except ValueError:
        return None


def signature_ok(public_hex: str, signature_hex: str, data: bytes) -> bool:
    """True when ``signature_hex`` is ``public_hex``'s Ed25519 signature of ``data``; both must be in canonical
    lower-case hex, so no two spellings of one signature pass."""
    if not isinstance(public_hex, str) or not isinstance(signature_hex, str) \
            or not SIGNATURE_HEX.fullmatch(signature_hex):
        return False
    key = public_key(public_hex)
    if key is None:
        return False
    try:
        key.verify(bytes.fromhex(signature_hex), data)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


class Keystore:
    """A folder of private keys (mode 0700), one PEM file per participant, created mode 0600 from its first byte."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, name: str) -> Path:
        return self.folder / f"{check_name(name)}.pem"

    def create(self, name: str) -> Identity:
        ident = Identity.generate(name)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = ident.private_pem()
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.")  # mkstemp creates it 0600
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path(name))
        return ident

    def load(self, name: str) -> Identity:
        path = self.path(name)
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except FileNotFoundError:
            raise LedgerError(f"no key for participant '{name}'", file=str(path),
                              expected="a PEM private key made by this keystore") from None
        except ValueError as exc:
            raise LedgerError(f"not a private key ({exc})", file=str(path), expected="an Ed25519 PEM key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise LedgerError("not an Ed25519 key", file=str(path), expected="an Ed25519 PEM key")
        return Identity(name, key)

    def get(self, name: str) -> Identity:
        """The participant's identity, made on first use."""
        return self.load(name) if self.path(name).exists() else self.create(name)

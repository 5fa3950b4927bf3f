"""Bearer tokens: printed once when created, stored only as their SHA-256 hash.

Roles: ``user`` submits studies and live runs; ``operator`` (the VPP operator, OpenADR's business logic) writes
programs and events and settles them; ``ven`` is one site's OpenADR client, named as the VEN it is, which reads
only its own events and writes only its own reports."""
from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from pathlib import Path

from wattscale.errors import WattscaleError
from wattscale.service.store import Store

ROLES = ("user", "operator", "ven")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # also a valid OpenADR object ID and client name
NAME_RULE = "1-64 letters, digits, '_' or '-', starting with a letter or digit"
PREFIX = "wst_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def create_token(data_dir: str | Path, name: str, role: str = "user") -> str:
    """A new token for ``name`` in ``role``; only its hash is stored. A name has one token."""
    if not isinstance(name, str) or not NAME.match(name):
        raise WattscaleError(f"cannot use {name!r:.70} as a token name", field="NAME", expected=NAME_RULE)
    if role not in ROLES:
        raise WattscaleError(f"no role {role!r:.40}", field="--role", expected="one of " + ", ".join(ROLES))
    folder = data_folder(data_dir, create=True)
    token = PREFIX + secrets.token_urlsafe(32)
    store = Store(folder)
    try:
        store.add_token(name, role, token_hash(token))
    except sqlite3.IntegrityError:
        raise WattscaleError(f"a token named '{name}' already exists", file=str(store.path), field="NAME",
                             expected="a new name (tokens are never replaced)") from None
    finally:
        store.close()
    return token


def data_folder(path: str | Path, *, create: bool = False) -> Path:
    """The service's data folder, made absolute; created when asked (never a file, never a link)."""
    folder = Path(path).expanduser().absolute()
    if folder.is_symlink():
        raise WattscaleError("the data folder is a symbolic link", file=str(folder), field="--data",
                             expected="a real folder")
    if folder.exists() and not folder.is_dir():
        raise WattscaleError("the data folder is a file", file=str(folder), field="--data", expected="a folder")
    if not folder.exists():
        if not create:
            raise WattscaleError("no such data folder", file=str(folder), field="--data",
                                 expected="a folder made by 'wattscale serve' or 'wattscale token create'")
        folder.mkdir(parents=True)
    return folder.resolve()

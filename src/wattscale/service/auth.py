"""Who is calling: the bearer token's owner and role, looked up by the token's hash."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request

from wattscale.service.store import Store
from wattscale.service.tokens import token_hash

_local = threading.local()


def store_for(data_dir: Path) -> Store:
    """This thread's connection to the service's store."""
    stores = _local.__dict__.setdefault("stores", {})
    if data_dir not in stores:
        stores[data_dir] = Store(data_dir)
    return stores[data_dir]


@dataclass(frozen=True)
class Caller:
    name: str
    role: str


def caller(request: Request) -> Caller | None:
    """The caller named by the request's bearer token, None without a token; 401 for a token that is not known.
    A GET may give the token as ``?token=`` instead (a browser's EventSource and a report in a frame cannot set
    headers)."""
    header = request.headers.get("authorization", "")
    if not header:
        token = request.query_params.get("token") if request.method == "GET" else None
        if not token:
            return None
        header = f"Bearer {token}"
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "the Authorization header must be 'Bearer TOKEN'",
                            headers={"WWW-Authenticate": "Bearer"})
    found = store_for(request.app.state.data_dir).token_owner(token_hash(token.strip()))
    if found is None:
        raise HTTPException(401, "the token is not known to this service", headers={"WWW-Authenticate": "Bearer"})
    return Caller(*found)


def require(request: Request, *roles: str) -> Caller:
    """The caller, who must hold one of ``roles`` (401 without a token, 403 with the wrong role)."""
    who = caller(request)
    if who is None:
        raise HTTPException(401, "this request needs a bearer token (wattscale token create NAME --data DIR)",
                            headers={"WWW-Authenticate": "Bearer"})
    if who.role not in roles:
        raise HTTPException(403, f"'{who.name}' ({who.role}) may not do this; it needs the role "
                                 + " or ".join(roles))
    return who


def writer(request: Request) -> Caller:
    return require(request, "user", "operator")


def reader(request: Request) -> Caller:
    """Reading studies and live runs: any user or the operator (a user sees their own, the operator all)."""
    return require(request, "user", "operator")


def may_see(who: Caller, owner: str) -> bool:
    return who.role == "operator" or who.name == owner


def operator(request: Request) -> Caller:
    return require(request, "operator")


def openadr_client(request: Request) -> Caller:
    return require(request, "operator", "ven")

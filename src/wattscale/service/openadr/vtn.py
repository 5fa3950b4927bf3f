"""An OpenADR 3.0.1 VTN mounted in the service at ``/openadr3/3.0.1``: programs, events, reports and
subscriptions as the specification's OpenAPI document gives them (paths, query parameters, JSON names, status
codes, ``problem`` bodies), with the bearer-token security scheme.

The operator (role ``operator``) writes programs and events and reads everything; a VEN (role ``ven``, named as
its token) reads the programs, only the events that target its name (``VEN_NAME``), and only its own reports
and subscriptions, and posts reports only under its own name. Every reduction event, every report on one and
every settlement goes onto the signed ledger (``ledger_book``). Subscribers are notified by a POST of the
specification's ``notification`` to their callback URL."""
from __future__ import annotations

import datetime
import json
import logging
import threading
import uuid
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import ValidationError

from wattscale.errors import WattscaleError
from wattscale.service.auth import Caller, openadr_client, store_for
from wattscale.service.confine import public
from wattscale.service.openadr.ledger_book import DrLedger, account_of
from wattscale.service.openadr.objects import KINDS, Event, Report, target_values
from wattscale.service.openadr.terms import event_terms, report_series

PREFIX = "/openadr3/3.0.1"
PATHS = {"PROGRAM": "programs", "EVENT": "events", "REPORT": "reports", "SUBSCRIPTION": "subscriptions"}
ID_KEY = {"PROGRAM": "programID", "EVENT": "eventID", "REPORT": "reportID", "SUBSCRIPTION": "subscriptionID"}
MAX_LIMIT = 50
log = logging.getLogger("wattscale.service")

SCHEMA = """
CREATE TABLE IF NOT EXISTS oadr (id TEXT PRIMARY KEY, type TEXT NOT NULL, program TEXT, event TEXT, client TEXT,
                                 targets TEXT NOT NULL, body TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS oadr_type ON oadr(type, seq);
CREATE TABLE IF NOT EXISTS dr_settlements (event TEXT NOT NULL, ven TEXT NOT NULL, body TEXT NOT NULL,
                                           PRIMARY KEY (event, ven));
"""


def problem(status: int, title: str, detail: str) -> HTTPException:
    return HTTPException(status, {"type": "about:blank", "title": title, "status": status, "detail": detail})


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Objects:
    """The VTN's objects in the service's SQLite file."""

    def __init__(self, request: Request) -> None:
        self.data_dir: Path = request.app.state.data_dir
        self.conn = store_for(self.data_dir).conn
        if not getattr(request.app.state, "oadr_ready", False):
            self.conn.executescript(SCHEMA)
            request.app.state.oadr_ready = True

    def rows(self, kind: str, *, event: str | None = None, client: str | None = None) -> list[dict]:
        """The objects of ``kind`` in the order stored (of one event, or one client, when given)."""
        rows = self.conn.execute("SELECT body FROM oadr WHERE type = ? AND (? IS NULL OR event = ?) AND "
                                 "(? IS NULL OR client = ?) ORDER BY seq", (kind, event, event, client, client))
        return [json.loads(r[0]) for r in rows.fetchall()]

    def get(self, kind: str, object_id: str) -> dict | None:
        row = self.conn.execute("SELECT body FROM oadr WHERE type = ? AND id = ?", (kind, object_id)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, obj: dict, *, new: bool) -> None:
        targets = json.dumps(target_values(obj.get("targets")))
        args = (obj.get("programID"), obj.get("eventID"), obj.get("clientName"), targets, json.dumps(obj))
        if new:
            seq = self.conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM oadr").fetchone()[0]
            self.conn.execute("INSERT INTO oadr VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (obj["id"], kind, *args, seq))
        else:
            self.conn.execute("UPDATE oadr SET program = ?, event = ?, client = ?, targets = ?, body = ? "
                              "WHERE id = ?", (*args, obj["id"]))

    def delete(self, object_id: str) -> None:
        self.conn.execute("DELETE FROM oadr WHERE id = ?", (object_id,))


# ---------------------------------------------------------------- who sees what
def visible(kind: str, obj: dict, who: Caller) -> bool:
    if kind == "SUBSCRIPTION":  # the subscriber's own, even to the operator (it holds a callback's token)
        return obj.get("clientName") == who.name
    if who.role == "operator" or kind == "PROGRAM":
        return True
    if kind == "EVENT":
        return who.name in target_values(obj.get("targets"))
    return obj.get("clientName") == who.name  # reports: the VEN's own


def may_write(kind: str, obj: dict | None, who: Caller) -> str:
    """'' when ``who`` may create or change ``obj`` of ``kind``, else why not."""
    if kind in ("PROGRAM", "EVENT"):
        return "" if who.role == "operator" else f"only the operator writes {PATHS[kind]}"
    if kind == "REPORT" and who.role != "ven":
        return "only VENs write reports"
    if obj is not None and who.role == "ven" and obj.get("clientName") != who.name:
        return f"a VEN writes only under its own clientName ('{who.name}')"
    return ""


# ---------------------------------------------------------------- the routes
router = APIRouter(prefix=PREFIX, tags=["OpenADR 3.0.1 VTN"])


def _checked(kind: str, body: dict) -> dict:
    try:
        model = KINDS[kind].model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise problem(400, "Bad Request", f"{where}: {err['msg']}") from None
    out = model.model_dump(mode="json", exclude_none=True)
    for k, v in out.items():  # the specification's dateTime and duration strings
        if isinstance(v, str) and v.endswith("+00:00"):
            out[k] = v.replace("+00:00", "Z")
    return out


async def _body(request: Request) -> dict:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise problem(400, "Bad Request", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise problem(400, "Bad Request", "the body must be a JSON object")
    return data


def _list(kind: str, request: Request, who: Caller, skip: int, limit: int, match) -> list[dict]:
    found = [o for o in Objects(request).rows(kind) if visible(kind, o, who) and match(o)]
    return found[skip: skip + limit]


def _targets_match(obj: dict, target_type: str | None, values: list[str] | None) -> bool:
    if not target_type:
        return True
    have = target_values(obj.get("targets"), target_type)
    return any(v in have for v in (values or [])) if values else bool(have)


Skip = Query(0, ge=0, le=1_000_000)
Limit = Query(MAX_LIMIT, ge=0, le=MAX_LIMIT)


@router.get("/programs", summary="search programs (a VEN sees all)")
def search_programs(request: Request, targetType: str | None = None, targetValues: list[str] | None = Query(None),
                    skip: int = Skip, limit: int = Limit, who: Caller = Depends(openadr_client)) -> list[dict]:
    return _list("PROGRAM", request, who, skip, limit, lambda o: _targets_match(o, targetType, targetValues))


@router.get("/events", summary="search events (a VEN sees those that target it)")
def search_events(request: Request, programID: str | None = None, targetType: str | None = None,
                  targetValues: list[str] | None = Query(None), skip: int = Skip, limit: int = Limit,
                  who: Caller = Depends(openadr_client)) -> list[dict]:
    return _list("EVENT", request, who, skip, limit,
                 lambda o: (programID is None or o.get("programID") == programID)
                 and _targets_match(o, targetType, targetValues))


@router.get("/reports", summary="search reports (a VEN sees its own)")
def search_reports(request: Request, programID: str | None = None, eventID: str | None = None,
                   clientName: str | None = None, skip: int = Skip, limit: int = Limit,
                   who: Caller = Depends(openadr_client)) -> list[dict]:
    return _list("REPORT", request, who, skip, limit,
                 lambda o: all(v is None or o.get(k) == v for k, v in
                               (("programID", programID), ("eventID", eventID), ("clientName", clientName))))


@router.get("/subscriptions", summary="search subscriptions (a VEN sees its own)")
def search_subscriptions(request: Request, programID: str | None = None, clientName: str | None = None,
                         objects: list[str] | None = Query(None), skip: int = Skip, limit: int = Limit,
                         who: Caller = Depends(openadr_client)) -> list[dict]:
    def match(o: dict) -> bool:
        kinds = {k for op in o.get("objectOperations", []) for k in op.get("objects", [])}
        return (programID is None or o.get("programID") == programID) and \
            (clientName is None or o.get("clientName") == clientName) and (not objects or bool(kinds & set(objects)))
    return _list("SUBSCRIPTION", request, who, skip, limit, match)


def _create(kind: str):
    async def create(request: Request, who: Caller = Depends(openadr_client)) -> Response:
        obj = _checked(kind, await _body(request))
        why = may_write(kind, obj, who)
        if why:
            raise problem(403, "Forbidden", why)
        objects = Objects(request)
        if kind in ("EVENT", "SUBSCRIPTION", "REPORT") and objects.get("PROGRAM", obj["programID"]) is None:
            raise problem(400, "Bad Request", f"no program with id '{obj['programID']}'")
        now = _now()
        obj = {"id": uuid.uuid4().hex[:20], "createdDateTime": now, "modificationDateTime": now,
               "objectType": kind, **obj}
        if kind == "PROGRAM" and any(o["programName"] == obj["programName"] for o in objects.rows("PROGRAM")):
            raise problem(409, "Conflict", f"a program named '{obj['programName']}' exists")
        _before_store(kind, obj, who, objects, request)
        objects.put(kind, obj, new=True)
        _notify(request, kind, "POST", obj)
        return Response(json.dumps(obj), status_code=201, media_type="application/json")
    create.__name__ = f"create_{PATHS[kind][:-1]}"
    return create


def _callbacks_allowed(obj: dict, request: Request) -> None:
    """A subscription's callback URLs: http(s) to a host the service was told to call (``--callback-host``), so a
    client cannot make the service send requests into its own network."""
    from urllib.parse import urlsplit

    allowed = request.app.state.callback_hosts
    for op in obj.get("objectOperations", []):
        url = urlsplit(op["callbackUrl"])
        if url.scheme not in ("http", "https") or not url.hostname:
            raise problem(400, "Bad Request", "callbackUrl must be an http or https URL")
        if url.hostname not in allowed:
            raise problem(400, "Bad Request", f"callbacks to '{url.hostname[:100]}' are not allowed on this service"
                                              " (wattscale serve --callback-host HOST allows one)")


def _before_store(kind: str, obj: dict, who: Caller, objects: Objects, request: Request) -> None:
    """Events and reports of a reduction go onto the ledger before they are stored (refused if they cannot)."""
    data_dir = request.app.state.data_dir
    if kind == "SUBSCRIPTION":
        _callbacks_allowed(obj, request)
    try:
        if kind == "EVENT":
            terms = event_terms(Event.model_validate(obj))
            if terms is not None:
                targets = target_values(obj.get("targets"))
                if not targets:
                    raise problem(400, "Bad Request", "a reduction event must target at least one VEN_NAME")
                DrLedger(data_dir).event(obj["id"], obj["programID"], targets, terms)
        elif kind == "REPORT":
            event = objects.get("EVENT", obj["eventID"])
            if event is None or not visible("EVENT", event, who):
                raise problem(400, "Bad Request", f"no event with id '{obj['eventID']}' for '{who.name}'")
            if objects.rows("REPORT", event=obj["eventID"], client=who.name):
                raise problem(409, "Conflict", f"'{who.name}' has already reported on event '{obj['eventID']}'")
            terms = event_terms(Event.model_validate(event))
            if terms is not None:
                hours, base, use = report_series(Report.model_validate(obj))
                account = account_of(who.name, obj["eventID"], terms, hours, base, use)
                DrLedger(data_dir).report(obj["id"], obj["eventID"], who.name, account,
                                          json.dumps(obj, sort_keys=True).encode())
    except WattscaleError as exc:
        raise problem(400, "Bad Request", public(str(exc), data_dir)) from None


def _one(kind: str):
    key = ID_KEY[kind]

    def find(request: Request, object_id: str, who: Caller) -> tuple[Objects, dict]:
        objects = Objects(request)
        obj = objects.get(kind, object_id)
        if obj is None or not visible(kind, obj, who):
            raise problem(404, "Not Found", f"no {kind.lower()} with id '{object_id[:128]}'")
        return objects, obj

    def search_by_id(request: Request, object_id: str = PathParam(alias=key),
                     who: Caller = Depends(openadr_client)) -> dict:
        return find(request, object_id, who)[1]

    async def update(request: Request, object_id: str = PathParam(alias=key),
                     who: Caller = Depends(openadr_client)) -> dict:
        objects, old = find(request, object_id, who)
        obj = _checked(kind, await _body(request))
        why = may_write(kind, old, who) or may_write(kind, obj, who)
        if why:
            raise problem(403, "Forbidden", why)
        if on_ledger(kind, old):
            raise problem(409, "Conflict", f"a {kind.lower()} on the ledger is not changed; post a new one")
        if kind == "SUBSCRIPTION":
            _callbacks_allowed(obj, request)
        obj = {**obj, "id": old["id"], "createdDateTime": old["createdDateTime"],
               "modificationDateTime": _now(), "objectType": kind}
        objects.put(kind, obj, new=False)
        _notify(request, kind, "PUT", obj)
        return obj

    def delete(request: Request, object_id: str = PathParam(alias=key),
               who: Caller = Depends(openadr_client)) -> dict:
        objects, old = find(request, object_id, who)
        why = may_write(kind, old, who)
        if why:
            raise problem(403, "Forbidden", why)
        if on_ledger(kind, old):
            raise problem(409, "Conflict", f"a {kind.lower()} on the ledger stays; it cannot be deleted")
        objects.delete(old["id"])
        _notify(request, kind, "DELETE", old)
        return old

    for fn, verb in ((search_by_id, "get"), (update, "put"), (delete, "delete")):
        fn.__name__ = f"{verb}_{PATHS[kind][:-1]}"
    return search_by_id, update, delete


def on_ledger(kind: str, obj: dict) -> bool:
    """Whether ``obj`` went onto the ledger when it was stored (a reduction event, or a report), so it stays."""
    if kind == "REPORT":
        return True
    if kind != "EVENT":
        return False
    try:
        return event_terms(Event.model_validate(obj)) is not None
    except (WattscaleError, ValidationError):
        return False


for _kind, _path in PATHS.items():
    _one_of = ("an " if _path[0] in "aeiou" else "a ") + _path[:-1]
    router.add_api_route(f"/{_path}", _create(_kind), methods=["POST"], status_code=201, summary=f"create {_one_of}")
    _get, _put, _delete = _one(_kind)
    router.add_api_route(f"/{_path}/{{{ID_KEY[_kind]}}}", _get, methods=["GET"], summary=f"{_one_of} by its id")
    router.add_api_route(f"/{_path}/{{{ID_KEY[_kind]}}}", _put, methods=["PUT"], summary=f"update {_one_of}")
    router.add_api_route(f"/{_path}/{{{ID_KEY[_kind]}}}", _delete, methods=["DELETE"], summary=f"delete {_one_of}")


# ---------------------------------------------------------------- notifications
def _notify(request: Request, kind: str, operation: str, obj: dict) -> None:
    """POST the specification's notification to every subscriber that asked for this operation on this kind
    and may see the object (in the background; a subscriber that does not answer within 2 s is skipped)."""
    objects = Objects(request)
    calls = []
    for sub in objects.rows("SUBSCRIPTION"):
        subscriber = Caller(sub["clientName"], "ven")
        if kind != "PROGRAM" and sub.get("programID") != obj.get("programID", obj.get("id")):
            continue
        if not visible(kind, obj, subscriber):
            continue
        for op in sub.get("objectOperations", []):
            if kind in op.get("objects", []) and operation in op.get("operations", []):
                calls.append((op["callbackUrl"], op.get("bearerToken")))
    if not calls:
        return
    note = {"objectType": kind, "operation": operation, "object": obj, "targets": obj.get("targets")}

    def send() -> None:
        import httpx

        for url, token in calls:
            if not url.startswith(("http://", "https://")):
                continue
            try:
                httpx.post(url, json=note, timeout=2.0, follow_redirects=False,
                           headers={"Authorization": f"Bearer {token}"} if token else {})
            except httpx.HTTPError as exc:
                log.info("notification to %s failed: %s", url[:100], exc)

    threading.Thread(target=send, daemon=True, name="wattscale-oadr-notify").start()

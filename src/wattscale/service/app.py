"""The wattscale service (FastAPI): studies submitted, run and read back over REST; live campuses streamed as
server-sent events; the OpenADR 3 VTN with settlement on the signed ledger; and the dashboard, all in one process.

``create_app(DIR)`` builds it; ``wattscale serve --data DIR`` runs it with uvicorn. State lives in DIR: the SQLite
store of studies and token hashes, each study's scenario and results folder, the ledger and the operator's key.
Nothing outside DIR is read or written on a request's behalf."""
from __future__ import annotations

import asyncio
import io
import json
import threading
from contextlib import asynccontextmanager
from http import HTTPStatus
from importlib import resources
from pathlib import Path

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from wattscale import __version__
from wattscale.errors import ScenarioError, WattscaleError
from wattscale.guards import MAX_YAML_BYTES, excerpt
from wattscale.service import live as live_runs
from wattscale.service.auth import Caller, may_see, operator, reader, store_for, writer
from wattscale.service.confine import FILES
from wattscale.service.limits import BodyLimit
from wattscale.service.openadr import vtn
from wattscale.service.runner import RESULTS, Dispatcher, check_subject, job_file, write_job_file
from wattscale.service.store import new_id

API = "/api/v1"
MAX_BODY_BYTES = 2 * MAX_YAML_BYTES  # a scenario of 1 MB with room for a form's wrapping
TABLE_ROWS = 10_000  # rows per JSON page of a table
EXAMPLES = {"llm-campus.yaml": "run", "llm-campus-mpc.yaml": "run", "resilience-campus.yaml": "resilience"}


def examples_folder() -> Path:
    return Path(__file__).resolve().parents[3] / "examples"


def create_app(data_dir: str | Path, *, workers: int = 2, scheduler: str | None = None,
               dispatch: bool = True, callback_hosts: list[str] | None = None) -> FastAPI:
    """The service over data folder ``data_dir`` (made if missing); ``dispatch=False`` queues studies without
    running them (a read-only replica, or tests of the queue); ``callback_hosts``: the hosts OpenADR subscribers'
    callback URLs may name (none by default)."""
    from wattscale.service.tokens import data_folder

    root = data_folder(data_dir, create=True)
    dispatcher = Dispatcher(root, workers=workers, scheduler=scheduler) if dispatch else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if dispatcher is not None:
            app.state.requeued = await run_in_threadpool(dispatcher.start)
        yield
        for session in app.state.live.values():
            session.stop.set()
        if dispatcher is not None:
            await run_in_threadpool(dispatcher.stop)

    app = FastAPI(title="wattscale", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  swagger_ui_oauth2_redirect_url=None,
                  description="Studies of AI campuses' energy supply, live campuses, and OpenADR 3 demand "
                              "response settled on a signed ledger. Writes need a bearer token "
                              "(`wattscale token create NAME --data DIR`).")
    app.state.data_dir = root
    app.state.dispatcher = dispatcher
    app.state.live = {}
    app.state.live_lock = threading.Lock()
    app.state.requeued = 0
    app.state.callback_hosts = frozenset(callback_hosts or ())
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    _errors(app)
    app.include_router(vtn.router)
    _studies(app)
    _live(app)
    _settlement(app)
    _pages(app)
    from fastapi_swagger import patch_fastapi

    patch_fastapi(app, docs_url="/docs", redirect_from_root_to_docs=False)  # Swagger UI served from the package
    return app


# ---------------------------------------------------------------- errors
def _errors(app: FastAPI) -> None:
    @app.exception_handler(WattscaleError)
    async def wattscale_error(request: Request, exc: WattscaleError):
        return JSONResponse({"error": str(exc), "file": exc.file, "field": exc.field, "expected": exc.expected},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if isinstance(exc.detail, dict):
            body = exc.detail
        elif request.url.path.startswith(vtn.PREFIX):  # the OpenADR specification's problem body
            body = {"type": "about:blank", "title": HTTPStatus(exc.status_code).phrase, "status": exc.status_code,
                    "detail": str(exc.detail)}
        else:
            body = {"error": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        err = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body", "header"))
        message = f"{where or 'request'}: {err.get('msg', 'invalid')}"
        if request.url.path.startswith(vtn.PREFIX):
            return JSONResponse({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": message},
                                status_code=400)
        return JSONResponse({"error": message, "file": None, "field": where or None,
                             "expected": "see /docs for this request's parameters"}, status_code=422)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        import logging

        logging.getLogger("wattscale.service").exception("request %s failed", request.url.path)
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); the server's log has the details"},
                            status_code=500)


def _store(request: Request):
    return store_for(request.app.state.data_dir)


def _job(request: Request, job_id: str, who: Caller):
    """The study, if ``who`` may see it (404 otherwise: another user's study is not even said to exist)."""
    job = _store(request).get(job_id)
    if job is None or not may_see(who, job.owner):
        raise HTTPException(404, f"no study with id '{excerpt(job_id, 40)}'")
    return job


# ---------------------------------------------------------------- studies
async def _submission(request: Request) -> tuple[str, str, dict, str | None]:
    """(study, scenario text, options, file name) from a JSON body or a multipart form."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=8)
        upload = form.get("scenario")
        name = getattr(upload, "filename", None)
        raw = await upload.read() if hasattr(upload, "read") else (upload or "")
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        except UnicodeDecodeError:
            raise ScenarioError("the uploaded scenario is not UTF-8 text", file=excerpt(name or "scenario", 60),
                                expected="a YAML scenario file") from None
        try:
            options = json.loads(form.get("options") or "{}")
        except json.JSONDecodeError:
            raise ScenarioError("options is not JSON", field="options", expected='a JSON object, e.g. {}') from None
        study = str(form.get("study") or "run")
    else:
        body = await _json_object(request)
        study, text, options, name = body.get("study", "run"), body.get("scenario"), body.get("options") or {}, \
            body.get("name")
    if not isinstance(study, str):
        raise ScenarioError("study must be a name", field="study", expected="e.g. 'run'")
    if not isinstance(text, str) or not text.strip():
        raise ScenarioError("no scenario was given", field="scenario", expected="the scenario's YAML text")
    if len(text.encode()) > MAX_YAML_BYTES:
        raise ScenarioError(f"the scenario is {len(text.encode()) / 1e6:,.1f} MB", field="scenario",
                            expected=f"at most {MAX_YAML_BYTES / 1e6:g} MB of YAML")
    if not isinstance(options, dict):
        raise ScenarioError("options must be an object", field="options", expected='e.g. {"resolution_s": 0.01}')
    return study, text, options, (excerpt(str(name), 80) if name else None)


def _studies(app: FastAPI) -> None:
    root: Path = app.state.data_dir

    @app.post(f"{API}/studies", status_code=201, tags=["studies"],
              summary="submit a study: JSON {study, scenario, options} or a multipart form with a scenario file")
    async def submit(request: Request, who: Caller = Depends(writer)) -> dict:
        study, text, options, name = await _submission(request)
        job_id = new_id()
        write_job_file(root, job_id, text)
        shown = name or "scenario"
        try:
            _, opts, prepared, _ = await run_in_threadpool(check_subject, root, job_id, study, options, shown)
        except WattscaleError:
            job_file(root, job_id).unlink(missing_ok=True)  # ours: nothing of a refused study is kept
            raise
        title = name or getattr(getattr(prepared, "scenario", None), "name", None) or study
        job = _store(request).submit(study, excerpt(title, 80), text, opts.model_dump(mode="json"), who.name,
                                     job_id=job_id)
        if app.state.dispatcher is not None:
            app.state.dispatcher.wake.set()
        return {**job.public(), "links": _links(job_id)}

    @app.get(f"{API}/studies", tags=["studies"], summary="the latest studies, newest first")
    def studies(request: Request, limit: int = Query(200, ge=1, le=1000), who: Caller = Depends(reader)) -> dict:
        store = _store(request)
        owner = None if who.role == "operator" else who.name
        return {"studies": [j.public() for j in store.list(limit, owner=owner)], "counts": store.counts(owner)}

    @app.get(f"{API}/studies/{{job_id}}", tags=["studies"], summary="a study's status and progress")
    def status(request: Request, job_id: str, who: Caller = Depends(reader)) -> dict:
        job = _job(request, job_id, who)
        return {**job.public(), "links": _links(job_id)}

    @app.delete(f"{API}/studies/{{job_id}}", tags=["studies"], summary="cancel a queued or running study")
    def cancel(request: Request, job_id: str, who: Caller = Depends(writer)) -> dict:
        job = _job(request, job_id, who)
        if job.status not in ("queued", "running"):
            raise HTTPException(409, f"the study is {job.status}: only a queued or running study can be cancelled")
        return _store(request).cancel(job_id).public()

    def results(request: Request, job_id: str, who: Caller) -> Path:
        job = _job(request, job_id, who)
        if job.status != "done":
            raise HTTPException(409, f"the study is {job.status}" + (f": {job.message}" if job.message else ""))
        return root / RESULTS / job.folder

    @app.get(f"{API}/studies/{{job_id}}/summary", tags=["studies"], summary="summary.json of a finished study")
    def summary(request: Request, job_id: str, who: Caller = Depends(reader)) -> Response:
        return FileResponse(results(request, job_id, who) / "summary.json", media_type="application/json")

    @app.get(f"{API}/studies/{{job_id}}/report", tags=["studies"], response_class=HTMLResponse,
             summary="the report of a finished study")
    def report(request: Request, job_id: str, who: Caller = Depends(reader)) -> Response:
        path = results(request, job_id, who) / "report.html"
        if not path.is_file():
            raise HTTPException(404, "this study writes no report")
        return FileResponse(path, media_type="text/html")

    @app.get(f"{API}/studies/{{job_id}}/tables", tags=["studies"], summary="the tables of a finished study")
    def tables(request: Request, job_id: str, who: Caller = Depends(reader)) -> dict:
        return {"tables": sorted(_tables(results(request, job_id, who)))}

    @app.get(f"{API}/studies/{{job_id}}/tables/{{name}}", tags=["studies"],
             summary="one table as JSON (paged), CSV or Parquet")
    def table(request: Request, job_id: str, name: str, format: str = Query("json", pattern="^(json|csv|parquet)$"),
              offset: int = Query(0, ge=0), limit: int = Query(TABLE_ROWS, ge=1, le=TABLE_ROWS),
              who: Caller = Depends(reader)) -> Response:
        found = _tables(results(request, job_id, who))
        if name not in found:
            raise HTTPException(404, f"no table '{excerpt(name, 40)}'; the study has: {', '.join(sorted(found))}")
        path = found[name]
        if format == path.suffix[1:]:
            return FileResponse(path, media_type="text/csv" if format == "csv" else "application/octet-stream",
                                filename=path.name)
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        if not isinstance(frame.index, pd.RangeIndex):  # the time index becomes a column, as in the CSV files
            frame = frame.reset_index()
        if format == "csv":
            return Response(frame.to_csv(index=False), media_type="text/csv")
        if format == "parquet":
            buf = io.BytesIO()
            frame.to_parquet(buf)
            return Response(buf.getvalue(), media_type="application/octet-stream")
        page = frame.iloc[offset: offset + limit]
        return Response(json.dumps({"columns": list(map(str, frame.columns)), "rows": len(frame), "offset": offset,
                                    "data": json.loads(page.to_json(orient="values", date_format="iso"))}),
                        media_type="application/json")


def _tables(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in folder.iterdir() if p.suffix in (".csv", ".parquet") and p.is_file()}


def _links(job_id: str) -> dict:
    base = f"{API}/studies/{job_id}"
    return {"self": base, "summary": f"{base}/summary", "report": f"{base}/report", "tables": f"{base}/tables"}


# ---------------------------------------------------------------- live
def _live(app: FastAPI) -> None:
    root: Path = app.state.data_dir

    @app.post(f"{API}/live", status_code=201, tags=["live"],
              summary="start a live campus: {scenario, site?, speed (x real time; 0 = as fast as possible), "
                      "block_minutes?, external?, start?, duration?}")
    async def start(request: Request, who: Caller = Depends(writer)) -> dict:
        body = await _json_object(request)
        return (await run_in_threadpool(_start_live, app, root, body, who)).public()

    @app.get(f"{API}/live", tags=["live"], summary="the live runs the caller may see")
    def sessions(who: Caller = Depends(reader)) -> dict:
        return {"live": [s.public() for s in list(app.state.live.values()) if may_see(who, s.owner)]}

    def session_of(live_id: str, who: Caller) -> live_runs.LiveSession:
        session = app.state.live.get(live_id)
        if session is None or not may_see(who, session.owner):
            raise HTTPException(404, f"no live run with id '{excerpt(live_id, 40)}'")
        return session

    @app.get(f"{API}/live/{{live_id}}", tags=["live"], summary="the live run's state (SiteState of the block)")
    def state(live_id: str, who: Caller = Depends(reader)) -> dict:
        return session_of(live_id, who).public()

    @app.put(f"{API}/live/{{live_id}}/setpoints", tags=["live"],
             summary="Setpoints for the next block: battery_mw, generator_mw, export_limit_mw (MW; null = follow)")
    async def setpoints(live_id: str, request: Request, who: Caller = Depends(writer)) -> dict:
        session = session_of(live_id, who)
        if session.owner != who.name:
            raise HTTPException(403, f"the live run belongs to '{session.owner}'")
        session.put_setpoints(await _json_object(request))
        return {"accepted_for_step": session.step, "block_steps": session.block_steps}

    @app.delete(f"{API}/live/{{live_id}}", tags=["live"], summary="stop a live run")
    def stop(live_id: str, who: Caller = Depends(writer)) -> dict:
        session = session_of(live_id, who)
        if session.owner != who.name and who.role != "operator":
            raise HTTPException(403, f"the live run belongs to '{session.owner}'")
        session.stop.set()
        with session.lock:
            session.lock.notify_all()
        return session.public()

    @app.get(f"{API}/live/{{live_id}}/stream", tags=["live"],
             summary="server-sent events: each block's steps as columns ('steps': {step: [...], time: [...], "
                     "load_mw: [...], ...}) as they are simulated, then 'end'; 'gap' names steps this viewer "
                     "fell too far behind to be sent")
    async def stream(live_id: str, request: Request, after: int = Query(-1, ge=-1),
                     who: Caller = Depends(reader)) -> StreamingResponse:
        session = session_of(live_id, who)
        resume = request.headers.get("last-event-id", "")
        last = int(resume) if resume.isdigit() and len(resume) < 12 else after

        async def events():
            nonlocal last
            viewer = id(request)
            session.viewed(viewer, last)
            try:
                while True:
                    finished = session.status not in ("starting", "running")  # before the blocks: none is missed
                    blocks = session.blocks_after(last)
                    for first, end_step, text in blocks:
                        if first > last + 1:  # dropped from the buffer before this viewer was sent them
                            yield f"event: gap\ndata: {json.dumps({'from_step': last + 1, 'to_step': first - 1})}\n\n"
                        last = end_step
                        yield f"id: {end_step}\nevent: steps\ndata: {text}\n\n"
                    if blocks:
                        session.viewed(viewer, last)
                    elif finished:
                        yield f"event: end\ndata: {json.dumps(session.public())}\n\n"
                        return
                    elif await request.is_disconnected():
                        return
                    else:
                        await asyncio.sleep(0.05)
            finally:
                session.viewed(viewer, None)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _json_object(request: Request) -> dict:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ScenarioError("the body is not JSON", field="body", expected="a JSON object") from None
    if not isinstance(body, dict):
        raise ScenarioError("the body must be a JSON object", field="body", expected="a JSON object")
    return body


KEEP_FINISHED = 16  # finished live runs kept for their stream; older ones are forgotten


def _forget_finished(sessions: dict) -> None:
    done = [k for k, s in sessions.items() if s.status not in ("starting", "running")]
    for key in done[:-KEEP_FINISHED] if len(done) > KEEP_FINISHED else []:
        sessions.pop(key, None)


LIVE_OPTIONS = ("scenario", "site", "speed", "block_minutes", "external", "wait_s", "start", "duration")


def _start_live(app: FastAPI, root: Path, body: dict, who: Caller) -> live_runs.LiveSession:
    from wattscale.engine.campus import prepare
    from wattscale.guards import check_number
    from wattscale.scenario.load import parse_yaml
    from wattscale.service.confine import confine, refuse_expansion
    from wattscale.service.runner import shown_as_name

    unknown = sorted(set(body) - set(LIVE_OPTIONS))
    if unknown:
        raise ScenarioError(f"unknown option '{excerpt(unknown[0], 40)}'", field=excerpt(unknown[0], 40),
                            expected="options " + ", ".join(LIVE_OPTIONS))
    text = body.get("scenario")
    if not isinstance(text, str) or not text.strip() or len(text.encode()) > MAX_YAML_BYTES:
        raise ScenarioError("no scenario, or one larger than 1 MB", field="scenario", expected="YAML text")
    for key, kind in (("site", str), ("start", str), ("duration", str), ("external", bool)):
        if body.get(key) is not None and not isinstance(body[key], kind):
            raise ScenarioError(f"{key} must be {'true or false' if kind is bool else 'a string'}", field=key,
                                expected={"site": "a site's name", "start": "e.g. '2023-07-01'",
                                          "duration": "e.g. '7d'", "external": "true or false"}[key])
    changes = {f"time.{k}": body[k] for k in ("start", "duration") if body.get(k) is not None}
    live_id = new_id()
    path = write_job_file(root, f"live-{live_id}", text)
    try:
        refuse_expansion(parse_yaml(text, file=str(path), what="scenario", keys="keys such as 'time' and 'sites'"),
                         str(path))
        campus = prepare(str(path), changes or None)
        confine([campus.scenario], root / FILES, str(path))
        _, site = campus.site(body.get("site"))
        if campus.timeline.n_steps > live_runs.MAX_STEPS:
            raise ScenarioError(f"a live run of {campus.timeline.n_steps:,} steps is too long", field="time.duration",
                                expected=f"at most {live_runs.MAX_STEPS:,} steps")
        speed = float(check_number(body.get("speed", 3600), "speed", low=0, high=1e9, low_inclusive=True))
        block_min = float(check_number(body.get("block_minutes", 60), "block_minutes", low=1, high=1440,
                                       low_inclusive=True))
        wait_s = float(check_number(body.get("wait_s", 5), "wait_s", low=0, high=600, low_inclusive=True))
        campus.inputs(site.name)  # build the inputs here: a scenario that cannot run is refused now
    except WattscaleError as exc:
        raise shown_as_name(exc, path, "scenario", root) from None
    finally:
        path.unlink(missing_ok=True)  # read: the inputs are built
    step_s = campus.timeline.step_s
    session = live_runs.LiveSession(
        id=live_id, owner=who.name, site=site.name, speed=speed, block_steps=max(1, round(block_min * 60 / step_s)),
        n_steps=campus.timeline.n_steps, n_generators=len(site.generators), external=bool(body.get("external")),
        wait_s=wait_s)
    with app.state.live_lock:
        _forget_finished(app.state.live)
        running = [s for s in app.state.live.values() if s.status in ("starting", "running")]
        if len(running) >= live_runs.MAX_SESSIONS:
            raise HTTPException(429, f"{len(running)} live runs are going; at most {live_runs.MAX_SESSIONS}")
        if sum(s.owner == who.name for s in running) >= live_runs.MAX_SESSIONS_PER_OWNER:
            raise HTTPException(429, f"'{who.name}' has {live_runs.MAX_SESSIONS_PER_OWNER} live runs going; stop "
                                     "one first (DELETE /api/v1/live/ID)")
        app.state.live[live_id] = session
    threading.Thread(target=live_runs.run_session, args=(session, campus), daemon=True,
                     name=f"wattscale-live-{live_id}").start()
    return session


# ---------------------------------------------------------------- settlement
def _settlement(app: FastAPI) -> None:
    from wattscale.service.openadr import settle as dr

    @app.post(f"{API}/dr/events/{{event_id}}/settle", tags=["demand response"],
              summary="settle an event: each target's payment and penalty from its report, on the ledger")
    def settle(event_id: str, request: Request, who: Caller = Depends(operator)) -> dict:
        return dr.settle_event(request, event_id)

    @app.get(f"{API}/dr/ledger/trust", tags=["demand response"],
             summary="the operator's public key: pin it before the first event (wattscale ledger verify --trust)")
    def trust(request: Request) -> dict:
        from wattscale.service.openadr.ledger_book import DrLedger

        return DrLedger(request.app.state.data_dir).trust()

    @app.get(f"{API}/dr/ledger/checkpoint", tags=["demand response"],
             summary="the ledger's head signed by the operator (wattscale ledger verify --checkpoint)")
    def checkpoint(request: Request) -> dict:
        from wattscale.service.openadr.ledger_book import DrLedger

        return DrLedger(request.app.state.data_dir).checkpoint()

    @app.get(f"{API}/dr/settlements", tags=["demand response"], summary="every settlement so far")
    def settlements(request: Request, who: Caller = Depends(operator)) -> dict:
        return {"settlements": dr.settlements(request)}


# ---------------------------------------------------------------- pages
def _pages(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> Response:
        page = resources.files("wattscale.service").joinpath("dashboard.html").read_text(encoding="utf-8")
        return HTMLResponse(page.replace("{{VERSION}}", __version__))

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        import plotly

        return FileResponse(Path(plotly.__file__).parent / "package_data" / "plotly.min.js",
                            media_type="application/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.get(f"{API}/examples", tags=["studies"], summary="example scenarios the dashboard offers")
    def examples() -> dict:
        folder = examples_folder()
        return {"examples": [{"name": n, "study": s} for n, s in EXAMPLES.items() if (folder / n).is_file()]}

    @app.get(f"{API}/examples/{{name}}", tags=["studies"], summary="an example scenario's YAML text")
    def example(name: str) -> Response:
        if name not in EXAMPLES or not (examples_folder() / name).is_file():
            raise HTTPException(404, f"no example '{excerpt(name, 40)}'; there are: {', '.join(EXAMPLES)}")
        return Response((examples_folder() / name).read_text(encoding="utf-8"), media_type="text/yaml")

    @app.get(f"{API}/health", tags=["service"])
    def health(request: Request) -> dict:
        return {"status": "ok", "version": __version__, "requeued_at_start": request.app.state.requeued,
                "studies": _store(request).counts()}

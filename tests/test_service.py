"""The service in process (FastAPI's test client, real worker processes): studies end to end, errors, security,
and a live run that gives exactly the engine's result."""
from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from wattscale.engine.campus import prepare
from wattscale.engine.simulate import simulate
from wattscale.service.app import create_app
from wattscale.service.tokens import create_token
from wattscale.studies.registry import run_study

pytestmark = pytest.mark.xdist_group("service")
ROOT = Path(__file__).resolve().parents[1]
DEMO = (ROOT / "examples" / "llm-campus.yaml").read_text()
SHORT = DEMO.replace("start: 2023-01-01\n  duration: 365d", "start: 2023-07-17\n  duration: 3d")
assert SHORT != DEMO


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    data = tmp_path_factory.mktemp("svc") / "data"
    tokens = {"alice": create_token(data, "alice"), "bob": create_token(data, "bob"),
              "op": create_token(data, "op", "operator"), "site-a": create_token(data, "site-a", "ven"),
              "site-b": create_token(data, "site-b", "ven")}
    with TestClient(create_app(data, workers=2, callback_hosts=["127.0.0.1"])) as client:
        client.tokens = tokens
        yield client, tokens, data


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def wait(client, job_id: str, timeout_s: float = 120, token: str | None = None) -> dict:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        job = client.get(f"/api/v1/studies/{job_id}", headers=bearer(token or client.tokens["alice"])).json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"study {job_id} did not finish: {job}")


def test_a_study_runs_end_to_end_and_matches_the_library(service):
    client, tokens, data = service
    A = bearer(tokens["alice"])
    r = client.post("/api/v1/studies", json={"study": "run", "scenario": SHORT}, headers=A)
    assert r.status_code == 201, r.text
    job = wait(client, r.json()["id"])
    assert job["status"] == "done" and job["progress"] == 1.0 and job["owner"] == "alice"
    summary = client.get(f"/api/v1/studies/{job['id']}/summary", headers=A).json()
    direct = run_study("run", SHORT)
    assert summary["kpis"] == pytest.approx(direct.kpis, rel=1e-12)
    expected = direct.value
    names = client.get(f"/api/v1/studies/{job['id']}/tables", headers=A).json()["tables"]
    assert names
    csv = client.get(f"/api/v1/studies/{job['id']}/tables/{names[0]}?format=csv", headers=A)
    parquet = client.get(f"/api/v1/studies/{job['id']}/tables/{names[0]}?format=parquet", headers=A)
    page = client.get(f"/api/v1/studies/{job['id']}/tables/{names[0]}?format=json&limit=10", headers=A).json()
    frame_csv = pd.read_csv(io.StringIO(csv.text))
    frame_pq = pd.read_parquet(io.BytesIO(parquet.content))
    assert len(frame_csv) == len(frame_pq) == page["rows"] == len(expected.steps["campus"])
    assert len(page["data"]) == 10 and page["columns"] == list(frame_csv.columns)  # the time index is a column
    report = client.get(f"/api/v1/studies/{job['id']}/report?token={tokens['alice']}")
    assert report.status_code == 200 and "<html" in report.text.lower()


def test_a_multipart_upload_is_a_study_too(service):
    client, tokens, _ = service
    r = client.post("/api/v1/studies", files={"scenario": ("my-campus.yaml", SHORT.encode(), "text/yaml")},
                    data={"study": "run"}, headers=bearer(tokens["alice"]))
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "my-campus.yaml"
    assert wait(client, r.json()["id"])["status"] == "done"


def test_a_bad_scenario_is_refused_with_the_clis_message_and_nothing_kept(service):
    client, tokens, data = service
    before = sorted((data / "jobs").iterdir()) if (data / "jobs").exists() else []
    bad = SHORT.replace("import_limit_mw: 350", "import_limit_mw: -5")
    r = client.post("/api/v1/studies", json={"study": "run", "scenario": bad, "name": "bad.yaml"},
                    headers=bearer(tokens["alice"]))
    assert r.status_code == 422
    body = r.json()
    assert body["file"] == "bad.yaml" and "import_limit_mw" in body["error"] and str(data) not in body["error"]
    for payload, field in (({"study": "nope", "scenario": SHORT}, "study"),
                           ({"study": "run", "scenario": SHORT, "options": {"bogus": 1}}, "options.bogus"),
                           ({"study": "run", "scenario": ""}, "scenario")):
        r = client.post("/api/v1/studies", json=payload, headers=bearer(tokens["alice"]))
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    after = sorted((data / "jobs").iterdir()) if (data / "jobs").exists() else []
    assert after == before


def test_a_failure_at_run_time_reports_the_clis_message(service):
    client, tokens, _ = service
    huge = SHORT.replace("duration: 3d", "duration: 3650d").replace("step: 5min", "step: 1s")
    r = client.post("/api/v1/studies", json={"study": "run", "scenario": huge}, headers=bearer(tokens["alice"]))
    if r.status_code == 422:  # refused before it was queued: as good
        assert "memory" in r.json()["error"] or "steps" in r.json()["error"]
        return
    job = wait(client, r.json()["id"])
    assert job["status"] == "failed" and job["message"] and "Traceback" not in job["message"]


def test_security_tokens_roles_owners_and_sizes(service):
    client, tokens, _ = service
    body = {"study": "run", "scenario": SHORT}
    assert client.post("/api/v1/studies", json=body).status_code == 401
    assert client.post("/api/v1/studies", json=body, headers=bearer("wst_wrong")).status_code == 401
    assert client.post("/api/v1/studies", json=body, headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.post("/api/v1/studies", json=body, headers=bearer(tokens["site-a"])).status_code == 403
    huge = {"study": "run", "scenario": "x" * 3_000_000}
    r = client.post("/api/v1/studies", json=huge, headers=bearer(tokens["alice"]))
    assert r.status_code == 413 and "MB" in r.json()["error"]
    just_over = {"study": "run", "scenario": "# " + "x" * 1_100_000}
    r = client.post("/api/v1/studies", json=just_over, headers=bearer(tokens["alice"]))
    assert r.status_code == 422 and "MB" in r.json()["error"]
    job = client.post("/api/v1/studies", json=body, headers=bearer(tokens["alice"])).json()
    assert client.delete(f"/api/v1/studies/{job['id']}", headers=bearer(tokens["bob"])).status_code == 404
    assert client.delete(f"/api/v1/studies/{job['id']}").status_code == 401
    assert client.get("/api/v1/studies/..%2F..%2Fetc", headers=bearer(tokens["alice"])).status_code == 404
    for path in ("/api/v1/studies", "/api/v1/live"):
        r = client.post(path, content=b"{not json", headers={**bearer(tokens["alice"]), "Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["field"] == "body", r.text
    assert client.get(f"/api/v1/studies/{job['id']}/tables/..%2Fsummary",
                      headers=bearer(tokens["alice"])).status_code in (404, 409)
    wait(client, job["id"])
    # reads need a token too, and a user sees only their own studies (the operator sees all)
    assert client.get(f"/api/v1/studies/{job['id']}").status_code == 401
    assert client.get(f"/api/v1/studies/{job['id']}", headers=bearer(tokens["bob"])).status_code == 404
    assert client.get(f"/api/v1/studies/{job['id']}/report", headers=bearer(tokens["bob"])).status_code == 404
    assert job["id"] not in [j["id"] for j in client.get("/api/v1/studies", headers=bearer(tokens["bob"])).json()
                             ["studies"]]
    assert client.get(f"/api/v1/studies/{job['id']}", headers=bearer(tokens["op"])).status_code == 200
    assert client.delete(f"/api/v1/studies/{job['id']}", headers=bearer(tokens["alice"])).status_code == 409


def _with_price_file(path: str) -> str:
    return SHORT.replace("      import_limit_mw: 350", "      import_limit_mw: 350\n      price_usd_per_mwh: "
                         f'{{file: "{path}", column: value, unit: USD/MWh}}')


def test_no_request_reads_a_file_outside_the_files_folder(service, tmp_path):
    client, tokens, data = service
    outside = tmp_path / "secret.csv"
    outside.write_text("time,value\n2023-01-01,1\n")
    files = data / "files"
    files.mkdir(exist_ok=True)
    (files / "link.csv").symlink_to(outside)
    for path in (str(outside), "../" + outside.name, "../keys/vtn-operator.pem", "../wattscale-service.sqlite",
                 ".job-abc.yaml", "link.csv", "${HOME}/.bashrc", "$PATH", "~/.bashrc"):
        r = client.post("/api/v1/studies", json={"study": "run", "scenario": _with_price_file(path)},
                        headers=bearer(tokens["alice"]))
        assert r.status_code == 422, (path, r.text)
        body = r.json()
        assert "outside the service's files folder" in body["error"] or "environment variables" in body["error"]
        assert body["field"].startswith("sites[0].grid.price_usd_per_mwh"), body
        assert str(data) not in body["error"] and str(tmp_path) not in body["error"] and "/root" not in body["error"]


def test_a_data_file_in_the_files_folder_is_read_relative_to_it(service):
    client, tokens, data = service
    files = data / "files"
    files.mkdir(exist_ok=True)
    times = pd.date_range("2023-07-16", "2023-07-21", freq="1h", tz="UTC")
    pd.DataFrame({"time": times, "value": 123.0}).to_csv(files / "flat-price.csv", index=False)
    r = client.post("/api/v1/studies", json={"study": "run", "scenario": _with_price_file("flat-price.csv")},
                    headers=bearer(tokens["alice"]))
    assert r.status_code == 201, r.text
    job = wait(client, r.json()["id"])
    assert job["status"] == "done", job
    steps = client.get(f"/api/v1/studies/{job['id']}/tables/steps_0?format=csv", headers=bearer(tokens["alice"]))
    frame = pd.read_csv(io.StringIO(steps.text))
    assert "time" in frame.columns and np.allclose(frame["price_usd_per_mwh"], 123.0)
    missing = client.post("/api/v1/studies", json={"study": "run", "scenario": _with_price_file("nope.csv")},
                          headers=bearer(tokens["alice"]))
    if missing.status_code == 201:  # found missing only when read: the message names the file as the user did
        job = wait(client, missing.json()["id"])
        assert job["status"] == "failed" and "nope.csv" in job["message"] and str(data) not in job["message"]
    else:
        assert "nope.csv" in missing.json()["error"] and str(data) not in missing.json()["error"]


def test_cancel_a_queued_study(tmp_path):
    data = tmp_path / "data"
    token = create_token(data, "alice")
    with TestClient(create_app(data, dispatch=False)) as client:
        client.tokens = {"alice": token}
        job = client.post("/api/v1/studies", json={"study": "run", "scenario": SHORT}, headers=bearer(token)).json()
        assert job["status"] == "queued"
        gone = client.delete(f"/api/v1/studies/{job['id']}", headers=bearer(token)).json()
        assert gone["status"] == "cancelled"
        assert client.get(f"/api/v1/studies/{job['id']}/summary", headers=bearer(token)).status_code == 409


def test_report_pages_escape_names(service):
    client, tokens, _ = service
    evil = SHORT.replace("name: llm-campus", 'name: "<script>alert(1)</script>"')
    r = client.post("/api/v1/studies", json={"study": "run", "scenario": evil}, headers=bearer(tokens["alice"]))
    job = wait(client, r.json()["id"])
    page = client.get(f"/api/v1/studies/{job['id']}/report", headers=bearer(tokens["alice"])).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    dashboard = client.get("/").text
    assert "textContent" in dashboard  # names reach the page through text(), which escapes


def _stream(client, live_id: str) -> list[dict]:
    steps = []
    with client.stream("GET", f"/api/v1/live/{live_id}/stream", headers=bearer(client.tokens["alice"])) as r:
        event = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == "end":
                    return steps
                block = json.loads(line[6:])
                steps += [{k: v[i] for k, v in block.items() if v is not None} for i in range(len(block["step"]))]
    return steps


def test_a_live_run_streams_exactly_the_engines_result(service):
    client, tokens, _ = service
    r = client.post("/api/v1/live", json={"scenario": SHORT, "speed": 0, "block_minutes": 60},
                    headers=bearer(tokens["alice"]))
    assert r.status_code == 201, r.text
    steps = _stream(client, r.json()["id"])
    frame = simulate(prepare(SHORT)).steps["campus"]
    assert [s["step"] for s in steps] == list(range(len(frame)))
    for col, key in (("grid_import_mw", "grid_import_mw"), ("battery_soc_mwh", "soc_mwh"), ("load_mw", "load_mw")):
        assert np.array_equal(frame[col].to_numpy(), [s[key] for s in steps]), col
    assert client.get(f"/api/v1/live/{r.json()['id']}", headers=bearer(tokens["alice"])).json()["status"] == "done"


def test_an_external_controller_steers_the_next_block(service):
    client, tokens, _ = service
    r = client.post("/api/v1/live", json={"scenario": SHORT, "speed": 0, "block_minutes": 60, "external": True,
                                          "wait_s": 30}, headers=bearer(tokens["alice"]))
    live = r.json()
    k = live["block_steps"]
    assert k == 12
    bad = client.put(f"/api/v1/live/{live['id']}/setpoints", json={"battery_mw": ["x"]},
                     headers=bearer(tokens["alice"]))
    assert bad.status_code == 422 and bad.json()["field"] == "battery_mw[0]"
    assert client.put(f"/api/v1/live/{live['id']}/setpoints", json={"battery_mw": [0] * k},
                      headers=bearer(tokens["bob"])).status_code == 404  # another user's run is not visible
    charge = -50.0
    ok = client.put(f"/api/v1/live/{live['id']}/setpoints", json={"battery_mw": [charge] * k},
                    headers=bearer(tokens["alice"]))
    assert ok.status_code == 200, ok.text
    for _ in range(200):  # the first block is decided by the setpoints, the rest wait; stop after the first
        state = client.get(f"/api/v1/live/{live['id']}", headers=bearer(tokens["alice"])).json()
        if state["step"] >= k:
            break
        time.sleep(0.05)
    client.delete(f"/api/v1/live/{live['id']}", headers=bearer(tokens["alice"]))
    steps = _stream(client, live["id"])
    first = steps[:k]
    assert all(s["battery_mw"] == pytest.approx(charge) for s in first)
    soc = [s["soc_mwh"] for s in first]
    assert np.all(np.diff(soc) > 0)  # charging, as told


def test_the_openapi_document_and_docs_are_served(service):
    client, _, _ = service
    doc = client.get("/openapi.json").json()
    for path in ("/api/v1/studies", "/api/v1/studies/{job_id}/tables/{name}", "/api/v1/live/{live_id}/stream",
                 "/openadr3/3.0.1/programs", "/openadr3/3.0.1/events/{eventID}", "/openadr3/3.0.1/reports",
                 "/openadr3/3.0.1/subscriptions/{subscriptionID}"):
        assert path in doc["paths"], path
    docs = client.get("/docs").text
    assert "swagger" in docs.lower() and "cdn" not in docs  # served from here: works offline
    assert client.get("/swagger/swagger-ui-bundle.js").status_code == 200


def test_studies_run_on_a_dask_cluster_when_given_a_scheduler(tmp_path):
    from distributed import LocalCluster

    data = tmp_path / "data"
    token = create_token(data, "alice")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with TestClient(create_app(data, scheduler=cluster.scheduler_address)) as client:
            client.tokens = {"alice": token}
            r = client.post("/api/v1/studies", json={"study": "run", "scenario": SHORT}, headers=bearer(token))
            job = wait(client, r.json()["id"], timeout_s=180)
            assert job["status"] == "done", job
            dask = client.app.state.dispatcher.client
            prefixes = dask.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
            assert any(p.startswith("wattscale-study") for p in prefixes), prefixes  # it ran on the cluster


def test_subscribers_are_notified_of_new_events(service):
    import http.server
    import threading

    client, tokens, _ = service
    got: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append({"auth": self.headers.get("Authorization"), "path": self.path,
                        "body": json.loads(self.rfile.read(int(self.headers["Content-Length"])))})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    base = "/openadr3/3.0.1"
    pid = client.post(f"{base}/programs", json={"programName": "notify"}, headers=bearer(tokens["op"])).json()["id"]
    sub = {"clientName": "site-a", "programID": pid, "objectOperations": [
        {"objects": ["EVENT"], "operations": ["POST"], "callbackUrl": f"http://127.0.0.1:{hook.server_port}/hook",
         "bearerToken": "ven-secret"}]}
    assert client.post(f"{base}/subscriptions", json=sub, headers=bearer(tokens["site-a"])).status_code == 201
    other = {"programID": pid, "targets": [{"type": "VEN_NAME", "values": ["site-b"]}], "intervals": []}
    mine = {**other, "targets": [{"type": "VEN_NAME", "values": ["site-a"]}]}
    nosy = {**sub, "clientName": "site-b", "objectOperations": [{
        "objects": ["SUBSCRIPTION", "EVENT"], "operations": ["POST"],
        "callbackUrl": f"http://127.0.0.1:{hook.server_port}/nosy"}]}
    assert client.post(f"{base}/subscriptions", json=nosy, headers=bearer(tokens["site-b"])).status_code == 201
    elsewhere = {**sub, "objectOperations": [{**sub["objectOperations"][0], "callbackUrl": "http://10.0.0.7/x"}]}
    refused = client.post(f"{base}/subscriptions", json=elsewhere, headers=bearer(tokens["site-a"]))
    assert refused.status_code == 400 and "not allowed" in refused.json()["detail"]  # no requests into the network
    client.post(f"{base}/events", json=other, headers=bearer(tokens["op"]))
    event = client.post(f"{base}/events", json=mine, headers=bearer(tokens["op"])).json()
    for _ in range(100):
        if got:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    hook.shutdown()
    # site-a is told of its event, not of site-b's; site-b is not told of site-a's subscription (nor its token)
    assert [g["body"]["object"]["id"] for g in got if g["path"] == "/hook"] == [event["id"]]
    told_b = [g["body"]["object"] for g in got if g["path"] == "/nosy"]
    assert told_b and all(o.get("clientName") in (None, "site-b") for o in told_b)
    assert event["id"] not in [o["id"] for o in told_b]
    assert "ven-secret" not in json.dumps(told_b)
    assert "ven-secret" not in json.dumps(client.get(f"{base}/subscriptions", headers=bearer(tokens["site-b"])).json())
    first = next(g for g in got if g["path"] == "/hook")
    assert first["auth"] == "Bearer ven-secret" and first["body"]["operation"] == "POST"


def test_the_vtn_refuses_hostile_events_and_keeps_the_ledger_whole(service):
    client, tokens, _ = service
    base = "/openadr3/3.0.1"
    op = bearer(tokens["op"])
    pid = client.post(f"{base}/programs", json={"programName": "hostile"}, headers=op).json()["id"]

    def event(value, kind="DISPATCH_SETPOINT_RELATIVE", period=True):
        body = {"programID": pid, "targets": [{"type": "VEN_NAME", "values": ["site-a"]}],
                "intervals": [{"id": 0, "payloads": [{"type": kind, "values": [value]}]}]}
        if period:
            body["intervalPeriod"] = {"start": "2023-07-21T02:00:00Z", "duration": "PT1H"}
        return client.post(f"{base}/events", json=body, headers=op)

    for bad in (event(-1e308), event("-50"), event(5), event(-5, period=False)):
        assert bad.status_code == 400 and bad.json()["title"] == "Bad Request", bad.text
    assert client.post(f"{base}/events", content=b"[1]", headers=op).json()["status"] == 400
    assert client.get(f"{base}/events?limit=500", headers=op).json()["title"] == "Bad Request"
    assert client.get(f"{base}/events").json()["status"] == 401  # the specification's problem body
    ok = event(-5).json()
    report = {"programID": pid, "eventID": ok["id"], "clientName": "site-a",
              "resources": [{"resourceName": "site-a", "intervalPeriod": {"start": "2023-07-21T02:00:00Z",
                                                                          "duration": "PT1H"},
                             "intervals": [{"id": 0, "payloads": [{"type": "BASELINE", "values": [20]},
                                                                  {"type": "USAGE", "values": [16]}]}]}]}
    a = bearer(tokens["site-a"])
    posted = client.post(f"{base}/reports", json=report, headers=a).json()
    assert client.delete(f"{base}/reports/{posted['id']}", headers=a).status_code == 409  # on the ledger: stays
    assert client.delete(f"{base}/events/{ok['id']}", headers=op).status_code == 409
    assert client.post(f"{base}/reports", json=report, headers=a).status_code == 409  # one report per event
    settled = client.post(f"/api/v1/dr/events/{ok['id']}/settle", headers=op).json()["settlements"]
    assert [(x["ven"], x["delivered_mwh"]) for x in settled] == [("site-a", 4.0)]

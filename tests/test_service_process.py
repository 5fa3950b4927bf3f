"""A real ``wattscale serve`` process on 127.0.0.1: the OpenADR 3 cycle with a third-party client (toadr3), a
SIGKILL with studies queued and running, and the dashboard in a real browser (Debian's Chromium via Playwright)."""
from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.service_process import Server
from wattscale.decisions.market import demand_response  # noqa: F401 - its kinds of ledger entry
from wattscale.ledger.book import Ledger
from wattscale.service.openadr.ven import CampusVen
from wattscale.service.tokens import create_token

pytestmark = [pytest.mark.xdist_group("service-process"), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
DEMO = (ROOT / "examples" / "llm-campus.yaml").read_text()
SHORT = DEMO.replace("start: 2023-01-01\n  duration: 365d", "start: 2023-07-17\n  duration: 3d")
ARTEFACTS = ROOT / "out" / "test-artefacts"
CAMPUS = (ROOT / "examples" / "openadr" / "campus.yaml").read_text()  # draws from the grid: something to reduce


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def wait_all(url: str, ids: list[str], token: str, timeout_s: float = 240) -> dict[str, dict]:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        jobs = {i: httpx.get(f"{url}/api/v1/studies/{i}", headers=bearer(token)).json() for i in ids}
        if all(j["status"] in ("done", "failed", "cancelled") for j in jobs.values()):
            return jobs
        time.sleep(0.5)
    raise AssertionError(f"not finished: {jobs}")


# ---------------------------------------------------------------- OpenADR
EVENT_START = "2023-07-21T02:00:00Z"  # 22:00 in Virginia, after sunset


def _event(program_id: str, targets: list[str], reduce_mw: float) -> dict:
    return {"programID": program_id, "eventName": f"evening-peak-{reduce_mw:g}",
            "targets": [{"type": "VEN_NAME", "values": targets}],
            "payloadDescriptors": [{"payloadType": "DISPATCH_SETPOINT_RELATIVE", "units": "MW"},
                                   {"payloadType": "PRICE", "units": "MWH", "currency": "USD"}],
            "reportDescriptors": [{"payloadType": "BASELINE", "units": "MW"}, {"payloadType": "USAGE", "units": "MW"}],
            "intervalPeriod": {"start": EVENT_START, "duration": "PT3H"},
            "intervals": [{"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-reduce_mw]},
                                                 {"type": "PRICE", "values": [800]},
                                                 {"type": "SHORTFALL_PENALTY", "values": [200]}]}]}


@pytest.fixture(scope="module")
def vtn(tmp_path_factory):
    data = tmp_path_factory.mktemp("vtn") / "data"
    tokens = {"op": create_token(data, "grid-op", "operator"), "site-a": create_token(data, "site-a", "ven"),
              "site-b": create_token(data, "site-b", "ven"), "alice": create_token(data, "alice")}
    server = Server(data).start()
    yield server, tokens, data
    server.stop()


def test_the_openadr_cycle_event_to_settlement_on_the_ledger(vtn):
    server, tokens, data = vtn
    base = server.url + "/openadr3/3.0.1"
    program = httpx.post(base + "/programs", json={"programName": "ai-campus-flex"}, headers=bearer(tokens["op"]))
    assert program.status_code == 201, program.text
    pid = program.json()["id"]
    asks = {"site-a": 50.0, "site-b": 400.0}  # site-b cannot give 400 MW: it draws about 250
    events = {}
    for site, mw in asks.items():
        r = httpx.post(base + "/events", json=_event(pid, [site], mw), headers=bearer(tokens["op"]))
        assert r.status_code == 201, r.text
        events[site] = r.json()["id"]
    # each site's VEN (the toadr3 client) sees only its own event, re-plans, and reports
    responses = {}
    for site in asks:
        ven = CampusVen(CAMPUS, base, tokens[site], site)
        out = asyncio.run(ven.respond())
        assert [r.event_id for r in out] == [events[site]]
        responses[site] = out[0]
        assert asyncio.run(ven.respond()) == []  # answered once
    # the operator settles: paid for delivery, penalised for shortfall, all on the ledger
    accounts = {}
    for site, event_id in events.items():
        r = httpx.post(f"{server.url}/api/v1/dr/events/{event_id}/settle", headers=bearer(tokens["op"]))
        assert r.status_code == 200, r.text
        (account,) = r.json()["settlements"]
        accounts[site] = account
        resp = responses[site]
        delivered = np.clip(resp.baseline_mw - resp.usage_mw, 0, asks[site]).sum()  # 1 h intervals
        # the report carries MW to 6 decimals
        assert account["delivered_mwh"] == pytest.approx(delivered, abs=1e-5)
        assert account["payment_usd"] == pytest.approx(800 * account["delivered_mwh"], rel=1e-12)
        assert account["penalty_usd"] == pytest.approx(200 * (asks[site] * 3 - account["delivered_mwh"]), rel=1e-12)
    a, b = accounts["site-a"], accounts["site-b"]
    assert a["delivered_share"] == pytest.approx(1.0, abs=1e-6) and a["penalty_usd"] == pytest.approx(0, abs=1e-3)
    assert 0 < b["delivered_share"] < 0.5 and b["penalty_usd"] > 0
    assert b["shortfall_mwh"] > a["shortfall_mwh"] and b["amount_usd"] < a["amount_usd"]
    with Ledger.open(data / "ledger" / "demand-response-ledger.sqlite", write=False) as ledger:
        assert ledger.verify().ok
        kinds = [r.split('"kind":"')[1].split('"')[0] for _, r in ledger.records()]
    assert kinds.count("dr_event") == 2 and kinds.count("dr_report") == 2 and kinds.count("dr_settlement") == 2
    again = httpx.post(f"{server.url}/api/v1/dr/events/{events['site-a']}/settle", headers=bearer(tokens["op"]))
    assert again.json()["settlements"] == [a]  # settled once


def test_openadr_security_each_ven_sees_only_its_own(vtn):
    server, tokens, _ = vtn
    base = server.url + "/openadr3/3.0.1"
    pid = httpx.post(base + "/programs", json={"programName": "security"}, headers=bearer(tokens["op"])).json()["id"]
    event = httpx.post(base + "/events", json=_event(pid, ["site-b"], 10), headers=bearer(tokens["op"])).json()
    assert httpx.get(base + "/events").status_code == 401
    assert httpx.get(base + "/events", headers=bearer("wst_nope")).status_code == 401
    assert httpx.get(base + "/events", headers=bearer(tokens["alice"])).status_code == 403
    seen_by_a = httpx.get(base + "/events", headers=bearer(tokens["site-a"])).json()
    assert event["id"] not in [e["id"] for e in seen_by_a]
    assert httpx.get(f"{base}/events/{event['id']}", headers=bearer(tokens["site-a"])).status_code == 404
    assert httpx.post(base + "/events", json=_event(pid, ["site-a"], 1),
                      headers=bearer(tokens["site-a"])).status_code == 403  # a VEN posts no events
    report = {"programID": pid, "eventID": event["id"], "clientName": "site-b",
              "resources": [{"resourceName": "x", "intervalPeriod": {"start": EVENT_START, "duration": "PT1H"},
                             "intervals": [{"id": 0, "payloads": [{"type": "BASELINE", "values": [1]},
                                                                  {"type": "USAGE", "values": [0]}]}]}]}
    assert httpx.post(base + "/reports", json=report, headers=bearer(tokens["site-a"])).status_code == 403
    report["clientName"] = "site-a"
    assert httpx.post(base + "/reports", json=report, headers=bearer(tokens["site-a"])).status_code == 400
    assert httpx.post(f"{server.url}/api/v1/dr/events/{event['id']}/settle",
                      headers=bearer(tokens["site-b"])).status_code == 403
    assert httpx.post(base + "/events", content=b"{" * 3_000_000, headers=bearer(tokens["op"])).status_code == 413


def test_concurrent_events_and_settlements_all_land_on_the_ledger_once(vtn):
    from concurrent.futures import ThreadPoolExecutor

    server, tokens, data = vtn
    base = server.url + "/openadr3/3.0.1"
    op = bearer(tokens["op"])
    pid = httpx.post(base + "/programs", json={"programName": "busy"}, headers=op).json()["id"]
    with ThreadPoolExecutor(8) as pool:
        posted = list(pool.map(lambda k: httpx.post(base + "/events", json=_event(pid, ["site-a", "site-b"], 5 + k),
                                                    headers=op, timeout=60), range(8)))
    assert [r.status_code for r in posted] == [201] * 8, [r.text for r in posted if r.status_code != 201]
    ids = [r.json()["id"] for r in posted]
    with ThreadPoolExecutor(8) as pool:
        settled = list(pool.map(lambda i: httpx.post(f"{server.url}/api/v1/dr/events/{i}/settle", headers=op,
                                                     timeout=60), ids + ids))
    assert all(r.status_code == 200 for r in settled), [r.text for r in settled if r.status_code != 200]
    with Ledger.open(data / "ledger" / "demand-response-ledger.sqlite", write=False) as ledger:
        assert ledger.verify().ok
        bodies = [json.loads(r)["body"] for _, r in ledger.records()]
    for i in ids:  # no report came: each target owes the whole shortfall, settled once
        mine = [b for b in bodies if b.get("event") == f"event-{i}" and "amount_usd" in b]
        assert sorted(b["ven"] for b in mine) == ["site-a", "site-b"]


# ---------------------------------------------------------------- kill and restart
def test_sigkill_with_studies_queued_and_running_loses_none(tmp_path):
    data = tmp_path / "data"
    token = create_token(data, "alice")
    server = Server(data, workers=2).start()
    try:
        ids = [httpx.post(server.url + "/api/v1/studies", json={"study": "run", "scenario": SHORT, "name": f"s{k}"},
                          headers=bearer(token), timeout=60).json()["id"] for k in range(5)]
        end = time.monotonic() + 60
        while time.monotonic() < end:
            counts = httpx.get(server.url + "/api/v1/health").json()["studies"]
            if counts["running"] >= 1:
                break
            time.sleep(0.1)
        assert counts["running"] >= 1 and counts["queued"] >= 1, counts
        server.kill()
        server = Server(data, workers=2, port=server.port).start()
        assert httpx.get(server.url + "/api/v1/health").json()["requeued_at_start"] >= 1
        jobs = wait_all(server.url, ids, token)
    finally:
        server.stop()
    assert all(j["status"] == "done" for j in jobs.values()), jobs
    from wattscale.service.store import Store

    store = Store(data)
    assert store.completions() == {i: 1 for i in ids}  # every study finished exactly once
    store.close()
    folders = sorted(p.name for p in (data / "results").iterdir() if not p.name.startswith("."))
    assert folders == sorted(j["id"] + "-" + str(j["attempt"]) for j in jobs.values())


# ---------------------------------------------------------------- the dashboard in a browser
@pytest.fixture(scope="module")
def browser():
    import os

    chromium = os.environ.get("WATTSCALE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("Chromium is missing: scripts/ensure-chromium.sh installs Debian's package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def test_the_dashboard_runs_the_demo_and_shows_a_live_campus(vtn, browser):
    server, tokens, _ = vtn
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    page.fill("#token", tokens["alice"])
    page.dispatch_event("#token", "change")
    page.wait_for_selector("#example option[value='llm-campus.yaml']", state="attached")
    page.select_option("#example", "llm-campus.yaml")
    page.click("#submit")
    done = page.wait_for_selector("#studies a.open[data-name='llm-campus.yaml']", timeout=180_000)
    assert page.locator("#studies tr[data-status='failed']").count() == 0
    done.click()
    frame = page.frame_locator("#report")
    frame.locator(".plotly-graph-div").first.wait_for(timeout=60_000)
    page.click("#golive")
    page.wait_for_function("Number(document.body.dataset.livePoints || 0) >= 48", timeout=60_000)
    first = int(page.evaluate("document.body.dataset.livePoints"))
    page.wait_for_function(f"Number(document.body.dataset.livePoints) > {first}", timeout=60_000)
    page.screenshot(path=str(ARTEFACTS / "dashboard.png"), full_page=True)
    assert errors == []


def test_the_readmes_openadr_cycle_script_runs(tmp_path):
    import os
    import subprocess
    import sys

    from tests.service_process import free_port

    env = {**os.environ, "BIN": str(Path(sys.executable).parent), "PORT": str(free_port()), "TMPDIR": str(tmp_path)}
    run = subprocess.run(["bash", "examples/openadr/cycle.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert '"delivered_mwh": 150.0' in run.stdout and '"penalty_usd": 0.0' in run.stdout
    assert "checked against operator key" in run.stdout and "checkpoint at block" in run.stdout, run.stdout[-800:]

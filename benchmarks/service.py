"""The service under load: 50 clients on loopback submit small studies and poll them against one real server, and a
live campus streamed over server-sent events against the engine's own speed.

Work: each client submits the reference campus for one day (288 steps of 5 min, the `run` study), polls its status
every 0.2 s until it is done, and submits the next, for `--seconds` (default 60). The peer is the same studies
run through the library directly (`run_study(...).save(folder)` in a pool of as many worker processes as the
server has), without HTTP, queue or store. Printed: studies per second both ways and their ratio, the p50/p99 latency of a status
request, and that no study was lost or run twice (every submitted id done, one recorded outcome each).

Live: the reference campus for a year at 5-min steps (105,120 steps, in hourly blocks) streamed as fast as possible,
from its first block, against `simulate_site` on the same site with its inputs built (the engine alone): steps per second both ways and their ratio.

Run: python benchmarks/service.py [--seconds 60] [--clients 50] [--workers 2]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.service_process import Server

from wattscale.service.store import Store
from wattscale.service.tokens import create_token

DEMO = (ROOT / "examples" / "llm-campus.yaml").read_text()
DAY = DEMO.replace("start: 2023-01-01\n  duration: 365d", "start: 2023-07-18\n  duration: 1d")
YEAR = DEMO


async def client_loop(http: httpx.AsyncClient, token: str, until: float, ids: list, latencies: list) -> None:
    head = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < until:
        r = await http.post("/api/v1/studies", json={"study": "run", "scenario": DAY}, headers=head)
        r.raise_for_status()
        job_id = r.json()["id"]
        ids.append(job_id)
        while True:
            t0 = time.perf_counter()
            status = (await http.get(f"/api/v1/studies/{job_id}", headers=head)).json()["status"]
            latencies.append(time.perf_counter() - t0)
            if status in ("done", "failed", "cancelled"):
                break
            await asyncio.sleep(0.2)


async def load(url: str, token: str, clients: int, seconds: float) -> tuple[list, list, float]:
    ids, latencies = [], []
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        start = time.monotonic()
        await asyncio.gather(*(client_loop(http, token, start + seconds, ids, latencies) for _ in range(clients)))
        return ids, latencies, time.monotonic() - start


def direct(n: int, workers: int) -> float:
    """Seconds for ``n`` of the same studies through the library in ``workers`` processes."""
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(_one_direct, range(workers)))  # warm the workers (imports, numba)
        start = time.perf_counter()
        list(pool.map(_one_direct, range(n)))
        return time.perf_counter() - start


def _one_direct(_: int) -> None:
    from wattscale.studies.registry import run_study

    with tempfile.TemporaryDirectory() as tmp:
        run_study("run", DAY).save(Path(tmp) / "out")  # the same work: the study and its results folder


def stream_rate(url: str, token: str) -> tuple[float, int]:
    head = {"Authorization": f"Bearer {token}"}
    live = httpx.post(url + "/api/v1/live", json={"scenario": YEAR, "speed": 0, "block_minutes": 60},
                      headers=head, timeout=120).json()
    steps, first, start = 0, None, time.perf_counter()
    with httpx.stream("GET", f"{url}/api/v1/live/{live['id']}/stream", headers=head, timeout=300) as r:
        event = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "steps":
                n = len(json.loads(line[6:])["step"])
                if first is None:  # the clock starts at the first block: building the inputs is not streaming
                    first, startup = time.perf_counter(), time.perf_counter() - start
                else:
                    steps += n
            elif line.startswith("data: ") and event == "end":
                break
    return steps / (time.perf_counter() - first), steps, startup


def engine_rate() -> float:
    from wattscale.decisions.operate.factory import build_controller
    from wattscale.engine.campus import prepare
    from wattscale.engine.simulate import simulate_site, site_assets

    campus = prepare(YEAR)
    inputs = campus.inputs()
    controller = build_controller(campus.scenario.controller, site_assets(inputs))
    simulate_site(inputs, controller)  # warm
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        simulate_site(inputs, build_controller(campus.scenario.controller, site_assets(inputs)))
        runs.append(inputs.timeline.n_steps / (time.perf_counter() - start))
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        token = create_token(data, "bench")
        server = Server(data, workers=args.workers).start()
        try:
            ids, latencies, elapsed = asyncio.run(load(server.url, token, args.clients, args.seconds))
            live_steps_per_s, live_steps, startup_s = stream_rate(server.url, token)
        finally:
            server.stop()
        store = Store(data)
        jobs = {i: store.get(i) for i in ids}
        done = sum(j is not None and j.status == "done" for j in jobs.values())
        outcomes = store.completions()
        store.close()
    per_s = len(ids) / elapsed
    lat = sorted(latencies)
    p50, p99 = lat[len(lat) // 2] * 1e3, lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1e3
    n_direct = max(args.workers, min(len(ids), 40))
    direct_s = direct(n_direct, args.workers)
    direct_per_s = n_direct / direct_s
    print(f"service: {args.clients} clients for {elapsed:.0f} s on {args.workers} workers: {len(ids)} studies, "
          f"{per_s:.2f} per second")
    print(f"  the same study through the library in {args.workers} processes: {direct_per_s:.2f} per second; "
          f"service / library = {per_s / direct_per_s:.2f}")
    print(f"  status request latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(lat):,} requests")
    lost = len(ids) - done
    twice = sum(1 for i in ids if outcomes.get(i, 0) != 1)
    print(f"  studies lost: {lost}; recorded other than once: {twice} "
          f"({'none lost, none duplicated' if lost == twice == 0 else 'PROBLEM'})")
    engine = engine_rate()
    print(f"live stream: {live_steps:,} steps at {live_steps_per_s:,.0f} steps/s after the first block "
          f"({startup_s:.1f} s to build the inputs); the engine alone {engine:,.0f} steps/s; "
          f"stream / engine = {live_steps_per_s / engine:.3f}")


if __name__ == "__main__":
    main()

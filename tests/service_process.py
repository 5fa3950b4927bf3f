"""A real ``wattscale serve`` process on 127.0.0.1, for tests and benchmarks of the service."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``wattscale serve --data DIR`` in a child process; ``url`` once it answers."""

    def __init__(self, data: Path, *, workers: int = 2, port: int | None = None) -> None:
        self.data, self.workers, self.port = data, workers, port or free_port()
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60) -> "Server":
        cmd = [sys.executable, "-m", "wattscale.entry", "serve", "--data", str(self.data), "--port", str(self.port),
               "--workers", str(self.workers), "--log-level", "warning"]
        self.log = open(self.data.parent / f"server-{self.port}.log", "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); log: {self.log.name}")
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout_s} s")

    def kill(self) -> None:
        """SIGKILL: no chance to tidy up."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

"""The service's state in one SQLite file under its data folder: submitted studies and the hashes of its tokens.

A study moves ``queued -> running -> done | failed | cancelled``. Claiming one raises its ``attempt``; a worker
may record an outcome only for the attempt it was given, so a study re-run after a crash is recorded once even if
the first worker, orphaned, finishes later (``completions`` holds one row per recorded outcome). The file uses
the WAL journal, so readers (status requests) never wait for a worker's write.
"""
from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

DB_NAME = "wattscale-service.sqlite"
STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINAL = ("done", "failed", "cancelled")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, study TEXT NOT NULL, name TEXT NOT NULL, scenario TEXT NOT NULL, options TEXT NOT NULL,
    owner TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL DEFAULT '', progress REAL,
    message TEXT NOT NULL DEFAULT '', attempt INTEGER NOT NULL DEFAULT 0, folder TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL, started REAL, finished REAL);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created);
CREATE TABLE IF NOT EXISTS completions (job TEXT NOT NULL, attempt INTEGER NOT NULL, status TEXT NOT NULL,
                                        time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (name TEXT PRIMARY KEY, role TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE,
                                   created REAL NOT NULL);
"""


@dataclass(frozen=True)
class Job:
    """A submitted study as stored."""

    id: str
    study: str
    name: str
    scenario: str
    options: dict
    owner: str
    status: str
    stage: str
    progress: float | None
    message: str
    attempt: int
    folder: str
    created: float
    started: float | None
    finished: float | None

    def public(self) -> dict:
        """What the API shows of it (not the scenario text)."""
        return {"id": self.id, "study": self.study, "name": self.name, "status": self.status, "stage": self.stage,
                "progress": self.progress, "message": self.message, "attempt": self.attempt, "owner": self.owner,
                "created": _iso(self.created), "started": _iso(self.started), "finished": _iso(self.finished)}


def _iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Store:
    """The jobs and tokens of one data folder (a connection per thread or process: open one where it is used)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / DB_NAME
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------ jobs
    def submit(self, study: str, name: str, scenario: str, options: dict, owner: str, job_id: str | None = None
               ) -> Job:
        job_id = job_id or new_id()
        self.conn.execute("INSERT INTO jobs (id, study, name, scenario, options, owner, status, created) "
                          "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)",
                          (job_id, study, name, scenario, json.dumps(options), owner, time.time()))
        return self.get(job_id)

    def get(self, job_id: str) -> Job | None:
        row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", (str(job_id)[:64],)).fetchone()
        return _job(row) if row else None

    def list(self, limit: int = 200, owner: str | None = None) -> list[Job]:
        """The newest studies (of ``owner``, or everyone's)."""
        rows = self.conn.execute("SELECT * FROM jobs WHERE ? IS NULL OR owner = ? ORDER BY created DESC LIMIT ?",
                                 (owner, owner, int(limit))).fetchall()
        return [_job(r) for r in rows]

    def counts(self, owner: str | None = None) -> dict[str, int]:
        rows = self.conn.execute("SELECT status, COUNT(*) FROM jobs WHERE ? IS NULL OR owner = ? GROUP BY status",
                                 (owner, owner)).fetchall()
        return {s: 0 for s in STATUSES} | dict(rows)

    def claim(self) -> Job | None:
        """The oldest queued study, now running under a new attempt number; None when none is queued."""
        row = self.conn.execute(
            "UPDATE jobs SET status = 'running', attempt = attempt + 1, started = ?, stage = 'starting', "
            "progress = NULL WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY created LIMIT 1) "
            "RETURNING *", (time.time(),)).fetchone()
        return _job(row) if row else None

    def requeue_running(self) -> int:
        """After a restart: every study left running goes back to the queue (it is run again)."""
        return self.conn.execute("UPDATE jobs SET status = 'queued', stage = 'queued again after a restart' "
                                 "WHERE status = 'running'").rowcount

    def running_attempt(self, job_id: str, attempt: int) -> bool:
        """Whether ``attempt`` is still the live run of the study (not cancelled, not superseded)."""
        row = self.conn.execute("SELECT status, attempt FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row is not None and row[0] == "running" and row[1] == attempt

    def progress(self, job_id: str, attempt: int, stage: str, share: float | None) -> bool:
        """Record progress; False when this attempt is no longer the live one (stop working)."""
        return self.conn.execute("UPDATE jobs SET stage = ?, progress = ? WHERE id = ? AND attempt = ? AND "
                                 "status = 'running'", (stage[:200], share, job_id, attempt)).rowcount == 1

    def finish(self, job_id: str, attempt: int, status: str, *, folder: str = "", message: str = "") -> bool:
        """Record the outcome of ``attempt``: True if it was recorded, False if that attempt was no longer live."""
        now = time.time()
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            done = self.conn.execute(
                "UPDATE jobs SET status = ?, folder = ?, message = ?, finished = ?, progress = ?, stage = ? "
                "WHERE id = ? AND attempt = ? AND status = 'running'",
                (status, folder, message[:4000], now, 1.0 if status == "done" else None, status, job_id,
                 attempt)).rowcount == 1
            if done:
                self.conn.execute("INSERT INTO completions VALUES (?, ?, ?, ?)", (job_id, attempt, status, now))
        return done

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued or running study (a running one stops at its next progress report)."""
        self.conn.execute("UPDATE jobs SET status = 'cancelled', finished = ?, stage = 'cancelled' "
                          "WHERE id = ? AND status IN ('queued', 'running')", (time.time(), job_id))
        return self.get(job_id)

    def completions(self) -> dict[str, int]:
        """Recorded outcomes per study (one each, however often the service was restarted)."""
        return dict(self.conn.execute("SELECT job, COUNT(*) FROM completions GROUP BY job").fetchall())

    # ------------------------------------------------------------ tokens
    def add_token(self, name: str, role: str, sha256: str) -> None:
        self.conn.execute("INSERT INTO tokens VALUES (?, ?, ?, ?)", (name, role, sha256, time.time()))

    def token_owner(self, sha256: str) -> tuple[str, str] | None:
        """(name, role) of the token with this hash, or None."""
        row = self.conn.execute("SELECT name, role FROM tokens WHERE sha256 = ?", (sha256,)).fetchone()
        return (row[0], row[1]) if row else None


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def _job(row: tuple) -> Job:
    (id_, study, name, scenario, options, owner, status, stage, progress, message, attempt, folder, created,
     started, finished) = row
    return Job(id_, study, name, scenario, json.loads(options), owner, status, stage, progress, message, attempt,
               folder, created, started, finished)

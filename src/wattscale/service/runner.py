"""Running submitted studies: a dispatcher thread claims queued studies from the store and hands each to a worker
process (``concurrent.futures``), or to a Dask cluster when the service was given a scheduler. Every study runs
through the registry (``run_study``'s steps), exactly as on the command line.

A worker records progress as it goes and its outcome at the end, both only for its own attempt; a worker whose
server has gone (killed) stops within a second, and a study it left running is run again by the next server."""
from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from wattscale.errors import WattscaleError
from wattscale.service.confine import FILES, public
from wattscale.service.store import Store

log = logging.getLogger("wattscale.service")

RESULTS = "results"  # DIR/results/ID-ATTEMPT/: a finished study's results folder
PROGRESS_EVERY_S = 0.5


class Superseded(Exception):
    """This attempt is no longer the live one (cancelled, or re-run after a restart)."""


def job_file(data_dir: Path, job_id: str) -> Path:
    """Where a study's scenario text is put for reading: in DIR/files, so that the paths it names are relative
    to that folder (a hidden name, which no scenario may read)."""
    return data_dir / FILES / f".job-{job_id}.yaml"


def write_job_file(data_dir: Path, job_id: str, text: str) -> Path:
    path = job_file(data_dir, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def check_subject(data_dir: Path, job_id: str, study_name: str, options: dict, shown_as: str):
    """The study, its checked options and prepared input from the job's scenario file; every file it names must
    lie in DIR/files. Raises WattscaleError naming ``shown_as`` (never the server's own paths)."""
    from wattscale.scenario.load import parse_yaml
    from wattscale.service.confine import confine, refuse_expansion
    from wattscale.studies.registry import get_study, make_options, prepare_subject

    subject = job_file(data_dir, job_id)
    try:
        study = get_study(study_name)
        opts = make_options(study, options)
        refuse_expansion(parse_yaml(subject.read_text(encoding="utf-8"), file=str(subject), what=study.takes,
                                    keys="its fields"), str(subject))
        refuse_expansion(opts.model_dump(mode="json"), "options")
        prepared = prepare_subject(study, str(subject))
        model = next((getattr(prepared, a) for a in ("scenario", "spec") if hasattr(prepared, a)), None)
        confine([model, opts], data_dir / FILES, str(subject))
        return study, opts, prepared, subject
    except WattscaleError as exc:
        raise shown_as_name(exc, subject, shown_as, data_dir) from None


def shown_as_name(exc: WattscaleError, subject: Path, shown_as: str, data_dir: Path) -> WattscaleError:
    """``exc`` naming the scenario as the user knows it, with no server folder in its message."""
    if exc.file and Path(exc.file) == subject:
        exc.file = shown_as
    elif exc.file:
        exc.file = public(exc.file, data_dir)
    exc.args = (public(exc._format().replace(str(subject), shown_as), data_dir),)
    return exc


def run_job(data_dir: str, job_id: str, attempt: int) -> str:
    """Run one attempt of a study in this process; returns its outcome ('done', 'failed', 'stale')."""
    root = Path(data_dir)
    store = Store(root)
    try:
        job = store.get(job_id)
        if job is None or not store.running_attempt(job_id, attempt):
            return "stale"
        last = [0.0]

        def progress(stage: str, done: float, total: float | None) -> None:
            now = time.monotonic()
            if now - last[0] < PROGRESS_EVERY_S:
                return
            last[0] = now
            share = min(1.0, max(0.0, done / total)) if total else None
            if not store.progress(job_id, attempt, str(stage), share):
                raise Superseded

        try:
            from wattscale.studies.registry import execute

            if not job_file(root, job_id).exists():  # the store holds the text; the file may have been tidied
                write_job_file(root, job_id, job.scenario)
            study, opts, prepared, subject = check_subject(root, job_id, job.study, job.options, job.name)
            result = execute(study, prepared, opts, progress, str(subject))
            folder = root / RESULTS / f"{job_id}-{attempt}"
            result.save(folder)
            if not store.finish(job_id, attempt, "done", folder=folder.name):
                shutil.rmtree(folder, ignore_errors=True)  # ours, written for an attempt that was superseded
                return "stale"
            return "done"
        except Superseded:
            return "stale"
        except WattscaleError as exc:
            store.finish(job_id, attempt, "failed", message=public(str(exc), root))
            return "failed"
        except MemoryError:
            store.finish(job_id, attempt, "failed", message="the study ran out of memory")
            return "failed"
        except Exception as exc:  # a fault of wattscale's, not of the input: logged with its traceback
            log.exception("study %s failed", job_id)
            store.finish(job_id, attempt, "failed",
                         message=f"internal error ({type(exc).__name__}); the server's log has the details")
            return "failed"
    finally:
        store.close()


def _watch_parent() -> None:
    """In a worker process: exit when the server that started it is gone (killed without a chance to say so)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="wattscale-parent-watch").start()


class Dispatcher:
    """Hands queued studies to workers: ``workers`` local processes, or a Dask cluster at ``scheduler``."""

    def __init__(self, data_dir: Path, *, workers: int = 2, scheduler: str | None = None) -> None:
        self.data_dir = data_dir
        self.scheduler = scheduler
        self.workers = max(1, int(workers))
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.inflight: set[Future] = set()
        self.lock = threading.Lock()
        self.executor = None
        self.client = None
        self.thread: threading.Thread | None = None

    def start(self) -> int:
        """Re-queue what a previous server left running, start the workers; returns how many were re-queued."""
        store = Store(self.data_dir)
        requeued = store.requeue_running()
        store.close()
        if self.scheduler:
            from distributed import Client

            self.client = Client(self.scheduler, timeout="10s")
            self.workers = max(1, sum(self.client.nthreads().values()))
        else:
            self.executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_watch_parent)
        self.thread = threading.Thread(target=self._loop, daemon=True, name="wattscale-dispatcher")
        self.thread.start()
        return requeued

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        if self.client is not None:
            self.client.close()

    def _loop(self) -> None:
        store = Store(self.data_dir)
        try:
            while not self.stopping.is_set():
                while len(self.inflight) < self.workers and not self.stopping.is_set():
                    job = store.claim()
                    if job is None:
                        break
                    self._submit(store, job.id, job.attempt)
                self.wake.wait(0.2)
                self.wake.clear()
        finally:
            store.close()

    def _submit(self, store: Store, job_id: str, attempt: int) -> None:
        args = (str(self.data_dir), job_id, attempt)
        try:
            if self.client is not None:
                future = self.client.submit(run_job, *args, pure=False, key=f"wattscale-study-{job_id}-{attempt}")
            else:
                future = self.executor.submit(run_job, *args)
        except Exception as exc:  # the pool broke (a worker was killed): start a new one, fail this attempt
            log.warning("could not start study %s: %s", job_id, exc)
            store.finish(job_id, attempt, "failed", message=f"no worker could take the study ({exc})")
            if self.executor is not None:
                self.executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=_watch_parent)
            return
        with self.lock:
            self.inflight.add(future)
        future.add_done_callback(lambda f: self._done(f, job_id, attempt))

    def _done(self, future, job_id: str, attempt: int) -> None:
        with self.lock:
            self.inflight.discard(future)
        problem = None
        try:
            problem = future.exception()
        except Exception as exc:  # cancelled
            problem = exc
        if problem is not None and not self.stopping.is_set():
            store = Store(self.data_dir)
            store.finish(job_id, attempt, "failed", message=f"the worker running the study stopped ({problem})")
            store.close()
        self.wake.set()

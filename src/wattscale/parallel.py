"""Many independent tasks: on a Dask cluster when a client is in use, else here one after another, with the same
results either way (each task gets its own seed, spawned from one ``numpy.random.SeedSequence``).

Dask (``dask.distributed``) does the scheduling; this module only feeds it. Tasks go to the cluster in batches
(a window of a few per worker thread), so a sweep of 100,000 cases never floods the scheduler; data every task
reads (a year of weather, a network) is scattered to each worker once, not shipped with every task.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from wattscale.guards import stop_if_interrupted

_client: ContextVar = ContextVar("wattscale_dask_client", default=None)

Progress = Callable[[str, float, "float | None"], None]


@contextmanager
def using(client):
    """Within this block, studies that are many tasks (Monte Carlo years, contingencies, backtests) send them to
    ``client`` (a ``dask.distributed.Client``; None: run them here)."""
    token = _client.set(client)
    try:
        yield client
    finally:
        _client.reset(token)


def current_client():
    """The Dask client in use (see ``using``), or None."""
    return _client.get()


def seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent seeds from one: task ``k`` draws the same numbers wherever and whenever it runs."""
    return np.random.SeedSequence(seed).spawn(n)


def map_tasks(func: Callable, items: list, *, shared: Any = None, progress: Progress | None = None,
              what: str = "tasks") -> list:
    """``[func(item, shared) for item in items]`` (``func(item)`` when ``shared`` is None), on the client in use
    or here; in the order of ``items``. A task that raises raises here (the first, after cancelling the rest)."""
    out: list = [None] * len(items)
    done = 0
    for index, value, error in completed(func, items, shared=shared, client=current_client()):
        if error is not None:
            raise error
        out[index] = value
        done += 1
        if progress is not None:
            progress(what, done, len(items))
    return out


def completed(func: Callable, items: Iterable, *, shared: Any = None, client=None, keys: list[str] | None = None,
              window: int | None = None) -> Iterator[tuple[int, Any, BaseException | None]]:
    """``(index, value, error)`` for each item as its task finishes (here: in order). On a client, at most
    ``window`` tasks are out at once (default: 8 per worker thread, at least 64); ``keys`` names the tasks (one
    key is run once: a task lost with its worker is run again elsewhere and reported once). ``error`` is the
    exception a task raised, or the cluster's reason it could not run (e.g. its workers kept dying)."""
    items = list(items)
    if client is None:
        for index, item in enumerate(items):
            stop_if_interrupted()
            try:
                value = func(item) if shared is None else func(item, shared)
            except Exception as exc:  # noqa: BLE001 - reported to the caller with its index, as on a cluster
                yield index, None, exc
            else:
                yield index, value, None
        return
    yield from _on_cluster(func, items, shared, client, keys, window)


def _on_cluster(func, items, shared, client, keys, window):
    from dask.distributed import as_completed

    threads = sum(client.nthreads().values()) or 1
    window = window or max(64, 8 * threads)
    names = keys or [f"wattscale-{uuid.uuid4().hex[:12]}-{k}" for k in range(len(items))]
    extra = () if shared is None else (client.scatter(shared, broadcast=True, hash=False),)
    index_of = {name: k for k, name in enumerate(names)}
    pending = iter(range(len(items)))
    running = as_completed([], with_results=True, raise_errors=False)
    out: dict = {}  # key -> future, for the tasks not yet reported

    def submit(n: int) -> None:
        batch = [k for _, k in zip(range(n), pending)]
        if batch:
            futures = client.map(func, [items[k] for k in batch], *[[e] * len(batch) for e in extra],
                                 key=[names[k] for k in batch], pure=False)
            out.update((f.key, f) for f in futures)
            running.update(futures)

    try:
        submit(window)
        for future, value in running:
            out.pop(future.key, None)
            stop_if_interrupted()
            failed = future.status != "finished" or isinstance(value, BaseException)
            yield index_of[future.key], (None if failed else value), (_as_exception(value) if failed else None)
            future.release()
            if len(out) <= window // 2:
                submit(window - len(out))
    finally:
        running.clear()
        if out:  # stopped early: the rest is not run
            client.cancel(list(out.values()), force=True)


def _as_exception(value) -> BaseException:
    if isinstance(value, BaseException):
        return value
    if isinstance(value, tuple) and value and isinstance(value[0], type) and issubclass(value[0], BaseException):
        return value[1] if len(value) > 1 and isinstance(value[1], BaseException) else value[0]()
    return RuntimeError(str(value))

"""Where a sweep runs: a ``dask.distributed.LocalCluster`` of processes on this machine, an existing cluster at a
scheduler's address, or here in this process. Each worker is warmed up once when it starts (imports and numba's
compiled kernels loaded by a one-day run), and runs one task at a time with one solver thread."""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager

import dask
from dask.distributed import WorkerPlugin

from wattscale.errors import WattscaleError

CONNECT_TIMEOUT_S = 15
# Dask sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which also turns off glibc's adaptive mmap threshold: every
# array above 128 kB is then mapped and unmapped afresh, and a year's run takes 1.6x as long (0.13 s, not 0.08 s).
# Unset, as it is in this process. (For 'dask worker' elsewhere: export
# DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_=None.)
WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}

WARM_UP_SCENARIO = {  # one day, hourly, on embedded defaults: loads every kernel a case of 'run' uses
    "name": "warm-up",
    "time": {"start": "2023-06-01", "duration": "1d", "step": "1h"},
    "sites": [{"name": "s", "weather": "default",
               "facility": {"workloads": [
                   {"kind": "training", "name": "t", "gpu": "H100-SXM", "gpus": 64, "model_params_b": 8,
                    "tokens_per_iteration": 1.0e+6},
                   {"kind": "inference", "name": "i", "gpu": "H100-SXM", "model_params_b": 8,
                    "arrivals": {"mean_rate_per_s": 10}}]},
               "battery": {"power_mw": 1, "energy_mwh": 2},
               "generators": [{"name": "g", "kind": "gas_turbine", "capacity_mw": 2}],
               "grid": {"import_limit_mw": 5}}],
}


class WarmUp(WorkerPlugin):
    """Run once on every worker as it starts, so no case pays for imports and loading compiled kernels."""

    name = "wattscale-warm-up"

    def setup(self, worker) -> None:
        try:
            from wattscale.studies.registry import run_study

            run_study("run", WARM_UP_SCENARIO)
        except Exception as exc:  # noqa: BLE001 - a warm-up that fails costs time, not results
            logging.getLogger("wattscale").warning("worker warm-up failed: %s", exc)


@contextmanager
def connect(*, workers: int | None = None, scheduler: str | None = None, warm_up: bool = True):
    """A Dask client: on the cluster at ``scheduler`` (``tcp://HOST:PORT``), else on a LocalCluster of
    ``workers`` processes (default: one per core), each with one thread. ``workers=0``: no cluster (None).
    ``warm_up``: each worker first runs a one-day campus (worth it before many runs of a scenario)."""
    if scheduler is None and workers == 0:
        yield None
        return
    from dask.distributed import Client, LocalCluster

    cluster = None
    try:
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError) as exc:
                raise WattscaleError(f"cannot reach the Dask scheduler at '{scheduler}' ({exc})", field="--scheduler",
                                     expected="the address of a running scheduler, e.g. tcp://10.0.0.5:8786") \
                    from None
        else:
            n = workers if workers is not None else (os.cpu_count() or 1)
            if n < 0:
                raise WattscaleError(f"{n} workers", field="--workers", expected="0 (no cluster) or more")
            with dask.config.set(WORKER_CONFIG):
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR)
            client = Client(cluster)
        with client:
            check_versions(client)
            if warm_up:
                client.register_plugin(WarmUp())
            yield client
    finally:
        if cluster is not None:
            cluster.close()


def check_versions(client) -> None:
    """Refuse a cluster whose workers run another wattscale (their results would not be this one's)."""
    from wattscale import __version__

    def version() -> str:
        from wattscale import __version__ as there

        return there

    try:
        found = client.run(version)
    except Exception as exc:  # noqa: BLE001 - e.g. wattscale is not installed on the workers
        raise WattscaleError(f"the cluster's workers cannot run wattscale ({type(exc).__name__}: {exc})",
                             field="--scheduler", expected="workers with wattscale installed") from None
    other = {w: v for w, v in found.items() if v != __version__}
    if other:
        worker, v = next(iter(other.items()))
        raise WattscaleError(f"worker {worker} runs wattscale {v}, this machine {__version__}", field="--scheduler",
                             expected="the same wattscale version on every worker")

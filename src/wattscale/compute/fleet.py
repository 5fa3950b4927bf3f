"""Turn a scenario workload (training job or inference fleet) into its phase mix on any sample grid."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from wattscale.compute.catalog import Catalog, GpuSpec
from wattscale.compute.inference import gpus_for_slo, serve
from wattscale.compute.phases import PhaseMix
from wattscale.compute.traces import Requests, cohorts, read_trace, synthetic_requests, tile
from wattscale.compute.training import training_mix
from wattscale.errors import ScenarioError
from wattscale.scenario.base import local_time
from wattscale.scenario.workloads import Inference, SyntheticArrivals, Training, Workload

INDIVIDUAL_PER_SAMPLE = 2.0  # below this many arrivals per sample each request is simulated, else cohorts
SIZING_STEP_S = 1.0
SIZING_MAX_REQUESTS = 1_000_000  # per sizing hour; larger fleets are sized in identical slices


def _offset_s(value: str | None, start: pd.Timestamp, field: str, file: str | None) -> float | None:
    if value is None:
        return None
    return (local_time(value, start.tz, field=field, file=file) - start).total_seconds()


def workload_mix(w: Workload, catalog: Catalog, *, start: pd.Timestamp, step_s: float, n_samples: int,
                 resolve_iterations: bool = False, job_start: pd.Timestamp | None = None,
                 must_run: bool = False, field: str = "workload", file: str | None = None) -> PhaseMix:
    """Phase mix of ``w`` on samples of ``step_s`` from ``start`` (a tz-aware timestamp); a training job
    without its own start began at ``job_start`` (default: ``start``)."""
    spec = catalog.get(w.gpu, field=f"{field}.gpu", file=file)
    if isinstance(w, Training):
        a = _offset_s(w.start, start, f"{field}.start", file)
        if a is None and job_start is not None:
            a = (job_start - start).total_seconds()
        b = _offset_s(w.end, start, f"{field}.end", file)
        if b is not None and b <= (a if a is not None else 0.0):
            raise ScenarioError("the job ends before it starts", file=file, field=f"{field}.end")
        if must_run and ((a is not None and a >= n_samples * step_s) or (b is not None and b <= 0.0)):
            raise ScenarioError("the job does not run inside the timeline", file=file, field=f"{field}.start",
                                expected="start and end that overlap the scenario's time span")
        if w.power_cap_w is not None and not spec.power_cap_min_w <= w.power_cap_w <= spec.power_cap_max_w:
            raise ScenarioError(f"power cap {w.power_cap_w:g} W is outside {spec.name}'s range", file=file,
                                field=f"{field}.power_cap_w",
                                expected=f"{spec.power_cap_min_w:g} .. {spec.power_cap_max_w:g} W")
        return training_mix(w, spec, step_s=step_s, n_samples=n_samples, job_start_s=a, job_end_s=b,
                            resolve_iterations=resolve_iterations, field=field)
    requests = arrivals(w, start=start, step_s=step_s, n_samples=n_samples, file=file, field=field)
    n_gpus = w.gpus or fleet_size(w, spec, str(start.tz), file, field)
    return serve(w, spec, requests, n_gpus=n_gpus, step_s=step_s, n_samples=n_samples).mix


def arrivals(w: Inference, *, start: pd.Timestamp, step_s: float, n_samples: int, file: str | None,
             field: str, individual: bool | None = None) -> Requests:
    """The fleet's requests over the samples: individual at fine resolution, per-sample cohorts otherwise."""
    src = w.arrivals
    if individual is None:
        individual = step_s * _peak_rate_per_s(w) < INDIVIDUAL_PER_SAMPLE
    edges = np.arange(n_samples + 1) * step_s
    if isinstance(src, SyntheticArrivals):
        local = start + pd.to_timedelta(edges[:-1] + step_s / 2, unit="s")
        hours = np.asarray(local.hour + local.minute / 60 + local.second / 3600, dtype=float)
        return synthetic_requests(src, edges, hours, individual=individual)
    trace = _trace(str(src.file), src.format)
    if individual:
        return tile(trace, edges[-1], rate_scale=src.rate_scale, repeat=src.repeat)
    return cohorts(trace, edges, rate_scale=src.rate_scale, repeat=src.repeat)


def _peak_rate_per_s(w: Inference) -> float:
    """Arrivals per second at the daily peak (synthetic) or on average over the trace."""
    src = w.arrivals
    if isinstance(src, SyntheticArrivals):
        return src.mean_rate_per_s * 2 * src.peak_to_trough / (1 + src.peak_to_trough)
    trace = _trace(str(src.file), src.format)
    return len(trace) / trace.span_s * src.rate_scale


@lru_cache(maxsize=8)
def _trace(path: str, fmt: str) -> Requests:
    return read_trace(path, fmt)


@lru_cache(maxsize=32)
def fleet_size(w: Inference, spec: GpuSpec, tz: str, file: str | None = None, field: str = "workload") -> int:
    """GPUs meeting the TTFT SLO over one hour at 1 s (synthetic: the hour around the daily peak, bursts
    included; trace: its first hour). The same for any day, so a year's run and a swing window agree."""
    n = int(3600 / SIZING_STEP_S)
    src = w.arrivals
    start = pd.Timestamp("2000-01-01", tz=tz)
    if isinstance(src, SyntheticArrivals):
        start += pd.Timedelta(hours=src.peak_hour - 0.5)
    per_hour = _peak_rate_per_s(w) * 3600
    # a very large fleet is sized as k identical slices (slightly conservative: bigger pools queue less)
    k = max(1, int(np.ceil(per_hour / SIZING_MAX_REQUESTS)))
    sliced = w if k == 1 else w.model_copy(update={"arrivals": src.model_copy(
        update={"mean_rate_per_s": src.mean_rate_per_s / k} if isinstance(src, SyntheticArrivals)
        else {"rate_scale": src.rate_scale / k})})
    requests = arrivals(sliced, start=start, step_s=SIZING_STEP_S, n_samples=n, file=file, field=field,
                        individual=True)
    return k * gpus_for_slo(sliced, spec, requests, step_s=SIZING_STEP_S, n_samples=n, field=field)

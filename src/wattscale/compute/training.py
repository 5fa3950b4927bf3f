"""Synchronous LLM training as a power load: iterations, communication, checkpoints, failures, ramps.

Every group of GPUs alternates a compute phase and a communication phase each iteration; all groups pause
together for checkpoints and for restarts after failures. Phase times are integrated exactly over each
sample, so the waveform's energy is the same at any resolution (1 ms or a 5-minute engine step).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from wattscale.compute.catalog import GpuSpec
from wattscale.compute.phases import PhaseMix
from wattscale.errors import ScenarioError
from wattscale.scenario.workloads import Training

TRAINING_FLOPS_PER_PARAM_TOKEN = 6.0  # forward + backward pass


@dataclass(frozen=True)
class Pause:
    start_s: float
    end_s: float
    kind: str  # "checkpoint" or "restart"
    lost_work_s: float = 0.0  # work since the last checkpoint, redone after a restart


def iteration_time_s(job: Training, spec: GpuSpec) -> float:
    """Time per iteration: given, or 6 x parameters x tokens / (GPUs x peak FLOP/s x MFU), slowed by a cap."""
    if job.iteration_s is not None:
        base = job.iteration_s
    else:
        flops = TRAINING_FLOPS_PER_PARAM_TOKEN * job.model_params_b * 1e9 * job.tokens_per_iteration
        base = flops / (job.gpus * spec.bf16_dense_tflops * 1e12 * job.mfu)
    compute = base * (1.0 - job.communication_fraction) / _cap_throughput(job, spec)
    return compute + base * job.communication_fraction


def _cap_throughput(job: Training, spec: GpuSpec) -> float:
    if job.power_cap_w is None:
        return 1.0
    return spec.training_curve.throughput(job.power_cap_w / spec.tdp_w)


MAX_PAUSES = 5_000_000  # checkpoints and restarts of one job over the timeline (each is a Python object)


def _check_pause_count(job: Training, span_s: float, field: str) -> None:
    """Refuse checkpoints or failures so frequent that listing them one by one would not end."""
    ck, fl = job.checkpoint, job.failures
    checkpoints = span_s / ck.interval_s if ck and ck.duration_s > 0 else 0.0
    failures = (fl.per_gpu_hour * job.gpus * span_s / 3600.0) if fl else 0.0
    if checkpoints > MAX_PAUSES:
        raise ScenarioError(f"{checkpoints:,.0f} checkpoints over the timeline",
                            field=f"{field}.checkpoint.interval_s", expected=f"at most {MAX_PAUSES:,} (a longer "
                                                                             "interval_s)")
    if failures > MAX_PAUSES:
        raise ScenarioError(f"{failures:,.0f} expected failures over the timeline",
                            field=f"{field}.failures.per_gpu_hour", expected=f"at most {MAX_PAUSES:,} (a lower "
                                                                             "per_gpu_hour)")


def schedule_pauses(job: Training, *, start_s: float, end_s: float) -> list[Pause]:
    """Checkpoints every ``interval_s`` of running time and Poisson failures, in wall-clock seconds."""
    ck, fl = job.checkpoint, job.failures
    rate_per_s = fl.per_gpu_hour * job.gpus / 3600.0 if fl else 0.0
    rng = np.random.default_rng(fl.seed if fl else 0)
    next_ck = ck.interval_s if ck and ck.duration_s > 0 else np.inf
    next_fail = rng.exponential(1.0 / rate_per_s) if rate_per_s > 0 else np.inf
    run, wall, last_ck = 0.0, start_s, 0.0
    pauses: list[Pause] = []
    while True:
        event = min(next_ck, next_fail)
        if not np.isfinite(event) or wall + (event - run) >= end_s:
            return pauses
        wall += event - run
        run = event
        if next_ck <= next_fail:
            pauses.append(Pause(wall, min(end_s, wall + ck.duration_s), "checkpoint"))
            wall += ck.duration_s
            last_ck = run
            next_ck += ck.interval_s
        else:
            pauses.append(Pause(wall, min(end_s, wall + fl.restart_s), "restart", lost_work_s=run - last_ck))
            wall += fl.restart_s
            next_fail = run + rng.exponential(1.0 / rate_per_s)
            last_ck = run  # the job resumes from its last checkpoint: work since then is counted as lost
            if np.isfinite(next_ck):  # the next checkpoint is a full interval after the restart
                next_ck = run + ck.interval_s


def _overlap_cumulative(edges: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                        weights: np.ndarray | float = 1.0) -> np.ndarray:
    """Total length (times each one's weight) of the (disjoint, sorted) intervals lying before each edge."""
    if len(starts) == 0:
        return np.zeros(len(edges))
    lengths = ends - starts
    weights = np.ascontiguousarray(np.broadcast_to(weights, lengths.shape), dtype=float)
    before = np.concatenate([[0.0], np.cumsum(lengths * weights)])
    return _length_before(np.ascontiguousarray(edges, dtype=float), starts, lengths, weights, before)


@njit(cache=True)
def _length_before(edges, starts, lengths, weights, before):  # pragma: no cover - numba
    out = np.zeros(len(edges))
    i = np.searchsorted(starts, edges, side="right")  # intervals starting at or before the edge
    for k in range(len(edges)):
        if i[k] > 0:
            j = i[k] - 1
            out[k] = before[j] + min(max(edges[k] - starts[j], 0.0), lengths[j]) * weights[j]
    return out


@njit(cache=True)
def _add_group_time(run_clock, start_s, end_s, offset_s, period_s, compute_s, weight, compute, active):  # pragma: no cover
    """Add ``weight`` x the time a group spends computing and running within each sample to ``compute`` and
    ``active``: the group runs from ``start_s`` to ``end_s`` of the job's running clock, computing first in each
    iteration."""
    u0 = min(max(run_clock[0], start_s), end_s)
    x = offset_s + u0
    whole = np.floor(x / period_s)
    c0 = whole * compute_s + min(x - whole * period_s, compute_s)
    for i in range(1, len(run_clock)):
        u1 = min(max(run_clock[i], start_s), end_s)
        x = offset_s + u1
        whole = np.floor(x / period_s)
        c1 = whole * compute_s + min(x - whole * period_s, compute_s)
        compute[i - 1] += weight * (c1 - c0)
        active[i - 1] += weight * (u1 - u0)
        u0, c0 = u1, c1


def training_mix(job: Training, spec: GpuSpec, *, step_s: float, n_samples: int,
                 start_s: float = 0.0, job_start_s: float | None = None, job_end_s: float | None = None,
                 resolve_iterations: bool = False, field: str = "workload") -> PhaseMix:
    """Phase shares for samples ``[start_s + i step_s, start_s + (i+1) step_s)``; job times in the same clock.

    With ``resolve_iterations`` (swing analysis) the samples must be shorter than an iteration.
    """
    if n_samples <= 0 or step_s <= 0:
        raise ScenarioError("the waveform needs at least one sample of positive length", field=field)
    period = iteration_time_s(job, spec)
    if resolve_iterations and period < 2 * step_s:
        raise ScenarioError(f"iteration time {period:.4g} s is shorter than two samples of {step_s:g} s",
                            field=f"{field}.iteration_s", expected="a resolution finer than half an iteration")
    compute_s = period * (1.0 - job.communication_fraction)
    edges = start_s + step_s * np.arange(n_samples + 1)
    a = job_start_s if job_start_s is not None else start_s
    b = min(job_end_s, edges[-1]) if job_end_s is not None else edges[-1]
    _check_pause_count(job, b - a, field)
    pauses = schedule_pauses(job, start_s=a, end_s=b) if b > a else []
    starts = np.array([p.start_s for p in pauses])
    ends = np.array([p.end_s for p in pauses])
    kinds = np.array([p.kind for p in pauses])
    clipped = np.clip(edges, a, max(a, b))
    paused = {k: _overlap_cumulative(clipped, starts[kinds == k], ends[kinds == k]) for k in ("checkpoint", "restart")}
    run_clock = clipped - a - paused["checkpoint"] - paused["restart"]  # running time since the job started
    run_at_pause = starts - a - _overlap_cumulative(starts, starts, ends)  # the running time, frozen in each pause
    # a job without an end (or ending after the samples) runs on: no stop ramp inside the samples
    run_end = run_clock[-1] if job_end_s is not None and job_end_s <= edges[-1] else np.inf
    ramp_step = job.ramp_s / job.groups
    sizes = np.full(job.groups, job.gpus // job.groups)
    sizes[: job.gpus % job.groups] += 1
    compute = np.zeros(n_samples)
    active = np.zeros(n_samples)
    running_at_pause = np.zeros(len(pauses))  # share of the GPUs in groups running when each pause starts
    for g in range(job.groups):
        if sizes[g] == 0:
            continue
        w = sizes[g] / job.gpus
        s_g = g * ramp_step
        e_g = run_end - (job.groups - 1 - g) * ramp_step
        # a group joins (and leaves) in phase with the job's clock
        _add_group_time(run_clock, s_g, max(s_g, e_g), job.desync_fraction * period * g / job.groups, period,
                        compute_s, w, compute, active)
        running_at_pause += w * ((run_at_pause > s_g) & (run_at_pause < e_g))
    ck_time, rs_time = (np.diff(_overlap_cumulative(clipped, starts[kinds == k], ends[kinds == k],
                                                    running_at_pause[kinds == k])) for k in ("checkpoint", "restart"))
    shares = {
        "compute": compute / step_s,
        "communication": (active - compute) / step_s,
        "checkpoint": ck_time / step_s,
        "restart": rs_time / step_s,
    }
    shares["idle"] = np.clip(1.0 - sum(shares.values()), 0.0, 1.0)
    levels = {"compute": spec.capped(spec.compute_w, job.power_cap_w),
              "communication": spec.capped(spec.communication_w, job.power_cap_w),
              "checkpoint": spec.capped(spec.checkpoint_w, job.power_cap_w),
              "restart": spec.idle_w, "idle": spec.idle_w}
    n_servers = -(-job.gpus // spec.gpus_per_server)
    fixed = n_servers * spec.server_overhead_w + job.gpus * job.networking_w_per_gpu
    failures = [p for p in pauses if p.kind == "restart"]
    stats = {
        "iteration_s": period, "checkpoints": len(pauses) - len(failures), "failures": len(failures),
        "paused_h": sum(p.end_s - p.start_s for p in pauses) / 3600.0,
        "lost_work_h": sum(p.lost_work_s for p in failures) / 3600.0,
        "running_h": float(run_clock[-1] / 3600.0),
    }
    return PhaseMix(step_s=step_s, n_gpus=job.gpus, shares=shares, levels_w=levels, fixed_w=fixed, tdp_w=spec.tdp_w,
                    burn_phases=("communication", "checkpoint"), busy_phase="compute", stats=stats)

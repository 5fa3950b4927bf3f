"""LLM inference as a power load: prefill and decode on a shared GPU pool, sized for a latency SLO.

Prefill is compute-bound: ``tokens / (peak FLOP/s x MFU / (2 x parameters))`` GPU-seconds per request, served
first-in first-out by the GPUs not busy decoding. Decode is memory-bound: each running sequence emits one
token per ``2 x parameters bytes / (GPUs per instance x HBM bandwidth x efficiency)`` seconds, and an instance
decodes up to ``max_batch`` sequences together. GPUs prefilling draw ``prefill_w``, decoding
``memory_bound_w``, the rest ``idle_w``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from wattscale.compute.catalog import GpuSpec
from wattscale.compute.phases import PhaseMix
from wattscale.compute.traces import Requests
from wattscale.errors import ScenarioError
from wattscale.scenario.workloads import Inference

BYTES_PER_PARAM = 2.0  # bf16 weights


@dataclass(frozen=True)
class ServingRates:
    prefill_tokens_per_gpu_s: float
    time_per_output_token_s: float
    min_ttft_s_per_token: float  # one request's prefill on one instance


def serving_rates(fleet: Inference, spec: GpuSpec) -> ServingRates:
    params = fleet.model_params_b * 1e9
    prefill = spec.bf16_dense_tflops * 1e12 * fleet.prefill_mfu / (2.0 * params)
    tpot = BYTES_PER_PARAM * params / (fleet.gpus_per_instance * spec.hbm_bandwidth_tb_s * 1e12
                                       * fleet.decode_bandwidth_efficiency)
    return ServingRates(prefill, tpot, 1.0 / (prefill * fleet.gpus_per_instance))


@njit(cache=True)
def _decode_gpus(seqs, gpus_per_instance, max_batch):
    """GPUs busy decoding ``seqs`` running sequences (mean over a sample), batched per instance."""
    return gpus_per_instance * min(np.ceil(seqs / max_batch - 1e-9), seqs)


@njit(cache=True)
def _serve(arrival, prompt_gpu_s, decode_s, count, n_samples, step_s, n_gpus, gpus_per_instance, max_batch):
    """Step through samples; return (prefill GPU-s, decode GPUs, TTFT per request, overloaded samples, served)."""
    occupancy = np.zeros(n_samples)  # sequence-seconds decoding in each sample
    prefill_used = np.zeros(n_samples)
    decode_gpus = np.zeros(n_samples)
    ttft = np.full(len(arrival), np.nan)
    overloaded = 0
    n_req = len(arrival)
    head = 0
    head_left = prompt_gpu_s[0] * count[0] if n_req > 0 else 0.0
    for k in range(n_samples):
        t0 = k * step_s
        t1 = t0 + step_s
        busy = _decode_gpus(occupancy[k] / step_s, gpus_per_instance, max_batch)
        if busy > n_gpus:
            overloaded += 1
            busy = n_gpus
        decode_gpus[k] = busy
        free = n_gpus - busy
        if free <= 0.0:
            continue
        clock = t0
        used = 0.0
        while head < n_req:
            begin = max(clock, arrival[head])
            if begin >= t1:
                break
            finish = begin + head_left / free
            if finish > t1:
                work = (t1 - begin) * free
                head_left -= work
                used += work
                break
            used += head_left
            clock = finish
            ttft[head] = max(finish, arrival[head] + prompt_gpu_s[head] / gpus_per_instance) - arrival[head]
            end = finish + decode_s[head]
            j = int(finish // step_s)
            while j < n_samples and j * step_s < end:
                lo = max(finish, j * step_s)
                hi = min(end, (j + 1) * step_s)
                if hi > lo:
                    occupancy[j] += count[head] * (hi - lo)
                j += 1
            head += 1
            if head < n_req:
                head_left = prompt_gpu_s[head] * count[head]
        prefill_used[k] = used
        # sequences that started decoding within this sample count here too
        busy = _decode_gpus(occupancy[k] / step_s, gpus_per_instance, max_batch)
        room = n_gpus - used / step_s
        if busy > room + 1e-9 and busy > decode_gpus[k]:
            overloaded += 1
        decode_gpus[k] = max(decode_gpus[k], min(busy, room))
    return prefill_used, decode_gpus, ttft, overloaded, head


@dataclass(frozen=True)
class ServingResult:
    mix: PhaseMix
    ttft_s: np.ndarray
    overloaded_samples: int
    unserved_requests: float


def serve(fleet: Inference, spec: GpuSpec, requests: Requests, *, n_gpus: int, step_s: float,
          n_samples: int) -> ServingResult:
    """Phase shares of a fleet of ``n_gpus`` serving ``requests`` over ``n_samples`` samples."""
    rates = serving_rates(fleet, spec)
    prompt_gpu_s = requests.prompt_tokens / rates.prefill_tokens_per_gpu_s
    decode_s = requests.output_tokens * rates.time_per_output_token_s
    pre, dec, ttft, over, served = _serve(np.ascontiguousarray(requests.arrival_s, dtype=float),
                                          np.ascontiguousarray(prompt_gpu_s, dtype=float),
                                          np.ascontiguousarray(decode_s, dtype=float),
                                          np.ascontiguousarray(requests.count, dtype=float),
                                          n_samples, float(step_s), float(n_gpus), float(fleet.gpus_per_instance),
                                          float(fleet.max_batch))
    shares = {"prefill": pre / (n_gpus * step_s), "decode": dec / n_gpus}
    shares["idle"] = np.clip(1.0 - shares["prefill"] - shares["decode"], 0.0, 1.0)
    levels = {"prefill": spec.prefill_w, "decode": spec.memory_bound_w, "idle": spec.idle_w}
    n_servers = -(-n_gpus // spec.gpus_per_server)
    fixed = n_servers * spec.server_overhead_w + n_gpus * fleet.networking_w_per_gpu
    unserved = float(requests.count[served:].sum())
    individual = bool((requests.count == 1).all())  # cohorts (coarse samples) have no per-request latency
    done = ttft[~np.isnan(ttft)] if individual else np.array([])
    stats = {"gpus": n_gpus, "requests": requests.n_requests, "unserved_requests": unserved,
             "ttft_p50_s": float(np.percentile(done, 50)) if len(done) else float("nan"),
             "ttft_p99_s": float(np.percentile(done, 99)) if len(done) else float("nan"),
             "overloaded_samples": int(over),
             "prefill_tokens_per_gpu_s": rates.prefill_tokens_per_gpu_s,
             "time_per_output_token_s": rates.time_per_output_token_s}
    mix = PhaseMix(step_s=step_s, n_gpus=n_gpus, shares=shares, levels_w=levels, fixed_w=fixed, tdp_w=spec.tdp_w,
                   stats=stats)
    return ServingResult(mix, ttft, int(over), unserved)


def meets_slo(result: ServingResult, requests: Requests, slo_s: float, horizon_s: float) -> bool:
    """p99 TTFT within the SLO, no decode overload, and every request arriving before ``horizon_s - slo_s``
    served."""
    late = requests.arrival_s >= horizon_s - slo_s
    served = ~np.isnan(result.ttft_s)
    if (~served & ~late).any() or result.overloaded_samples:
        return False
    done = result.ttft_s[served]
    return bool(len(done) == 0 or np.percentile(done, 99) <= slo_s)


def gpus_for_slo(fleet: Inference, spec: GpuSpec, requests: Requests, *, step_s: float, n_samples: int,
                 field: str = "workload") -> int:
    """The fewest GPUs (whole instances) whose p99 time to first token meets ``fleet.ttft_slo_s``."""
    rates = serving_rates(fleet, spec)
    if len(requests) == 0:
        return fleet.gpus_per_instance
    floor_s = np.percentile(requests.prompt_tokens, 99) * rates.min_ttft_s_per_token
    if floor_s > fleet.ttft_slo_s:
        raise ScenarioError(f"no fleet meets a p99 TTFT of {fleet.ttft_slo_s:g} s: the 99th-percentile prompt "
                            f"alone takes {floor_s:.3g} s to prefill on one instance", field=f"{field}.ttft_slo_s",
                            expected=f"an SLO above {floor_s:.3g} s, or more GPUs per instance")
    tp = fleet.gpus_per_instance

    def ok(instances: int) -> bool:
        return meets_slo(serve(fleet, spec, requests, n_gpus=instances * tp, step_s=step_s, n_samples=n_samples),
                         requests, fleet.ttft_slo_s, n_samples * step_s)

    hi = 1
    while not ok(hi):
        hi *= 2
        if hi > 2 ** 22:
            raise ScenarioError("no fleet size up to 4 million instances meets the SLO", field=f"{field}.ttft_slo_s")
    lo = hi // 2  # fails (or 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi * tp

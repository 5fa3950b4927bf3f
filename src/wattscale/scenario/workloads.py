"""Typed schema of LLM workloads (training jobs and inference fleets) used as a site's IT load."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from wattscale.scenario.base import Model, Name, check_time

# Llama 3 (Dubey et al. 2024, section 3.3.4): 419 unexpected interruptions in 54 days on 16,384 GPUs.
LLAMA3_FAILURES_PER_GPU_HOUR = 419 / (54 * 24 * 16384)

# Plausible maxima (far beyond today's largest clusters and services), so that nonsense is refused clearly
MAX_GPUS = 10_000_000  # GPUs in one job or fleet
MAX_REQUESTS_PER_S = 1_000_000  # mean arrivals per second of one fleet
MAX_PARAMS_B = 100_000  # model parameters, billions
MAX_TOKENS = 10_000_000  # tokens of one prompt or output


class Checkpoint(Model):
    """Synchronous checkpoints: every GPU pauses at ``checkpoint_w`` while the state is written."""

    interval_s: float = Field(1800.0, ge=1, le=1e8, description="time between checkpoints")
    duration_s: float = Field(30.0, ge=0, le=1e6, description="pause per checkpoint")


class Failures(Model):
    """Unexpected interruptions: a Poisson process; the whole job idles while it restarts."""

    per_gpu_hour: float = Field(LLAMA3_FAILURES_PER_GPU_HOUR, ge=0, le=1,
                                description="failure rate per GPU-hour (default: Llama 3's 419 in 54 days "
                                            "on 16,384 GPUs)")
    restart_s: float = Field(600.0, ge=0, le=1e7, description="time from failure to training again")
    seed: int = Field(0, ge=0, le=2**32 - 1)


class Flexibility(Model):
    """What the workload may give up when asked, and what that costs."""

    slowdown_tier: Literal[0.0, 0.1, 0.25, 0.5] = Field(
        0.0, description="allowed throughput loss under a power cap (tiers 0 / 10 / 25 / 50 %)")
    pausable: bool = Field(False, description="training only: may pause (after a checkpoint) down to idle")
    slack_h: float | None = Field(None, ge=0, le=1e6, description="training only: hours of pause/slowdown the deadline "
                                                          "allows over the timeline (None: no deadline)")
    movable_fraction: float = Field(0.0, ge=0, le=1, description="inference only: share of load that may move "
                                                                 "to another site")
    value_usd_per_gpu_hour: float = Field(2.0, ge=0, le=1e4, description="value of one GPU-hour of lost "
                                                                         "throughput")


class Training(Model):
    """A synchronous data-parallel training job."""

    kind: Literal["training"] = "training"
    name: Name
    gpu: str = Field(max_length=100, description="a GPU in the catalog (see `wattscale gpus`)")
    gpus: int = Field(gt=0, le=MAX_GPUS)
    iteration_s: float | None = Field(None, gt=0, le=1e5, description="time per iteration (or give "
                                                                      "model_params_b, tokens_per_iteration and mfu)")
    model_params_b: float | None = Field(None, gt=0, le=MAX_PARAMS_B, description="parameters, billions")
    tokens_per_iteration: float | None = Field(None, gt=0, le=1e12, description="global batch, tokens")
    mfu: float = Field(0.40, gt=0, le=1, description="model FLOPs utilisation")
    communication_fraction: float = Field(0.15, ge=0, lt=1, description="share of each iteration in collective "
                                                                         "communication (exposed, not overlapped)")
    groups: int = Field(8, gt=0, le=10_000, description="groups of GPUs that can drift out of phase")
    desync_fraction: float = Field(0.0, ge=0, le=1, description="spread of the groups' phase offsets, as a share "
                                                                "of an iteration (0: all in step)")
    ramp_s: float = Field(10.0, ge=0, le=1e5, description="groups start (and stop) one after another, ramp_s / groups apart")
    checkpoint: Checkpoint | None = Checkpoint()
    failures: Failures | None = Failures()
    power_cap_w: float | None = Field(None, gt=0, le=1e5,
                                      description="GPU power limit (W); slows compute per the DVFS curve")
    networking_w_per_gpu: float = Field(30.0, ge=0, le=1e4, description="switches and optics per GPU")
    start: str | None = Field(None, max_length=100, description="job start (default: the timeline's start)")
    end: str | None = Field(None, max_length=100, description="job end (default: the timeline's end)")
    flexibility: Flexibility = Flexibility()

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, v):
        return None if v is None else check_time(str(v))

    @model_validator(mode="after")
    def _iteration(self):
        given = [self.model_params_b, self.tokens_per_iteration]
        if self.iteration_s is None and any(v is None for v in given):
            raise ValueError("give iteration_s, or model_params_b and tokens_per_iteration to estimate it")
        if self.groups > self.gpus:
            raise ValueError(f"groups ({self.groups}) must not exceed gpus ({self.gpus})")
        if self.flexibility.movable_fraction:
            raise ValueError("flexibility.movable_fraction applies to inference, not training")
        return self


class TraceArrivals(Model):
    """Requests from a trace file: Azure LLM inference CSV or Mooncake JSONL; repeated to fill the timeline."""

    file: Path
    format: Literal["azure", "mooncake"]
    rate_scale: float = Field(1.0, gt=0, le=1000,
                              description="multiply the arrival rate (by thinning or tiling copies)")
    repeat: bool = Field(True, description="loop the trace to fill the timeline")


class SyntheticArrivals(Model):
    """Poisson arrivals with a daily cycle and random bursts; token lengths lognormal."""

    mean_rate_per_s: float = Field(gt=0, le=MAX_REQUESTS_PER_S)
    peak_to_trough: float = Field(2.0, ge=1, le=1000, description="daily peak rate / trough rate")
    peak_hour: float = Field(14.0, ge=0, lt=24, description="local hour of the daily peak")
    burst_rate_per_h: float = Field(0.5, ge=0, le=3600, description="bursts per hour")
    burst_factor: float = Field(2.0, ge=1, le=100, description="rate multiplier during a burst")
    burst_duration_s: float = Field(120.0, gt=0, le=86400)
    # defaults: lognormal fits to the Azure 2023 conversation trace (see scripts/derive_token_lengths.py)
    prompt_tokens_median: float = Field(1020.0, gt=0, le=MAX_TOKENS)
    prompt_tokens_sigma: float = Field(0.99, ge=0, le=5, description="lognormal shape of prompt lengths")
    output_tokens_median: float = Field(129.0, gt=0, le=MAX_TOKENS)
    output_tokens_sigma: float = Field(0.86, ge=0, le=5, description="lognormal shape of output lengths")
    seed: int = Field(0, ge=0, le=2**32 - 1)


class Inference(Model):
    """An LLM serving fleet: prefill (compute-bound) and decode (memory-bound) on a shared GPU pool."""

    kind: Literal["inference"] = "inference"
    name: Name
    gpu: str = Field(max_length=100, description="a GPU in the catalog (see `wattscale gpus`)")
    gpus: int | None = Field(None, gt=0, le=MAX_GPUS, description="fleet size (default: the fewest that meet the "
                                                                 "SLO)")
    model_params_b: float = Field(70.0, gt=0, le=MAX_PARAMS_B, description="parameters, billions (bf16 weights)")
    gpus_per_instance: int = Field(8, gt=0, le=100_000, description="tensor-parallel GPUs serving one model copy")
    max_batch: int = Field(64, gt=0, le=1_000_000, description="sequences decoded together per instance")
    prefill_mfu: float = Field(0.5, gt=0, le=1)
    decode_bandwidth_efficiency: float = Field(0.6, gt=0, le=1, description="achieved share of HBM bandwidth")
    ttft_slo_s: float = Field(2.0, gt=0, le=86400, description="99th-percentile time to first token the fleet is sized for")
    arrivals: TraceArrivals | SyntheticArrivals
    networking_w_per_gpu: float = Field(30.0, ge=0, le=1e4)
    flexibility: Flexibility = Flexibility()

    @model_validator(mode="after")
    def _flex(self):
        if self.flexibility.pausable or self.flexibility.slack_h is not None:
            raise ValueError("flexibility.pausable and slack_h apply to training; inference must be served "
                             "(use slowdown_tier or movable_fraction)")
        return self


Workload = Annotated[Union[Training, Inference], Field(discriminator="kind")]

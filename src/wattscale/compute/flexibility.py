"""The flexibility envelope of a workload: how much IT power it can shed at each step, at what price.

Training may be power-capped within its slowdown tier (the DVFS curve gives the cap keeping ``1 - tier``
of its throughput) or, if pausable, idle its GPUs after a checkpoint. A deadline (``slack_h``) caps the
energy that may be shed over the timeline: capping at slowdown ``s`` for one hour uses ``s / (1 - s)``
hours of slack, pausing uses one. Inference may be capped within its tier (it must still be served) and
may move ``movable_fraction`` of its GPU power to another site. The price of shedding is the value of the
GPU-hours of throughput given up per MWh shed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wattscale.compute.catalog import GpuSpec
from wattscale.compute.phases import PhaseMix
from wattscale.scenario.workloads import Flexibility, Training, Workload


@dataclass(frozen=True)
class Envelope:
    name: str
    reducible_mw: np.ndarray  # IT power that may be shed at each step
    cost_usd_per_mwh: float  # value of the throughput given up per MWh shed
    budget_mwh: float  # IT energy that may be shed over the timeline (inf: no deadline)
    movable_mw: np.ndarray  # IT power that may move to another site
    how: str


def _cap_reduction_w(mix: PhaseMix, cap_w: float) -> np.ndarray:
    out = np.zeros(mix.n_samples)
    for phase, share in mix.shares.items():
        out += share * max(0.0, mix.levels_w[phase] - cap_w)
    return out * mix.n_gpus


def envelope(w: Workload, spec: GpuSpec, mix: PhaseMix) -> Envelope:
    """The envelope of workload ``w`` whose phase mix on the engine's steps is ``mix``."""
    flex: Flexibility = w.flexibility
    tier = flex.slowdown_tier
    zero = np.zeros(mix.n_samples)
    curve = spec.training_curve if isinstance(w, Training) else spec.inference_curve
    movable = zero if isinstance(w, Training) else flex.movable_fraction * mix.gpu_power_w() * 1e-6
    if isinstance(w, Training) and flex.pausable:
        reducible = np.clip(mix.gpu_power_w() - mix.n_gpus * spec.idle_w, 0.0, None) * 1e-6
        loss, slack_per_h, how = 1.0, 1.0, "pause to idle after a checkpoint"
    elif tier > 0:
        cap_w = curve.cap_for_throughput(1.0 - tier) * spec.tdp_w
        reducible = _cap_reduction_w(mix, cap_w) * 1e-6
        loss, slack_per_h = tier, tier / (1.0 - tier)
        how = f"power cap {cap_w:.0f} W ({tier:.0%} slowdown)"
    else:
        return Envelope(w.name, zero, 0.0, 0.0, movable, "none")
    running = reducible[reducible > 0]
    mean_mw = float(running.mean()) if len(running) else 0.0  # over the steps where there is work to shed
    cost = loss * mix.n_gpus * flex.value_usd_per_gpu_hour / mean_mw if mean_mw > 0 else 0.0
    slack = getattr(flex, "slack_h", None)
    budget = np.inf if slack is None else slack / slack_per_h * mean_mw
    return Envelope(w.name, reducible, cost, budget, movable, how)

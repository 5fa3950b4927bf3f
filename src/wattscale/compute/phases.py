"""A fleet's power as GPU-time shares in named phases times each phase's per-GPU power."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class PhaseMix:
    """Per sample of ``step_s``: the share of GPU-time in each phase (shares sum to 1 at every sample).

    Power is linear in the phase levels, so a mitigation that changes a level (a power floor, burn work in
    the communication phase) gives its waveform exactly, without re-simulating the workload.
    """

    step_s: float
    n_gpus: int
    shares: dict[str, np.ndarray]
    levels_w: dict[str, float]
    fixed_w: float = 0.0  # server overhead and networking, not phase-dependent
    tdp_w: float = 0.0
    burn_phases: tuple[str, ...] = ()  # phases that secondary "burn" work can fill (training: communication)
    busy_phase: str = ""  # the phase whose level burn work raises the others towards
    stats: dict = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return len(next(iter(self.shares.values())))

    def gpu_power_w(self, levels_w: dict[str, float] | None = None) -> np.ndarray:
        """Total GPU power (W) per sample, with ``levels_w`` replacing some phase levels."""
        levels = {**self.levels_w, **(levels_w or {})}
        total = np.zeros(self.n_samples)
        for phase, share in self.shares.items():
            total += share * levels[phase]
        return total * self.n_gpus

    def it_power_mw(self, levels_w: dict[str, float] | None = None) -> np.ndarray:
        """IT power (MW): GPUs plus fixed server overhead and networking."""
        return (self.gpu_power_w(levels_w) + self.fixed_w) * 1e-6

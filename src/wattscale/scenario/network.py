"""Typed schema of network files: buses, lines, transformers, switches, loads and sources, with reliability data.

A network file either describes every element or starts from a standard case (``case: ieee33``) and adds
reliability data, limits and load attributes. Field names carry their units.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, model_validator

from wattscale.scenario.base import Model, check_below, check_unique


class Limits(Model):
    """Operating limits every energised part must meet (power-flow checks, restoration, hosting capacity)."""

    vm_min_pu: float = Field(0.95, gt=0, description="lowest acceptable bus voltage")
    vm_max_pu: float = Field(1.05, gt=0, description="highest acceptable bus voltage")
    max_loading_percent: float = Field(100.0, gt=0, description="highest acceptable line/transformer loading")

    @model_validator(mode="after")
    def _ordered(self):
        return check_below(self, "vm_min_pu", "vm_max_pu")


class ReliabilityData(Model):
    """Defaults for elements that give none (RBTS values: Allan et al. 1991, Table 5)."""

    line_failures_per_km_yr: float = Field(0.065, ge=0)
    line_repair_h: PositiveFloat = 5.0
    transformer_failures_per_yr: float = Field(0.015, ge=0)
    transformer_repair_h: PositiveFloat = 200.0
    manual_switching_h: PositiveFloat = Field(1.0, description="crew time to operate a manual switch")
    automatic_switching_s: PositiveFloat = Field(60.0, description="time for an automated switch (FLISR)")
    momentary_threshold_min: float = Field(5.0, ge=0, description="interruptions up to this long are momentary "
                                                                  "(IEEE 1366: MAIFI, not SAIFI/SAIDI)")


class Bus(Model):
    name: str
    vn_kv: PositiveFloat


class Line(Model):
    name: str
    from_bus: str
    to_bus: str
    length_km: PositiveFloat
    r_ohm_per_km: float = Field(..., ge=0)
    x_ohm_per_km: float = Field(..., ge=0)
    c_nf_per_km: float = Field(0.0, ge=0)
    max_i_ka: PositiveFloat = 0.4
    failures_per_yr: float | None = Field(None, ge=0, description="default: length x line_failures_per_km_yr")
    repair_h: PositiveFloat | None = None


class Transformer(Model):
    name: str
    hv_bus: str
    lv_bus: str
    sn_mva: PositiveFloat
    vn_hv_kv: PositiveFloat
    vn_lv_kv: PositiveFloat
    vk_percent: PositiveFloat = 8.0
    vkr_percent: float = Field(0.5, ge=0)
    failures_per_yr: float | None = Field(None, ge=0)
    repair_h: PositiveFloat | None = None


class Switch(Model):
    """A switch at ``bus`` on the line or transformer ``element``.

    breaker: protective and operable (trips on a fault, recloses); fuse: protective, not operable;
    sectionaliser: operable, normally closed; tie: operable, normally open.
    """

    name: str
    bus: str
    element: str
    kind: Literal["breaker", "fuse", "sectionaliser", "tie"]
    closed: bool | None = Field(None, description="default: open for a tie, closed otherwise")
    automated: bool = Field(True, description="remote-controlled (FLISR operates it) or manual (a crew does)")


class Load(Model):
    name: str
    bus: str
    p_mw: float = Field(..., ge=0, description="design (peak) demand used by power flow")
    q_mvar: float = 0.0
    average_mw: float | None = Field(None, ge=0, description="mean demand for energy not supplied (default p_mw)")
    customers: int = Field(1, ge=0)
    priority: int = Field(2, ge=1, description="1 = critical (restored and islanded first)")
    gpus: int = Field(0, ge=0, description="GPUs behind this load (compute lost is GPU-hours)")
    restart_h: float = Field(0.0, ge=0, description="work lost per interruption (e.g. half a checkpoint interval)")
    site: str | None = Field(None, description="scenario site whose simulated power this load follows")
    failures_per_yr: float = Field(0.0, ge=0, description="own equipment (e.g. its transformer) that only "
                                                          "interrupts this load")
    repair_h: PositiveFloat | None = None


class Source(Model):
    """The grid connection (slack) or a local source: PV, battery or generator."""

    name: str
    bus: str
    kind: Literal["grid", "pv", "battery", "generator"]
    p_mw: float = Field(0.0, ge=0, description="capacity (for grid: unused); output in normal operation is "
                                               "dispatch_mw")
    dispatch_mw: float = Field(0.0, description="output in normal operation (negative charges a battery)")
    grid_forming: bool | None = Field(None, description="can hold an island (default: battery and generator)")
    s_sc_max_mva: PositiveFloat = Field(250.0, description="grid short-circuit power (IEC 60909 source)")
    rx_max: float = Field(0.1, ge=0)
    vm_pu: PositiveFloat = 1.0
    site: str | None = Field(None, description="scenario site whose simulated PV, battery or generator output "
                                               "this source follows")


class NetworkSpec(Model):
    name: str = "network"
    case: Literal["ieee33", "cigre-mv"] | None = Field(None, description="start from a standard case")
    limits: Limits = Limits()
    reliability: ReliabilityData = ReliabilityData()
    buses: list[Bus] = []
    lines: list[Line] = []
    transformers: list[Transformer] = []
    switches: list[Switch] = []
    loads: list[Load] = []
    sources: list[Source] = []

    @model_validator(mode="after")
    def _consistent(self):
        check_unique([b.name for b in self.buses], "bus")
        check_unique([e.name for e in [*self.lines, *self.transformers]], "line and transformer")
        check_unique([s.name for s in self.switches], "switch")
        check_unique([ld.name for ld in self.loads], "load")
        check_unique([s.name for s in self.sources], "source")
        if self.case is None and not any(s.kind == "grid" for s in self.sources):
            raise ValueError("a network needs at least one source of kind 'grid' (or a standard 'case')")
        return self

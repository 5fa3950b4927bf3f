"""Typed schema of network files: buses, lines, transformers, switches, loads and sources, with reliability data.

A network file either describes every element or starts from a standard case (``case: ieee33``) and adds
reliability data, limits and load attributes. Field names carry their units.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from wattscale.scenario.base import Model, Name, check_below, check_unique

# Physical ranges (every number is also finite: the base model refuses NaN and infinities)
MAX_KV = 1200.0  # the highest AC transmission voltage in service is 1,100 kV
MAX_MW = 1e5
MAX_ELEMENTS = 10_000  # of each kind in one network
PositiveFloat = Annotated[float, Field(gt=0)]
Hours = Annotated[float, Field(gt=0, le=1e5)]


class Limits(Model):
    """Operating limits every energised part must meet (power-flow checks, restoration, hosting capacity)."""

    vm_min_pu: float = Field(0.95, gt=0, le=2, description="lowest acceptable bus voltage")
    vm_max_pu: float = Field(1.05, gt=0, le=2, description="highest acceptable bus voltage")
    max_loading_percent: float = Field(100.0, gt=0, le=1000, description="highest acceptable line/transformer "
                                                                        "loading")

    @model_validator(mode="after")
    def _ordered(self):
        return check_below(self, "vm_min_pu", "vm_max_pu")


class ReliabilityData(Model):
    """Defaults for elements that give none (RBTS values: Allan et al. 1991, Table 5)."""

    line_failures_per_km_yr: float = Field(0.065, ge=0, le=1000)
    line_repair_h: Hours = 5.0
    transformer_failures_per_yr: float = Field(0.015, ge=0, le=1000)
    transformer_repair_h: Hours = 200.0
    manual_switching_h: Hours = Field(1.0, description="crew time to operate a manual switch")
    automatic_switching_s: float = Field(60.0, gt=0, le=1e5, description="time for an automated switch (FLISR)")
    momentary_threshold_min: float = Field(5.0, ge=0, le=1440, description="interruptions up to this long are momentary "
                                                                  "(IEEE 1366: MAIFI, not SAIFI/SAIDI)")


class Bus(Model):
    name: Name
    vn_kv: float = Field(gt=0, le=MAX_KV)


class Line(Model):
    name: Name
    from_bus: str
    to_bus: str
    length_km: float = Field(gt=0, le=10_000)
    r_ohm_per_km: float = Field(..., ge=0, le=1e4)
    x_ohm_per_km: float = Field(..., ge=0, le=1e4)
    c_nf_per_km: float = Field(0.0, ge=0, le=1e6)
    max_i_ka: float = Field(0.4, gt=0, le=1e5)
    failures_per_yr: float | None = Field(None, ge=0, le=1000, description="default: length x "
                                                                          "line_failures_per_km_yr")
    repair_h: Hours | None = None

    @model_validator(mode="after")
    def _branch(self):
        if self.from_bus == self.to_bus:
            raise ValueError(f"line '{self.name}' runs from bus '{self.from_bus}' to itself (expected two different "
                             "buses)")
        if self.r_ohm_per_km == 0 and self.x_ohm_per_km == 0:
            raise ValueError(f"line '{self.name}' has no impedance (r_ohm_per_km and x_ohm_per_km both 0; expected "
                             "a resistance or reactance above 0, or a closed switch between the buses)")
        return self


class Transformer(Model):
    name: Name
    hv_bus: str
    lv_bus: str
    sn_mva: float = Field(gt=0, le=MAX_MW)
    vn_hv_kv: float = Field(gt=0, le=MAX_KV)
    vn_lv_kv: float = Field(gt=0, le=MAX_KV)
    vk_percent: float = Field(8.0, gt=0, le=100)
    vkr_percent: float = Field(0.5, ge=0, le=100)
    failures_per_yr: float | None = Field(None, ge=0, le=1000)
    repair_h: Hours | None = None

    @model_validator(mode="after")
    def _branch(self):
        if self.hv_bus == self.lv_bus:
            raise ValueError(f"transformer '{self.name}' joins bus '{self.hv_bus}' to itself (expected two "
                             "different buses)")
        if self.vkr_percent >= self.vk_percent:
            raise ValueError(f"transformer '{self.name}': vkr_percent ({self.vkr_percent:g}) must be below "
                             f"vk_percent ({self.vk_percent:g})")
        return self


class Switch(Model):
    """A switch at ``bus`` on the line or transformer ``element``.

    breaker: protective and operable (trips on a fault, recloses); fuse: protective, not operable;
    sectionaliser: operable, normally closed; tie: operable, normally open.
    """

    name: Name
    bus: str
    element: str
    kind: Literal["breaker", "fuse", "sectionaliser", "tie"]
    closed: bool | None = Field(None, description="default: open for a tie, closed otherwise")
    automated: bool = Field(True, description="remote-controlled (FLISR operates it) or manual (a crew does)")


class Load(Model):
    name: Name
    bus: str
    p_mw: float = Field(..., ge=0, le=MAX_MW, description="design (peak) demand used by power flow")
    q_mvar: float = Field(0.0, ge=-MAX_MW, le=MAX_MW)
    average_mw: float | None = Field(None, ge=0, le=MAX_MW, description="mean demand for energy not supplied "
                                                                        "(default p_mw)")
    customers: int = Field(1, ge=0, le=100_000_000)
    priority: int = Field(2, ge=1, le=100, description="1 = critical (restored and islanded first)")
    gpus: int = Field(0, ge=0, le=10_000_000, description="GPUs behind this load (compute lost is GPU-hours)")
    restart_h: float = Field(0.0, ge=0, le=1e4, description="work lost per interruption (e.g. half a checkpoint "
                                                            "interval)")
    site: str | None = Field(None, max_length=100, description="scenario site whose simulated power this load "
                                                                "follows")
    failures_per_yr: float = Field(0.0, ge=0, le=1000, description="own equipment (e.g. its transformer) that only "
                                                                   "interrupts this load")
    repair_h: Hours | None = None


class Source(Model):
    """The grid connection (slack) or a local source: PV, battery or generator."""

    name: Name
    bus: str
    kind: Literal["grid", "pv", "battery", "generator"]
    p_mw: float = Field(0.0, ge=0, le=MAX_MW, description="capacity (for grid: unused); output in normal operation "
                                                          "is dispatch_mw")
    dispatch_mw: float = Field(0.0, ge=-MAX_MW, le=MAX_MW, description="output in normal operation (negative "
                                                                       "charges a battery)")
    grid_forming: bool | None = Field(None, description="can hold an island (default: battery and generator)")
    s_sc_max_mva: float = Field(250.0, gt=0, le=1e6, description="grid short-circuit power (IEC 60909 source)")
    rx_max: float = Field(0.1, ge=0, le=100)
    vm_pu: float = Field(1.0, gt=0, le=2)
    site: str | None = Field(None, max_length=100, description="scenario site whose simulated PV, battery or generator output "
                                               "this source follows")


class NetworkSpec(Model):
    name: Name = "network"
    case: Literal["ieee33", "cigre-mv"] | None = Field(None, description="start from a standard case")
    limits: Limits = Limits()
    reliability: ReliabilityData = ReliabilityData()
    buses: list[Bus] = Field([], max_length=MAX_ELEMENTS)
    lines: list[Line] = Field([], max_length=MAX_ELEMENTS)
    transformers: list[Transformer] = Field([], max_length=MAX_ELEMENTS)
    switches: list[Switch] = Field([], max_length=MAX_ELEMENTS)
    loads: list[Load] = Field([], max_length=MAX_ELEMENTS)
    sources: list[Source] = Field([], max_length=MAX_ELEMENTS)

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

"""Typed schema of generation-adequacy system files (``wattscale adequacy SYSTEM``): units, an hourly load, and
optional storage, variable renewables and a flexible AI campus."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from wattscale.scenario.base import Model, Name
from wattscale.timeseries.units import MAX_MW

MAX_UNIT_ROWS = 10_000
MAX_YEARS = 1_000_000


class UnitColumns(Model):
    """Which column of the units table holds what."""

    count: str = Field("count", max_length=200)
    capacity_mw: str = Field("capacity_mw", max_length=200)
    forced_outage_rate: str = Field("forced_outage_rate", max_length=200)
    mttf_h: str | None = Field(None, max_length=200, description="mean time to failure (sequential Monte Carlo)")
    mttr_h: str | None = Field(None, max_length=200, description="mean time to repair (sequential Monte Carlo)")


class UnitsFile(Model):
    """One row per group of identical two-state units."""

    file: Path
    columns: UnitColumns = UnitColumns()


class HourlySeries(Model):
    """Consecutive hourly values (MW) from a table's column, from 1 January of a non-leap year unless a time column
    is named."""

    file: Path
    column: str = Field(max_length=200)
    time_column: str | None = Field(None, max_length=200)


class StorageSpec(Model):
    power_mw: float = Field(gt=0, le=MAX_MW)
    energy_mwh: float = Field(gt=0, le=1e7)
    round_trip_efficiency: float = Field(0.85, gt=0, le=1)


class Renewable(Model):
    name: Name
    series: HourlySeries


class CampusSpec(Model):
    """An AI campus added to the system's load: constant ``mw``, giving up at most ``curtail_share`` of its annual
    energy (and ``curtail_hours`` hours a year) when the system is short; ``backup_fraction`` of its demand carried
    by on-site backup first."""

    mw: float = Field(gt=0, le=MAX_MW)
    curtail_share: float = Field(0.0, ge=0, le=1)
    curtail_hours: float = Field(8784.0, ge=0, le=8784)
    backup_fraction: float = Field(0.0, ge=0, le=1)
    curtail_price_usd_per_mwh: float | None = Field(None, ge=0, le=1e6, description="curtails by the hour whenever the "
                                                    "system is short, paid this per MWh (no share or hour limit)")

    @model_validator(mode="after")
    def _priced(self):
        if self.curtail_price_usd_per_mwh is not None and (self.curtail_share or self.curtail_hours < 8784):
            raise ValueError("a campus curtails either within a share and hours, or by the hour at a price")
        return self


class AdequacySystem(Model):
    name: str = Field("system", max_length=200)
    units: UnitsFile
    load_mw: HourlySeries
    storage: StorageSpec | None = None
    renewables: list[Renewable] = Field(default_factory=list, max_length=100)
    campus: CampusSpec | None = None
    default_mttr_h: float = Field(50.0, ge=0.1, le=1e5, description="repair time where the units table gives none")
    years: int = Field(1000, ge=2, le=MAX_YEARS, description="Monte Carlo years")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    method: Literal["all", "exact", "nonsequential", "sequential"] = "all"

    @model_validator(mode="after")
    def _exact_needs_two_states(self):
        curtails = self.campus is not None and (self.campus.curtail_share > 0
                                                or self.campus.curtail_price_usd_per_mwh is not None)
        if self.method in ("exact", "nonsequential") and (self.storage or curtails):
            raise ValueError("storage and curtailment need the sequential method (method: sequential or all)")
        return self

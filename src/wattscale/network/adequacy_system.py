"""Reading a generation-adequacy system file: its units table and hourly load checked value by value, renewables
netted off the load, and the campus, storage and Monte Carlo settings."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wattscale.errors import DataError, ScenarioError
from wattscale.guards import excerpt
from wattscale.network.adequacy import Units
from wattscale.network.adequacy_mc import FlexibleLoad, Storage
from wattscale.scenario.adequacy import MAX_UNIT_ROWS, AdequacySystem, HourlySeries
from wattscale.scenario.load import read_yaml, resolve_paths, validate_model
from wattscale.timeseries.loading import read_table

MAX_HOURS = 8784 * 50  # 50 years of hourly load
MAX_INSTALLED_MW = 1e7


@dataclass(frozen=True)
class System:
    name: str
    spec: AdequacySystem
    units: Units
    load_mw: np.ndarray  # hourly, net of the variable renewables
    gross_load_mw: np.ndarray
    storage: Storage | None
    flexible: FlexibleLoad | None
    file: str

    @property
    def campus_mw(self) -> float:
        return self.flexible.mw if self.flexible else 0.0


def load_system(path: str | Path) -> System:
    """The system file at ``path``, every table in it read and checked; one clear error otherwise."""
    path = Path(path)
    file = str(path)
    data = read_yaml(path, "system", "keys 'units' and 'load_mw'")
    spec = resolve_paths(validate_model(AdequacySystem, data, file), path.parent)
    units = _units(spec)
    load = _hourly(spec.load_mw, "load_mw", low=0.0)
    net = load.copy()
    for i, r in enumerate(spec.renewables):
        series = _hourly(r.series, f"renewables[{i}].series", low=0.0)
        if len(series) != len(load):
            raise DataError(f"{len(series):,} hours of '{excerpt(r.name, 40)}' against {len(load):,} of load",
                            file=str(r.series.file), field=f"renewables[{i}].series",
                            expected="as many hours as the load")
        net = net - series
    if spec.campus is not None and spec.campus.mw > units.installed_mw:
        raise ScenarioError(f"a campus of {spec.campus.mw:,.0f} MW is larger than the system's "
                            f"{units.installed_mw:,.0f} MW of units", file=file, field="campus.mw",
                            expected="a campus smaller than the installed capacity")
    storage = Storage(spec.storage.power_mw, spec.storage.energy_mwh, spec.storage.round_trip_efficiency) \
        if spec.storage else None
    c = spec.campus
    priced = c is not None and c.curtail_price_usd_per_mwh is not None  # by the hour at a price: no budget
    flexible = FlexibleLoad(c.mw, 1.0 if priced else c.curtail_share, c.curtail_hours,
                            c.backup_fraction) if c else None
    return System(spec.name, spec, units, net, load, storage, flexible, file)


def _units(spec: AdequacySystem) -> Units:
    frame = read_table(spec.units.file, field="units.file")
    file = str(spec.units.file)
    cols = spec.units.columns
    if not 1 <= len(frame) <= MAX_UNIT_ROWS:
        raise DataError(f"the units table has {len(frame):,} rows", file=file, expected=f"1 to {MAX_UNIT_ROWS:,} rows")
    wanted = {"count": cols.count, "capacity_mw": cols.capacity_mw, "forced_outage_rate": cols.forced_outage_rate,
              **({"mttf_h": cols.mttf_h} if cols.mttf_h else {}), **({"mttr_h": cols.mttr_h} if cols.mttr_h else {})}
    values = {}
    for key, column in wanted.items():
        if column not in frame.columns:
            raise DataError(f"no column '{excerpt(column, 40)}' (columns: {excerpt(', '.join(map(str, frame.columns)), 80)})",
                            file=file, field=f"units.columns.{key}", expected="the name of a column of the table")
        v = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
        rules = {"count": (lambda x: (x >= 1) & (x == np.round(x)) & (x <= 10_000), "a whole number of units, 1 or more"),
                 "capacity_mw": (lambda x: (x > 0) & (x <= 1e5), "a capacity above 0 and at most 100,000 MW"),
                 "forced_outage_rate": (lambda x: (x >= 0) & (x < 1), "a rate in [0, 1)"),
                 "mttf_h": (lambda x: (x >= 0.1) & (x <= 1e7), "hours, at least 0.1"),
                 "mttr_h": (lambda x: (x >= 0.1) & (x <= 1e7), "hours, at least 0.1")}[key]
        ok = np.isfinite(v) & rules[0](np.nan_to_num(v, nan=-1.0))
        if not ok.all():
            row = int(np.argmin(ok))
            raise DataError(f"row {row + 2}: {column} is '{excerpt(frame[column].iloc[row], 30)}'", file=file,
                            field=column, expected=rules[1])
        values[key] = v
    units = Units(values["count"].astype(np.int64), values["capacity_mw"], values["forced_outage_rate"],
                  values.get("mttf_h"), values.get("mttr_h"))
    if units.installed_mw > MAX_INSTALLED_MW:
        raise DataError(f"{units.installed_mw:,.0f} MW installed", file=file, expected="at most 10,000,000 MW")
    return units


def _hourly(series: HourlySeries, field: str, *, low: float) -> np.ndarray:
    frame = read_table(series.file, field=field)
    file = str(series.file)
    if series.column not in frame.columns:
        raise DataError(f"no column '{excerpt(series.column, 40)}' (columns: "
                        f"{excerpt(', '.join(map(str, frame.columns)), 80)})", file=file, field=f"{field}.column",
                        expected="the name of a column of the table")
    if not 24 <= len(frame) <= MAX_HOURS:
        raise DataError(f"{len(frame):,} hours", file=file, field=field, expected=f"24 to {MAX_HOURS:,} hours")
    if series.time_column is not None:
        if series.time_column not in frame.columns:
            raise DataError(f"no column '{excerpt(series.time_column, 40)}'", file=file, field=f"{field}.time_column",
                            expected="the name of a column of the table")
        times = pd.to_datetime(frame[series.time_column], errors="coerce", utc=True)
        step = np.diff(times.to_numpy().astype("datetime64[s]").astype(np.int64))
        if times.isna().any() or not (step == 3600).all():
            bad = int(np.argmax(times.isna().to_numpy())) if times.isna().any() else int(np.argmax(step != 3600)) + 1
            raise DataError(f"row {bad + 2}: the times are not consecutive hours (a gap, a repeat or no time)",
                            file=file, field=series.time_column, expected="one row per hour, without gaps")
    v = pd.to_numeric(frame[series.column], errors="coerce").to_numpy(float)
    ok = np.isfinite(v) & (v >= low) & (v <= 1e7)
    if not ok.all():
        row = int(np.argmin(ok))
        raise DataError(f"row {row + 2}: '{excerpt(frame[series.column].iloc[row], 30)}' is not a load", file=file,
                        field=series.column, expected=f"a finite number of MW, at least {low:g}, in every hour (no gaps)")
    return v

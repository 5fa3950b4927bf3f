"""Weather for a site: pvlib's bundled TMY3 by default, or TMY3 / EPW / PSM3 / CSV files.

Returned frames have columns ``ghi, dni, dhi`` (W/m2), ``temp_air`` (C), ``wind_speed`` (m/s at
``wind_height_m``) and a tz-aware index labelling the start of each interval.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib

from wattscale.errors import DataError
from wattscale.guards import excerpt, excerpts, path_problem
from wattscale.timeseries.loading import check_regular, parse_times, read_table, typical_year
from wattscale.timeseries.timeline import Timeline

WEATHER_COLUMNS = ["ghi", "dni", "dhi", "temp_air", "wind_speed"]
DEFAULT_TMY3 = Path(pvlib.__file__).parent / "data" / "723170TYA.CSV"


@dataclass(frozen=True)
class Weather:
    """Weather series plus where it was measured."""

    frame: pd.DataFrame
    latitude: float
    longitude: float
    altitude_m: float
    wind_height_m: float
    source: str


def read_weather(path: Path | None, fmt: str, *, field: str, typical: bool | None = None,
                 columns: dict[str, str] | None = None, tz: str = "UTC") -> Weather:
    """Read weather from ``path`` in format ``tmy3``, ``epw``, ``psm3`` or ``csv`` (None: pvlib's bundled TMY3)."""
    path = DEFAULT_TMY3 if path is None else Path(path)
    file = str(path)
    problem = path_problem(path)
    if problem:
        raise DataError(f"weather file {problem}", file=file, field=field, expected="an existing weather file")
    try:
        with warnings.catch_warnings():  # pvlib/pandas parser warnings on a malformed file are noise here
            warnings.simplefilter("ignore")
            return _read_weather_file(path, fmt, field=field, typical=typical, columns=columns, tz=tz)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - parser failures are user data errors
        problem = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise DataError(f"cannot read {fmt} weather: {excerpt(problem, 160)}", file=file, field=field,
                        expected=FORMATS.get(fmt)) from None


FORMATS = {"tmy3": "a TMY3 CSV file (station line, header line, 8760 hourly rows)",
           "epw": "an EnergyPlus EPW file (8 header lines, then hourly rows)",
           "psm3": "an NSRDB PSM3 CSV file (2 metadata lines, then header and rows)"}


def _read_weather_file(path: Path, fmt: str, *, field: str, typical: bool | None,
                       columns: dict[str, str] | None, tz: str) -> Weather:
    file = str(path)
    if fmt == "tmy3":
        df, meta = pvlib.iotools.read_tmy3(path, map_variables=True, coerce_year=2001)
        df.index = df.index - pd.Timedelta(hours=1)  # hour-ending labels -> interval starts
        lat, lon, alt = meta["latitude"], meta["longitude"], meta["altitude"]
    elif fmt == "epw":
        df, meta = pvlib.iotools.read_epw(path, coerce_year=2001)
        lat, lon, alt = meta["latitude"], meta["longitude"], meta["altitude"]
    elif fmt == "psm3":
        # pvlib >= 0.13 dropped read_psm3; its PSM4 reader parses the same NSRDB CSV layout
        reader = getattr(pvlib.iotools, "read_psm3", None) or pvlib.iotools.read_nsrdb_psm4
        df, meta = reader(path, map_variables=True)
        lat, lon, alt = meta["latitude"], meta["longitude"], meta["altitude"]
    else:
        return _read_csv_weather(path, field=field, columns=columns or {}, tz=tz, typical=bool(typical))
    missing = [c for c in WEATHER_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"weather lacks {missing}", file=file, field=field, expected=", ".join(WEATHER_COLUMNS))
    frame = df[WEATHER_COLUMNS].astype(float)
    _check_finite(frame, file, field)
    check_regular(frame.index, file=file, field=field)
    is_typical = fmt in {"tmy3", "epw"} if typical is None else typical
    src = f"{fmt}:{path.name}" + (" (typical year)" if is_typical else "")
    w = Weather(frame, float(lat), float(lon), float(alt), 10.0, src)
    return _mark(w, is_typical)


def _read_csv_weather(path: Path, *, field: str, columns: dict[str, str], tz: str, typical: bool) -> Weather:
    df = read_table(path, field=field)
    tcol = columns.get("time", df.columns[0])
    rename = {columns.get(c, c): c for c in WEATHER_COLUMNS}
    missing = [src for src in rename if src not in df.columns]
    if missing:
        raise DataError(f"weather CSV lacks columns {excerpts(missing)}", file=str(path), field=field,
                        expected="columns " + ", ".join(WEATHER_COLUMNS) + " (or a 'columns' mapping)")
    idx = parse_times(df[tcol], tz, file=str(path), field=field)
    frame = df[list(rename)].rename(columns=rename).set_axis(idx).astype(float)
    if frame.isna().any().any():
        raise DataError("weather CSV has missing values", file=str(path), field=field, expected="no NaN")
    _check_finite(frame, str(path), field)
    check_regular(frame.index, file=str(path), field=field)
    return _mark(Weather(frame, float("nan"), float("nan"), 0.0, 10.0, f"csv:{path.name}"), typical)


#: physical range of each weather column (beyond every record on Earth)
WEATHER_RANGE = {"ghi": (-10.0, 2000.0), "dni": (-10.0, 2000.0), "dhi": (-10.0, 2000.0), "temp_air": (-100.0, 70.0),
                 "wind_speed": (0.0, 120.0)}


def _check_finite(frame: pd.DataFrame, file: str, field: str) -> None:
    """Weather values must be finite and physical (NaN is reported by the readers that allow none)."""
    for col, (low, high) in WEATHER_RANGE.items():
        v = frame[col].to_numpy(dtype=float)
        bad = np.isinf(v) | (v < low) | (v > high)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise DataError(f"{col} is {v[k]:.6g} at {frame.index[k]}, outside its physical range", file=file,
                            field=field, expected=f"{col} from {low:g} to {high:g}")


def _mark(weather: Weather, typical: bool) -> Weather:
    weather.frame.attrs["typical_year"] = typical
    return weather


def weather_for(weather: Weather, timeline: Timeline) -> pd.DataFrame:
    """The weather frame covering the timeline (typical years repeated over the timeline's years)."""
    frame = weather.frame
    if frame.attrs.get("typical_year"):
        frame = typical_year(frame, timeline)
    return frame

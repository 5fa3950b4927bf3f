"""Reading time series from CSV / Parquet files, checking them, and aligning them to a Timeline."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from wattscale.errors import DataError
from wattscale.guards import check_memory, excerpt, excerpts, path_problem
from wattscale.timeseries.timeline import Timeline
from wattscale.timeseries.units import unit_factor


def epoch_s(index: pd.DatetimeIndex) -> np.ndarray:
    """Seconds since 1970-01-01 UTC for a tz-aware index."""
    return index.tz_convert("UTC").as_unit("s").asi8.astype(np.int64)


def read_table(path: Path, *, field: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame, with a clear error if it is missing or unreadable."""
    path = Path(path)
    problem = path_problem(path)
    if problem:
        raise DataError(f"data file {problem}", file=path, field=field, expected="an existing CSV or Parquet file")
    # a parsed table takes several times its file's size (Python strings while parsing, then columns)
    check_memory(10.0 * path.stat().st_size, what=f"reading {path.name}", field=field, file=str(path),
                 shorten="a smaller file (only the columns and rows the timeline needs)")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a user data error
        raise DataError(f"cannot read file: {excerpt(exc, 200)}", file=path, field=field,
                        expected="a CSV file with a header line, or a Parquet file") from None
    if not _looks_like_text(df.columns):
        raise DataError("not a table: its header has control characters (a binary file?)", file=path, field=field,
                        expected="a CSV file with a header line, or a Parquet file")
    return df


def _looks_like_text(columns) -> bool:
    return all(str(c).isprintable() for c in columns)


def parse_times(raw: pd.Series, tz: str, *, file: str, field: str | None) -> pd.DatetimeIndex:
    """Parse a timestamp column; values with offsets keep them, naive values are taken in ``tz``."""
    try:
        pd.Timestamp("2020-01-01", tz=tz)
    except Exception:  # noqa: BLE001 - else it surfaces as a puzzling timestamp-parsing error
        raise DataError(f"unknown time zone '{excerpt(tz, 40)}'", file=file, field=field,
                        expected="an IANA time zone such as America/Chicago or UTC") from None
    text = raw.astype(str)
    try:
        has_offset = text.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True).all()
        if has_offset:
            idx = pd.DatetimeIndex(pd.to_datetime(text, utc=True))
        else:
            idx = pd.DatetimeIndex(pd.to_datetime(text))
            if idx.tz is None:
                try:  # a repeated local hour at the autumn DST change is resolved from the order of the rows
                    idx = idx.tz_localize(tz, ambiguous="infer")
                except Exception as exc:  # noqa: BLE001
                    raise DataError(f"local times in column '{excerpt(raw.name)}' cannot be placed in {tz} around "
                                    f"a daylight-saving change ({excerpt(exc, 120)})", file=file, field=field,
                                    expected="timestamps with UTC offsets, or timezone: UTC") from None
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"cannot parse timestamps in column '{excerpt(raw.name)}': {excerpt(exc, 120)}", file=file,
                        field=field,
                        expected="ISO timestamps such as 2023-01-01 00:00:00 or 2023-01-01T00:00-06:00") from None
    return idx


def check_regular(index: pd.DatetimeIndex, *, file: str, field: str | None) -> int:
    """Check timestamps are sorted, unique and evenly spaced; return the spacing in seconds."""
    t = epoch_s(index)
    if len(t) < 2:
        raise DataError("series has fewer than two rows", file=file, field=field, expected="a time series")
    d = np.diff(t)
    if (d == 0).any():
        at = index[1:][d == 0][0]
        raise DataError(f"duplicated timestamp {at}", file=file, field=field, expected="unique timestamps")
    if (d < 0).any():
        at = index[1:][d < 0][0]
        raise DataError(f"timestamps are not sorted (first out of order: {at})", file=file, field=field,
                        expected="increasing timestamps")
    step = int(np.median(d))
    if (d != step).any():
        bad = np.flatnonzero(d != step)[0]
        raise DataError(f"gap or irregular spacing between {index[bad]} and {index[bad + 1]} "
                        f"(usual spacing {step} s)", file=file, field=field,
                        expected="evenly spaced timestamps; set 'fill: interpolate' or 'fill: hold' to fill gaps")
    return step


def fill_gaps(series: pd.Series, how: str) -> pd.Series:
    """Re-grid an irregular series to its usual spacing, filling missing rows by ``how``."""
    t = epoch_s(series.index)
    step = int(np.median(np.diff(t)))
    full = pd.date_range(series.index[0], series.index[-1], freq=pd.Timedelta(seconds=step))
    out = series.reindex(full)
    return out.ffill() if how == "hold" else out.interpolate(method="time")


def load_series_file(path: str | Path, *, column: str, quantity: str, unit: str, tz: str = "UTC",
                     time_column: str | None = None, fill: str = "none", field: str | None = None) -> pd.Series:
    """Load one column of a CSV/Parquet file as a tz-aware series in internal units, fully checked."""
    path = Path(path)
    df = read_table(path, field=field)
    file = str(path)
    tcol = time_column or df.columns[0]
    if tcol not in df.columns:
        raise DataError(f"time column '{excerpt(tcol)}' not found", file=file, field=field,
                        expected="one of " + excerpts(df.columns))
    if column not in df.columns:
        raise DataError(f"column '{excerpt(column)}' not found", file=file, field=field,
                        expected="one of " + excerpts(df.columns))
    scale, offset = unit_factor(quantity, unit, file=file, field=field)
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() & df[column].notna()
    if bad.any():
        raise DataError(f"non-numeric value '{excerpt(df[column][bad].iloc[0], 40)}' in column '{excerpt(column)}' "
                        f"(row {int(np.flatnonzero(bad)[0]) + 2})", file=file, field=field, expected="numbers")
    infinite = np.isinf(values.to_numpy(dtype=float))
    if infinite.any():
        raise DataError(f"infinite value in column '{excerpt(column)}' (row {int(np.flatnonzero(infinite)[0]) + 2})",
                        file=file, field=field, expected="finite numbers")
    idx = parse_times(df[tcol], tz, file=file, field=field)
    series = pd.Series(values.to_numpy(dtype=float), index=idx, name=column)
    if fill == "none":
        if series.isna().any():
            at = series.index[series.isna()][0]
            raise DataError(f"missing (NaN) value at {at} in column '{excerpt(column)}'", file=file, field=field,
                            expected="a value in every row; set 'fill: interpolate' or 'fill: hold' to fill")
        check_regular(series.index, file=file, field=field)
    else:
        check_regular_order(series.index, file=file, field=field)
        series = fill_gaps(series, fill)
        if series.isna().any():
            raise DataError("cannot fill missing values at the start of the series", file=file, field=field)
    series = series * scale + offset
    check_range(series, quantity, file=file, field=field, column=column, rows=values)
    return series


def check_range(series: pd.Series, quantity: str, *, file: str, field: str | None, column: str,
                rows: pd.Series | None = None) -> None:
    """Values of ``quantity`` (in internal units) must lie in its physical range; names the first row outside."""
    from wattscale.timeseries.units import INTERNAL_UNIT, SERIES_RANGE

    if quantity not in SERIES_RANGE:
        return
    low, high = SERIES_RANGE[quantity]
    v = series.to_numpy(dtype=float)
    out = ~((v >= low) & (v <= high))
    if out.any():
        k = int(np.flatnonzero(out)[0])
        at = series.index[k]
        where = f"at {at}"
        if rows is not None and len(rows) == len(series):
            where += f" (row {k + 2})"
        unit = INTERNAL_UNIT[quantity]
        raise DataError(f"value {v[k]:.6g} {unit} {where} in column '{excerpt(column)}' is outside the range of a "
                        f"{quantity}", file=file, field=field, expected=f"values from {low:g} to {high:g} {unit} "
                        "(check the unit)")


def check_regular_order(index: pd.DatetimeIndex, *, file: str, field: str | None) -> None:
    """Check sorted and unique (gaps allowed, they will be filled)."""
    d = np.diff(epoch_s(index))
    if (d <= 0).any():
        at = index[1:][d <= 0][0]
        raise DataError(f"duplicated or unsorted timestamp at {at}", file=file, field=field,
                        expected="increasing, unique timestamps")


def align(series: pd.Series, timeline: Timeline, *, file: str = "", field: str | None = None) -> np.ndarray:
    """Align a regular series (timestamps label interval starts) to the timeline.

    A coarser series is held over each of its intervals; a finer one is averaged over each
    timeline step, so energy is preserved. The series must cover the whole timeline.
    """
    t = epoch_s(series.index)
    step = int(np.median(np.diff(t))) if len(t) > 1 else timeline.step_s
    v = series.to_numpy(dtype=float)
    starts = epoch_s(timeline.index)
    ends = starts + timeline.step_s
    if starts[0] < t[0] or ends[-1] > t[-1] + step:
        have = f"{series.index[0]} .. {series.index[-1] + pd.Timedelta(seconds=step)}"
        raise DataError(f"series covers {have} but the timeline runs {timeline.start} .. {timeline.end}",
                        file=file, field=field, expected="data covering the whole timeline")
    if step >= timeline.step_s:
        pos = np.searchsorted(t, starts, side="right") - 1
        if step % timeline.step_s == 0 and ((starts - t[0]) % timeline.step_s == 0).all():
            return v[pos]
        # Timeline steps straddling two series intervals get the time-weighted mean.
        nxt = np.minimum(pos + 1, len(v) - 1)
        boundary = t[pos] + step
        w = np.clip((boundary - starts) / timeline.step_s, 0.0, 1.0)
        return w * v[pos] + (1.0 - w) * v[nxt]
    # finer series: mean of samples whose interval starts inside each timeline step
    csum = np.concatenate([[0.0], np.cumsum(v)])
    lo = np.searchsorted(t, starts, side="left")
    hi = np.searchsorted(t, ends, side="left")
    count = hi - lo
    if (count == 0).any():
        raise DataError("series has no sample inside some timeline steps", file=file, field=field)
    return (csum[hi] - csum[lo]) / count


def typical_year(frame: pd.DataFrame, timeline: Timeline) -> pd.DataFrame:
    """Repeat a typical-year frame (e.g. TMY weather, any year labels) over every year the timeline touches.

    Timestamps keep their month, day and time of day; 29 February is filled from 28 February.
    """
    local = frame.index
    years = range(timeline.start.tz_convert(local.tz).year - 1, timeline.end.tz_convert(local.tz).year + 1)
    parts = []
    base = frame.copy()
    base = base[~((local.month == 2) & (local.day == 29))]
    for year in years:
        idx = base.index
        new = pd.to_datetime(dict(year=year, month=idx.month, day=idx.day, hour=idx.hour, minute=idx.minute))
        part = base.set_axis(pd.DatetimeIndex(new).tz_localize(local.tz))
        if pd.Timestamp(year=year, month=3, day=1).is_leap_year:
            feb28 = part[(part.index.month == 2) & (part.index.day == 28)]
            part = pd.concat([part, feb28.set_axis(feb28.index + pd.Timedelta(days=1))]).sort_index()
        parts.append(part)
    return pd.concat(parts)

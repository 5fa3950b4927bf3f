"""Real public data files line up with the timeline hour by hour.

Every reference value here is read straight from the raw file with the ``csv`` module (no pandas, no
pvlib, no wattscale), so the checks are independent of the code under test: a wrong time zone, a
DST slip, an hour-ending label taken for an hour-starting one, or a wrong column would all show up.
"""
from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from wattscale.cli import app
from wattscale.scenario.schema import FileSeries
from wattscale.scenario.series import series_array
from wattscale.timeseries.loading import align, load_series_file
from wattscale.timeseries.timeline import Timeline
from wattscale.timeseries.weather import DEFAULT_TMY3, read_weather, weather_for

pytestmark = [pytest.mark.realdata,
              pytest.mark.xdist_group("test_realdata")]  # its module fixtures are built once, on one worker

CHICAGO = "America/Chicago"
PRICE_COL = "Price (USD/MWh)"
CI_COL = "Carbon Intensity gCO\u2082eq/kWh (direct)"  # subscript two: a non-ASCII column name
CI_LCA_COL = "Carbon Intensity gCO\u2082eq/kWh (LCA)"
LOW_CARBON_COL = "Low Carbon Percentage"


# ---------------------------------------------------------------- independent readers of the raw files
def raw_rows(path: Path, skip: int = 0) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[skip:]


def utc_epoch(ts: pd.Timestamp) -> int:
    return int(ts.timestamp())


@pytest.fixture(scope="module")
def ercot_prices_file(data_dir) -> Path:
    return data_dir / "prices_hourly" / "US-TEX-ERCO_prices_2023.csv"


@pytest.fixture(scope="module")
def ercot_prices_raw(ercot_prices_file) -> dict[int, float]:
    """UTC epoch second of each row's interval start -> price, from the offsets written in the file."""
    rows = raw_rows(ercot_prices_file)
    assert rows[0] == ["Datetime", PRICE_COL]
    out = {int(datetime.fromisoformat(t).timestamp()): float(v) for t, v in rows[1:]}
    assert len(out) == len(rows) - 1 == 8760
    return out


@pytest.fixture(scope="module")
def ercot_prices_by_text(ercot_prices_file) -> dict[str, float]:
    """The raw timestamp text (local time with its -06:00/-05:00 offset) -> price."""
    return {t: float(v) for t, v in raw_rows(ercot_prices_file)[1:]}


@pytest.fixture(scope="module")
def ercot_carbon_file(data_dir) -> Path:
    return data_dir / "carbon_intensity_hourly" / "US-TEX-ERCO_2023_hourly.csv"


@pytest.fixture(scope="module")
def ercot_carbon_raw(ercot_carbon_file) -> dict[str, dict[int, float]]:
    """column -> {UTC epoch second -> value}; the file's timestamps are naive UTC."""
    rows = raw_rows(ercot_carbon_file)
    head = rows[0]
    assert head[0] == "Datetime (UTC)" and CI_COL in head and LOW_CARBON_COL in head
    out = {}
    for col in (CI_COL, CI_LCA_COL, LOW_CARBON_COL):
        j = head.index(col)
        out[col] = {int(datetime.fromisoformat(r[0]).replace(tzinfo=timezone.utc).timestamp()): float(r[j])
                    for r in rows[1:]}
        assert len(out[col]) == 8760
    return out


def price_spec(path: Path, **kw) -> FileSeries:
    return FileSeries(file=path, column=PRICE_COL, unit="USD/MWh", **kw)


def hourly(start: str, end: str, tz: str, step_s: int = 3600) -> Timeline:
    return Timeline.from_range(start, end, step_s, tz)


# ---------------------------------------------------------------- ERCOT prices (local time with offsets)
def test_ercot_prices_chicago_full_year_hour_by_hour(ercot_prices_file, ercot_prices_raw):
    tl = hourly("2023-01-01", "2024-01-01", CHICAGO)  # exactly the file's span: 8760 hours of local 2023
    assert tl.n_steps == 8760
    got = series_array(price_spec(ercot_prices_file), tl, quantity="price", field="price")
    want = np.array([ercot_prices_raw[utc_epoch(t)] for t in tl.index])
    np.testing.assert_array_equal(got, want)


def test_ercot_prices_random_hours(ercot_prices_file, ercot_prices_by_text):
    """A random sample of hours, looked up by the exact timestamp text written in the file."""
    tl = hourly("2023-01-01", "2024-01-01", CHICAGO)
    got = series_array(price_spec(ercot_prices_file), tl, quantity="price", field="price")
    rng = random.Random(20230312)
    for i in rng.sample(range(tl.n_steps), 300):
        local = tl.index[i]
        assert got[i] == ercot_prices_by_text[str(local)], f"step {i} at {local}"


def test_ercot_prices_spring_forward(ercot_prices_file, ercot_prices_by_text):
    """2023-03-12: Chicago clocks jump from 02:00 CST to 03:00 CDT; the hour after 01:00 is 03:00."""
    tl = hourly("2023-03-11 20:00", "2023-03-12 08:00", CHICAGO)
    assert tl.n_steps == 11  # 12 wall-clock hours, one of which does not exist
    got = series_array(price_spec(ercot_prices_file), tl, quantity="price", field="price")
    labels = [str(t) for t in tl.index]
    assert labels[4:8] == ["2023-03-12 00:00:00-06:00", "2023-03-12 01:00:00-06:00",
                           "2023-03-12 03:00:00-05:00", "2023-03-12 04:00:00-05:00"]
    assert list(got) == [ercot_prices_by_text[label] for label in labels]


def test_ercot_prices_fall_back(ercot_prices_file, ercot_prices_by_text):
    """2023-11-05: 01:00 happens twice (CDT, then CST) and each gets its own row of the file."""
    tl = hourly("2023-11-04 22:00", "2023-11-05 06:00", CHICAGO)
    assert tl.n_steps == 9
    got = series_array(price_spec(ercot_prices_file), tl, quantity="price", field="price")
    labels = [str(t) for t in tl.index]
    assert labels[2:6] == ["2023-11-05 00:00:00-05:00", "2023-11-05 01:00:00-05:00",
                           "2023-11-05 01:00:00-06:00", "2023-11-05 02:00:00-06:00"]
    assert list(got) == [ercot_prices_by_text[label] for label in labels]
    assert got[3] != got[4]  # the two 01:00 hours really are different rows


def test_ercot_prices_utc_timeline(ercot_prices_file, ercot_prices_raw):
    """On a UTC timeline, through load_series_file + align: the file spans 06:00 UTC .. 06:00 UTC next year."""
    series = load_series_file(ercot_prices_file, column=PRICE_COL, quantity="price", unit="USD/MWh", field="p")
    assert len(series) == 8760 and series.index.is_unique and series.index.is_monotonic_increasing
    tl = hourly("2023-01-01 06:00", "2024-01-01 06:00", "UTC")
    got = align(series, tl, file=str(ercot_prices_file), field="p")
    want = np.array([ercot_prices_raw[utc_epoch(t)] for t in tl.index])
    np.testing.assert_array_equal(got, want)
    # both DST days, in UTC: 2023-03-12 08:00 UTC is 03:00 CDT; 2023-11-05 06:00 and 07:00 UTC are both 01:00
    at = {str(t): v for t, v in zip(tl.index, got)}
    assert at["2023-03-12 07:00:00+00:00"] == ercot_prices_raw[utc_epoch(pd.Timestamp("2023-03-12 01:00-06:00"))]
    assert at["2023-03-12 08:00:00+00:00"] == ercot_prices_raw[utc_epoch(pd.Timestamp("2023-03-12 03:00-05:00"))]
    assert at["2023-11-05 06:00:00+00:00"] == ercot_prices_raw[utc_epoch(pd.Timestamp("2023-11-05 01:00-05:00"))]
    assert at["2023-11-05 07:00:00+00:00"] == ercot_prices_raw[utc_epoch(pd.Timestamp("2023-11-05 01:00-06:00"))]


def test_ercot_prices_outside_file_span_are_refused(ercot_prices_file):
    """The file's first hour is 06:00 UTC on 1 January: a UTC-midnight start is not covered."""
    from wattscale.errors import DataError

    with pytest.raises(DataError, match="covering the whole timeline"):
        series_array(price_spec(ercot_prices_file), hourly("2023-01-01", "2023-01-02", "UTC"),
                     quantity="price", field="p")


@pytest.mark.parametrize("start, end", [("2023-03-11", "2023-03-14"), ("2023-11-04", "2023-11-07"),
                                        ("2023-07-01", "2023-07-03")])
def test_ercot_prices_quarter_hours_hold_the_hour(ercot_prices_file, ercot_prices_raw, start, end):
    tl = hourly(start, end, CHICAGO, step_s=900)
    got = series_array(price_spec(ercot_prices_file), tl, quantity="price", field="price")
    hour_start = tl.index.tz_convert("UTC").floor("h")  # Chicago's offsets are whole hours
    want = np.array([ercot_prices_raw[utc_epoch(t)] for t in hour_start])
    np.testing.assert_array_equal(got, want)
    # and in groups of four: every hour's four quarter-hours carry one value
    quarters = got.reshape(-1, 4)
    assert (quarters == quarters[:, :1]).all()
    assert len(np.unique(quarters[:, 0])) > 10


# ---------------------------------------------------------------- Electricity Maps carbon (naive UTC)
def test_carbon_intensity_non_ascii_column_hour_by_hour(ercot_carbon_file, ercot_carbon_raw):
    spec = FileSeries(file=ercot_carbon_file, column=CI_COL, unit="g/kWh", timezone="UTC")
    for tl in (hourly("2023-01-01", "2024-01-01", "UTC"),
               hourly("2023-01-01", "2023-12-31 18:00", CHICAGO)):  # = the example's span, 06:00 .. 00:00 UTC
        got = series_array(spec, tl, quantity="intensity", field="ci")
        want = np.array([ercot_carbon_raw[CI_COL][utc_epoch(t)] for t in tl.index])
        np.testing.assert_array_equal(got, want)  # g/kWh == kg/MWh: no scaling
        lca = np.array([ercot_carbon_raw[CI_LCA_COL][utc_epoch(t)] for t in tl.index])
        assert (got != lca).mean() > 0.9  # the (direct) column, not its (LCA) neighbour


def test_carbon_intensity_around_dst_on_local_timeline(ercot_carbon_file, ercot_carbon_raw):
    spec = FileSeries(file=ercot_carbon_file, column=CI_COL, unit="g/kWh", timezone="UTC")
    for start, end in (("2023-03-11 22:00", "2023-03-12 06:00"), ("2023-11-04 22:00", "2023-11-05 06:00")):
        tl = hourly(start, end, CHICAGO, step_s=900)
        got = series_array(spec, tl, quantity="intensity", field="ci")
        want = [ercot_carbon_raw[CI_COL][utc_epoch(t)] for t in tl.index.tz_convert("UTC").floor("h")]
        assert list(got) == want


def test_low_carbon_percentage_becomes_a_fraction(ercot_carbon_file, ercot_carbon_raw):
    spec = FileSeries(file=ercot_carbon_file, column=LOW_CARBON_COL, unit="%", timezone="UTC")
    tl = hourly("2023-01-01", "2023-12-31 18:00", CHICAGO)
    got = series_array(spec, tl, quantity="fraction", field="cfe")
    want = np.array([ercot_carbon_raw[LOW_CARBON_COL][utc_epoch(t)] / 100.0 for t in tl.index])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert 0.0 <= got.min() and got.max() <= 1.0 and got.max() > 0.3


# ---------------------------------------------------------------- weather
def tmy3_raw(path: Path) -> tuple[dict, float]:
    """(month, day, hour starting) -> {ghi, dni, dhi, temp_air, wind_speed}; TMY3 labels hours by their END
    in local standard time (01:00 = 00:00-01:00, 24:00 = 23:00-24:00)."""
    rows = raw_rows(path)
    utc_offset_h = float(rows[0][3])
    head = rows[1]
    cols = {"ghi": "GHI (W/m^2)", "dni": "DNI (W/m^2)", "dhi": "DHI (W/m^2)", "temp_air": "Dry-bulb (C)",
            "wind_speed": "Wspd (m/s)"}
    idx = {k: head.index(v) for k, v in cols.items()}
    out = {}
    for r in rows[2:]:
        month, day, _ = (int(x) for x in r[0].split("/"))
        hour_end = int(r[1].split(":")[0])
        out[(month, day, hour_end - 1)] = {k: float(r[j]) for k, j in idx.items()}
    assert len(out) == 8760
    return out, utc_offset_h


def epw_raw(path: Path) -> tuple[dict, float]:
    """(month, day, hour starting) -> values; EPW hour 1 is 00:00-01:00 local standard time."""
    rows = raw_rows(path)
    assert rows[0][0] == "LOCATION"
    utc_offset_h = float(rows[0][8])
    cols = {"temp_air": 6, "ghi": 13, "dni": 14, "dhi": 15, "wind_speed": 21}
    out = {}
    for r in rows[8:]:
        month, day, hour = int(r[1]), int(r[2]), int(r[3])
        out[(month, day, hour - 1)] = {k: float(r[j]) for k, j in cols.items()}
    assert len(out) == 8760
    return out, utc_offset_h


WEATHER = {
    # name: (path under data_dir or None for pvlib's bundled copy, format, reader, GHI kWh/m2 per SOURCE.txt)
    "tmy3-bundled": (None, "tmy3", tmy3_raw, 1566),
    "tmy3-greensboro": ("weather_solar/pvlib_TMY3_723170TYA_Greensboro_NC.csv", "tmy3", tmy3_raw, 1566),
    "epw-dallas": ("weather_solar/TMYx_USA_TX_Dallas-Fort.Worth.epw", "epw", epw_raw, 1770),
    "epw-leesburg": ("weather_solar/TMYx_USA_VA_Leesburg.Exec.epw", "epw", epw_raw, 1535),
}
LOCAL_TZ = {"tmy3-bundled": "America/New_York", "tmy3-greensboro": "America/New_York",
            "epw-dallas": CHICAGO, "epw-leesburg": "America/New_York"}


@pytest.fixture(scope="module", params=sorted(WEATHER))
def weather_case(request, data_dir):
    name = request.param
    rel, fmt, reader, ghi_kwh = WEATHER[name]
    path = DEFAULT_TMY3 if rel is None else data_dir / rel
    raw, offset_h = reader(path)
    weather = read_weather(None if rel is None else path, fmt, field="weather")
    return dict(name=name, path=path, raw=raw, offset_h=offset_h, weather=weather, ghi_kwh=ghi_kwh,
                source_txt=(data_dir / "weather_solar" / "SOURCE.txt").read_text(encoding="utf-8"))


def on_timeline(weather, tl: Timeline) -> dict[str, np.ndarray]:
    frame = weather_for(weather, tl)
    return {c: align(frame[c], tl, field=c) for c in ("ghi", "dni", "dhi", "temp_air", "wind_speed")}


def standard_time_key(ts: pd.Timestamp, offset_h: float) -> tuple[int, int, int]:
    local = ts.tz_convert("UTC").to_pydatetime() + timedelta(hours=offset_h)
    return local.month, local.day, local.hour


def test_weather_summer_solstice_noon(weather_case):
    """2023-06-21 12:00 local standard time (13:00 daylight time) is the file's row for 12:00-13:00."""
    case = weather_case
    tz = LOCAL_TZ[case["name"]]
    tl = hourly("2023-06-20", "2023-06-23", tz)
    got = on_timeline(case["weather"], tl)
    noon_std = pd.Timestamp(datetime(2023, 6, 21, 12, tzinfo=timezone(timedelta(hours=case["offset_h"]))))
    i = tl.index.get_loc(noon_std)
    assert tl.index[i].hour == 13  # daylight saving time on the timeline's wall clock
    row = case["raw"][(6, 21, 12)]
    for col, values in got.items():
        assert values[i] == pytest.approx(row[col], abs=1e-9), col
    assert row["ghi"] > 300  # a summer midday, not a night hour picked by a shifted label


@pytest.mark.parametrize("tz", ["UTC", "local"])
def test_weather_every_hour_of_a_year(weather_case, tz):
    case = weather_case
    tz = LOCAL_TZ[case["name"]] if tz == "local" else tz
    tl = hourly("2023-01-01", "2024-01-01", tz)
    got = on_timeline(case["weather"], tl)
    keys = [standard_time_key(t, case["offset_h"]) for t in tl.index]
    for col, values in got.items():
        want = np.array([case["raw"][k][col] for k in keys])
        np.testing.assert_allclose(values, want, rtol=0, atol=1e-9, err_msg=col)


def test_weather_annual_ghi_matches_source_txt(weather_case):
    case = weather_case
    stated = case["ghi_kwh"]
    assert f"{stated} kWh/m^2" in case["source_txt"]  # the figure really is the one SOURCE.txt states
    raw_total = sum(v["ghi"] for v in case["raw"].values()) / 1000.0
    assert raw_total == pytest.approx(stated, rel=0.005)
    tl = hourly("2023-01-01", "2024-01-01", LOCAL_TZ[case["name"]])
    total = on_timeline(case["weather"], tl)["ghi"].sum() * tl.step_h / 1000.0
    assert total == pytest.approx(stated, rel=0.005)
    assert total == pytest.approx(raw_total, rel=1e-9)


def test_weather_leap_year_fills_29_february(weather_case):
    case = weather_case
    tl = hourly("2024-01-01", "2025-01-01", LOCAL_TZ[case["name"]])
    assert tl.n_steps == 8784
    got = on_timeline(case["weather"], tl)
    for values in got.values():
        assert values.shape == (8784,) and np.isfinite(values).all()
    keys = [standard_time_key(t, case["offset_h"]) for t in tl.index]
    feb29 = [i for i, k in enumerate(keys) if k[:2] == (2, 29)]
    assert len(feb29) == 24
    for col, values in got.items():
        # 29 February repeats 28 February; every other hour is the file's row for that date and hour
        np.testing.assert_allclose(values[feb29], [case["raw"][(2, 28, h)][col] for h in range(24)], atol=1e-9)
        others = [i for i in range(tl.n_steps) if keys[i][:2] != (2, 29)]
        np.testing.assert_allclose(values[others], [case["raw"][keys[i]][col] for i in others], atol=1e-9)
    feb28_ghi = sum(case["raw"][(2, 28, h)]["ghi"] for h in range(24))
    raw_total = sum(v["ghi"] for v in case["raw"].values())
    assert got["ghi"].sum() == pytest.approx(raw_total + feb28_ghi, rel=1e-9)


def test_weather_quarter_hours_hold_the_hour(weather_case):
    case = weather_case
    tl = hourly("2023-06-20", "2023-06-22", LOCAL_TZ[case["name"]], step_s=900)
    ghi = on_timeline(case["weather"], tl)["ghi"]
    want = [case["raw"][standard_time_key(t.floor("h"), case["offset_h"])]["ghi"] for t in tl.index]
    np.testing.assert_allclose(ghi, want, atol=1e-9)


def test_bundled_tmy3_is_the_shared_copy(data_dir):
    shared = read_weather(data_dir / "weather_solar" / "pvlib_TMY3_723170TYA_Greensboro_NC.csv", "tmy3", field="w")
    bundled = read_weather(None, "tmy3", field="w")
    pd.testing.assert_frame_equal(shared.frame, bundled.frame)
    assert (bundled.latitude, bundled.longitude, bundled.altitude_m) == (36.1, -79.95, 273.0)  # SOURCE.txt


def test_psm3_half_hours_average_into_hours(data_dir):
    """NSRDB PSM3 (30 min, 2017, UTC-7; read via pvlib's PSM4 reader on pvlib >= 0.13): each hour of an
    hourly timeline is the mean of the file's two half-hours; the annual GHI is SOURCE.txt's 1749 kWh/m2."""
    path = data_dir / "weather_solar" / "pvlib_tests_NSRDB_PSM3_2017_30min_40.53N_108.54W.csv"
    rows = raw_rows(path)
    head = rows[2]
    assert rows[1][7] == "-7" and head[:5] == ["Year", "Month", "Day", "Hour", "Minute"]
    raw = {}
    for r in rows[3:]:
        start = datetime(*map(int, r[:5]), tzinfo=timezone(timedelta(hours=-7)))
        raw[int(start.timestamp())] = {"ghi": float(r[head.index("GHI")]),
                                       "temp_air": float(r[head.index("Temperature")])}
    assert len(raw) == 17520
    weather = read_weather(path, "psm3", field="w")
    assert (weather.latitude, weather.longitude, weather.altitude_m) == (40.53, -108.54, 2168.0)
    assert "1749 kWh/m^2" in (data_dir / "weather_solar" / "SOURCE.txt").read_text(encoding="utf-8")
    tl = hourly("2017-01-01 07:00", "2018-01-01 07:00", "UTC")  # the file's year, 00:00 .. 24:00 at UTC-7
    got = on_timeline(weather, tl)
    for col in ("ghi", "temp_air"):
        want = [(raw[utc_epoch(t)][col] + raw[utc_epoch(t) + 1800][col]) / 2 for t in tl.index]
        np.testing.assert_allclose(got[col], want, atol=1e-9, err_msg=col)
    assert got["ghi"].sum() / 1000.0 == pytest.approx(1749, rel=0.005)


# ---------------------------------------------------------------- the ERCOT example
def test_ercot_example_validates_with_shared_data(examples_dir, data_dir):
    scenario = examples_dir / "llm-campus-ercot-2023.yaml"
    res = CliRunner().invoke(app, ["validate", str(scenario)], env={"WATTSCALE_DATA": str(data_dir)})
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    n_steps = int((pd.Timestamp("2023-12-31 18:00") - pd.Timestamp("2023-01-01")) / pd.Timedelta("15min"))
    assert f"{n_steps:,} steps of 900 s" in out
    assert "2023-01-01 00:00:00-06:00" in out

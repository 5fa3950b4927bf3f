"""Derive the embedded month-by-hour price, carbon-intensity and carbon-free-share profiles.

Reads the real hourly data in the shared data folder ($WATTSCALE_DATA or ../shared/data) and writes
src/wattscale/data/profiles_month_hour.csv: the mean of each (month, local hour) cell.

Sources (see SOURCE.txt in each folder): prices_hourly/ (HewlettPackard/green-dcc processed ISO prices:
PJM real-time LMP zone DOM, ERCOT day-ahead HB_HUBAVG, CAISO day-ahead NP15), carbon_intensity_hourly/
(Electricity Maps hourly direct carbon intensity and low-carbon percentage).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

DATA = Path(os.environ.get("WATTSCALE_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
OUT = Path(__file__).resolve().parents[1] / "src" / "wattscale" / "data" / "profiles_month_hour.csv"

PRICES = {  # name: (file, tz of naive stamps, local tz)
    "pjm-dom-2023-price": ("prices_hourly/US-MIDA-PJM_prices_2023.csv", "UTC", "America/New_York"),
    "ercot-2023-price": ("prices_hourly/US-TEX-ERCO_prices_2023.csv", "UTC", "America/Chicago"),
    "caiso-np15-2023-price": ("prices_hourly/US-CAL-CISO_prices_2023.csv", "UTC", "America/Los_Angeles"),
}
CARBON = {  # zone file, local tz
    "pjm-2023": ("carbon_intensity_hourly/US-MIDA-PJM_2023_hourly.csv", "America/New_York"),
    "ercot-2023": ("carbon_intensity_hourly/US-TEX-ERCO_2023_hourly.csv", "America/Chicago"),
    "caiso-2023": ("carbon_intensity_hourly/US-CAL-CISO_2023_hourly.csv", "America/Los_Angeles"),
}


def month_hour(series: pd.Series, local_tz: str) -> pd.DataFrame:
    local = series.tz_convert(local_tz)
    frame = pd.DataFrame({"month": local.index.month, "hour": local.index.hour, "value": local.to_numpy()})
    return frame.groupby(["month", "hour"], as_index=False)["value"].mean()


def main() -> None:
    rows = []
    for name, (rel, naive_tz, local_tz) in PRICES.items():
        df = pd.read_csv(DATA / rel)
        idx = pd.to_datetime(df["Datetime"], utc=True) if df["Datetime"].astype(str).str.contains(r"[+-]\d\d:\d\d$").all() \
            else pd.to_datetime(df["Datetime"]).dt.tz_localize(naive_tz)
        s = pd.Series(df.iloc[:, 1].to_numpy(), index=pd.DatetimeIndex(idx))
        s = s[s.index.tz_convert(local_tz).year == 2023]
        rows.append(month_hour(s, local_tz).assign(profile=name, quantity="price", unit="USD/MWh", timezone=local_tz))
    for zone, (rel, local_tz) in CARBON.items():
        df = pd.read_csv(DATA / rel)
        idx = pd.DatetimeIndex(pd.to_datetime(df.iloc[:, 0]).dt.tz_localize("UTC"))
        ci = pd.Series(df.iloc[:, 4].to_numpy(), index=idx)
        cfe = pd.Series(df["Low Carbon Percentage"].to_numpy() / 100.0, index=idx)
        rows.append(month_hour(ci, local_tz).assign(profile=f"{zone}-intensity", quantity="intensity",
                                                    unit="kg/MWh", timezone=local_tz))
        rows.append(month_hour(cfe, local_tz).assign(profile=f"{zone}-cfe", quantity="fraction",
                                                     unit="fraction", timezone=local_tz))
    out = pd.concat(rows)[["profile", "quantity", "unit", "timezone", "month", "hour", "value"]]
    out["value"] = out["value"].round(4)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as fh:
        fh.write("# Month-by-local-hour means derived by scripts/derive_profiles.py from real 2023 data:\n")
        fh.write("# prices: ISO market prices via github.com/HewlettPackard/green-dcc (PJM RT DOM, ERCOT DA HB_HUBAVG,"
                 " CAISO DA NP15);\n# intensity (direct, gCO2/kWh = kg/MWh) and cfe (low-carbon share):"
                 " Electricity Maps hourly datasets via the same repository.\n")
        out.to_csv(fh, index=False)
    print(f"wrote {OUT} ({len(out)} rows)", file=sys.stderr)


if __name__ == "__main__":
    main()

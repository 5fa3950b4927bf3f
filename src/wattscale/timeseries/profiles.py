"""Built-in month-by-hour profiles (price, carbon intensity, carbon-free share) derived from real 2023 data."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from wattscale.errors import ScenarioError
from wattscale.timeseries.timeline import Timeline


@lru_cache(maxsize=1)
def profile_table() -> pd.DataFrame:
    with resources.files("wattscale.data").joinpath("profiles_month_hour.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#")


def profile_names(quantity: str | None = None) -> list[str]:
    table = profile_table()
    if quantity is not None:
        table = table[table["quantity"] == quantity]
    return sorted(table["profile"].unique())


def profile_array(name: str, timeline: Timeline, *, quantity: str, field: str | None = None,
                  file: str | None = None) -> np.ndarray:
    """Evaluate the month-by-hour profile ``name`` at every timeline step (local time of the profile)."""
    table = profile_table()
    rows = table[table["profile"] == name]
    if rows.empty or rows["quantity"].iloc[0] != quantity:
        from wattscale.guards import excerpt
        raise ScenarioError(f"unknown built-in {quantity} profile '{excerpt(name, 40)}'", file=file, field=field,
                            expected="one of " + ", ".join(profile_names(quantity)))
    grid = np.full((12, 24), np.nan)
    grid[rows["month"].to_numpy() - 1, rows["hour"].to_numpy()] = rows["value"].to_numpy()
    local = timeline.index.tz_convert(rows["timezone"].iloc[0])
    return grid[local.month.to_numpy() - 1, local.hour.to_numpy()]

"""Turn a scenario series (constant, file or built-in default) into an array on the timeline."""
from __future__ import annotations

import numpy as np

from wattscale.errors import DataError
from wattscale.scenario.schema import DefaultSeries, FileSeries, Series
from wattscale.timeseries.loading import align, load_series_file
from wattscale.timeseries.profiles import profile_array
from wattscale.timeseries.timeline import Timeline


def series_array(spec: Series, timeline: Timeline, *, quantity: str, field: str,
                 scenario_file: str | None = None) -> np.ndarray:
    """Values of ``spec`` at every timeline step, in internal units of ``quantity``."""
    if isinstance(spec, (int, float)):
        return np.full(timeline.n_steps, float(spec))
    if isinstance(spec, DefaultSeries):
        return profile_array(spec.default, timeline, quantity=quantity, field=field, file=scenario_file)
    if isinstance(spec, FileSeries):
        series = load_series_file(spec.file, column=spec.column, quantity=quantity, unit=spec.unit,
                                  tz=spec.timezone, time_column=spec.time_column, fill=spec.fill, field=field)
        values = align(series, timeline, file=str(spec.file), field=field)
        if not np.isfinite(values).all():
            raise DataError("series has non-finite values on the timeline", file=str(spec.file), field=field)
        return values
    raise TypeError(f"not a series spec: {spec!r}")

"""Assemble a site's per-step inputs (load, renewables, prices, limits) from its scenario section."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from wattscale.compute.catalog import Catalog, load_catalog
from wattscale.compute.fleet import workload_mix
from wattscale.compute.flexibility import Envelope, envelope
from wattscale.energy import facility, generator, grid, solar, wind
from wattscale.energy.battery import self_discharge_per_step
from wattscale.errors import ScenarioError
from wattscale.scenario.schema import Generator, Scenario, Site
from wattscale.scenario.series import series_array
from wattscale.timeseries.loading import align
from wattscale.timeseries.timeline import Timeline, localize, parse_duration
from wattscale.timeseries.weather import Weather, read_weather, weather_for


@dataclass
class SiteInputs:
    """Everything the engine needs for one site, as arrays on the timeline (MW, USD/MWh, kg/MWh)."""

    site: Site
    timeline: Timeline
    it_load_mw: np.ndarray
    pue: np.ndarray
    load_mw: np.ndarray
    pv_mw: np.ndarray
    wind_mw: np.ndarray
    temp_air_c: np.ndarray
    price_usd_per_mwh: np.ndarray
    export_price_usd_per_mwh: np.ndarray
    intensity_kg_per_mwh: np.ndarray
    cfe_share: np.ndarray
    grid_up: np.ndarray
    import_limit_mw: np.ndarray
    export_limit_mw: np.ndarray
    generators: list[Generator] = field(default_factory=list)  # in merit order
    weather_source: str = ""
    workload_it_mw: dict[str, np.ndarray] = field(default_factory=dict)
    workload_gpus: dict[str, int] = field(default_factory=dict)  # each workload's fleet (as given, or as sized)
    envelopes: list[Envelope] = field(default_factory=list)  # cheapest to shed first
    dr_soft_mw: np.ndarray | None = None  # paid demand response: import above this forgoes ...
    dr_payment_usd_per_mwh: np.ndarray | None = None  # ... this payment per MWh
    location: tuple[float, float, float] = (0.0, 0.0, 0.0)  # latitude, longitude (degrees), altitude (m)

    def flex_params(self) -> tuple[np.ndarray, np.ndarray]:
        """Sheddable facility power (W, n) in MW and each workload's budget (W,) in facility MWh."""
        n = self.timeline.n_steps
        mw = np.array([e.reducible_mw * self.pue for e in self.envelopes]).reshape(len(self.envelopes), n)
        mean_pue = float(self.pue.mean()) if n else 1.0
        budget = np.array([e.budget_mwh * mean_pue for e in self.envelopes], dtype=float)
        return np.ascontiguousarray(mw), budget

    def battery_params(self) -> np.ndarray:
        b = self.site.battery
        if b is None:
            return np.array([0.0, 1.0, 1.0, 0.0, 0.0, 1.0])
        return np.array([b.power_mw, b.charge_efficiency, b.discharge_efficiency, b.soc_min * b.energy_mwh,
                         b.soc_max * b.energy_mwh, 1.0 - self_discharge_per_step(b, self.timeline.step_s)])

    def generator_params(self) -> np.ndarray:
        step_s = self.timeline.step_s
        rows = [[g.capacity_mw, g.min_load_fraction * g.capacity_mw, generator.ramp_mw_per_step(g, step_s),
                 generator.start_steps(g, step_s)] for g in self.generators]
        return np.array(rows, dtype=float).reshape(len(rows), 4)


def timeline_of(scenario: Scenario) -> Timeline:
    spec = scenario.time
    tz = spec.timezone
    start = localize(spec.start, tz)
    end = localize(spec.end, tz) if spec.end else start + parse_duration(spec.duration)
    step_s = int(parse_duration(spec.step).total_seconds())
    if end <= start:
        raise ScenarioError("the timeline ends before it starts", field="time", expected="end after start")
    return Timeline.from_range(start, end, step_s, tz)


def site_inputs(site: Site, timeline: Timeline, *, index: int = 0, scenario_file: str | None = None,
                weather: Weather | None = None, catalog: Catalog | None = None) -> SiteInputs:
    """Build the arrays for ``site`` (``index`` locates it in the scenario for error messages)."""
    where = f"sites[{index}]"
    if weather is None:
        if site.weather == "default":
            weather = read_weather(None, "tmy3", field=f"{where}.weather")
        else:
            w = site.weather
            weather = read_weather(w.file, w.format, field=f"{where}.weather", typical=w.typical_year,
                                   columns=w.columns, tz=w.timezone)
    frame = weather_for(weather, timeline)
    lat, lon, alt = _location(site, weather, where, scenario_file)
    n = timeline.n_steps

    def on_timeline(series: pd.Series, name: str) -> np.ndarray:
        return align(series, timeline, file=weather.source, field=f"{where}.weather ({name})")

    temp = on_timeline(frame["temp_air"], "temp_air")
    pv = on_timeline(solar.pv_power_mw(site.solar, frame, lat, lon, alt), "pv") if site.solar else np.zeros(n)
    wd = on_timeline(wind.wind_power_mw(site.wind, frame, weather.wind_height_m), "wind") if site.wind \
        else np.zeros(n)

    def arr(spec, quantity, name):
        return series_array(spec, timeline, quantity=quantity, field=f"{where}.{name}", scenario_file=scenario_file)

    it_load = arr(site.facility.it_load_mw, "power", "facility.it_load_mw")
    if (it_load < 0).any():
        raise ScenarioError("IT load has negative values", file=scenario_file, field=f"{where}.facility.it_load_mw",
                            expected="power >= 0 MW")
    workload_it, workload_gpus, envelopes = {}, {}, []
    if site.facility.workloads:
        catalog = catalog or load_catalog()
        for j, w in enumerate(site.facility.workloads):
            where_w = f"{where}.facility.workloads[{j}]"
            mix = workload_mix(w, catalog, start=timeline.start, step_s=timeline.step_s, n_samples=n,
                               must_run=True, field=where_w, file=scenario_file)
            workload_it[w.name] = mix.it_power_mw()
            workload_gpus[w.name] = int(mix.n_gpus)
            it_load = it_load + workload_it[w.name]
            envelopes.append(envelope(w, catalog.get(w.gpu), mix))
        envelopes.sort(key=lambda e: e.cost_usd_per_mwh)
    pue = facility.pue(site.facility.pue, temp)
    g = site.grid
    price = arr(g.price_usd_per_mwh, "price", "grid.price_usd_per_mwh")
    export_price = price if g.export_price_usd_per_mwh is None else arr(g.export_price_usd_per_mwh, "price",
                                                                        "grid.export_price_usd_per_mwh")
    hold, soft, pay = grid.demand_response(g.demand_response, timeline, field=f"{where}.grid.demand_response")
    cfe = arr(g.cfe_share, "fraction", "grid.cfe_share")
    if ((cfe < 0) | (cfe > 1)).any():
        raise ScenarioError("carbon-free share outside 0..1", file=scenario_file, field=f"{where}.grid.cfe_share",
                            expected="a fraction between 0 and 1 (use unit '%' for percentages)")
    return SiteInputs(
        site=site, timeline=timeline, it_load_mw=it_load, pue=pue,
        load_mw=facility.facility_load_mw(it_load, pue), pv_mw=pv, wind_mw=wd, temp_air_c=temp,
        price_usd_per_mwh=price, export_price_usd_per_mwh=export_price,
        intensity_kg_per_mwh=arr(g.intensity_kg_per_mwh, "intensity", "grid.intensity_kg_per_mwh"),
        cfe_share=cfe, grid_up=grid.grid_available(g.outages, timeline, field=f"{where}.grid.outages"),
        import_limit_mw=np.minimum(g.import_limit_mw, hold), export_limit_mw=np.full(n, g.export_limit_mw),
        generators=sorted(site.generators, key=generator.marginal_cost_usd_per_mwh), weather_source=weather.source,
        workload_it_mw=workload_it, workload_gpus=workload_gpus, envelopes=envelopes, dr_soft_mw=soft, dr_payment_usd_per_mwh=pay,
        location=(lat, lon, alt))


SERIES_FREE_FIELDS = {"battery", "generators"}  # site fields no input series is built from


def same_series(old: Site, new: Site) -> bool:
    """Whether two versions of a site build the same input series (they differ at most in storage and
    generators)."""
    return old.model_dump(exclude=SERIES_FREE_FIELDS) == new.model_dump(exclude=SERIES_FREE_FIELDS)


def with_site(inputs: SiteInputs, site: Site) -> SiteInputs:
    """``inputs`` for a version of their site that differs only in storage and generators (``same_series``)."""
    return replace(inputs, site=site, generators=sorted(site.generators, key=generator.marginal_cost_usd_per_mwh))


def _location(site: Site, weather: Weather, where: str, scenario_file: str | None) -> tuple[float, float, float]:
    if site.location is not None:
        return site.location.latitude, site.location.longitude, site.location.altitude_m
    if math.isnan(weather.latitude):
        raise ScenarioError("a CSV weather file has no station location", file=scenario_file,
                            field=f"{where}.location", expected="latitude and longitude")
    return weather.latitude, weather.longitude, weather.altitude_m

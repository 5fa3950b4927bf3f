"""Typed schema of scenario files (pydantic v2). Field names carry their units."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

import pandas as pd
from pydantic import Field, field_validator, model_validator

from wattscale.errors import ScenarioError
from wattscale.guards import excerpt
from wattscale.scenario.base import Model, Name, check_below, check_time, check_unique
from wattscale.scenario.workloads import Workload
from wattscale.timeseries.timeline import parse_duration
from wattscale.timeseries.units import MAX_INTENSITY, MAX_MW, MAX_PRICE, SERIES_RANGE  # noqa: F401 - re-exported

# Physical ranges: every number in a scenario is finite (the base model refuses NaN and infinities) and within
# these bounds, far beyond any real campus but small enough that no sum or product overflows.
MAX_GRID_MW = 1e6  # a grid connection's limits (a huge value is the usual way to write 'no limit')
MAX_MWH = 1e7  # 10 TWh of storage
MAX_VOLL = 1e6  # USD/MWh of unserved energy
MAX_USD = 1e10  # one cost item (a start-up, a payment per MW)
MAX_CARBON_PRICE = 1e5  # USD/t
MAX_SITES, MAX_GENERATORS, MAX_EVENTS, MAX_SWEEP = 100, 100, 10_000, 100


# ---------------------------------------------------------------- series
class FileSeries(Model):
    """A series read from a CSV or Parquet file (relative paths are relative to the scenario file)."""

    file: Path
    column: str = Field(max_length=200)
    unit: str = Field(max_length=50)
    timezone: str = Field("UTC", max_length=100, description="time zone of naive timestamps (offsets in the file "
                                                             "win)")
    time_column: str | None = Field(None, max_length=200, description="timestamp column (default: the first "
                                                                      "column)")
    fill: Literal["none", "hold", "interpolate"] = Field("none", description="how to fill gaps and NaN")


class DefaultSeries(Model):
    """A built-in series: a month-by-hour profile derived from real market data (see `wattscale defaults`)."""

    default: str = Field(max_length=100)


Series = Union[float, FileSeries, DefaultSeries]


def _constant_within(value: Series, name: str, low: float, high: float) -> Series:
    """Check a constant series lies in [low, high] (files and defaults are checked when loaded)."""
    if isinstance(value, float) and not low <= value <= high:
        raise ValueError(f"{name} must be >= {low:g}" if value < low else f"{name} must be between {low:g} and "
                         f"{high:g}")
    return value


#: the range of the values of each quantity of a series (constants, files and defaults)


# ---------------------------------------------------------------- time
def _check_duration(v: str | None) -> str | None:
    if v is not None:
        try:
            positive = parse_duration(v) > pd.Timedelta(0)
        except ValueError:
            raise ValueError(f"'{excerpt(v, 40)}' is not a duration (expected e.g. 365d, 48h or 15min)") from None
        if not positive:
            raise ValueError(f"duration '{v}' must be positive: the timeline must end after the start")
    return v


class Span(Model):
    """A period: a start and either an end or a duration."""

    start: str = Field(max_length=100)
    end: str | None = Field(None, max_length=100)
    duration: str | None = Field(None, max_length=100, description="e.g. 365d, 7d, 48h (alternative to end)")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _str(cls, v):
        return None if v is None else str(v)

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        return _check_duration(v)

    @field_validator("start", "end")
    @classmethod
    def _time(cls, v: str | None) -> str | None:
        return check_time(v)

    @model_validator(mode="after")
    def _end_or_duration(self):
        if (self.end is None) == (self.duration is None):
            raise ValueError("give exactly one of 'end' or 'duration'")
        return self


class TimeSpec(Span):
    step: str = Field("1h", max_length=100, description="from 1s to 1h, e.g. 5min, 15min, 1h")
    timezone: str = Field("UTC", max_length=100)

    @field_validator("step")
    @classmethod
    def _step(cls, v: str) -> str:
        try:
            seconds = parse_duration(v).total_seconds()
        except ValueError:
            raise ValueError("step must be a duration such as 1s, 5min or 1h") from None
        if not (1 <= seconds <= 3600) or seconds != int(seconds):
            raise ValueError("step must be a whole number of seconds from 1s to 1h")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            pd.Timestamp("2020-01-01", tz=v)
        except Exception:  # noqa: BLE001
            raise ValueError(f"unknown time zone '{excerpt(v, 40)}' (use an IANA name such as America/Chicago)") \
                from None
        return v


# ---------------------------------------------------------------- site parts
class Location(Model):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    altitude_m: float = Field(0.0, ge=-500, le=9000)


class WeatherFile(Model):
    file: Path
    format: Literal["tmy3", "epw", "psm3", "csv"]
    typical_year: bool | None = Field(None, description="repeat over any year (default: true for tmy3/epw)")
    timezone: str = Field("UTC", max_length=100)
    columns: dict[str, str] = Field(default_factory=dict, max_length=10,
                                    description="csv only: our name -> file column")


class TemperaturePUE(Model):
    """PUE rising linearly with outdoor dry-bulb temperature above a free-cooling threshold, clipped."""

    model: Literal["temperature"] = "temperature"
    pue_min: float = Field(1.1, ge=1.0, le=10.0, description="PUE at or below free_cooling_below_c")
    free_cooling_below_c: float = Field(18.0, ge=-100, le=100)
    slope_per_c: float = Field(0.008, ge=0.0, le=1.0, description="PUE increase per degree C above the threshold")
    pue_max: float = Field(1.45, ge=1.0, le=10.0)

    @model_validator(mode="after")
    def _order(self):
        if self.pue_max < self.pue_min:
            raise ValueError("pue_max must be at least pue_min")
        return self


class Facility(Model):
    it_load_mw: Series = Field(0.0, description="IT load besides the workloads, MW: constant, file or default")
    workloads: list[Workload] = Field(default_factory=list, max_length=100,
                                      description="training jobs and inference fleets")
    pue: Annotated[float, Field(ge=1.0, le=10.0)] | TemperaturePUE = TemperaturePUE()

    @field_validator("it_load_mw")
    @classmethod
    def _nonneg(cls, v):
        return _constant_within(v, "it_load_mw", 0.0, MAX_MW)

    @model_validator(mode="after")
    def _unique_workloads(self):
        check_unique([w.name for w in self.workloads], "workload")
        return self


class Solar(Model):
    """PV plant: PVWatts DC model with SAPM cell temperature and a PVWatts inverter (pvlib)."""

    capacity_mwdc: float = Field(gt=0, le=MAX_MW)
    capacity_mwac: float = Field(gt=0, le=MAX_MW)
    tilt_deg: float = Field(25.0, ge=0, le=90)
    azimuth_deg: float = Field(180.0, ge=0, lt=360)
    tracking: bool = Field(False, description="single-axis tracker (north-south axis) instead of fixed tilt")
    gamma_pdc_per_c: float = Field(-0.0035, ge=-0.1, le=0)
    system_losses_fraction: float = Field(0.14, ge=0, lt=1, description="soiling, wiring, mismatch, availability")
    inverter_efficiency: float = Field(0.96, gt=0, le=1)
    albedo: float = Field(0.2, ge=0, le=1)


class Wind(Model):
    """Wind farm: windpowerlib turbine power curve with hub-height wind speed extrapolation."""

    turbine_type: str = Field("E-126/4200", max_length=100, description="a windpowerlib (OEDB) turbine type")
    n_turbines: int = Field(gt=0, le=100_000)
    hub_height_m: float = Field(135.0, gt=0, le=500)
    wind_profile: Literal["hellman", "logarithmic"] = "hellman"
    hellman_exponent: float = Field(1 / 7, gt=0, lt=1)
    roughness_length_m: float = Field(0.15, gt=0, le=10)
    wake_losses_fraction: float = Field(0.1, ge=0, lt=1)


class Battery(Model):
    """Battery: power and energy limits, efficiencies, SoC window, self-discharge, rainflow degradation."""

    power_mw: float = Field(gt=0, le=MAX_MW)
    energy_mwh: float = Field(gt=0, le=MAX_MWH)
    charge_efficiency: float = Field(0.95, gt=0, le=1)
    discharge_efficiency: float = Field(0.95, gt=0, le=1)
    soc_min: float = Field(0.05, ge=0, lt=1)
    soc_max: float = Field(0.95, gt=0, le=1)
    soc_initial: float = Field(0.5, ge=0, le=1)
    self_discharge_per_day: float = Field(0.0005, ge=0, lt=1)
    cycle_life_full_dod: float = Field(6000.0, gt=0, le=1e7, description="cycles to end of life at 100 % depth")
    dod_exponent: float = Field(1.3, gt=0, le=10, description="Woehler exponent: life(d) = life_full * d**-k")
    calendar_fade_per_year: float = Field(0.01, ge=0, lt=1)
    end_of_life_capacity: float = Field(0.8, gt=0, lt=1)
    wear_cost_usd_per_mwh: float = Field(
        20.0, ge=0, le=MAX_PRICE, description="wear per MWh discharged, for optimised dispatch (replacement cost / cycle life: "
                                "e.g. 120 USD/kWh over 6000 cycles)")

    @model_validator(mode="after")
    def _window(self):
        if self.soc_min >= self.soc_max:
            raise ValueError("soc_min must be below soc_max")
        if not (self.soc_min <= self.soc_initial <= self.soc_max):
            raise ValueError("soc_initial must lie between soc_min and soc_max")
        return self


GENERATOR_DEFAULTS = {
    # heat rate (HHV) and typical operating limits; CO2 factors: US EPA GHG emission factors hub
    # (natural gas 53.06, distillate fuel oil No. 2: 73.96 kg CO2/MMBtu).
    "gas_turbine": dict(min_load_fraction=0.4, ramp_mw_per_min_per_mw=0.12, start_up_time_s=600,
                        heat_rate_mmbtu_per_mwh=10.0, co2_kg_per_mmbtu=53.06, fuel_price_usd_per_mmbtu=3.5),
    "reciprocating_engine": dict(min_load_fraction=0.3, ramp_mw_per_min_per_mw=0.5, start_up_time_s=300,
                                 heat_rate_mmbtu_per_mwh=8.5, co2_kg_per_mmbtu=53.06,
                                 fuel_price_usd_per_mmbtu=3.5),
    "diesel": dict(min_load_fraction=0.3, ramp_mw_per_min_per_mw=1.0, start_up_time_s=10,
                   heat_rate_mmbtu_per_mwh=10.0, co2_kg_per_mmbtu=73.96, fuel_price_usd_per_mmbtu=20.0),
}


class Generator(Model):
    """Dispatchable generator. Unset fields take the defaults of its kind."""

    name: Name
    kind: Literal["gas_turbine", "reciprocating_engine", "diesel"] = "gas_turbine"
    capacity_mw: float = Field(gt=0, le=MAX_MW)
    min_load_fraction: float | None = Field(None, ge=0, le=1)
    ramp_mw_per_min: float | None = Field(None, gt=0, le=1e6)
    start_up_time_s: float | None = Field(None, ge=0, le=7 * 86400)
    start_up_cost_usd: float = Field(0.0, ge=0, le=MAX_USD)
    heat_rate_mmbtu_per_mwh: float | None = Field(None, gt=0, le=100)
    fuel_price_usd_per_mmbtu: float | None = Field(None, ge=0, le=1e4)
    co2_kg_per_mmbtu: float | None = Field(None, ge=0, le=1e3)
    variable_om_usd_per_mwh: float = Field(5.0, ge=0, le=MAX_PRICE)

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults(cls, data):
        if isinstance(data, dict):
            defaults = GENERATOR_DEFAULTS.get(data.get("kind", "gas_turbine"), {})
            data = dict(data)
            for key, value in defaults.items():
                if key == "ramp_mw_per_min_per_mw":
                    cap = data.get("capacity_mw")
                    if data.get("ramp_mw_per_min") is None and isinstance(cap, (int, float)) and cap > 0:
                        data["ramp_mw_per_min"] = value * cap
                elif data.get(key) is None:
                    data[key] = value
        return data


class Outage(Span):
    """A grid outage from ``start`` for ``duration`` (or until ``end``)."""


class DemandResponse(Span):
    """A demand-response event: hold grid import at or below ``hold_import_mw`` from ``start`` for ``duration``.

    Without a payment it is a constraint every controller obeys (the import limit drops). With
    ``payment_usd_per_mwh`` it is an offer: each MWh imported above the hold forgoes that payment, and an
    optimising controller decides whether responding is worth it."""

    hold_import_mw: float = Field(ge=0, le=MAX_GRID_MW)
    payment_usd_per_mwh: float | None = Field(None, ge=0, le=MAX_PRICE)


class Grid(Model):
    import_limit_mw: float = Field(ge=0, le=MAX_GRID_MW)
    export_limit_mw: float = Field(0.0, ge=0, le=MAX_GRID_MW)
    price_usd_per_mwh: Series = DefaultSeries(default="pjm-dom-2023-price")
    export_price_usd_per_mwh: Series | None = Field(None, description="default: the import price")
    intensity_kg_per_mwh: Series = DefaultSeries(default="pjm-2023-intensity")
    cfe_share: Series = Field(DefaultSeries(default="pjm-2023-cfe"),
                              description="carbon-free share of grid supply (fraction) for the 24/7 CFE score")
    demand_charge_usd_per_kw_month: float = Field(0.0, ge=0, le=1e4)
    outages: list[Outage] = Field(default_factory=list, max_length=MAX_EVENTS)
    demand_response: list[DemandResponse] = Field(default_factory=list, max_length=MAX_EVENTS)

    @field_validator("price_usd_per_mwh", "export_price_usd_per_mwh")
    @classmethod
    def _price(cls, v, info):
        return v if v is None else _constant_within(v, info.field_name, -MAX_PRICE, MAX_PRICE)

    @field_validator("intensity_kg_per_mwh")
    @classmethod
    def _intensity(cls, v):
        return _constant_within(v, "intensity_kg_per_mwh", 0.0, MAX_INTENSITY)

    @field_validator("cfe_share")
    @classmethod
    def _share(cls, v):
        return _constant_within(v, "cfe_share", 0.0, 1.0)


class RideThrough(Model):
    """A campus's electrical front end in a voltage dip: when its UPS leaves the grid for backup (battery, then
    generators), when it comes back, and the dip count that locks it onto backup (``wattscale gridcode``)."""

    transfer_below_pu: float = Field(0.85, gt=0, lt=1, description="a dip below this voltage counts, and the UPS "
                                     "transfers to backup if it lasts longer than transfer_after_s")
    transfer_after_s: float = Field(0.02, ge=0, le=60, description="how long the voltage may stay below the "
                                    "threshold before the UPS transfers")
    retransfer_after_s: float = Field(30.0, ge=0, le=86400, description="voltage back above the threshold this "
                                      "long: the campus returns to the grid (a dip in between restarts the wait)")
    lockout_dips: int | None = Field(None, ge=1, le=1000, description="this many dips within lockout_window_s lock "
                                     "the campus onto backup (none: never)")
    lockout_window_s: float = Field(60.0, gt=0, le=86400)
    return_after_lockout_s: float | None = Field(None, ge=0, le=30 * 86400, description="time on backup after a "
                                                 "lockout before a manual return (none: not within the study)")
    return_ramp_s: float = Field(0.0, ge=0, le=86400, description="the load comes back over this time (0: at once)")
    ups_autonomy_s: float = Field(300.0, ge=0, le=86400, description="UPS battery time at full load")
    generator_start_s: float = Field(10.0, ge=0, le=3600, description="backup generators start and take the load "
                                     "after this")
    load_mw: float | None = Field(None, ge=0, le=MAX_MW, description="load the grid sees (default: the site's "
                                  "facility load at gridcode.start)")


class Site(Model):
    name: Name
    location: Location | None = Field(None, description="default: the weather file's station")
    weather: Literal["default"] | WeatherFile = "default"
    facility: Facility
    solar: Solar | None = None
    wind: Wind | None = None
    battery: Battery | None = None
    generators: list[Generator] = Field(default_factory=list, max_length=MAX_GENERATORS)
    grid: Grid
    ride_through: RideThrough | None = Field(None, description="UPS transfer and lockout in voltage dips "
                                             "(wattscale gridcode)")

    @model_validator(mode="after")
    def _unique_generators(self):
        check_unique([g.name for g in self.generators], "generator")
        return self


# ---------------------------------------------------------------- controller
class RulesController(Model):
    """Renewables first; battery charges on surplus or cheap power and discharges on deficit or dear power;
    generators cover what the grid cannot (import limit or outage)."""

    kind: Literal["rules"] = "rules"
    charge_below_usd_per_mwh: float | None = Field(None, ge=-MAX_PRICE, le=MAX_PRICE,
                                                   description="charge from the grid when price is below")
    discharge_above_usd_per_mwh: float | None = Field(None, ge=-MAX_PRICE, le=MAX_PRICE,
                                                      description="discharge at full power when price is above")
    discharge_on_deficit: bool = Field(
        True, description="cover any deficit from the battery before importing; if false the battery keeps its "
                          "energy for high prices, grid shortfalls and outages")
    backup_reserve_fraction: float = Field(0.0, ge=0, le=1, description="share of battery energy that price-driven "
                                                                         "discharge leaves for shortfalls and outages")

    @model_validator(mode="after")
    def _thresholds(self):
        lo, hi = self.charge_below_usd_per_mwh, self.discharge_above_usd_per_mwh
        if lo is not None and hi is not None and lo > hi:
            raise ValueError("charge_below_usd_per_mwh must not exceed discharge_above_usd_per_mwh")
        return self


class MpcController(Model):
    """Model-predictive control: every ``replan_every_h`` solve the optimal dispatch (linopy + HiGHS) over the
    next ``horizon_h`` with a forecast, and apply its first steps. A plan that cannot be solved falls back to
    the rules (sheds the least valuable compute first) and the reason is logged."""

    kind: Literal["mpc"]
    horizon_h: float = Field(48.0, gt=0, le=672, description="look-ahead (at most 28 days)")
    replan_every_h: float = Field(1.0, gt=0, le=672)
    forecaster: Literal["perfect", "noisy", "persistence", "seasonal_naive", "mstl", "lgbm", "nhits"] = Field(
        "perfect", description="perfect foresight, the truth with growing noise, or a forecasting model fed only "
                               "what has been observed (see 'wattscale forecast models')")
    refit_every_h: float = Field(168.0, gt=0, le=1e5, description="forecasting models: hours between refits")
    noise_fraction: float = Field(0.1, ge=0, le=1, description="noisy forecaster: error (1 sigma) at 24 h ahead")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    commitment: Literal["milp", "relaxed", "none"] = Field(
        "milp", description="generators: unit commitment (MILP), its LP relaxation, or no commitment")
    mip_rel_gap: float = Field(1e-3, gt=0, lt=1)
    time_limit_s: float = Field(10.0, gt=0, le=86400, description="per plan; the best plan found so far is used")
    terminal_soc_fraction: float | None = Field(
        None, ge=0, le=1, description="battery energy wanted at the end of each horizon (default: its initial SoC)")
    terminal_penalty_usd_per_mwh: float = Field(100.0, ge=0, le=MAX_VOLL,
                                                description="per MWh short of the terminal energy")

    @model_validator(mode="after")
    def _block(self):
        if self.replan_every_h > self.horizon_h:
            raise ValueError("replan_every_h must not exceed horizon_h")
        return self


Controller = Annotated[Union[RulesController, MpcController], Field(discriminator="kind")]


# ---------------------------------------------------------------- swing study
class SwingCosts(Model):
    """Prices for comparing swing mitigations (order-of-magnitude defaults; set your own)."""

    energy_price_usd_per_mwh: float = Field(60.0, ge=0, le=MAX_PRICE)
    gpu_hour_value_usd: float = Field(2.0, ge=0, le=1e4)
    burn_slowdown_per_unit: float = Field(0.05, ge=0, le=1, description="training throughput lost at full burn")
    discount_rate: float = Field(0.07, ge=0, lt=1)
    battery_usd_per_kw: float = Field(150.0, ge=0, le=1e6)
    battery_usd_per_kwh: float = Field(300.0, ge=0, le=1e6)
    battery_cycle_life: float = Field(6000.0, gt=0, le=1e9)
    supercapacitor_usd_per_kw: float = Field(100.0, ge=0, le=1e6)
    supercapacitor_usd_per_kwh: float = Field(5000.0, ge=0, le=1e7)
    supercapacitor_cycle_life: float = Field(1e6, gt=0, le=1e12)


class PowerSmoothing(Model):
    """GPU power smoothing as a swing mitigation (NVIDIA management library parameters); a ramp left out is sized:
    the fastest that meets the limits."""

    floor_fraction_of_tdp: float = Field(0.0, ge=0, le=1, description="power floor as a share of TDP")
    ramp_up_w_per_s: float | None = Field(None, gt=0, le=1e7, description="per GPU (none: sized)")
    ramp_down_w_per_s: float | None = Field(None, gt=0, le=1e7, description="per GPU (none: sized)")
    hysteresis_ms: float = Field(0.0, ge=0, le=60_000, description="hold before ramping down")


class SwingStudy(Model):
    """Sub-second swing analysis of one site's workloads (``wattscale swings``)."""

    site: str | None = Field(None, max_length=100, description="default: the first site")
    start: str | None = Field(None, description="window start (default: the timeline's start)")
    duration_s: float = Field(600.0, gt=0, le=366 * 86400)
    resolution_s: float = Field(0.01, ge=1e-4, le=3600, description="sample length (10 ms resolves the 3-30 Hz "
                                                                    "band)")
    limits: Path | None = Field(None, description="limits YAML (bands, ramps, dynamic range)")
    costs: SwingCosts = SwingCosts()
    power_smoothing: PowerSmoothing = PowerSmoothing()

    @field_validator("start", mode="before")
    @classmethod
    def _str(cls, v):
        return None if v is None else check_time(str(v))

    @model_validator(mode="after")
    def _samples(self):
        if self.duration_s / self.resolution_s < 16:
            raise ValueError("the window must hold at least 16 samples (duration_s / resolution_s)")
        if self.duration_s / self.resolution_s > 50_000_000:
            raise ValueError("more than 50 million samples: shorten duration_s or coarsen resolution_s")
        return self


# ---------------------------------------------------------------- grid code and system frequency
class FastFrequencyResponse(Model):
    """Fast frequency response (a battery's): power against frequency deviation, up to a capacity."""

    capacity_mw: float | None = Field(None, gt=0, le=MAX_GRID_MW, description="its power (or campus_batteries)")
    campus_batteries: bool = Field(False, description="the campuses' batteries give it: in gridcode those of the "
                                   "campuses that stay on the grid, in swings the site's")
    full_at_hz: float = Field(0.5, gt=0, le=5, description="full output at this deviation (linear from the "
                                                         "deadband)")
    deadband_hz: float = Field(0.0, ge=0, le=1)
    time_s: float = Field(0.1, gt=0, le=60, description="response time constant")

    @model_validator(mode="after")
    def _band(self):
        if (self.capacity_mw is None) == (not self.campus_batteries):
            raise ValueError("give capacity_mw or campus_batteries: true (one of them)")
        return check_below(self, "deadband_hz", "full_at_hz")


class PowerSystem(Model):
    """The grid as an aggregate system-frequency-response model (Anderson and Mirheydar 1990), per unit on the
    online generation ``base_mw``: inertia, load damping, governors with droop and (optionally) reheat."""

    name: str = Field("system", max_length=100)
    base_mw: float = Field(gt=0, le=MAX_GRID_MW * 10, description="online generation: the per-unit base")
    frequency_hz: float = Field(60.0, ge=16, le=400)
    inertia_s: float = Field(gt=0, le=100, description="inertia constant H on base_mw, s")
    damping: float = Field(1.0, ge=0, le=100, description="load damping D: per-unit power per per-unit frequency")
    droop: float | None = Field(0.05, gt=0, le=1, description="governor droop R, per unit (none: no governors)")
    governor_share: float = Field(1.0, gt=0, le=1, description="share of base_mw whose governors respond")
    governor_time_s: float = Field(0.5, gt=0, le=120, description="governor and turbine time constant")
    reheat_time_s: float = Field(0.0, ge=0, le=120, description="reheater time constant (0: no reheat)")
    high_pressure_fraction: float = Field(0.3, gt=0, le=1, description="share of turbine power before the "
                                          "reheater")
    ffr: FastFrequencyResponse | None = None
    deviation_limit_hz: float = Field(0.5, gt=0, le=10, description="largest frequency deviation allowed (for the "
                                      "largest load loss the system can take)")


class GridCode(Model):
    """A voltage disturbance at the campuses (``wattscale gridcode``): the dips, the envelope they must ride through,
    the window simulated."""

    disturbances: Path = Field(description="CSV of dips: time_s, depth_pu (drop below 1 pu), duration_s")
    envelope: Path | None = Field(None, description="CSV no-trip curve: voltage_pu, duration_s (ride through a dip "
                                  "to voltage_pu lasting up to duration_s)")
    start: str | None = Field(None, description="when the disturbance begins (campus loads at that hour; default: "
                              "the timeline's start)")
    after_s: float = Field(120.0, ge=0, le=86400, description="time simulated after the last dip ends")
    resolution_s: float = Field(0.01, ge=1e-3, le=1.0)

    @field_validator("start", mode="before")
    @classmethod
    def _str(cls, v):
        return None if v is None else check_time(str(v))


class ResilienceStudy(Model):
    """Grid outages at a campus (``wattscale resilience``): their lengths, the generators' reliability (defaults of
    NREL REopt's outage simulator, after Marqusee and Jenket 2020), fuel, and the value of compute."""

    site: str | None = Field(None, max_length=100, description="default: the first site")
    durations_h: list[int] = Field(default_factory=lambda: [1, 4, 12, 24, 48, 72, 168, 336], min_length=1,
                                   max_length=50, description="outage lengths to simulate (default 1 h to 14 days)")
    trials: int = Field(2000, ge=100, le=1_000_000, description="outages simulated per length")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    failure_to_start_probability: float = Field(0.0066, ge=0, le=1)
    failure_to_run_per_h: float = Field(0.00157, ge=0, le=1)
    fuel_h: float | None = Field(None, gt=0, le=10_000, description="hours of all generators at full output in the "
                                 "tank (none: unlimited)")
    fuel_mwh: float | None = Field(None, gt=0, le=1e8, description="or the tank as generator energy, MWh")
    battery_start_fraction: float = Field(0.5, ge=0, le=1, description="battery energy at the start of an outage, "
                                          "as a share of its capacity")
    flexible_compute: bool = Field(True, description="the headline figures with flexible compute shed first")
    restart_penalty_h: float = Field(0.5, ge=0, le=100, description="fleet-hours of compute a training job loses "
                                     "when load goes unserved (work since the checkpoint, restart)")
    gpu_hour_value_usd: float = Field(2.0, ge=0, le=1e4)
    outages_per_year: float = Field(1.4, ge=0, le=1000, description="for expected yearly figures (US SAIFI, about "
                                    "1.4 a year with major events, EIA)")
    mean_outage_h: float = Field(4.0, gt=0, le=10_000, description="mean length, exponential (US SAIDI / SAIFI, "
                                 "about 4 h, EIA)")

    @model_validator(mode="after")
    def _one_tank(self):
        if self.fuel_h is not None and self.fuel_mwh is not None:
            raise ValueError("give the tank as fuel_h or fuel_mwh, not both")
        return self

    @field_validator("durations_h")
    @classmethod
    def _durations(cls, v: list[int]) -> list[int]:
        if min(v) < 1 or max(v) > 8760:
            raise ValueError("outage lengths are whole hours from 1 to 8,760")
        return sorted(set(v))


# ---------------------------------------------------------------- capacity sizing
class TechnologyCost(Model):
    """Cost of a unit of capacity (kW, or kWh for battery energy), its life, and optional bounds (MW or MWh)."""

    capex_usd_per_kw: float = Field(ge=0, le=1e6,
                                    description="overnight capital cost per kW (per kWh for battery energy)")
    fixed_om_usd_per_kw_year: float = Field(0.0, ge=0, le=1e5)
    lifetime_years: float = Field(gt=0, le=200)
    min_mw: float = Field(0.0, ge=0, le=MAX_MWH)
    max_mw: float | None = Field(None, ge=0, le=MAX_MWH, description="upper bound (MW, or MWh for battery energy)")
    embodied_t_per_mw: float = Field(0.0, ge=0, le=1e6,
                                     description="life-cycle manufacturing emissions, t CO2e per MW(h)")

    @model_validator(mode="after")
    def _bounds(self):
        if self.max_mw is not None and self.min_mw > self.max_mw:
            raise ValueError("min_mw must not exceed max_mw")
        return self


# Defaults (replace them with quotes for a real study): EIA, Assumptions to AEO2026, Electricity Market Module,
# Table 3 (2025 USD, rounded): PV single-axis 1,400 USD/kW AC and 23.6 USD/kW-yr (here per kW DC at DC/AC 1.2),
# land-based wind 1,500 and 34.6, industrial-frame combustion turbine 1,160 and 7.2; battery split from NREL's
# 2025 storage cost projections (about 240 USD/kWh plus 370 USD/kW, fixed O&M 2.5 % of capex); grid connection
# of a large load: order of RMI's network-upgrade examples (250-1,000 USD/kW), low end.
SIZING_DEFAULTS = {
    "solar": dict(capex_usd_per_kw=1170.0, fixed_om_usd_per_kw_year=20.0, lifetime_years=30.0),  # per kW DC
    "wind": dict(capex_usd_per_kw=1500.0, fixed_om_usd_per_kw_year=35.0, lifetime_years=30.0),
    "battery_power": dict(capex_usd_per_kw=370.0, fixed_om_usd_per_kw_year=9.0, lifetime_years=15.0),
    "battery_energy": dict(capex_usd_per_kw=240.0, fixed_om_usd_per_kw_year=6.0, lifetime_years=15.0),  # per kWh
    "generators": dict(capex_usd_per_kw=1160.0, fixed_om_usd_per_kw_year=7.2, lifetime_years=30.0),
    "grid": dict(capex_usd_per_kw=250.0, fixed_om_usd_per_kw_year=0.0, lifetime_years=40.0),
}


def _cost(kind: str):
    return Field(default_factory=lambda: TechnologyCost(**SIZING_DEFAULTS[kind]))


class Sizing(Model):
    """Capacity planning (``wattscale size``): PV, wind, battery, the site's generators and the grid connection
    that minimise annualised capex and fixed O&M plus a year of optimal operation."""

    site: str | None = Field(None, max_length=100, description="default: the first site")
    discount_rate: float = Field(0.07, ge=0, lt=1)
    max_unserved_fraction: float = Field(0.0, ge=0, le=1, description="reliability: unserved energy / load")
    cfe_target: float | None = Field(None, ge=0, le=1, description="hourly (24/7) carbon-free share to reach")
    sweep: Literal["carbon_price", "cfe_target"] = "carbon_price"
    carbon_prices_usd_per_t: list[float] = Field(default_factory=lambda: [0.0, 50.0, 100.0, 200.0, 400.0],
                                                 max_length=MAX_SWEEP)
    cfe_targets: list[float] = Field(default_factory=lambda: [0.5, 0.7, 0.8, 0.9, 0.95, 1.0], max_length=MAX_SWEEP)
    solar: TechnologyCost = _cost("solar")
    wind: TechnologyCost = _cost("wind")
    battery_power: TechnologyCost = _cost("battery_power")
    battery_energy: TechnologyCost = _cost("battery_energy")
    generators: TechnologyCost = _cost("generators")
    grid: TechnologyCost = _cost("grid")

    @field_validator("carbon_prices_usd_per_t", "cfe_targets")
    @classmethod
    def _sweep(cls, v: list[float]) -> list[float]:
        if not v or min(v) < 0:
            raise ValueError("give at least one value, none negative")
        if max(v) > MAX_CARBON_PRICE:
            raise ValueError(f"values must not exceed {MAX_CARBON_PRICE:g}")
        return sorted(v)

    @field_validator("cfe_targets")
    @classmethod
    def _targets(cls, v: list[float]) -> list[float]:
        if max(v) > 1:
            raise ValueError("carbon-free targets are fractions between 0 and 1")
        return v


class TransferLimit(Model):
    """A link between two sites for peer-to-peer trades, and how much it carries either way."""

    between: tuple[str, str]
    limit_mw: float = Field(ge=0, le=MAX_GRID_MW)

    @model_validator(mode="after")
    def _two_sites(self):
        if self.between[0] == self.between[1]:
            raise ValueError(f"a link joins two different sites, not '{self.between[0]}' to itself")
        return self


class SharedConnection(Model):
    """One grid connection behind which the sites sit together (prices from the first site's grid)."""

    import_limit_mw: float = Field(gt=0, le=MAX_GRID_MW)
    export_limit_mw: float = Field(0.0, ge=0, le=MAX_GRID_MW)
    demand_charge_usd_per_kw_month: float = Field(0.0, ge=0, le=1e4)


class VppEvent(Span):
    """A call on the virtual power plant: cut the sites' net grid draw together by ``reduce_mw`` below their
    baseline from ``start`` for ``duration``, announced ``notice_h`` hours before."""

    reduce_mw: float = Field(gt=0, le=MAX_MW)
    notice_h: float = Field(24.0, ge=0, le=8784,
                            description="24 h: a day-ahead call such as Texas SB6's; 0: an emergency")
    payment_usd_per_mwh: float = Field(0.0, ge=0, le=MAX_PRICE, description="energy payment per MWh delivered")
    capacity_usd_per_mw: float = Field(0.0, ge=0, le=MAX_USD,
                                       description="payment per MW committed, scaled by performance")
    penalty_usd_per_mwh: float = Field(0.0, ge=0, le=MAX_PRICE, description="charged per MWh short of the call")


class Baseline(Model):
    """Customer baseline load: at each event hour, the mean draw at that hour on the ``high`` highest-energy of
    the ``days`` previous days without an event (PJM's 'high 4 of 5' by default)."""

    high: int = Field(4, ge=1, le=366)
    days: int = Field(5, ge=1, le=366)

    @model_validator(mode="after")
    def _x_of_y(self):
        return check_below(self, "high", "days", allow_equal=True)


class Market(Model):
    """Peer-to-peer trading among the sites (``wattscale market``), their coordination behind a shared
    connection, and virtual-power-plant events."""

    mechanism: Literal["pay_as_clear", "pay_as_bid"] = "pay_as_clear"
    k: float = Field(0.5, ge=0, le=1, description="where in the bid-offer gap the price falls (0.5: midpoint)")
    price_floor_usd_per_mwh: float = Field(-1000.0, ge=-MAX_PRICE, le=MAX_PRICE)
    price_cap_usd_per_mwh: float = Field(5000.0, ge=-MAX_PRICE, le=MAX_PRICE)
    transfer_limits: list[TransferLimit] = Field(default_factory=list, max_length=MAX_SITES * MAX_SITES,
                                                 description="links between sites (none: no limits)")
    shared_connection: SharedConnection | None = None
    events: list[VppEvent] = Field(default_factory=list, max_length=MAX_SWEEP)
    baseline: Baseline = Baseline()
    admm_tolerance: float = Field(1e-3, gt=0, lt=1)
    admm_horizon_h: float = Field(24.0, gt=0, le=8784, description="price-coordinated day-ahead plan: its length")

    @model_validator(mode="after")
    def _bounds(self):
        return check_below(self, "price_floor_usd_per_mwh", "price_cap_usd_per_mwh")


class FleetConnection(Model):
    """A substation or grid node several sites hang from: their imports together stay within its limits."""

    name: str = Field(min_length=1, max_length=64)
    sites: list[str] = Field(min_length=2, max_length=MAX_SITES)
    import_limit_mw: float = Field(ge=0, le=MAX_GRID_MW)
    export_limit_mw: float = Field(0.0, ge=0, le=MAX_GRID_MW)


class MigrationLink(Model):
    """Inference that may be served at either of two sites: at most ``max_mw`` of IT power moves (either way), at
    most ``share`` of each workload's movable inference (``flexibility.movable_fraction``), at a cost per MWh of IT
    energy moved (network, replication); the latency class says what may move ('interactive' needs a nearby site,
    'batch' anywhere: recorded with the moves)."""

    between: list[str] = Field(min_length=2, max_length=2)
    max_mw: float = Field(gt=0, le=MAX_GRID_MW)
    share: float = Field(1.0, gt=0, le=1)
    cost_usd_per_mwh: float = Field(0.0, ge=0, le=1e4)
    latency_class: Literal["interactive", "regional", "batch"] = "regional"


class FleetPolicy(Model):
    """When the rule coordinator moves inference: away from a site whose grid is out, or whose load its connection
    cannot carry (headroom), and to a cheaper site when the price (with carbon at the scenario's carbon price)
    differs by more than the link's cost plus ``min_spread_usd_per_mwh``."""

    on_outage: bool = True
    on_headroom: bool = True
    on_price: bool = True
    min_spread_usd_per_mwh: float = Field(10.0, ge=0, le=1e4)


class Fleet(Model):
    """Sites coupled: shared connections and migration links between them."""

    shared_connections: list[FleetConnection] = Field(default_factory=list, max_length=MAX_SITES)
    migration: list[MigrationLink] = Field(default_factory=list, max_length=MAX_SITES * MAX_SITES)
    policy: FleetPolicy = FleetPolicy()


class Scenario(Model):
    name: str = "scenario"  # becomes a safe folder name (see results_folder.default_outdir)
    description: str = Field("", max_length=10_000)
    time: TimeSpec
    sites: list[Site] = Field(min_length=1, max_length=MAX_SITES)
    controller: Controller = RulesController()
    value_of_lost_load_usd_per_mwh: float = Field(10_000.0, ge=0, le=MAX_VOLL)
    carbon_price_usd_per_t: float = Field(0.0, ge=0, le=MAX_CARBON_PRICE,
                                          description="priced into optimised dispatch and sizing")
    gpu_catalog: Path | None = Field(None, description="extra GPU catalog YAML (entries override by name)")
    swings: SwingStudy | None = None
    sizing: Sizing | None = None
    market: Market | None = None
    power_system: PowerSystem | None = Field(None, description="the grid's frequency response (gridcode, swings)")
    gridcode: GridCode | None = None
    resilience: ResilienceStudy | None = None
    fleet: Fleet | None = Field(None, description="coupled sites: shared connections and migration links")

    def site(self, name: str | None = None, *, field: str = "site", file: str | None = None) -> tuple[int, Site]:
        """The site called ``name`` (None: the first) and its index; an unknown name is one clear error naming
        the sites there are."""
        if name is None:
            return 0, self.sites[0]
        for i, site in enumerate(self.sites):
            if site.name == name:
                return i, site
        names = ", ".join(excerpt(s.name, 40) for s in self.sites[:10]) + (", ..." if len(self.sites) > 10 else "")
        raise ScenarioError(f"no site named '{excerpt(name, 40)}'", file=file, field=field, expected=f"one of {names}")

    @model_validator(mode="after")
    def _unique_sites(self):
        check_unique([s.name for s in self.sites], "site")
        names = {s.name for s in self.sites}
        for link in self.market.transfer_limits if self.market else []:
            for name in link.between:
                if name not in names:
                    raise ValueError(f"market.transfer_limits: no site named '{excerpt(name, 40)}' (sites: "
                                     f"{', '.join(sorted(names))})")
        if self.fleet is not None:
            if len(self.sites) < 2:
                raise ValueError("fleet: a fleet couples two or more sites; this scenario has one")
            pairs = set()
            for i, m in enumerate(self.fleet.migration):
                if m.between[0] == m.between[1]:
                    raise ValueError(f"fleet.migration[{i}]: a link joins two different sites, not "
                                     f"'{excerpt(m.between[0], 40)}' to itself")
                pair = frozenset(m.between)
                if pair in pairs:
                    raise ValueError(f"fleet.migration[{i}]: the link between '{excerpt(m.between[0], 40)}' and "
                                     f"'{excerpt(m.between[1], 40)}' is listed twice (a link works both ways)")
                pairs.add(pair)
            where = [(f"fleet.shared_connections[{i}]", c.sites) for i, c in enumerate(self.fleet.shared_connections)]
            where += [(f"fleet.migration[{i}]", m.between) for i, m in enumerate(self.fleet.migration)]
            for field, listed in where:
                for name in listed:
                    if name not in names:
                        raise ValueError(f"{field}: no site named '{excerpt(name, 40)}' (sites: "
                                         f"{', '.join(sorted(names))})")
                if len(set(listed)) != len(listed):
                    raise ValueError(f"{field}: a site is listed twice")
            shared = [n for c in self.fleet.shared_connections for n in c.sites]
            if len(shared) != len(set(shared)):
                raise ValueError("fleet.shared_connections: a site hangs from one shared connection at most")
        return self

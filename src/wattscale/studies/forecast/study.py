"""Forecasting studies of a scenario: rolling-origin backtests of a site's series, and the value of forecasting
(the same MPC year run with perfect foresight, with each forecaster and with persistence)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wattscale.decisions.forecast import backtest as bt
from wattscale.decisions.forecast.interface import Covariates
from wattscale.decisions.forecast.registry import make_forecaster
from wattscale.engine.campus import Campus, prepare
from wattscale.engine.inputs import SiteInputs
from wattscale.engine.simulate import simulate
from wattscale.errors import ForecastError, ScenarioError
from wattscale.guards import check_number, excerpt
from wattscale.scenario.schema import Scenario
from wattscale.studies.simulation.kpi import attach_kpis

MAX_BACKTEST_H = 100 * 8784  # a century of hours: any longer horizon, interval or history is a typo

TARGETS = {"load": ("load_mw", "MW"), "pv": ("pv_mw", "MW"), "wind": ("wind_mw", "MW"),
           "price": ("price_usd_per_mwh", "USD/MWh"), "carbon": ("intensity_kg_per_mwh", "kg/MWh")}


def site_series(campus: Campus | Scenario | str, target: str, *,
                site: str | None = None) -> tuple[pd.Series, Covariates, str]:
    """The target series of a site on the scenario's timeline, its covariates (clear-sky irradiance known in
    advance; air temperature observed), and the site's name."""
    if target not in TARGETS:
        raise ForecastError(f"unknown target '{excerpt(target, 30)}'", field="options.target",
                            expected="one of " + ", ".join(TARGETS))
    campus = prepare(campus)
    _, s = campus.site(site)
    asset = {"pv": "solar", "wind": "wind"}.get(target)
    if asset is not None and getattr(s, asset) is None:
        raise ForecastError(f"site '{excerpt(s.name, 40)}' has no {asset}: its {target} is zero at every step",
                            field="options.target", expected=f"a site with {asset}, or another target")
    inputs = campus.inputs(s.name)
    column = TARGETS[target][0]
    series = pd.Series(getattr(inputs, column), index=inputs.timeline.index, name=column)
    return series, covariates_of(inputs), s.name


def covariates_of(inputs: SiteInputs) -> Covariates:
    """Clear-sky GHI (astronomy: known for any future step) and the observed air temperature."""
    import pvlib

    lat, lon, alt = inputs.location
    index = inputs.timeline.index
    half_step = pd.Timedelta(seconds=inputs.timeline.step_s / 2)  # the sun at the middle of each step
    ghi = pvlib.location.Location(lat, lon, altitude=alt).get_clearsky(index + half_step)["ghi"].to_numpy()
    return Covariates(known=pd.DataFrame({"clearsky_ghi": ghi}, index=index),
                      observed=pd.DataFrame({"temp_air_c": inputs.temp_air_c}, index=index))


@dataclass
class BacktestStudy:
    scenario: str
    site: str
    target: str
    unit: str
    series: pd.Series
    results: list[bt.Backtest]
    horizon_steps: int
    issue_every_steps: int
    refit_every_steps: int
    first_issue: pd.Timestamp
    table: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def refit_every_h(self) -> float:
        return self.refit_every_steps * (self.series.index[1] - self.series.index[0]) / pd.Timedelta(hours=1)

    def summary(self) -> dict:
        return {"scenario": self.scenario, "site": self.site, "target": self.target, "unit": self.unit,
                "horizon_steps": self.horizon_steps, "issue_every_steps": self.issue_every_steps,
                "refit_every_steps": self.refit_every_steps, "refit_every_h": self.refit_every_h,
                "first_issue": str(self.first_issue),
                "issues": int(self.results[0].forecasts["issue_time"].nunique()),
                "reference": bt.REFERENCE, "models": self.table.reset_index(names="model").to_dict(orient="records")}


def run_backtest_study(campus: Campus | Scenario | str, target: str, models: list[str], *, site: str | None = None,
                       horizon_h: float = 48.0, issue_every_h: float = 24.0,
                       refit_every_h: float = bt.REFIT_EVERY_H, train_days: float = 28.0, progress=None) -> BacktestStudy:
    """Backtest ``models`` (and the seasonal-naive reference) on a site's ``target`` series."""
    hours = {"--horizon-h": horizon_h, "--issue-every-h": issue_every_h, "--refit-every-h": refit_every_h}
    for option, value in hours.items():  # before any data is read: a NaN, zero or negative is not rounded away
        check_number(value, option, low=0.0, high=MAX_BACKTEST_H)
    check_number(train_days, "--train-days", low=0.0, high=MAX_BACKTEST_H / 24)
    campus = prepare(campus)
    scenario = campus.scenario
    series, covariates, name = site_series(campus, target, site=site)
    step_h = pd.Timedelta(series.index[1] - series.index[0]).total_seconds() / 3600
    per_h = 1 / step_h
    for option, value in hours.items():
        if value < step_h:
            raise ForecastError(f"{option} is {value:g} h, shorter than the scenario's step of {step_h:g} h",
                                field=option, expected=f"at least {step_h:g} h")
    horizon, every, refit = (max(1, round(h * per_h)) for h in (horizon_h, issue_every_h, refit_every_h))
    first = round(train_days * 24 * per_h)
    names = [bt.REFERENCE] + [m for m in models if m != bt.REFERENCE]
    forecasters = [make_forecaster(m, horizon_steps=horizon) for m in names]  # a missing extra fails before work
    issues = bt.issue_times(series, first_issue=first, horizon_steps=horizon, issue_every_steps=every)
    results = []
    for f in forecasters:
        if progress is not None:
            progress(f.name, 0, len(issues))
        done = [0]

        def tick(k: int, f=f, done=done) -> None:
            done[0] += k
            if progress is not None:
                progress(f.name, done[0], len(issues))

        results.append(bt.run(series, f, issues, horizon, refit_every_steps=refit, covariates=covariates,
                              progress=tick))
    study = BacktestStudy(scenario.name, name, target, TARGETS[target][1], series, results, horizon, every, refit,
                          series.index[issues[0]])
    study.table = bt.skill_table(results)
    return study


@dataclass
class ValueStudy:
    scenario: str
    table: pd.DataFrame  # per forecaster: cost, carbon, and their excess over perfect foresight


def run_value_study(campus: Campus | Scenario | str, forecasters: list[str], *,
                    progress=None) -> ValueStudy:
    """Run the scenario's MPC year once per forecaster ('perfect' and 'persistence' always included)."""
    campus = prepare(campus)
    scenario, scenario_file = campus.scenario, campus.file
    if scenario.controller.kind != "mpc":
        raise ScenarioError("the value of forecasting needs the model-predictive controller", file=scenario_file,
                            field="controller.kind", expected="mpc")
    names = list(dict.fromkeys(["perfect", *forecasters, "persistence"]))
    for n in names:
        if n not in ("perfect", "noisy"):
            make_forecaster(n)  # an unknown name or a missing extra fails before the first year is run
    rows = {}
    for n in names:
        sc = scenario.model_copy(update={"controller": scenario.controller.model_copy(update={"forecaster": n})})
        t = time.perf_counter()
        done = [0]

        def tick(k: int, n=n, done=done) -> None:
            done[0] += k
            if progress is not None:
                progress(n, done[0])

        results = attach_kpis(simulate(Campus(sc, file=scenario_file), progress=tick))
        total = results.extra["total"]
        rows[n] = {"system_cost_usd": total["system_cost_usd"], "co2_t": total["co2_t"],
                   "unserved_mwh": total.get("unserved_mwh", np.nan), "run_s": time.perf_counter() - t}
    table = pd.DataFrame(rows).T
    table["extra_cost_usd"] = table["system_cost_usd"] - table.loc["perfect", "system_cost_usd"]
    table["extra_co2_t"] = table["co2_t"] - table.loc["perfect", "co2_t"]
    gap = table.loc["persistence", "extra_cost_usd"]
    table["gap_closed_vs_persistence"] = 1.0 - table["extra_cost_usd"] / gap if gap > 0 else np.nan
    return ValueStudy(scenario.name, table)

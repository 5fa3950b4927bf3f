"""The forecasting studies: rolling-origin backtests of a site's series, and the value of forecasting for MPC."""
from __future__ import annotations

from pydantic import ConfigDict, Field

from wattscale.decisions.forecast.backtest import REFIT_EVERY_H
from wattscale.engine.campus import Campus
from wattscale.studies.base import Options, Progress, StudyResult


class BacktestOptions(Options):
    """Intervals are checked by the study against the scenario's step (finite, positive, at least one step)."""

    model_config = ConfigDict(allow_inf_nan=True)

    target: str = Field("price", description="series to forecast: load, pv, wind, price or carbon")
    models: list[str] = Field(["lgbm"], min_length=1, description="models to test (see 'wattscale forecast "
                                                                  "models'); seasonal_naive always runs")
    site: str | None = Field(None, description="site name (default: the first)")
    horizon_h: float = Field(48.0, description="hours forecast from each issue time")
    issue_every_h: float = Field(24.0, description="hours between issue times")
    refit_every_h: float = Field(REFIT_EVERY_H, description="hours between refits (default a week; the latest fit "
                                                            "forecasts every issue time in between)")
    train_days: float = Field(28.0, description="days of history before the first issue time")


class ValueOptions(Options):
    models: list[str] = Field(["seasonal_naive", "lgbm"], description="forecasters to compare; 'perfect' and "
                                                                      "'persistence' always run")


def run_backtest(campus: Campus, options: BacktestOptions, progress: Progress) -> StudyResult:
    from wattscale.studies.forecast.report import render_backtest_report
    from wattscale.studies.forecast.study import run_backtest_study

    progress("loading", 0, None)
    study = run_backtest_study(campus, options.target, options.models, site=options.site,
                               horizon_h=options.horizon_h,
                               issue_every_h=options.issue_every_h, refit_every_h=options.refit_every_h,
                               train_days=options.train_days,
                               progress=lambda name, done, total: progress(name, done, total))
    forecasts = "".join(r.forecasts.assign(model=r.model).to_csv(index=False, header=i == 0)
                        for i, r in enumerate(study.results))
    table = study.table.reset_index(names="model")
    kpis = {f"{row.model}_{k}": getattr(row, k) for row in table.itertuples() for k in ("mae", "crps", "skill_crps")}
    return StudyResult("forecast-backtest", options, kpis=kpis, value=study,
                       render_report=lambda: render_backtest_report(study), tables={"metrics": table},
                       files={"forecasts.csv": forecasts}, details=study.summary())


def run_value(campus: Campus, options: ValueOptions, progress: Progress) -> StudyResult:
    from wattscale.studies.forecast.report import render_value_report
    from wattscale.studies.forecast.study import run_value_study

    runs = len(dict.fromkeys(["perfect", *options.models, "persistence"]))
    steps = campus.timeline.n_steps * len(campus.scenario.sites)
    progress("loading", 0, steps * runs)
    finished: dict[str, int] = {}

    def tick(name: str, done: int) -> None:
        finished[name] = done
        progress(f"MPC with {name}", sum(finished.values()), steps * runs)

    study = run_value_study(campus, options.models, progress=tick)
    table = study.table.reset_index(names="forecaster")
    kpis = {f"{r.forecaster}_extra_cost_usd": r.extra_cost_usd for r in table.itertuples()}
    return StudyResult("forecast-value", options, kpis=kpis, value=study,
                       render_report=lambda: render_value_report(study),
                       tables={"value": table},
                       details={"scenario": campus.name, "runs": table.to_dict(orient="records")})

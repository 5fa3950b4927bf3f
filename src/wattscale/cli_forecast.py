"""``wattscale forecast backtest|value|models``: forecast a scenario's series and measure what forecasts are worth."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.markup import escape

from wattscale.cli_grid import OUTDIR, QUIET, _bar, _table, _write
from wattscale.errors import WattscaleError

app = typer.Typer(help="Forecast a scenario's load, PV, wind, price or carbon intensity; backtest models with "
                       "issue-time discipline; and measure the value of forecasting in MPC operation.\n\n"
                       "Example: wattscale forecast backtest examples/forecast-ercot-2023.yaml --target price "
                       "--model lgbm",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
SCENARIO = typer.Argument(..., help="scenario YAML file", show_default=False)


def _checked_outdir(outdir, name: str, suffix: str) -> Path:
    from wattscale.cli import checked_outdir
    return checked_outdir(outdir, name, suffix)


def _console():
    from wattscale.cli import console, err_console, fail
    return console, err_console, fail


def _name(text) -> str:
    from wattscale.cli import shown
    return shown(text)


@app.command()
def models() -> None:
    """List the forecasting models."""
    from wattscale.decisions.forecast.registry import MODELS

    console, _e, _f = _console()
    for name, text in MODELS.items():
        console.print(f"[bold]{name}[/]: {escape(text)}")


@app.command()
def backtest(scenario: Path = SCENARIO,
             target: str = typer.Option("price", "--target", "-t", help="load | pv | wind | price | carbon"),
             model: list[str] = typer.Option(["lgbm"], "--model", "-m",
                                             help="model to test (repeat for several; see 'wattscale forecast "
                                                  "models'); seasonal_naive always runs as the reference"),
             site: str = typer.Option(None, help="site name (default: the first)"),
             horizon_h: float = typer.Option(48.0, help="hours forecast from each issue time"),
             issue_every_h: float = typer.Option(24.0, help="hours between issue times"),
             refit_every_h: float = typer.Option(24.0, help="hours between refits"),
             train_days: float = typer.Option(28.0, help="days of history before the first issue time"),
             outdir: Path = OUTDIR, quiet: bool = QUIET) -> None:
    """Backtest forecasts of SCENARIO's TARGET series from rolling issue times; print the scores and skill against
    seasonal naive, and write report.html, metrics.csv, forecasts.csv and summary.json to OUTDIR."""
    from wattscale.analysis.forecast_report import render_backtest_report
    from wattscale.analysis.forecast_study import run_backtest_study
    from wattscale.scenario import load_scenario

    console, _err, fail = _console()
    try:
        sc = load_scenario(scenario)
        out = _checked_outdir(outdir, sc.name, f"-forecast-{target}")
        with _bar("{task.description}", quiet, "issue times") as bar:
            task = bar.add_task("loading", total=1)
            study = run_backtest_study(
                sc, target, model, site=site, scenario_file=str(scenario), horizon_h=horizon_h,
                issue_every_h=issue_every_h, refit_every_h=refit_every_h, train_days=train_days,
                progress=lambda name, done, total: bar.update(task, description=name, completed=done, total=total))
        forecasts = "".join(r.forecasts.assign(model=r.model).to_csv(index=False, header=i == 0)
                            for i, r in enumerate(study.results))
        out = _write(out,
                     {"report.html": render_backtest_report(study),
                      "metrics.csv": study.table.reset_index(names="model").to_csv(index=False),
                      "forecasts.csv": forecasts, "summary.json": json.dumps(study.summary(), indent=2)})
    except WattscaleError as exc:
        fail(exc, scenario)
    cols = ["mae", "crps", "skill_mae", "skill_crps", "fit_s"]  # all scores: metrics.csv
    shown = study.table[cols].rename(columns={"fit_s": "fit s"}).reset_index(names="model")
    console.print(_table(f"{target} at {_name(study.site)} ({study.unit}): {study.summary()['issues']} issue times, "
                         f"{study.horizon_steps} steps ahead", shown))
    console.print(f"wrote {escape(str(out))}/report.html")


@app.command()
def value(scenario: Path = SCENARIO,
          model: list[str] = typer.Option(["seasonal_naive", "lgbm"], "--model", "-m",
                                          help="forecasters to compare (repeat); 'perfect' and 'persistence' "
                                               "always run"),
          outdir: Path = OUTDIR, quiet: bool = QUIET) -> None:
    """Run SCENARIO's MPC controller once per forecaster and report the cost and carbon of each against perfect
    foresight and persistence (report.html, value.csv, summary.json in OUTDIR)."""
    from wattscale.analysis.forecast_report import render_value_report
    from wattscale.analysis.forecast_study import run_value_study
    from wattscale.engine.inputs import timeline_of
    from wattscale.scenario import load_scenario

    console, _err, fail = _console()
    try:
        sc = load_scenario(scenario)
        out = _checked_outdir(outdir, sc.name, "-forecast-value")
        steps = timeline_of(sc).n_steps * len(sc.sites)
        with _bar("{task.description}", quiet, "steps") as bar:
            task = bar.add_task("loading", total=steps)
            study = run_value_study(sc, model, scenario_file=str(scenario),
                                    progress=lambda name, done: bar.update(task, description=name, completed=done))
        table = study.table.reset_index(names="forecaster")
        out = _write(out,
                     {"report.html": render_value_report(study), "value.csv": table.to_csv(index=False),
                      "summary.json": json.dumps({"scenario": sc.name, "runs": table.to_dict(orient="records")},
                                                 indent=2)})
    except WattscaleError as exc:
        fail(exc, scenario)
    shown = pd.DataFrame({"forecaster": table["forecaster"], "cost M USD": table["system_cost_usd"] / 1e6,
                          "extra M USD": table["extra_cost_usd"] / 1e6, "extra CO2 t": table["extra_co2_t"],
                          "gap closed": table["gap_closed_vs_persistence"]})  # every column: value.csv
    console.print(_table(f"Value of forecasting: {_name(sc.name)}", shown))
    console.print(f"wrote {escape(str(out))}/report.html")

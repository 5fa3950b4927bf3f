"""``wattscale forecast backtest|value|models``: forecast a scenario's series and measure what forecasts are worth."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.markup import escape

from wattscale.cli.common import OUTDIR, QUIET, SET, console, df_table, print_report_path, run_study_command, shown
from wattscale.decisions.forecast.backtest import REFIT_EVERY_H

app = typer.Typer(help="Forecast a scenario's load, PV, wind, price or carbon intensity; backtest models with "
                       "issue-time discipline; and measure the value of forecasting in MPC operation.\n\n"
                       "Example: wattscale forecast backtest examples/forecast-ercot-2023.yaml --target price "
                       "--model lgbm",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
SCENARIO = typer.Argument(..., help="scenario YAML file", show_default=False)


@app.command()
def models() -> None:
    """List the forecasting models."""
    from wattscale.decisions.forecast.registry import MODELS

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
             refit_every_h: float = typer.Option(REFIT_EVERY_H, help="hours between refits (the latest fit "
                                                                   "forecasts every issue time in between)"),
             train_days: float = typer.Option(28.0, help="days of history before the first issue time"),
             outdir: Path = OUTDIR, set_: list[str] = SET, quiet: bool = QUIET) -> None:
    """Backtest forecasts of SCENARIO's TARGET series from rolling issue times; print the scores and skill against
    seasonal naive, and write report.html, metrics.csv, forecasts.csv and summary.json to OUTDIR."""
    from wattscale.results_folder import safe_folder_name

    result, out = run_study_command("forecast-backtest", scenario, outdir=outdir,
                                    changes=set_, suffix=f"-forecast-{safe_folder_name(target)}", quiet=quiet,
                                    target=target,
                                    models=model, site=site, horizon_h=horizon_h, issue_every_h=issue_every_h,
                                    refit_every_h=refit_every_h, train_days=train_days)
    study = result.value
    cols = ["mae", "crps", "skill_mae", "skill_crps", "fit_s"]  # all scores: metrics.csv
    table = study.table[cols].rename(columns={"fit_s": "fit s"}).reset_index(names="model")
    for c in ("skill_mae", "skill_crps"):  # shares as people read them
        table[c] = [f"{v:+.1%}" if v == v else "-" for v in table[c]]
    table = table.rename(columns={"skill_mae": "skill MAE", "skill_crps": "skill CRPS"})
    console.print(df_table(f"{target} at {shown(study.site)} ({study.unit}): {study.summary()['issues']} issue "
                           f"times, {study.horizon_steps} steps ahead, refitted every {study.refit_every_h:g} h",
                           table))
    print_report_path(out)


@app.command()
def value(scenario: Path = SCENARIO,
          model: list[str] = typer.Option(["seasonal_naive", "lgbm"], "--model", "-m",
                                          help="forecasters to compare (repeat); 'perfect' and 'persistence' "
                                               "always run"),
          outdir: Path = OUTDIR, set_: list[str] = SET, quiet: bool = QUIET) -> None:
    """Run SCENARIO's MPC controller once per forecaster and report the cost and carbon of each against perfect
    foresight and persistence (report.html, value.csv, summary.json in OUTDIR)."""
    result, out = run_study_command("forecast-value", scenario, outdir=outdir, changes=set_, suffix="-forecast-value",
                                    quiet=quiet,
                                    models=model)
    table = result.tables["value"]
    shown_table = pd.DataFrame({"forecaster": table["forecaster"], "cost M USD": table["system_cost_usd"] / 1e6,
                                "extra M USD": table["extra_cost_usd"] / 1e6, "extra CO2 t": table["extra_co2_t"],
                                "gap closed": table["gap_closed_vs_persistence"]})  # every column: value.csv
    console.print(df_table(f"Value of forecasting: {shown(result.details['scenario'])}", shown_table))
    print_report_path(out)

"""Forecasting on a year of hourly 2023 ERCOT data (examples/forecast-ercot-2023.yaml): each figure with its peer or
goal and their ratio.

1. Models: a one-year backtest per target (carbon intensity, price), 48 h ahead from one issue a day at midnight
   (--quick: a week), the first after 28 days, refitted weekly (the command's default). The peer: statsforecast's
   own rolling-origin cross-validation (``StatsForecast.cross_validation``) of the same MSTL on the same windows,
   against wattscale's ``mstl`` (re-estimated at every issue): the ratio of their times and of their errors.
2. The lgbm backtest command, ``wattscale forecast backtest examples/forecast-ercot-2023.yaml --target price --model
   lgbm`` (335 issues, a day apart, weekly refits), timed as a subprocess: goal at most 60 s, MAE and CRPS against
   the old settings (daily refits; 200 trees of 31 leaves at a learning rate of 0.05 on training issues 4 h apart).
3. The value study command, ``wattscale forecast value examples/forecast-ercot-2023.yaml``, timed: goal at most 60 s.
4. N-HiTS on carbon, an issue a day, weekly refits: coverage of the 10-90 % interval (goal: within 5 points of
   80 %) and CRPS against seasonal naive (goal: at least as good).

Before, measured once on the 2-core machine (load average about 1) with the code of commit 8194d45 (``--before``
re-runs the lgbm and N-HiTS settings it can, about 15 min more):
  lgbm backtest command: 875 s (796 s of CPU; 45 min on a busy machine), daily refits; lgbm price MAE 41.12, CRPS
  32.80 USD/MWh (seasonal naive 40.77, 38.91); carbon MAE 46.17, CRPS 32.82 kg/MWh (seasonal naive 55.38, 39.83).
  value command: 137 s; lgbm +9.40 M USD, +2,286 t CO2 over perfect foresight (seeds 1 and 2: +9.19, +9.90 M USD).
  nhits, carbon as in 4: 20.5 % inside the 10-90 % interval, CRPS 49.17 against seasonal naive's 39.83 (-23.5 %).

Run: .venv/bin/python benchmarks/forecast.py [--quick] [--before] [--repeat N] [--models persistence,mstl,lgbm,nhits]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from wattscale.decisions.forecast import backtest as bt
from wattscale.decisions.forecast import metrics
from wattscale.studies.forecast.study import run_backtest_study, site_series

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "forecast-ercot-2023.yaml"
GOAL_S = 60.0
BEFORE = {"backtest_s": 875.0, "value_s": 137.0, "price_mae": 41.12, "price_crps": 32.80,
          "value_extra_musd": 9.40, "nhits_inside": 0.205, "nhits_skill_crps": -0.235}


def peer_mstl(series: pd.Series, first: int, horizon: int, every: int) -> tuple[float, float, int]:
    """statsforecast cross-validation of MSTL on the same issue times: (seconds, MAE, windows)."""
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS

    n_windows = (len(series) - horizon - first) // every + 1
    cut = first + (n_windows - 1) * every + horizon  # the last window ends exactly here
    utc = series.index.tz_convert("UTC").tz_localize(None)
    df = pd.DataFrame({"unique_id": "s", "ds": utc[:cut], "y": series.to_numpy()[:cut]})
    sf = StatsForecast(models=[MSTL(season_length=[24, 168], trend_forecaster=AutoETS(model="ZZN"))], freq="h")
    t = time.perf_counter()
    cv = sf.cross_validation(df=df, h=horizon, step_size=every, n_windows=n_windows, refit=True,
                            input_size=56 * 24)  # wattscale's mstl fits the last 56 days too
    return time.perf_counter() - t, metrics.mae(cv["y"], cv["MSTL"]), n_windows


def inside(forecasts: pd.DataFrame) -> float:
    """Share of actuals within the 10-90 % interval."""
    return float(((forecasts["actual"] >= forecasts["q10"]) & (forecasts["actual"] <= forecasts["q90"])).mean())


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def models_table(args) -> None:
    every_h = 168 if args.quick else 24
    print(f"1. one-year hourly backtest, an issue every {every_h} h, 48 h ahead, refitted every "
          f"{every_h if args.quick else bt.REFIT_EVERY_H:g} h (2 cores; LightGBM on one thread)")
    for target in args.targets.split(","):
        study = run_backtest_study(SCENARIO, target, args.models.split(","), horizon_h=48, issue_every_h=every_h,
                                   refit_every_h=every_h if args.quick else bt.REFIT_EVERY_H, train_days=28)
        t = study.table
        cover = {r.model: inside(r.forecasts) for r in study.results}
        print(f"\n{target} ({study.unit}), {study.summary()['issues']} issue times from {study.first_issue}:")
        print(f"{'model':>15} {'fits':>5} {'fit s':>8} {'predict s':>9} {'MAE':>8} {'CRPS':>8} {'skill MAE':>9} "
              f"{'skill CRPS':>10} {'in 10-90':>8}")
        for name, r in t.iterrows():
            print(f"{name:>15} {int(r.fits):>5} {r.fit_s:>8.1f} {r.predict_s:>9.1f} {r.mae:>8.2f} {r.crps:>8.2f} "
                  f"{r.skill_mae:>9.1%} {r.skill_crps:>10.1%} {cover[name]:>8.1%}")
        if "mstl" in t.index:
            series, _, _ = site_series(SCENARIO, target)
            peer_s, peer_mae, windows = peer_mstl(series, 28 * 24, 48, every_h)
            ours = t.loc["mstl"]
            print(f"  peer: statsforecast cross_validation of MSTL, {windows} windows: {peer_s:.1f} s, MAE "
                  f"{peer_mae:.2f}; wattscale mstl {ours.fit_s + ours.predict_s:.1f} s, MAE {ours.mae:.2f} "
                  f"(time ratio {(ours.fit_s + ours.predict_s) / peer_s:.2f}, MAE ratio {ours.mae / peer_mae:.3f})")


def timed_command(args: list[str], repeat: int) -> tuple[float, list[float], Path]:
    """Median wall seconds of ``wattscale ARGS -q -o DIR`` over ``repeat`` runs, every run's seconds, the last DIR."""
    exe = Path(sys.executable).with_name("wattscale")
    command = [str(exe)] if exe.exists() else [shutil.which("wattscale") or "wattscale"]
    times, out = [], None
    for _ in range(repeat):
        out = Path(tempfile.mkdtemp(prefix="wattscale-bench-"))
        t = time.perf_counter()
        subprocess.run([*command, *args, "-q", "-o", str(out / "run")], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return float(np.median(times)), times, out / "run"


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def lgbm_command(args) -> None:
    print(f"\n2. wattscale forecast backtest {SCENARIO.relative_to(ROOT)} --target price --model lgbm ({load()})")
    median, times, out = timed_command(["forecast", "backtest", str(SCENARIO), "--target", "price", "--model", "lgbm"],
                                       args.repeat)
    t = pd.read_csv(out / "metrics.csv").set_index("model")
    lgbm, ref = t.loc["lgbm"], t.loc[bt.REFERENCE]
    print(f"  {median:.1f} s (median of {len(times)}: {', '.join(f'{s:.1f}' for s in times)}), goal <= {GOAL_S:g} s: "
          f"{verdict(median <= GOAL_S)}; 335 issues, {int(lgbm.fits)} fits (weekly)")
    before = (BEFORE["price_mae"], BEFORE["price_crps"], f"{BEFORE['backtest_s']:.0f} s (quoted)")
    if args.before:
        before = old_lgbm()
    print(f"  lgbm MAE {lgbm.mae:.2f}, CRPS {lgbm.crps:.2f} USD/MWh (seasonal naive {ref.mae:.2f}, {ref.crps:.2f}); "
          f"before: MAE {before[0]:.2f}, CRPS {before[1]:.2f} in {before[2]}")
    print(f"  after / before: time {median / BEFORE['backtest_s']:.3f} (against the quoted {BEFORE['backtest_s']:.0f} s), MAE "
          f"{lgbm.mae / before[0]:.3f}, CRPS {lgbm.crps / before[1]:.3f} (goal: no loss of skill, <= 1: "
          f"{verdict(lgbm.mae <= before[0] * 1.0005 and lgbm.crps <= before[1] * 1.0005)})")


def old_lgbm() -> tuple[float, float, str]:
    """The old settings, on today's code: daily refits, 200 trees of 31 leaves at 0.05, training issues 4 h apart."""
    from wattscale.decisions.forecast.boosting import LightGbm

    series, covariates, _ = site_series(SCENARIO, "price")
    issues = bt.issue_times(series, first_issue=28 * 24, horizon_steps=48, issue_every_steps=24)
    model = LightGbm(horizon_steps=48, issue_every_h=4, n_estimators=200, learning_rate=0.05, num_leaves=31)
    t = time.perf_counter()
    r = bt.run(series, model, issues, 48, refit_every_steps=24, covariates=covariates)
    return r.scores["mae"], r.scores["crps"], f"{time.perf_counter() - t:.0f} s (lgbm alone, run now)"


def value_command(args) -> None:
    print(f"\n3. wattscale forecast value {SCENARIO.relative_to(ROOT)} ({load()})")
    median, times, out = timed_command(["forecast", "value", str(SCENARIO)], args.repeat)
    t = pd.read_csv(out / "value.csv").set_index("forecaster")
    print(f"  {median:.1f} s (median of {len(times)}: {', '.join(f'{s:.1f}' for s in times)}), goal <= {GOAL_S:g} s: "
          f"{verdict(median <= GOAL_S)}; before {BEFORE['value_s']:.0f} s, ratio {median / BEFORE['value_s']:.2f}")
    for name, r in t.iterrows():
        print(f"  {name:>15}: extra {r.extra_cost_usd / 1e6:6.2f} M USD, {r.extra_co2_t:8,.0f} t CO2 over perfect "
              "foresight" + (f" (before +{BEFORE['value_extra_musd']:.2f} M USD)" if name == "lgbm" else ""))


def nhits_calibration(args) -> None:
    print(f"\n4. N-HiTS on carbon: an issue a day, 48 h ahead, refitted every {bt.REFIT_EVERY_H:g} h ({load()})")
    from wattscale.decisions.forecast.neural import NHits

    series, covariates, _ = site_series(SCENARIO, "carbon")
    issues = bt.issue_times(series, first_issue=28 * 24, horizon_steps=48, issue_every_steps=24)
    refit = round(bt.REFIT_EVERY_H)
    ref = bt.run(series, bt_reference(), issues, 48, refit_every_steps=refit, covariates=covariates)
    runs = {"nhits (calibrated)": NHits(horizon_steps=48)}
    if args.before:
        runs["nhits (calibration_days=0)"] = NHits(horizon_steps=48, calibration_days=0.0)
    print(f"{'model':>27} {'s':>6} {'MAE':>7} {'CRPS':>7} {'in 10-90':>8} {'skill CRPS':>10}")
    print(f"{bt.REFERENCE:>27} {'':>6} {ref.scores['mae']:>7.2f} {ref.scores['crps']:>7.2f} "
          f"{inside(ref.forecasts):>8.1%} {0:>10.1%}")
    for name, model in runs.items():
        t = time.perf_counter()
        r = bt.run(series, model, issues, 48, refit_every_steps=refit, covariates=covariates)
        s, share = time.perf_counter() - t, inside(r.forecasts)
        skill = metrics.skill(r.scores["crps"], ref.scores["crps"])
        print(f"{name:>27} {s:>6.0f} {r.scores['mae']:>7.2f} {r.scores['crps']:>7.2f} {share:>8.1%} {skill:>10.1%}")
        if name == "nhits (calibrated)":
            print(f"  coverage {share:.1%}, goal 80 % +- 5 points: {verdict(abs(share - 0.8) <= 0.05)}; CRPS / seasonal "
                  f"naive {r.scores['crps'] / ref.scores['crps']:.3f}, goal <= 1: "
                  f"{verdict(r.scores['crps'] <= ref.scores['crps'])} (before: {BEFORE['nhits_inside']:.1%} inside, "
                  f"skill {BEFORE['nhits_skill_crps']:+.1%})")


def bt_reference():
    from wattscale.decisions.forecast.registry import make_forecaster

    return make_forecaster(bt.REFERENCE, horizon_steps=48)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the model table with one issue a week instead of a day")
    ap.add_argument("--before", action="store_true", help="also run the old lgbm settings (about 15 min) and "
                                                          "N-HiTS without calibration")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each timed command (the median is quoted)")
    ap.add_argument("--models", default="persistence,mstl,lgbm,nhits")
    ap.add_argument("--targets", default="carbon,price")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    os.environ.setdefault("WATTSCALE_DATA", str(ROOT.parent / "shared" / "data"))
    models_table(args)
    lgbm_command(args)
    value_command(args)
    nhits_calibration(args)


if __name__ == "__main__":
    main()

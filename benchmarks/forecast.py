"""A one-year hourly backtest with daily refits, per model: time and skill against seasonal naive.

The series: real 2023 ERCOT carbon intensity (Electricity Maps) and day-ahead hub price, on the hourly timeline of
examples/forecast-ercot-2023.yaml. One issue time a day at midnight, 48 hours ahead, every model refitted before
every issue on the history before it (the first issue after 28 days). The peer: statsforecast's own rolling-origin
cross-validation with refits (``StatsForecast.cross_validation``) of the same MSTL model on the same windows,
against wattscale's backtest of its ``mstl`` model: the ratio of their times and of their errors.

Run: .venv/bin/python benchmarks/forecast.py [--quick] [--models seasonal_naive,persistence,mstl,lgbm,nhits]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

from wattscale.decisions.forecast import metrics
from wattscale.studies.forecast.study import run_backtest_study, site_series

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "forecast-ercot-2023.yaml"


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one issue a week instead of a day")
    ap.add_argument("--models", default="persistence,mstl,lgbm,nhits")
    ap.add_argument("--targets", default="carbon,price")
    args = ap.parse_args()
    os.environ.setdefault("WATTSCALE_DATA", str(ROOT.parent / "shared" / "data"))
    every_h = 168 if args.quick else 24
    models = args.models.split(",")
    print(f"one-year hourly backtest, an issue every {every_h} h, 48 h ahead, refit before every issue "
          f"(2 cores; LightGBM on one thread)")
    for target in args.targets.split(","):
        study = run_backtest_study(SCENARIO, target, models, horizon_h=48,
                                   issue_every_h=every_h, refit_every_h=every_h, train_days=28)
        t = study.table
        print(f"\n{target} ({study.unit}), {study.summary()['issues']} issue times from {study.first_issue}:")
        print(f"{'model':>15} {'fits':>5} {'fit s':>8} {'predict s':>9} {'MAE':>8} {'CRPS':>8} {'skill MAE':>9} "
              f"{'skill CRPS':>10}")
        for name, r in t.iterrows():
            print(f"{name:>15} {int(r.fits):>5} {r.fit_s:>8.1f} {r.predict_s:>9.1f} {r.mae:>8.2f} {r.crps:>8.2f} "
                  f"{r.skill_mae:>9.1%} {r.skill_crps:>10.1%}")
        if "mstl" in t.index:
            series, _, _ = site_series(SCENARIO, target)
            peer_s, peer_mae, windows = peer_mstl(series, 28 * 24, 48, every_h)
            ours = t.loc["mstl"]
            print(f"  peer: statsforecast cross_validation of MSTL, {windows} windows: {peer_s:.1f} s, MAE "
                  f"{peer_mae:.2f}; wattscale mstl {ours.fit_s + ours.predict_s:.1f} s, MAE {ours.mae:.2f} "
                  f"(time ratio {(ours.fit_s + ours.predict_s) / peer_s:.2f}, MAE ratio {ours.mae / peer_mae:.3f})")


if __name__ == "__main__":
    main()

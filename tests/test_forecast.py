"""Forecasting: scores against closed forms, the naive rules by hand, the look-ahead guard for every model,
learned models against seasonal naive on real data, the MPC fed by a learned model, and bad input."""
from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import ROOT
from wattscale.decisions.forecast import backtest as bt
from wattscale.decisions.forecast import conformal, metrics
from wattscale.decisions.forecast.interface import QUANTILES, Covariates, Forecaster, calendar
from wattscale.decisions.forecast.naive import Persistence, SeasonalNaive
from wattscale.decisions.forecast.registry import make_forecaster
from wattscale.errors import ForecastError, WattscaleError
from wattscale.studies.forecast.study import run_backtest_study, site_series


def hourly(values, start="2023-03-01", tz="America/Chicago") -> pd.Series:
    return pd.Series(np.asarray(values, float), index=pd.date_range(start, periods=len(values), freq="h", tz=tz))


def daily_cycle(days: int, noise: float = 0.0, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(days * 24)
    weekly = 1 + 0.2 * (pd.date_range("2023-03-01", periods=len(t), freq="h").dayofweek >= 5)
    return hourly(100 + 30 * np.sin(2 * np.pi * t / 24) * weekly + noise * rng.standard_normal(len(t)))


# ------------------------------------------------------------------------- scores
def test_crps_from_dense_quantiles_matches_the_gaussian_closed_form():
    """Gneiting and Raftery (2007): CRPS(N(mu, s), y) = s (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi))."""
    rng = np.random.default_rng(3)
    mu, sigma = rng.normal(50, 10, 200), rng.uniform(1, 8, 200)
    y = mu + sigma * rng.standard_normal(200)
    z = (y - mu) / sigma
    exact = np.mean(sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi)))
    levels = (np.arange(199) + 0.5) / 199
    approx = metrics.crps(y, {q: stats.norm.ppf(q, mu, sigma) for q in levels})
    assert approx == pytest.approx(exact, rel=0.01)


def test_median_pinball_is_half_the_absolute_error_and_skill_is_relative():
    rng = np.random.default_rng(0)
    a, p = rng.normal(size=500), rng.normal(size=500)
    assert metrics.pinball(a, p, 0.5) == pytest.approx(metrics.mae(a, p) / 2)
    assert metrics.skill(8.0, 10.0) == pytest.approx(0.2) and metrics.skill(10.0, 10.0) == 0.0


# ------------------------------------------------------------------------- calibration
def test_conformal_shifts_move_too_narrow_quantiles_to_the_gaussian_closed_form():
    """Quantiles that assume half the true spread of Gaussian errors, shifted by the conformal quantiles of 400
    held-out residuals per lead: they land on sigma * Phi^-1(q) and cover the nominal share of fresh errors."""
    rng = np.random.default_rng(5)
    sigma = 3.0
    narrow = stats.norm.ppf(QUANTILES, scale=sigma / 2)
    held_out = sigma * rng.standard_normal((400, 24))
    calibrated = narrow + conformal.shifts(held_out[:, :, None] - narrow, QUANTILES, pool_steps=3)  # (lead, level)
    assert np.allclose(calibrated, stats.norm.ppf(QUANTILES, scale=sigma), atol=0.15 * sigma)
    fresh = sigma * rng.standard_normal((5000, 24))
    assert np.allclose((fresh[:, :, None] <= calibrated).mean(axis=(0, 1)), QUANTILES, atol=0.02)
    inside = ((fresh >= calibrated[:, 0]) & (fresh <= calibrated[:, -1])).mean()
    assert inside == pytest.approx(0.8, abs=0.02)


def test_conformal_quantile_is_the_finite_sample_order_statistic():
    """Of n exchangeable residuals, the ceil((n + 1) q)-th smallest is exceeded with probability at most 1 - q."""
    v = np.arange(1.0, 20.0)  # n = 19
    assert conformal.conformal_quantile(v, 0.9) == 18.0 and conformal.conformal_quantile(v, 0.1) == 2.0
    assert conformal.conformal_quantile(v, 0.5) == 10.0  # the median
    assert conformal.conformal_quantile(v[:5], 0.9) == 5.0 and conformal.conformal_quantile(v[:5], 0.1) == 1.0


def test_nhits_calibrated_interval_matches_known_noise():
    """A daily cycle plus Gaussian noise of known sigma: the 10-90 % interval covers about 80 % and is about
    2 * 1.2816 sigma wide (the closed form for a perfect median)."""
    pytest.importorskip("torch")
    sigma = 5.0
    series = daily_cycle(70, noise=sigma)
    model = make_forecaster("nhits", horizon_steps=24).fit(series.iloc[:49 * 24])
    assert model.shift.shape == (24, 5) and np.all(model.shift[:, 2] == 0.0)  # held-out shifts; median unmoved
    f = pd.concat([model.predict(series.iloc[:i], 24).frame().assign(actual=series.to_numpy()[i:i + 24])
                   for i in range(49 * 24, 69 * 24 + 1, 6)])
    inside = ((f["actual"] >= f["q10"]) & (f["actual"] <= f["q90"])).mean()
    assert 0.72 < inside < 0.88
    assert (f["q90"] - f["q10"]).mean() == pytest.approx(2 * stats.norm.ppf(0.9) * sigma, rel=0.25)
    point_only = make_forecaster("nhits", horizon_steps=24, quantiles=())
    point_only.steps = 5
    assert point_only.fit(series).shift is None  # no level to calibrate: nothing held out


# ------------------------------------------------------------------------- naive rules
def test_naive_rules_by_hand():
    y = hourly(np.arange(72.0))
    p = Persistence().predict(y, 30)
    assert np.all(p.point == 71.0) and p.issue_time == y.index[-1] + pd.Timedelta(hours=1)
    s = SeasonalNaive().predict(y, 30)
    assert np.array_equal(s.point[:24], np.arange(48.0, 72.0))  # the last observed day ...
    assert np.array_equal(s.point[24:], np.arange(48.0, 54.0))  # ... again for the second day
    # on a ramp the rule's errors are exactly its lag: +24 a day ahead, +48 two days ahead
    lag = np.where(np.arange(30) < 24, 24.0, 48.0)
    assert all(np.allclose(v, s.point + lag) for v in s.quantiles.values())


def test_persistence_quantiles_cover_a_random_walk():
    rng = np.random.default_rng(1)
    walk = hourly(np.cumsum(rng.standard_normal(24 * 200)))
    result = bt.run(walk, Persistence(), np.arange(24 * 60, len(walk) - 24, 24), 24, refit_every_steps=24)
    f = result.forecasts
    inside = ((f["actual"] >= f["q10"]) & (f["actual"] <= f["q90"])).mean()
    assert 0.72 < inside < 0.88  # the nominal 80 % interval


# ------------------------------------------------------------------------- refit schedule
class LastFit(Forecaster):
    """Forecasts the length of the history it was last fitted on."""

    name = "last_fit"

    def _fit(self, history, covariates):
        self.fitted_on = len(history)

    def _predict(self, history, index, covariates):
        return np.full(len(index), float(self.fitted_on)), {}


def test_refits_follow_the_interval_and_the_latest_fit_forecasts_in_between():
    series = daily_cycle(30)
    issues = np.arange(5 * 24, 25 * 24, 24)  # 20 issue times a day apart
    result = bt.run(series, LastFit(quantiles=()), issues, 24, refit_every_steps=7 * 24)
    fitted_on = result.forecasts.groupby("issue_time")["point"].first().to_numpy()
    expected = issues[(np.arange(len(issues)) // 7) * 7]  # fitted at the 1st, 8th and 15th issue
    assert result.fits == 3 and np.array_equal(fitted_on, expected)
    # an interval that is not a whole number of issue spacings: the first issue at least that far from the last fit
    assert [b[0] for b in bt.refit_blocks(issues, 60)] == [issues[0], issues[3], issues[6], issues[9], issues[12],
                                                            issues[15], issues[18]]


@pytest.mark.parametrize("bad", [0, -24, 1.5, True])
def test_a_refit_interval_that_is_not_a_positive_whole_number_of_steps_is_refused(bad):
    with pytest.raises(ForecastError, match="refit_every_steps is .*at least 1"):
        bt.run(daily_cycle(10), Persistence(), np.array([5 * 24]), 24, refit_every_steps=bad)
    with pytest.raises(ForecastError, match="issue_every_steps is"):
        bt.issue_times(daily_cycle(10), first_issue=48, horizon_steps=24, issue_every_steps=bad)


def test_calendar_matches_pandas_across_daylight_saving_changes():
    for tz, freq in (("America/Chicago", "h"), ("Europe/Berlin", "15min"), (None, "h")):
        index = pd.date_range("2023-03-10", "2023-11-10", freq=freq, tz=tz)
        hour, weekday = calendar(index)
        assert np.allclose(hour, index.hour + index.minute / 60) and np.array_equal(weekday, index.dayofweek)


# ------------------------------------------------------------------------- look-ahead guard
GUARD_MODELS = ["persistence", "seasonal_naive", "mstl", "lgbm", "nhits"]


@pytest.mark.parametrize("name", GUARD_MODELS)
def test_changing_data_after_the_issue_time_leaves_the_forecast_unchanged(name):
    if name == "nhits":
        pytest.importorskip("torch")
    series = daily_cycle(40, noise=3.0)
    temp = pd.DataFrame({"temp_air_c": 20 + 5 * np.sin(np.arange(len(series)) / 9)}, index=series.index)
    known = pd.DataFrame({"clearsky_ghi": np.clip(np.sin(2 * np.pi * (np.arange(len(series)) - 6) / 24), 0, None)},
                         index=series.index)
    issue = 35 * 24 + 7
    changed, changed_temp = series.copy(), temp.copy()
    changed.iloc[issue:] *= 3.0
    changed_temp.iloc[issue:] += 40.0
    runs = []
    for s, t in ((series, temp), (changed, changed_temp)):
        model = make_forecaster(name, horizon_steps=24)
        if name == "nhits":
            model.steps = 60
        runs.append(bt.run(s, model, np.array([issue]), 24, refit_every_steps=24,
                           covariates=Covariates(known=known, observed=t)).forecasts)
    pd.testing.assert_frame_equal(runs[0].drop(columns="actual"), runs[1].drop(columns="actual"))
    assert not np.allclose(runs[0]["actual"], runs[1]["actual"])  # the future did change


# ------------------------------------------------------------------------- learned models
def test_lgbm_learns_a_weekly_pattern_seasonal_naive_cannot_see():
    series = daily_cycle(70, noise=2.0)
    issues = bt.issue_times(series, first_issue=56 * 24, horizon_steps=24, issue_every_steps=24)
    ref = bt.run(series, SeasonalNaive(), issues, 24, refit_every_steps=24 * 7)
    gbm = bt.run(series, make_forecaster("lgbm", horizon_steps=24), issues, 24, refit_every_steps=24 * 7)
    table = bt.skill_table([ref, gbm])
    assert table.loc["lgbm", "skill_mae"] > 0.3  # weekend switches cost seasonal naive a whole day each week


def test_nhits_trains_on_the_cpu_and_beats_persistence():
    pytest.importorskip("torch")
    series = daily_cycle(50, noise=2.0)
    issues = bt.issue_times(series, first_issue=42 * 24, horizon_steps=24, issue_every_steps=24)
    model = make_forecaster("nhits", horizon_steps=24)
    model.steps = 300
    net = bt.run(series, model, issues, 24, refit_every_steps=10 ** 6)
    flat = bt.run(series, Persistence(), issues, 24, refit_every_steps=24)
    assert net.scores["mae"] < 0.5 * flat.scores["mae"]
    q = net.quantiles()
    assert np.all(np.diff(np.vstack([q[k] for k in sorted(q)]), axis=0) >= 0)  # quantiles never cross


ERCOT = ROOT / "examples" / "forecast-ercot-2023.yaml"


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("target, scores", [("carbon", ("skill_mae", "skill_crps")), ("pv", ("skill_crps",))])
def test_lgbm_beats_seasonal_naive_on_real_2023_texas_series(target, scores):
    study = run_backtest_study(ERCOT, target, ["lgbm"],
                               issue_every_h=72, refit_every_h=24 * 30, train_days=60)
    for score in scores:  # by at least 5 % on each
        assert study.table.loc["lgbm", score] > 0.05, study.table


@pytest.mark.realdata
def test_scenario_series_and_covariates_come_from_the_real_data():
    series, cov, site = site_series(ERCOT, "price")
    assert site == "campus-tx" and len(series) == 8760 - 6 and series.max() > 1000  # the August 2023 spikes
    assert cov.known["clearsky_ghi"].max() > 900 and (cov.known["clearsky_ghi"] == 0).mean() > 0.4


# ------------------------------------------------------------------------- bad input
def test_too_little_history_names_the_model_and_what_it_needs():
    with pytest.raises(ForecastError, match=r"'lgbm' needs at least 336 steps \(14.0 days\)"):
        make_forecaster("lgbm").fit(daily_cycle(5))


def test_gaps_and_missing_values_are_refused():
    y = daily_cycle(20)
    with pytest.raises(ForecastError, match="gap or irregular spacing between"):
        SeasonalNaive().predict(y.drop(y.index[100]), 24)
    y.iloc[50] = np.nan
    with pytest.raises(ForecastError, match="missing \\(NaN\\) value at"):
        SeasonalNaive().predict(y, 24)


def test_a_horizon_beyond_the_data_or_the_trained_horizon_is_refused():
    y = daily_cycle(20)
    with pytest.raises(ForecastError, match="longer than the data"):
        bt.issue_times(y, first_issue=24, horizon_steps=len(y), issue_every_steps=24)
    model = make_forecaster("lgbm", horizon_steps=24).fit(y)
    with pytest.raises(ForecastError, match="trained for 24 steps ahead, asked for 48"):
        model.predict(y, 48)


@pytest.mark.parametrize("setting, value", [("calibration_days", -1.0), ("calibration_days", float("nan")),
                                            ("dropout", 1.0), ("pool_steps", -1)])
def test_nhits_calibration_settings_are_checked(setting, value):
    pytest.importorskip("torch")
    from wattscale.decisions.forecast.neural import NHits

    with pytest.raises(WattscaleError, match=f"{setting} is"):
        NHits(**{setting: value})


def test_missing_neural_extra_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if PyTorch were not installed
    with pytest.raises(ForecastError, match=r"wattscale\[neural\]"):
        make_forecaster("nhits")


# ------------------------------------------------------------------------- command line
@pytest.fixture()
def july(tmp_path):
    """The Texas forecasting scenario cut to 20 days of July 2023."""
    import yaml
    raw = yaml.safe_load(ERCOT.read_text())
    raw["time"] = {"start": "2023-07-01", "duration": "20d", "step": "1h", "timezone": "America/Chicago"}
    path = tmp_path / "july.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.realdata
def test_backtest_command_prints_the_table_and_writes_the_report(july, tmp_path):
    from typer.testing import CliRunner

    from wattscale.cli import app

    out = tmp_path / "bt"
    r = CliRunner().invoke(app, ["forecast", "backtest", str(july), "--target", "load", "-m", "persistence",
                                 "--train-days", "7", "--issue-every-h", "48", "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert "seasonal_naive" in r.output and "persistence" in r.output
    assert "refitted every 168 h" in " ".join(r.output.split())  # the default refit interval, said
    summary = json.loads((out / "summary.json").read_text())
    assert summary["refit_every_h"] == 168 and summary["options"]["refit_every_h"] == 168
    metrics_csv = pd.read_csv(out / "metrics.csv").set_index("model")
    assert metrics_csv.loc["seasonal_naive", "skill_mae"] == 0.0
    forecasts = pd.read_csv(out / "forecasts.csv")
    assert set(forecasts["model"]) == {"seasonal_naive", "persistence"} and (out / "report.html").stat().st_size > 1e5


@pytest.mark.realdata
def test_value_of_forecasting_over_mpc_runs(july, tmp_path):
    from wattscale.studies.forecast.study import run_value_study

    study = run_value_study(july, ["seasonal_naive"])
    t = study.table
    assert list(t.index) == ["perfect", "seasonal_naive", "persistence"] and t.loc["perfect", "extra_cost_usd"] == 0
    # the same controller told the truth does at least as well, up to its rolling horizon's myopia
    assert (t["extra_cost_usd"] >= -0.005 * t.loc["perfect", "system_cost_usd"]).all()
    assert t.loc["persistence", "extra_cost_usd"] > 0


@pytest.mark.realdata
@pytest.mark.parametrize("args, message", [
    (["--target", "humidity"], "unknown target 'humidity'"),
    (["--model", "prophet"], "unknown model 'prophet'"),
    (["--train-days", "19"], "no issue time"),
    (["--horizon-h", "1000"], "longer than the data"),
    (["--model", "nhits"], "wattscale[neural]"),
    (["--refit-every-h", "0"], "--refit-every-h is 0"),
    (["--refit-every-h", "-24"], "--refit-every-h is -24"),
])
def test_backtest_bad_input_is_one_clear_error(july, tmp_path, monkeypatch, args, message):
    from typer.testing import CliRunner

    from wattscale.cli import app

    monkeypatch.setitem(sys.modules, "torch", None)  # as if the neural extra were not installed
    r = CliRunner().invoke(app, ["forecast", "backtest", str(july), "-q", "-o", str(tmp_path / "o"), *args])
    assert r.exit_code == 2 and r.output.count("error:") == 1 and message in r.output, r.output
    assert "Traceback" not in r.output and not (tmp_path / "o").exists()

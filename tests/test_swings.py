"""Swing analysis (ramps, spectrum, limits) and mitigation sizing, checked by re-analysis and by theory."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from wattscale.cli import app
from wattscale.compute.catalog import load_catalog
from wattscale.compute.training import training_mix
from wattscale.errors import DataError
from wattscale.scenario.workloads import Training
from wattscale.studies.swings.analysis import Band, Limits, RampLimit, analyse, max_ramp_mw_per_s, read_limits
from wattscale.studies.swings.mitigation import Load, cheapest, compare, floor_levels, smooth

H100 = load_catalog().get("H100")
LIMITS = Limits(bands=(Band("0.1-2 Hz", 0.1, 2.0, 2.0), Band("3-30 Hz", 3.0, 30.0, 0.5)),
                ramps=(RampLimit(1.0, 5.0), RampLimit(10.0, 1.0)), name="test")


def training(**kw):
    base = dict(name="t", gpu="H100", gpus=32768, iteration_s=2.5, communication_fraction=0.3, checkpoint=None,
                failures=None, ramp_s=0.0)
    return Training(**{**base, **kw})


@pytest.mark.parametrize("iteration_s, comm", [(2.5, 0.3), (4.0, 0.5), (0.8, 0.2)])
def test_square_wave_spectrum_peaks_at_the_iteration_rate_with_the_fourier_amplitude(iteration_s, comm):
    mix = training_mix(training(iteration_s=iteration_s, communication_fraction=comm), H100, step_s=0.01,
                       n_samples=30_000)
    p = mix.it_power_mw()
    a = analyse(p, 0.01, Limits(bands=(Band("all", 0.05, 50.0),), ramps=()))
    high, low = H100.compute_w * mix.n_gpus * 1e-6, H100.communication_w * mix.n_gpus * 1e-6
    fourier = 2 * (high - low) / np.pi * np.sin(np.pi * (1 - comm))  # first harmonic of a duty-cycle square wave
    k = int(np.argmax(a.amplitude_mw))
    assert a.frequency_hz[k] == pytest.approx(1 / iteration_s, rel=0.02)
    assert a.amplitude_mw[k] == pytest.approx(fourier, rel=2e-3)
    assert a.band_amplitude_mw["all"] == pytest.approx(fourier, rel=2e-3)


@pytest.mark.parametrize("freq_hz", [0.37, 1.1234, 7.77, 21.3])
def test_flat_top_reads_a_sine_amplitude_between_bins(freq_hz):
    t = np.arange(60_000) * 0.01
    p = 100 + 4.0 * np.sin(2 * np.pi * freq_hz * t + 0.3)
    a = analyse(p, 0.01, LIMITS)
    band = "0.1-2 Hz" if freq_hz < 2 else "3-30 Hz"
    assert a.band_amplitude_mw[band] == pytest.approx(4.0, rel=2e-3)
    assert a.band_rms_mw[band] == pytest.approx(4.0 / np.sqrt(2), rel=0.05)


def test_ramp_of_a_step_is_its_height_over_the_window():
    p = np.r_[np.full(5000, 10.0), np.full(5000, 40.0)]
    for w in (0.01, 1.0, 10.0):
        assert max_ramp_mw_per_s(p, 0.01, w) == pytest.approx(30.0 / w, rel=1e-9)
    a = analyse(p, 0.01, LIMITS)
    assert a.dynamic_range_mw == 30.0 and not a.passed and {c.name for c in a.violations()} >= {"ramp over 1 s"}


@pytest.fixture(scope="module")
def options():
    mix = training_mix(training(checkpoint={"interval_s": 120, "duration_s": 5}), H100, step_s=0.01,
                       n_samples=60_000)
    return mix, compare(Load((mix,), 5.0, 0.01), LIMITS)


def test_every_compliant_mitigation_meets_the_limits_when_re_analysed(options):
    mix, opts = options
    assert not opts[0].complies  # the raw waveform violates the limits
    compliant = [o for o in opts if o.complies]
    assert {o.name for o in compliant} >= {"power floor", "storage"}
    for o in compliant:
        assert analyse(o.power_mw.copy(), 0.01, LIMITS).passed, o.name
    assert cheapest(opts) is min(compliant, key=lambda o: o.total_cost_usd_per_year)


def test_power_floor_holds_every_gpu_at_the_floor(options):
    mix, opts = options
    floor = next(o for o in opts if o.name == "power floor")
    fraction = float(floor.setting.split()[1].rstrip("%")) / 100
    gpu_w = floor.power_mw - 5.0 - mix.fixed_w * 1e-6
    assert gpu_w.min() * 1e6 >= fraction * H100.tdp_w * mix.n_gpus * (1 - 0.006)
    below = Load((mix,), 5.0, 0.01).power_mw(floor_levels(Load((mix,), 5.0, 0.01), fraction - 0.02))
    assert not analyse(below, 0.01, LIMITS).passed  # the floor is the smallest that complies (2 % lower fails)


def test_storage_size_covers_the_power_and_energy_it_must_absorb(options):
    mix, opts = options
    st = next(o for o in opts if o.name == "storage")
    raw = opts[0].power_mw
    grid = smooth(raw, 0.01, st.storage.time_constant_s)
    assert np.allclose(grid, st.power_mw)
    out = raw - grid
    stored_mwh = -np.cumsum(out) * 0.01 / 3600
    usable = st.storage.energy_mwh * (0.75 if st.storage.tech == "supercapacitor" else 0.8)
    assert np.ptp(np.r_[0.0, stored_mwh]) <= usable * (1 + 1e-9)
    assert np.abs(out).max() <= st.storage.power_mw * (1 + 1e-9)
    shorter = smooth(raw, 0.01, st.storage.time_constant_s * 0.9)
    assert not analyse(shorter, 0.01, LIMITS).passed  # within 10 % of the smallest smoother that complies


def test_burn_work_narrows_the_swing(options):
    mix, opts = options
    burn = next(o for o in opts if o.name.startswith("burn work"))
    assert burn.analysis.band_amplitude_mw["0.1-2 Hz"] < opts[0].analysis.band_amplitude_mw["0.1-2 Hz"]
    assert burn.slowdown_fraction > 0 and burn.annual_cost_usd["throughput lost"] > 0


# ---------------------------------------------------------------- limits files and bad input
def test_limits_file_round_trip_and_errors(tmp_path):
    good = tmp_path / "limits.yaml"
    good.write_text("name: x\nbands:\n  - {low_hz: 0.1, high_hz: 2, max_amplitude_mw: 3}\n"
                    "ramps:\n  - {window_s: 1, max_mw_per_s: 10}\n")
    lim = read_limits(good)
    assert lim.bands[0].max_amplitude_mw == 3 and lim.ramps[0].max_mw_per_s == 10
    overlap = tmp_path / "overlap.yaml"
    overlap.write_text("bands:\n  - {name: a, low_hz: 0.1, high_hz: 3}\n  - {name: b, low_hz: 2, high_hz: 30}\n")
    with pytest.raises(DataError, match="overlap"):
        read_limits(overlap)
    with pytest.raises(DataError, match="Nyquist"):
        lim.check_resolution(step_s=0.5, duration_s=600)  # 1 Hz Nyquist < 2 Hz band edge
    with pytest.raises(DataError, match="five periods"):
        lim.check_resolution(step_s=0.01, duration_s=20)


@pytest.fixture(scope="module")
def swings_run(tmp_path_factory, examples_dir):
    out = tmp_path_factory.mktemp("sw") / "out"
    res = CliRunner().invoke(app, ["swings", str(examples_dir / "llm-campus.yaml"), "-o", str(out),
                                   "--duration-s", "120"])
    return res, out


def test_swings_cli_writes_report_and_summary(swings_run):
    res, out = swings_run
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert (out / "report.html").stat().st_size > 100_000
    chosen = next(o for o in summary["options"] if o["name"] == summary["chosen"])
    assert chosen["complies"] and all(c["passed"] for c in chosen["checks"])
    assert not summary["options"][0]["complies"]
    assert set(summary["workloads"]) == {"pretrain", "chat"}


@pytest.mark.parametrize("args, message", [
    (["--resolution-s", "0.5"], "Nyquist"),
    (["--site", "nowhere"], "no site named 'nowhere'"),
])
def test_swings_cli_bad_input_is_a_clear_error(examples_dir, tmp_path, args, message):
    res = CliRunner().invoke(app, ["swings", str(examples_dir / "llm-campus.yaml"), "-o", str(tmp_path / "o"), *args])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_a_swing_at_the_end_of_the_record_is_seen():
    t = np.arange(14_900) * 0.01
    p = np.full(len(t), 100.0)
    tail = t > t[-1] - 29
    p[tail] += 5.0 * np.sin(2 * np.pi * 1.0 * t[tail])
    a = analyse(p, 0.01, LIMITS)
    assert a.band_amplitude_mw["0.1-2 Hz"] > 2.0 and not a.passed


def test_a_band_must_end_below_nyquist():
    with pytest.raises(DataError, match="not below the Nyquist"):
        Limits(bands=(Band("hi", 40.0, 50.0),), ramps=()).check_resolution(0.01, 600)
    p = 50 + 1.0 * np.sin(2 * np.pi * 49.0 * np.arange(6000) * 0.01)  # close to Nyquist still reads right
    a = analyse(p, 0.01, Limits(bands=(Band("hi", 40.0, 49.9),), ramps=()))
    assert a.band_amplitude_mw["hi"] == pytest.approx(1.0, rel=2e-3)


def test_mitigated_waveforms_pass_an_independent_check(options):
    """Re-check compliant options with scipy's own flat-top window and pandas rolling means."""
    import pandas as pd
    from scipy.signal import get_window
    mix, opts = options
    n = 6000
    w = get_window("flattop", n, fftbins=True)
    for o in (o for o in opts if o.complies):
        p = o.power_mw
        starts = sorted(set(range(0, len(p) - n + 1, n // 2)) | {len(p) - n})
        amp = np.max([np.abs(np.fft.rfft((p[s:s + n] - p[s:s + n].mean()) * w)) * 2 / w.sum() for s in starts], axis=0)
        f = np.fft.rfftfreq(n, 0.01)
        for b in LIMITS.bands:
            assert amp[(f >= b.low_hz) & (f <= b.high_hz)].max() <= b.max_amplitude_mw * (1 + 1e-6), o.name
        for r in LIMITS.ramps:
            m = int(round(r.window_s / 0.01))
            means = pd.Series(p).rolling(m).mean().to_numpy()[m - 1:]
            assert np.abs(means[m:] - means[:-m]).max() / r.window_s <= r.max_mw_per_s * (1 + 1e-6), o.name


def test_fast_paths_give_the_figures_of_a_straightforward_scipy_computation(options):
    """One FFT per segment (flat-top as a 9-tap convolution), compliance checks that stop early, a low-pass search
    without an FFT per trial and one-pass trial waveforms, against scipy and numpy written plainly."""
    from scipy.signal import get_window, lfilter

    from wattscale.studies.swings.analysis import LowpassSearch, amplitude_spectrum, lowpass, passes

    mix, opts = options
    load = Load((mix,), 5.0, 0.01)
    for f in (0.0, 0.3, 0.9):
        plain = np.full(mix.n_samples, 5.0)
        plain += mix.it_power_mw(floor_levels(load, f)[0])
        np.testing.assert_allclose(load.power_mw(floor_levels(load, f)), plain, rtol=1e-13)
    raw = opts[0].power_mw
    for n, p in ((6000, raw), (4000, raw[:59_500]), (7001, raw[:20_000])):
        w_flat, w_rect = get_window("flattop", n, fftbins=True), np.ones(n)
        starts = sorted(set(range(0, len(p) - n + 1, n // 2)) | {len(p) - n})
        ref = [np.max([np.abs(np.fft.rfft((p[s:s + n] - p[s:s + n].mean()) * w)) * 2 / w.sum() for s in starts], axis=0)
               for w in (w_flat, w_rect)]
        for r in ref:
            r[0] = 0.0
            r[-1] /= 2.0 if n % 2 == 0 else 1.0
        _, flat, rect = amplitude_spectrum(p, 0.01, n)
        np.testing.assert_allclose(flat, ref[0], rtol=0, atol=1e-12 * ref[0].max())
        np.testing.assert_allclose(rect, ref[1], rtol=0, atol=1e-12 * ref[1].max())
    search = LowpassSearch(raw, 0.01, LIMITS)
    verdicts = set()
    for tau in np.geomspace(0.05, 300.0, 30):
        a = 1.0 - np.exp(-0.01 / tau)
        grid = lowpass(raw, a)
        np.testing.assert_allclose(grid, lfilter([a], [1.0, a - 1.0], raw, zi=[(1.0 - a) * raw[0]])[0], rtol=1e-13)
        assert search(a) == passes(grid, 0.01, LIMITS) == analyse(grid, 0.01, LIMITS).passed, tau
        verdicts.add(search(a))
    assert verdicts == {True, False}
    verdicts = set()
    for f in np.linspace(0.0, 1.0, 21):
        p = load.power_mw(floor_levels(load, f))
        assert passes(p, 0.01, LIMITS) == analyse(p, 0.01, LIMITS).passed, f
        verdicts.add(passes(p, 0.01, LIMITS))
    assert verdicts == {True, False}

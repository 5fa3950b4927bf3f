"""Grid side of a campus: system frequency against closed forms and a second integrator; UPS ride-through against
cases worked by hand; the gridcode command end to end and its bad input."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from typer.testing import CliRunner

from wattscale.cli import app
from wattscale.energy.ride_through import Dip, Envelope, met_envelope, ride_through
from wattscale.network.frequency import largest_step_mw, settling_deviation_hz, simulate_frequency
from wattscale.scenario.schema import FastFrequencyResponse, PowerSystem, RideThrough

SYSTEM = PowerSystem(base_mw=20_000, inertia_s=5.0, damping=1.5, droop=0.05, governor_time_s=0.4)
REHEAT = SYSTEM.model_copy(update={"reheat_time_s": 7.0, "high_pressure_fraction": 0.3, "governor_share": 0.4})


# ---------------------------------------------------------------- frequency
@pytest.mark.parametrize("system", [SYSTEM, REHEAT], ids=["non-reheat", "reheat"])
@pytest.mark.parametrize("step_mw", [400.0, -900.0])
def test_a_step_settles_at_minus_dp_over_beta_and_starts_at_minus_dp_over_2h(system, step_mw):
    trace = simulate_frequency(system, np.full(30_000, step_mw), 0.01)  # 300 s
    dp = step_mw / system.base_mw
    beta = system.damping + system.governor_share / system.droop
    assert trace.deviation_hz[-1] == pytest.approx(-dp / beta * 60.0, rel=1e-6)
    assert settling_deviation_hz(system, step_mw) == pytest.approx(-dp / beta * 60.0, rel=1e-12)
    assert trace.rocof_hz_per_s[0] == pytest.approx(-dp * 60.0 / (2 * system.inertia_s), rel=1e-12)
    # the trajectory's own slope over its first millisecond-scale step agrees with the initial rate of change
    fine = simulate_frequency(system, np.full(10, step_mw), 1e-4)
    assert fine.deviation_hz[1] / 1e-4 == pytest.approx(-dp * 60.0 / (2 * system.inertia_s), rel=1e-3)
    # a nadir (or, for a load lost, a peak) beyond the settling value: the governors lag
    assert abs(trace.peak_deviation_hz) > abs(trace.deviation_hz[-1])


def test_without_governors_frequency_decays_with_time_constant_2h_over_d():
    system = SYSTEM.model_copy(update={"droop": None})
    trace = simulate_frequency(system, np.full(6_000, 300.0), 0.01)
    tau = 2 * system.inertia_s / system.damping
    exact = -300.0 / system.base_mw / system.damping * 60.0 * (1 - np.exp(-trace.time_s / tau))
    np.testing.assert_allclose(trace.deviation_hz, exact, rtol=1e-9, atol=1e-12)


def test_frequency_agrees_with_a_second_integrator_on_a_varying_load():
    """scipy's adaptive Runge-Kutta on the same equations, the load piecewise constant over each step."""
    s = REHEAT
    step = 0.05
    t_end = 60.0
    n = int(t_end / step)
    load = np.where(np.arange(n) * step < 20.0, 600.0, -300.0) + 100.0 * np.sin(np.arange(n) * step)
    trace = simulate_frequency(s, load, step)
    h, d, r, tg, tr, fh = s.inertia_s, s.damping, s.droop, s.governor_time_s, s.reheat_time_s, s.high_pressure_fraction

    def rhs(t, x):
        u = load[min(int(t / step + 1e-9), n - 1)] / s.base_mw
        df, g, rr = x
        return [(fh * g + (1 - fh) * rr - u - d * df) / (2 * h), (-s.governor_share / r * df - g) / tg, (g - rr) / tr]

    x, ref = np.zeros(3), [0.0]
    for k in range(n - 1):  # integrate step by step so the solver never straddles a change of the input
        x = solve_ivp(rhs, (k * step, (k + 1) * step), x, rtol=1e-10, atol=1e-13, method="DOP853").y[:, -1]
        ref.append(x[0] * 60.0)
    np.testing.assert_allclose(trace.deviation_hz, ref, atol=1e-8)


def test_the_largest_loss_just_reaches_the_limit_and_fast_response_raises_it():
    limit = 0.2
    largest = largest_step_mw(REHEAT, limit)
    at = simulate_frequency(REHEAT, np.full(6_000, -largest), 0.01)
    assert abs(at.peak_deviation_hz) == pytest.approx(limit, rel=1e-5)
    # the model is linear: the peak scales with the step
    half = simulate_frequency(REHEAT, np.full(6_000, -largest / 2), 0.01)
    assert half.peak_deviation_hz == pytest.approx(at.peak_deviation_hz / 2, rel=1e-9)
    ffr = REHEAT.model_copy(update={"ffr": FastFrequencyResponse(capacity_mw=300.0, full_at_hz=0.1, time_s=0.2)})
    assert largest_step_mw(ffr, limit) > largest + 250.0
    trace = simulate_frequency(ffr, np.full(6_000, 2_000.0), 0.01)
    assert trace.ffr_mw.max() == pytest.approx(300.0, rel=1e-6)  # saturates at its capacity, never beyond
    assert trace.ffr_mw.min() >= -1e-9


# ---------------------------------------------------------------- ride-through
DIPS = [Dip(0.0, 0.5, 0.08), Dip(10.0, 0.3, 0.06), Dip(20.0, 0.5, 0.12), Dip(50.0, 0.2, 0.05), Dip(55.0, 0.5, 0.1)]


def test_three_campuses_worked_by_hand():
    """Worked by hand from the rules:

    A (threshold 0.9 pu, 20 ms, 3 dips in 60 s lock): dip 1 (80 ms) moves it off at 0.02 s; the wait to return
    (30 s after a dip ends) restarts with each dip; dip 3 at 20 s is the third within 60 s: locked, no return.
    B (threshold 0.6 pu, 100 ms, no lockout): sees dips 1, 3, 5 (0.5 pu; dips 2 and 4 stay at 0.7 and 0.8 pu); only
    dip 3 (120 ms) outlasts 100 ms: off at 20.1 s, back 30 s after it ends (50.12 s); dip 5 at 55 s lasts exactly
    100 ms, not longer: it rides through.
    C (threshold 0.4 pu, 50 ms, 2 dips in 10 s lock): no dip goes below 0.4 pu; it sees none and stays."""
    a = ride_through("A", RideThrough(transfer_below_pu=0.9, transfer_after_s=0.02, retransfer_after_s=30,
                                      lockout_dips=3, lockout_window_s=60), 100.0, DIPS)
    assert a.leaves_s == [0.02] and a.returns_s == [None] and a.locked_out and a.dips_seen == 5
    b = ride_through("B", RideThrough(transfer_below_pu=0.6, transfer_after_s=0.1, retransfer_after_s=30), 100.0,
                     DIPS)
    assert b.leaves_s == [pytest.approx(20.1)] and b.returns_s == [pytest.approx(50.12)] and not b.locked_out
    assert b.dips_seen == 3
    c = ride_through("C", RideThrough(transfer_below_pu=0.4, transfer_after_s=0.05, lockout_dips=2,
                                      lockout_window_s=10), 100.0, DIPS)
    assert not c.left_grid and c.dips_seen == 0
    # B's draw: full load before 20.1 s, none while off, full again after 50.12 s
    t = np.array([20.0, 20.2, 50.0, 50.2])
    np.testing.assert_allclose(100.0 * b.connected(t), [100.0, 0.0, 0.0, 100.0])


def test_a_return_restarts_its_wait_at_each_dip_and_ramps_back():
    setting = RideThrough(transfer_below_pu=0.9, transfer_after_s=0.02, retransfer_after_s=15, return_ramp_s=10)
    o = ride_through("x", setting, 200.0, DIPS)
    # dips 1-3 come less than 15 s apart: one stay off from 0.02 s until 15 s after dip 3 ends (35.12 s);
    # dips 4 and 5 (5 s apart) another, from 50.02 s until 70.1 s
    assert o.leaves_s == [0.02, pytest.approx(50.02)]
    assert o.returns_s == [pytest.approx(35.12), pytest.approx(70.1)]
    assert 200.0 * o.connected(np.array([40.12]))[0] == pytest.approx(100.0)  # half-way up the 10 s ramp


def test_the_envelope_is_a_step_curve_and_a_lockout_in_its_region_breaks_it():
    env = Envelope((0.0, 0.5, 0.7, 0.9), (0.15, 0.3, 2.0, 1e7))
    assert env.required_s(0.45) == 0.15 and env.required_s(0.5) == 0.3 and env.required_s(0.95) == 1e7
    assert env.inside(Dip(0, 0.5, 0.08)) and not env.inside(Dip(0, 0.5, 0.31))
    locked = ride_through("a", RideThrough(transfer_below_pu=0.9, transfer_after_s=0.5, lockout_dips=2,
                                           lockout_window_s=60), 10.0, DIPS)
    assert locked.locked_out and locked.causing_dips == [1]  # short dips; the second one locks it
    assert met_envelope(locked, DIPS, env) is False
    long_dip = [Dip(0.0, 0.5, 0.5)]  # 0.5 pu for 0.5 s lies outside the envelope: leaving is allowed
    left = ride_through("b", RideThrough(), 10.0, long_dip)
    assert left.left_grid and met_envelope(left, long_dip, env) is True


# ---------------------------------------------------------------- the command
def test_gridcode_example_end_to_end(examples_dir, tmp_path):
    out = tmp_path / "gc"
    res = CliRunner().invoke(app, ["gridcode", str(examples_dir / "gridcode-virginia-2024.yaml"), "-o", str(out),
                                   "-q"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80
    summary = json.loads((out / "summary.json").read_text())
    k = summary["kpis"]
    assert 0 < k["campuses_left_grid"] < k["campuses"]  # the same dips lose some campuses and not others
    assert k["campuses_locked_out"] >= 1 and k["load_lost_at_end_mw"] > 0
    assert k["frequency_max_hz"] > 60.0 and k["peak_deviation_hz"] > 0  # a load lost raises frequency
    import pandas as pd

    timeline = pd.read_csv(out / "timeline.csv")
    campuses = pd.read_csv(out / "campuses.csv")
    assert k["peak_load_lost_mw"] == pytest.approx(timeline["lost_mw"].max())
    # conservation: what the grid lost is every campus's load less what it still draws
    draws = timeline[[f"{c}_mw" for c in campuses["campus"]]].sum(axis=1)
    np.testing.assert_allclose(timeline["lost_mw"], campuses["load_mw"].sum() - draws, atol=1e-6)
    html = (out / "report.html").read_text()
    assert "Dips against the ride-through envelope" in html and "System frequency" in html
    # fast frequency response from the batteries of the campuses that stayed on the grid
    stayed = campuses.loc[~campuses["left_grid"], "campus"].tolist()
    assert stayed == ["manassas-gridcode"] and summary["ffr_capacity_mw"] == 150.0
    assert summary["system"]["ffr"]["campus_batteries"] is True  # the section as given
    without = CliRunner().invoke(app, ["gridcode", str(examples_dir / "gridcode-virginia-2024.yaml"), "-o",
                                       str(tmp_path / "no-ffr"), "-q", "--set", "power_system.ffr=null"])
    assert without.exit_code == 0, without.output
    k0 = json.loads((tmp_path / "no-ffr" / "summary.json").read_text())["kpis"]
    assert k0["peak_deviation_hz"] > k["peak_deviation_hz"] and k0["largest_sudden_loss_mw"] < k["largest_sudden_loss_mw"]


def _run(tmp_path, examples_dir, edit_yaml=None, dips=None, envelope=None):
    folder = tmp_path / "case"
    shutil.copytree(examples_dir / "gridcode", folder / "gridcode")
    text = (examples_dir / "gridcode-virginia-2024.yaml").read_text()
    if edit_yaml:
        text = edit_yaml(text)
    (folder / "s.yaml").write_text(text)
    if dips is not None:
        (folder / "gridcode" / "virginia-2024-dips.csv").write_text(dips)
    if envelope is not None:
        (folder / "gridcode" / "large-load-no-trip.csv").write_text(envelope)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["gridcode", str(folder / "s.yaml"), "-o", str(out), "-q"])
    return res, out


@pytest.mark.parametrize("case, words", [
    (dict(envelope="voltage_pu,duration_s\n0.0,0.15\n0.7,0.1\n"), ["large-load-no-trip.csv", "not monotonic",
                                                                   "duration_s"]),
    (dict(dips="time_s,depth_pu,duration_s\n0,1.2,0.1\n"), ["virginia-2024-dips.csv", "depth_pu", "1.2"]),
    (dict(dips="time_s,depth_pu,duration_s\n0,0.5,-0.1\n"), ["duration_s", "-0.1", "above 0"]),
    (dict(dips="time_s,depth_pu,duration_s\n0,0.5,0.1\n0.05,0.5,0.1\n"), ["starts before", "time_s"]),
    (dict(dips="time_s,depth\n0,0.5\n"), ["no column 'depth_pu'"]),
    (dict(edit_yaml=lambda t: t.replace("inertia_s: 4.0", "inertia_s: 0")), ["power_system.inertia_s",
                                                                              "greater than 0"]),
    (dict(edit_yaml=lambda t: t.replace("droop: 0.05", "droop: 0")), ["power_system.droop", "greater than 0"]),
    (dict(edit_yaml=lambda t: t.replace("gridcode/virginia-2024-dips.csv", "missing.csv")), ["missing.csv",
                                                                                              "not found"]),
    (dict(edit_yaml=lambda t: t.replace("ffr: {campus_batteries: true,", "ffr: {campus_batteries: true, "
                                                                     "capacity_mw: 100,")),
     ["power_system.ffr", "capacity_mw or campus_batteries"]),
], ids=["envelope-not-monotonic", "dip-deeper-than-1", "negative-duration", "overlapping-dips", "missing-column",
        "zero-inertia", "zero-droop", "missing-file", "ffr-twice"])
def test_bad_gridcode_input_is_one_clear_error_and_writes_nothing(tmp_path, examples_dir, case, words):
    res, out = _run(tmp_path, examples_dir, **case)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for word in words:
        assert word in res.output, (word, res.output)
    assert not out.exists()


def test_a_scenario_without_a_gridcode_section_is_refused(examples_dir, tmp_path):
    res = CliRunner().invoke(app, ["gridcode", str(examples_dir / "llm-campus.yaml"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "gridcode" in res.output and not (tmp_path / "o").exists()


def test_swings_report_the_frequency_their_waveform_causes(examples_dir):
    import wattscale

    system = {"name": "island", "base_mw": 5000, "inertia_s": 3, "damping": 1, "droop": 0.05}
    r = wattscale.run_study("swings", examples_dir / "llm-campus.yaml", changes={"power_system": system},
                            limits=examples_dir / "grid-limits.yaml", duration_s=300)
    peaks = r.details["frequency_peak_deviation_hz"]
    assert set(peaks) == {o["name"] for o in r.details["options"]} and "power smoothing" in peaks
    # the flattest waveform (a high power floor) disturbs frequency far less than the raw one
    assert abs(peaks["power floor"]) < 0.2 * abs(peaks["none"])
    raw = r.value.options[0].power_mw
    step = PowerSystem(**system)
    assert abs(peaks["none"]) <= abs(settling_deviation_hz(step, np.abs(raw - raw[0]).max())) * 2.5


def test_the_aggregate_model_agrees_with_andes_on_a_single_machine():
    """ANDES (GENCLS + TGOV1, a constant-power load switched off at 1 s) against the aggregate model, with and
    without reheat (in one test: ANDES generates its code on first use, once per machine)."""
    from tests.andes_twin import run_andes

    loss_pu = 0.1
    for system in (REHEAT, SYSTEM.model_copy(update={"reheat_time_s": 0.0})):
        t, andes_hz, _ = run_andes(system, 0.9, loss_pu, t_loss_s=1.0, t_end_s=40.0)
        step = 0.001
        n = int(40.0 / step) + 1
        ours = simulate_frequency(system, np.where(np.arange(n) * step >= 1.0, -loss_pu * system.base_mw, 0.0), step)
        here = np.interp(t, ours.time_s, ours.deviation_hz)
        assert np.abs(here - andes_hz).max() < 1e-4 * abs(andes_hz).max() + 5e-5
        assert ours.peak_deviation_hz == pytest.approx(andes_hz.max(), rel=1e-4)
        assert andes_hz[-1] == pytest.approx(settling_deviation_hz(system, -loss_pu * system.base_mw), rel=1e-3)


def test_a_dip_at_a_threshold_voltage_compares_as_written():
    """Depth 0.55 is 0.45 pu: not below a 0.45 pu threshold, and on the envelope's 0.45 pu row."""
    dip = Dip(0.0, 0.55, 0.2)
    assert dip.voltage_pu == 0.45
    o = ride_through("x", RideThrough(transfer_below_pu=0.45, transfer_after_s=0.01), 10.0, [dip])
    assert not o.left_grid and o.dips_seen == 0
    env = Envelope((0.0, 0.45), (0.1, 0.3))
    assert env.required_s(dip.voltage_pu) == 0.3 and env.inside(dip)


def test_returns_after_the_study_are_not_returns_and_a_lockout_counts_from_when_it_acts():
    dips = [Dip(0.0, 0.5, 0.1), Dip(5.0, 0.5, 0.1)]
    o = ride_through("x", RideThrough(transfer_after_s=0.02, retransfer_after_s=30), 1.0, dips)
    assert o.returns_s == [pytest.approx(35.1)] and o.back_by(20.0) is None and o.back_by(40.0) == pytest.approx(35.1)
    locked = ride_through("y", RideThrough(transfer_after_s=0.5, lockout_dips=2, lockout_window_s=60,
                                           return_after_lockout_s=100), 1.0, dips)
    # the second dip (0.1 s, shorter than the 0.5 s transfer time) locks it when it ends, at 5.1 s
    assert locked.leaves_s == [pytest.approx(5.1)] and locked.returns_s == [pytest.approx(105.1)]
    assert locked.locking_dips == [1] and locked.leaving_dips == [1]


def test_a_system_with_nothing_to_restore_frequency_takes_no_sustained_loss():
    assert largest_step_mw(SYSTEM.model_copy(update={"damping": 0.0, "droop": None})) == 0.0


def test_fast_response_does_not_depend_on_the_sample_length():
    """The fast response's feedback is sub-stepped: 10 ms, 0.25 s and 1 s samples of a strong, fast response settle
    and peak alike (the peak sampled at 1 s may fall between samples, so it can only read lower)."""
    s = REHEAT.model_copy(update={"ffr": FastFrequencyResponse(capacity_mw=3000.0, full_at_hz=0.05, time_s=0.2)})
    fine = simulate_frequency(s, np.full(12_000, -1500.0), 0.01)
    for step in (0.25, 1.0):
        coarse = simulate_frequency(s, np.full(int(120 / step), -1500.0), step)
        k = int(round(step / 0.01))
        np.testing.assert_allclose(coarse.deviation_hz, fine.deviation_hz[::k][: len(coarse.deviation_hz)],
                                   rtol=5e-3, atol=5e-5)
    assert np.isnan(simulate_frequency(s, np.full(100, -1.0), 0.3).rocof_window_hz_per_s)  # 0.3 s: no 500 ms window


def test_unserved_energy_on_backup_by_hand():
    from wattscale.studies.gridcode.study import unserved_mwh

    s = RideThrough(ups_autonomy_s=300.0, generator_start_s=10.0)
    # 100 MW on 50 MW of generators for 1,000 s: the UPS carries 100 MW for 10 s, then the 50 MW shortfall with the
    # 290 s of full load left (580 s at 50 MW); the last 410 s are short by 50 MW
    assert unserved_mwh(s, 100.0, 50.0, [1000.0]) == pytest.approx(50.0 * 410.0 / 3600.0)
    assert unserved_mwh(s, 100.0, 120.0, [1000.0]) == 0.0  # generators carry it all
    slow = RideThrough(ups_autonomy_s=5.0, generator_start_s=10.0)
    assert unserved_mwh(slow, 100.0, 120.0, [1000.0]) == pytest.approx(100.0 * 5.0 / 3600.0)  # the gap before start
    assert unserved_mwh(s, 100.0, 0.0, [1000.0]) == pytest.approx(100.0 * 700.0 / 3600.0)  # no generators


def test_every_lockout_is_kept():
    dips = [Dip(0.0, 0.5, 0.05), Dip(10.0, 0.5, 0.05), Dip(200.0, 0.5, 0.05), Dip(205.0, 0.5, 0.05)]
    o = ride_through("x", RideThrough(transfer_after_s=0.5, lockout_dips=2, lockout_window_s=60,
                                      return_after_lockout_s=100, retransfer_after_s=30), 1.0, dips)
    assert o.locking_dips == [1, 3] and o.causing_dips == [1, 3] and len(o.leaves_s) == 2


def test_too_many_samples_are_refused_before_any_work(tmp_path, examples_dir):
    res, out = _run(tmp_path, examples_dir,
                    edit_yaml=lambda t: t.replace("after_s: 240", "after_s: 86400\n  resolution_s: 0.001"))
    assert res.exit_code == 2 and "gridcode.resolution_s" in res.output and "samples" in res.output
    assert not out.exists()

"""GPU power smoothing: ramps within their limits, the floor kept, the hysteresis held, the same work done; and
as a mitigation in the swing study."""
from __future__ import annotations

import numpy as np
import pytest

from wattscale.compute.catalog import load_catalog
from wattscale.compute.smoothing import Smoothing, smooth_gpu_power
from wattscale.compute.training import training_mix
from wattscale.scenario.workloads import Training
from wattscale.studies.swings.analysis import Band, Limits, RampLimit
from wattscale.studies.swings.mitigation import Load, compare

H100 = load_catalog().get("H100")
STEP = 0.01


def mix(n=60_000):
    w = Training(name="t", gpu="H100", gpus=16384, iteration_s=2.5, communication_fraction=0.3, checkpoint=None,
                 failures=None, ramp_s=0.0)
    return training_mix(w, H100, step_s=STEP, n_samples=n)


@pytest.mark.parametrize("setting", [Smoothing(0.0, 200.0, 100.0, 0.0), Smoothing(0.5, 500.0, 50.0, 300.0),
                                     Smoothing(0.3, 2000.0, 2000.0, 50.0)])
def test_power_never_ramps_faster_than_its_limits_keeps_the_floor_and_does_the_same_work(setting):
    m = mix()
    asked = m.gpu_power_w() / m.n_gpus
    s = smooth_gpu_power(asked, STEP, m.tdp_w, setting)
    slope = np.diff(s.power_w) / STEP
    assert slope.max() <= setting.ramp_up_w_per_s * (1 + 1e-9)
    assert slope.min() >= -setting.ramp_down_w_per_s * (1 + 1e-9)
    assert s.power_w.min() >= setting.floor_fraction_of_tdp * m.tdp_w - 1e-9
    assert s.power_w.max() <= max(m.tdp_w, asked.max()) + 1e-9
    # conservation: the work asked for is the work done plus what waits at the end; energy is work plus burn
    done = s.power_w.sum() * STEP - s.burnt_j
    assert done + s.left_j == pytest.approx(s.asked_j, rel=1e-9)
    assert s.left_j < 0.01 * s.asked_j  # the work that waited is caught up within the window


def test_a_step_up_waits_the_triangle_the_ramp_draws():
    """Demand steps from a to b (= TDP, so nothing catches up above it): the work that waits is the triangle
    sum over steps of (b - a - j r dt) dt, about (b - a)^2 / (2 r)."""
    a, b, r = 200.0, 700.0, 1000.0
    asked = np.r_[np.full(100, a), np.full(200, b)]
    s = smooth_gpu_power(asked, STEP, b, Smoothing(0.0, r, r, 0.0))
    j = np.arange(1, 200)
    expected = np.clip(b - a - j * r * STEP, 0, None).sum() * STEP
    assert s.waited_j == pytest.approx(expected, rel=1e-12)
    assert s.waited_j == pytest.approx((b - a) ** 2 / (2 * r), rel=0.02)
    assert s.left_j == pytest.approx(s.waited_j, rel=1e-12)  # demand stays at TDP: no room to catch up


def test_hysteresis_holds_the_power_before_it_ramps_down():
    asked = np.r_[np.full(50, 600.0), np.full(200, 100.0)]
    s = smooth_gpu_power(asked, STEP, 700.0, Smoothing(0.0, 1e6, 1000.0, 300.0))
    hold = int(0.3 / STEP)
    np.testing.assert_allclose(s.power_w[50:50 + hold], 600.0)  # held for 300 ms
    assert s.power_w[50 + hold] == pytest.approx(600.0 - 1000.0 * STEP)  # then down at 1,000 W/s
    assert s.burnt_j == pytest.approx((s.power_w - asked).clip(0).sum() * STEP)


def test_sized_smoothing_meets_the_limits_in_the_swing_study():
    m = mix(30_000)
    load = Load((m,), 5.0, STEP)
    limits = Limits(bands=(Band("0.1-2 Hz", 0.1, 2.0, 0.5),), ramps=(RampLimit(1.0, 2.0),), name="tight")
    options = {o.name: o for o in compare(load, limits)}
    smooth = options["power smoothing"]
    assert smooth.complies and not options["none"].complies
    assert "W/s" in smooth.setting and smooth.energy_overhead_fraction >= 0


def test_an_inference_fleet_gets_the_floor_per_phase_level():
    """Its GPUs do not move together: the floor applies to each phase level (as the power floor does), not to the
    fleet's mean."""
    from wattscale.studies.swings.mitigation import floor_levels

    m = mix(3000)
    inference = type(m)(m.step_s, m.n_gpus, m.shares, m.levels_w, m.fixed_w, m.tdp_w, (), "", {})  # no burn phases
    load = Load((inference,), 0.0, STEP)
    smoothed, waited, _ = load.smoothed_mw(Smoothing(0.6))
    np.testing.assert_allclose(smoothed, load.power_mw(floor_levels(load, 0.6)))
    assert waited == 0.0

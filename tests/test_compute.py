"""LLM workloads as power loads: training waveform, inference serving, catalog, flexibility in the engine."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from builders import FixedController, make_inputs
from wattscale.compute.catalog import load_catalog
from wattscale.compute.flexibility import Envelope, envelope
from wattscale.compute.inference import gpus_for_slo, meets_slo, serve, serving_rates
from wattscale.compute.traces import read_azure_trace, read_mooncake_trace, synthetic_requests, tile
from wattscale.compute.training import schedule_pauses, training_mix
from wattscale.engine.simulate import balance_residual_mw, simulate_site
from wattscale.scenario.workloads import LLAMA3_FAILURES_PER_GPU_HOUR, Inference, Training

CATALOG = load_catalog()
H100 = CATALOG.get("H100")


def job(**kw) -> Training:
    base = dict(name="t", gpu="H100", gpus=1024, iteration_s=4.0, communication_fraction=0.25, checkpoint=None,
                failures=None, ramp_s=0.0)
    return Training(**{**base, **kw})


# ---------------------------------------------------------------- catalog
def test_catalog_holds_the_published_splitwise_figures():
    """Patel et al. (Splitwise, ISCA 2024): H100 ~75 W idle / 700 W prefill / 380 W decode; A100 63 / 400 / 250."""
    a100 = CATALOG.get("A100-SXM4-80GB")
    assert (H100.idle_w, H100.prefill_w, H100.memory_bound_w) == (75, 700, 380)
    assert (a100.idle_w, a100.prefill_w, a100.memory_bound_w) == (63, 400, 250)
    for name in ("A100-SXM4-80GB", "H100-SXM", "H200-SXM", "B200", "GB200"):
        spec = CATALOG.get(name)
        assert spec.sources.get("tdp_w") and spec.sources.get("idle_w"), name


def test_cap_curve_inverse_keeps_the_asked_throughput():
    curve = H100.training_curve
    for keep in (0.5, 0.75, 0.9, 0.99):
        cap = curve.cap_for_throughput(keep)
        assert curve.throughput(cap) == pytest.approx(keep, abs=1e-12)
        assert curve.throughput(cap - 0.01) < keep


def test_a_user_catalog_adds_and_overrides(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("gpus:\n  X1:\n" + "".join(f"    {k}: {v}\n" for k, v in {
        "idle_w": 50, "tdp_w": 500, "compute_w": 450, "communication_w": 100, "prefill_w": 500, "memory_bound_w": 300,
        "checkpoint_w": 60, "power_cap_min_w": 150, "power_cap_max_w": 500, "server_overhead_w": 1000,
        "bf16_dense_tflops": 500, "hbm_gb": 96, "hbm_bandwidth_tb_s": 4, "gpus_per_server": 8,
        "power_cap_curve_training": "hopper-training", "power_cap_curve_inference": "hopper-inference"}.items()))
    cat = load_catalog(f)
    assert cat.get("x1").compute_w == 450 and cat.get("H100").tdp_w == 700


# ---------------------------------------------------------------- training
def test_training_energy_is_gpus_times_average_power_times_time():
    j = job()
    mix = training_mix(j, H100, step_s=0.01, n_samples=100 * 400)  # 400 s = 100 iterations
    mean_gpu_w = 0.75 * H100.compute_w + 0.25 * H100.communication_w
    energy_j = mix.gpu_power_w().sum() * 0.01
    assert energy_j == pytest.approx(j.gpus * mean_gpu_w * 400.0, rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(step=st.sampled_from([0.001, 0.01, 0.37, 1.0, 7.0]), desync=st.floats(0, 1), comm=st.floats(0.05, 0.6),
       iteration=st.floats(0.3, 30), ramp=st.floats(0, 60), seed=st.integers(0, 50))
@example(step=1.0, desync=0.0, comm=0.5, iteration=1.0, ramp=6.5, seed=33)  # a group stops just before a checkpoint
def test_training_energy_is_exact_at_any_resolution(step, desync, comm, iteration, ramp, seed):
    """Phase times are integrated exactly, so any sample length gives the same energy as 1 ms samples."""
    j = job(iteration_s=iteration, communication_fraction=comm, desync_fraction=desync, ramp_s=ramp, gpus=4096,
            checkpoint={"interval_s": 100, "duration_s": 7}, failures={"per_gpu_hour": 2e-4, "seed": seed,
                                                                      "restart_s": 45})
    span = 840.0
    fine = training_mix(j, H100, step_s=0.001, n_samples=int(span / 0.001), job_start_s=3.0, job_end_s=700.0)
    coarse = training_mix(j, H100, step_s=step, n_samples=int(round(span / step)), job_start_s=3.0, job_end_s=700.0)
    e_fine = fine.gpu_power_w().sum() * 0.001
    e_coarse = coarse.gpu_power_w().sum() * step
    covered = int(round(span / step)) * step
    assert covered == pytest.approx(span, abs=step)
    if abs(covered - span) < 1e-9:
        assert e_coarse == pytest.approx(e_fine, rel=1e-9)
    for shares in (fine.shares, coarse.shares):
        total = sum(shares.values())
        assert np.allclose(total, 1.0, atol=1e-9) and min(v.min() for v in shares.values()) >= -1e-9


def test_pause_time_in_the_waveform_matches_the_schedule():
    j = job(gpus=16384, checkpoint={"interval_s": 600, "duration_s": 20}, failures={"per_gpu_hour": 1e-4,
                                                                                    "restart_s": 300})
    mix = training_mix(j, H100, step_s=1.0, n_samples=6 * 3600)
    pauses = schedule_pauses(j, start_s=0.0, end_s=6 * 3600.0)
    for kind in ("checkpoint", "restart"):
        scheduled = sum(p.end_s - p.start_s for p in pauses if p.kind == kind)
        assert mix.shares[kind].sum() == pytest.approx(scheduled, rel=1e-9)
    assert mix.stats["failures"] > 0 and mix.stats["checkpoints"] > 0


def test_failures_follow_the_llama3_rate():
    """419 interruptions in 54 days on 16,384 GPUs (Llama 3): the default rate reproduces it within 4 sigma."""
    j = job(gpus=16384, checkpoint=None, failures={"restart_s": 0.0, "seed": 3})
    pauses = schedule_pauses(j, start_s=0.0, end_s=54 * 86400.0)
    assert j.failures.per_gpu_hour == LLAMA3_FAILURES_PER_GPU_HOUR
    assert abs(len(pauses) - 419) < 4 * np.sqrt(419)


def test_iteration_time_estimated_from_model_size_and_mfu():
    j = job(iteration_s=None, model_params_b=70, tokens_per_iteration=4e6, mfu=0.4, communication_fraction=0.0)
    mix = training_mix(j, H100, step_s=0.1, n_samples=10)
    expected = 6 * 70e9 * 4e6 / (1024 * H100.bf16_dense_tflops * 1e12 * 0.4)
    assert mix.stats["iteration_s"] == pytest.approx(expected, rel=1e-12)


def test_start_ramp_spreads_groups_and_desync_smooths_the_swing():
    ramped = training_mix(job(ramp_s=20.0, groups=8), H100, step_s=0.1, n_samples=600).gpu_power_w()
    assert ramped[0] < ramped[300] and np.all(np.diff(ramped[:200].reshape(-1, 40).max(axis=1)) >= -1e-6)
    synced = training_mix(job(), H100, step_s=0.01, n_samples=8000).gpu_power_w()
    spread = training_mix(job(desync_fraction=1.0, groups=8), H100, step_s=0.01, n_samples=8000).gpu_power_w()
    assert np.ptp(spread) < 0.3 * np.ptp(synced)
    assert spread.mean() == pytest.approx(synced.mean(), rel=1e-9)


# ---------------------------------------------------------------- inference
@pytest.fixture(scope="module")
def azure_conv(data_dir):
    return read_azure_trace(data_dir / "llm_request_traces" / "AzureLLMInferenceTrace_conv_2023.csv")


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["AzureLLMInferenceTrace_conv_2023.csv", "AzureLLMInferenceTrace_code_2023.csv"])
def test_inference_power_on_azure_traces_is_bounded_and_follows_arrivals(data_dir, name):
    trace = read_azure_trace(data_dir / "llm_request_traces" / name)
    fleet = Inference(name="f", gpu="H100", arrivals={"file": "x.csv", "format": "azure"})
    n = int(trace.span_s)
    requests = tile(trace, n, repeat=False)
    gpus = gpus_for_slo(fleet, H100, requests, step_s=1.0, n_samples=n)
    mix = serve(fleet, H100, requests, n_gpus=gpus, step_s=1.0, n_samples=n).mix
    per_gpu = mix.gpu_power_w() / gpus
    assert per_gpu.min() >= H100.idle_w - 1e-9 and per_gpu.max() <= H100.prefill_w + 1e-9
    # minute by minute, power follows the arrivals and the prompt tokens they bring
    minutes = n // 60
    power = per_gpu[: minutes * 60].reshape(minutes, 60).mean(axis=1)
    minute = (requests.arrival_s // 60).astype(int)
    arrivals = np.bincount(minute, minlength=minutes)[:minutes]
    prompts = np.bincount(minute, weights=requests.prompt_tokens, minlength=minutes)[:minutes]
    assert np.corrcoef(arrivals, power)[0, 1] > 0.8
    assert np.corrcoef(prompts, power)[0, 1] > 0.9


@pytest.mark.realdata
def test_prefill_energy_is_conserved(azure_conv):
    fleet = Inference(name="f", gpu="H100", gpus=64, arrivals={"file": "x.csv", "format": "azure"})
    n = int(azure_conv.span_s) + 120  # room to finish the last requests
    res = serve(fleet, H100, azure_conv, n_gpus=64, step_s=1.0, n_samples=n)
    rate = serving_rates(fleet, H100).prefill_tokens_per_gpu_s
    assert res.unserved_requests == 0
    assert (res.mix.shares["prefill"] * 64).sum() == pytest.approx(azure_conv.prompt_tokens.sum() / rate, rel=1e-9)


@pytest.mark.realdata
def test_slo_sizing_is_the_smallest_fleet_that_meets_it(azure_conv):
    fleet = Inference(name="f", gpu="H100", ttft_slo_s=0.5, arrivals={"file": "x.csv", "format": "azure"})
    n = int(azure_conv.span_s)
    gpus = gpus_for_slo(fleet, H100, azure_conv, step_s=1.0, n_samples=n)
    assert gpus % 8 == 0
    at = serve(fleet, H100, azure_conv, n_gpus=gpus, step_s=1.0, n_samples=n)
    below = serve(fleet, H100, azure_conv, n_gpus=gpus - 8, step_s=1.0, n_samples=n)
    assert meets_slo(at, azure_conv, 0.5, n) and not meets_slo(below, azure_conv, 0.5, n)


@pytest.mark.realdata
def test_mooncake_trace_reads_and_serves(data_dir):
    trace = read_mooncake_trace(data_dir / "llm_request_traces" / "mooncake_conversation_trace.jsonl")
    assert len(trace) == 12031 and trace.span_s == pytest.approx(3537, rel=0.01)
    fleet = Inference(name="m", gpu="H100", ttft_slo_s=10, arrivals={"file": "x.jsonl", "format": "mooncake"})
    gpus = gpus_for_slo(fleet, H100, trace, step_s=1.0, n_samples=int(trace.span_s))
    assert gpus > 0


def test_synthetic_arrivals_follow_the_daily_cycle():
    from wattscale.scenario.workloads import SyntheticArrivals
    spec = SyntheticArrivals(mean_rate_per_s=50, peak_to_trough=3, peak_hour=14, burst_rate_per_h=0)
    edges = np.arange(0, 86400 * 7 + 1, 3600.0)
    hours = (edges[:-1] / 3600) % 24
    req = synthetic_requests(spec, edges, hours, individual=False)
    per_hour = np.bincount(((req.arrival_s // 3600) % 24).astype(int), weights=req.count, minlength=24) / 7 / 3600
    assert per_hour[14] / per_hour[2] == pytest.approx(3.0, rel=0.05)
    assert req.n_requests / (7 * 86400) == pytest.approx(50, rel=0.02)


# ---------------------------------------------------------------- flexibility in the engine
def test_training_flexibility_sheds_before_load_is_lost_and_keeps_its_budget():
    j = job(gpus=100_000, flexibility={"pausable": True, "slack_h": 2.0})
    mix = training_mix(j, H100, step_s=3600.0, n_samples=6)
    env = envelope(j, H100, mix)
    it = mix.it_power_mw()
    inputs = make_inputs(it, import_limit_mw=it.max() - 30.0)  # 30 MW short every hour
    inputs.envelopes = [env]
    frame = simulate_site(inputs, FixedController(np.full(6, np.nan), np.zeros((0, 6))))
    shed = frame["compute_shed_mw"].to_numpy()
    assert np.abs(balance_residual_mw(frame)).max() < 1e-9
    assert shed.sum() == pytest.approx(env.budget_mwh, rel=1e-9)  # the deadline's budget, then unserved
    assert frame["unserved_mw"].iloc[-1] > 0 and frame["unserved_mw"].iloc[0] == 0
    assert env.budget_mwh == pytest.approx(2.0 * env.reducible_mw.mean(), rel=1e-12)


def test_capping_envelope_uses_the_dvfs_curve():
    j = job(flexibility={"slowdown_tier": 0.25})
    mix = training_mix(j, H100, step_s=60.0, n_samples=10)
    env: Envelope = envelope(j, H100, mix)
    cap_w = H100.training_curve.cap_for_throughput(0.75) * H100.tdp_w
    expected = j.gpus * 0.75 * max(0.0, H100.compute_w - cap_w) * 1e-6
    assert env.reducible_mw.mean() == pytest.approx(expected, rel=1e-9) and np.isinf(env.budget_mwh)


@pytest.mark.realdata
def test_inference_energy_does_not_depend_on_the_step(azure_conv):
    """Prefill and decode GPU-time are the same whether the fleet is stepped at 1 s or 5 min (within 2 %)."""
    fleet = Inference(name="f", gpu="H100", gpus=64, arrivals={"file": "x.csv", "format": "azure"})
    span = 3600.0
    from wattscale.compute.traces import cohorts
    fine = serve(fleet, H100, tile(azure_conv, span), n_gpus=64, step_s=1.0, n_samples=3600).mix
    coarse_req = cohorts(azure_conv, np.arange(13) * 300.0)
    coarse = serve(fleet, H100, coarse_req, n_gpus=64, step_s=300.0, n_samples=12).mix
    for phase in ("prefill", "decode"):
        e_fine = fine.shares[phase].sum() * 1.0
        e_coarse = coarse.shares[phase].sum() * 300.0
        assert e_coarse == pytest.approx(e_fine, rel=0.02), phase
    assert fine.shares["decode"].sum() > 0.1 * fine.shares["prefill"].sum()


def test_checkpoints_resume_a_full_interval_after_a_restart():
    j = job(gpus=16384, checkpoint={"interval_s": 300, "duration_s": 10}, failures={"per_gpu_hour": 2e-4,
                                                                                   "restart_s": 60, "seed": 1})
    pauses = schedule_pauses(j, start_s=0.0, end_s=4 * 3600.0)
    run = 0.0
    last_wall, last_kind, run_at = 0.0, None, []
    for p in pauses:  # running time at each pause
        run += p.start_s - last_wall
        run_at.append((run, p.kind))
        last_wall = p.end_s
    assert any(k == "restart" for _, k in run_at)
    for (r0, k0), (r1, k1) in zip(run_at, run_at[1:]):
        if k1 == "checkpoint":
            assert r1 - r0 == pytest.approx(300.0) or k0 == "restart" and r1 - r0 == pytest.approx(300.0)

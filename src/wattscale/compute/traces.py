"""LLM request arrivals: Azure and Mooncake trace readers, tiling to any span, synthetic diurnal arrivals."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wattscale.errors import DataError
from wattscale.guards import excerpt
from wattscale.scenario.workloads import SyntheticArrivals


@dataclass(frozen=True)
class Requests:
    """Requests sorted by arrival (seconds from the trace's or window's start); ``count`` > 1 is a cohort of
    ``count`` requests arriving together with these mean token lengths."""

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    count: np.ndarray
    span_s: float
    source: str = ""

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def n_requests(self) -> float:
        return float(self.count.sum())


def _requests(arrival, prompt, output, *, file: str, span_s: float | None = None) -> Requests:
    arrival = np.asarray(arrival, dtype=float)
    prompt = np.asarray(prompt, dtype=float)
    output = np.asarray(output, dtype=float)
    if len(arrival) == 0:
        raise DataError("the trace has no requests", file=file)
    if not (np.isfinite(prompt).all() and np.isfinite(output).all()) or (prompt < 0).any() or (output < 0).any():
        row = int(np.flatnonzero(~(np.isfinite(prompt) & np.isfinite(output)) | (prompt < 0) | (output < 0))[0])
        raise DataError(f"request {row + 1} has a missing or negative token count", file=file,
                        expected="non-negative integers")
    back = np.flatnonzero(np.diff(arrival) < 0)
    if len(back):
        raise DataError(f"timestamps are not sorted: request {back[0] + 2} arrives before request {back[0] + 1}",
                        file=file, expected="requests in arrival order")
    arrival = arrival - arrival[0]
    if span_s is None:  # one mean gap past the last arrival, so a tiled trace keeps its rate
        span_s = float(arrival[-1] * len(arrival) / max(1, len(arrival) - 1)) or 1.0
    return Requests(arrival, prompt, output, np.ones(len(arrival)), span_s, file)


def read_azure_trace(path: str | Path) -> Requests:
    """Azure LLM inference trace CSV: TIMESTAMP, ContextTokens, GeneratedTokens (Patel et al., ISCA 2024)."""
    file = str(path)
    try:
        frame = pd.read_csv(path, dtype={"TIMESTAMP": str})
    except FileNotFoundError:
        raise DataError("trace file not found", file=file) from None
    except pd.errors.EmptyDataError:
        raise DataError("the trace file is empty", file=file,
                        expected="Azure trace columns TIMESTAMP, ContextTokens, GeneratedTokens") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable CSV: {excerpt(exc, 160)}", file=file) from None
    missing = [c for c in ("TIMESTAMP", "ContextTokens", "GeneratedTokens") if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", file=file,
                        expected="Azure trace columns TIMESTAMP, ContextTokens, GeneratedTokens")
    if frame.empty:
        raise DataError("the trace has no requests", file=file)
    times = pd.to_datetime(frame["TIMESTAMP"], errors="coerce", format="mixed")
    if times.isna().any():
        row = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise DataError(f"row {row + 2}: TIMESTAMP '{excerpt(frame['TIMESTAMP'].iloc[row], 40)}' is not a timestamp",
                        file=file,
                        field="TIMESTAMP", expected="e.g. 2023-11-16 18:15:46.6805900")
    seconds = (times - times.iloc[0]).dt.total_seconds().to_numpy()
    tokens = {c: pd.to_numeric(frame[c], errors="coerce").to_numpy() for c in ("ContextTokens", "GeneratedTokens")}
    return _requests(seconds, tokens["ContextTokens"], tokens["GeneratedTokens"], file=file)


def read_mooncake_trace(path: str | Path) -> Requests:
    """Mooncake JSONL trace: timestamp (ms from start), input_length, output_length per line (FAST'25)."""
    file = str(path)
    rows = []
    try:
        with open(path) as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                    rows.append((float(r["timestamp"]) / 1000.0, float(r["input_length"]), float(r["output_length"])))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    raise DataError(f"line {line_no} is not a Mooncake request", file=file,
                                    expected='JSON with "timestamp" (ms), "input_length", "output_length"') from None
    except FileNotFoundError:
        raise DataError("trace file not found", file=file) from None
    except UnicodeDecodeError:
        raise DataError("not a text file", file=file, expected="JSON lines") from None
    if not rows:
        raise DataError("the trace has no requests", file=file)
    a = np.array(rows)
    return _requests(a[:, 0], a[:, 1], a[:, 2], file=file)


def read_trace(path: str | Path, fmt: str) -> Requests:
    return read_azure_trace(path) if fmt == "azure" else read_mooncake_trace(path)


def tile(trace: Requests, duration_s: float, *, rate_scale: float = 1.0, repeat: bool = True,
         seed: int = 0) -> Requests:
    """Individual requests over ``[0, duration_s)``: the trace looped end to end, with ``rate_scale`` as extra
    circularly shifted copies (thinned for a fractional scale)."""
    rng = np.random.default_rng(seed)
    copies = int(np.ceil(rate_scale))
    reps = int(np.ceil(duration_s / trace.span_s)) if repeat else 1
    parts = []
    for c in range(copies):
        shift = 0.0 if c == 0 else rng.uniform(0, trace.span_s)
        base = np.mod(trace.arrival_s + shift, trace.span_s)
        keep = np.ones(len(base), bool) if c < int(rate_scale) else rng.random(len(base)) < rate_scale - int(rate_scale)
        for r in range(reps):
            parts.append((base[keep] + r * trace.span_s, trace.prompt_tokens[keep], trace.output_tokens[keep]))
    arrival = np.concatenate([p[0] for p in parts])
    order = np.argsort(arrival, kind="stable")
    inside = arrival[order] < duration_s
    idx = order[inside]
    prompt = np.concatenate([p[1] for p in parts])[idx]
    output = np.concatenate([p[2] for p in parts])[idx]
    return Requests(arrival[idx], prompt, output, np.ones(len(idx)), duration_s, trace.source)


def cohorts(trace: Requests, edges_s: np.ndarray, *, rate_scale: float = 1.0, repeat: bool = True) -> Requests:
    """Per-sample cohorts of the looped trace (count and mean token lengths), exact at any span and step."""
    t = trace.arrival_s
    cum_n = np.arange(len(t) + 1, dtype=float)
    cum_p = np.concatenate([[0.0], np.cumsum(trace.prompt_tokens)])
    cum_o = np.concatenate([[0.0], np.cumsum(trace.output_tokens)])

    def upto(x):
        q = np.floor(x / trace.span_s) if repeat else np.zeros_like(x)
        within = x - q * trace.span_s if repeat else np.minimum(x, trace.span_s + 1e-9)
        i = np.searchsorted(t, within, side="left")
        return [q * c[-1] + c[i] for c in (cum_n, cum_p, cum_o)]

    lo, hi = upto(edges_s[:-1]), upto(edges_s[1:])
    n, p, o = (h - l for h, l in zip(hi, lo))
    safe = np.maximum(n, 1e-12)
    keep = n > 0
    return Requests(edges_s[:-1][keep] - edges_s[0], (p / safe)[keep], (o / safe)[keep], (n * rate_scale)[keep],
                    float(edges_s[-1] - edges_s[0]), trace.source)


def rate_profile_per_s(spec: SyntheticArrivals, local_hours: np.ndarray, elapsed_s: np.ndarray) -> np.ndarray:
    """Arrival rate at each time: the daily cycle (cosine, peak at ``peak_hour``) times random bursts."""
    a = (spec.peak_to_trough - 1.0) / (spec.peak_to_trough + 1.0)
    rate = spec.mean_rate_per_s * (1.0 + a * np.cos(2 * np.pi * (local_hours - spec.peak_hour) / 24.0))
    rng = np.random.default_rng(spec.seed + 1)
    span = float(elapsed_s[-1] - elapsed_s[0]) + 1.0
    n_bursts = rng.poisson(spec.burst_rate_per_h * span / 3600.0) if spec.burst_factor > 1 else 0
    if n_bursts:
        starts = np.sort(rng.uniform(elapsed_s[0], elapsed_s[0] + span, n_bursts))
        i = np.searchsorted(starts, elapsed_s, side="right") - 1
        in_burst = (i >= 0) & (elapsed_s - starts[np.maximum(i, 0)] < spec.burst_duration_s)
        rate = np.where(in_burst, rate * spec.burst_factor, rate)
    return rate


def synthetic_requests(spec: SyntheticArrivals, edges_s: np.ndarray, local_hours: np.ndarray, *,
                       individual: bool) -> Requests:
    """Poisson arrivals per sample at the profile's rate; individual requests or per-sample cohorts."""
    rng = np.random.default_rng(spec.seed)
    dt = np.diff(edges_s)
    mid = edges_s[:-1] + dt / 2
    counts = rng.poisson(rate_profile_per_s(spec, local_hours, mid) * dt)
    mean_p = spec.prompt_tokens_median * np.exp(spec.prompt_tokens_sigma ** 2 / 2)
    mean_o = spec.output_tokens_median * np.exp(spec.output_tokens_sigma ** 2 / 2)
    start = edges_s[0]
    if individual:
        total = int(counts.sum())
        arrival = np.repeat(edges_s[:-1] - start, counts) + rng.random(total) * np.repeat(dt, counts)
        arrival.sort()
        prompt = np.round(rng.lognormal(np.log(spec.prompt_tokens_median), spec.prompt_tokens_sigma, total))
        output = np.round(rng.lognormal(np.log(spec.output_tokens_median), spec.output_tokens_sigma, total))
        return Requests(arrival, prompt, np.maximum(output, 1), np.ones(total), float(edges_s[-1] - start),
                        "synthetic")
    keep = counts > 0
    return Requests(edges_s[:-1][keep] - start, np.full(keep.sum(), mean_p), np.full(keep.sum(), mean_o),
                    counts[keep].astype(float), float(edges_s[-1] - start), "synthetic")

"""The GPU catalog: per-GPU power in each phase, power-cap range, DVFS curves, with sources."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from wattscale.errors import DataError, ScenarioError
from wattscale.guards import MAX_YAML_BYTES, excerpt, excerpts, path_problem

POWER_FIELDS_W = ("idle_w", "tdp_w", "compute_w", "communication_w", "prefill_w", "memory_bound_w",
                  "checkpoint_w", "power_cap_min_w", "power_cap_max_w", "server_overhead_w")
NUMBER_FIELDS = POWER_FIELDS_W + ("bf16_dense_tflops", "hbm_gb", "hbm_bandwidth_tb_s", "gpus_per_server")
#: the largest plausible value of each field (default 1e5: W per GPU, W per server)
GPU_FIELD_MAX = {"server_overhead_w": 1e6, "bf16_dense_tflops": 1e6, "hbm_gb": 1e5, "hbm_bandwidth_tb_s": 1e3,
                 "gpus_per_server": 1e4}


@dataclass(frozen=True, eq=False)
class CapCurve:
    """Throughput fraction against power cap as a fraction of TDP (piecewise linear, monotone)."""

    name: str
    power_fraction: np.ndarray
    throughput_fraction: np.ndarray
    source: str = ""

    def throughput(self, cap_fraction: float) -> float:
        """Throughput kept under a cap of ``cap_fraction`` x TDP (flat beyond the curve's ends)."""
        return float(np.interp(cap_fraction, self.power_fraction, self.throughput_fraction))

    def cap_for_throughput(self, throughput: float) -> float:
        """Lowest cap fraction keeping at least ``throughput`` (the curve's first point at most)."""
        x, y = self.power_fraction, self.throughput_fraction
        if throughput <= y[0]:
            return float(x[0])
        i = int(np.searchsorted(y, throughput, side="left"))
        i = min(max(i, 1), len(y) - 1)
        while i > 1 and y[i - 1] >= throughput:  # flat stretches: take the first point reaching it
            i -= 1
        if y[i] == y[i - 1]:
            return float(x[i - 1])
        return float(x[i - 1] + (throughput - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))


@dataclass(frozen=True, eq=False)
class GpuSpec:
    """One GPU type; powers in W per GPU, server overhead in W per server."""

    name: str
    idle_w: float
    tdp_w: float
    compute_w: float
    communication_w: float
    prefill_w: float
    memory_bound_w: float
    checkpoint_w: float
    power_cap_min_w: float
    power_cap_max_w: float
    server_overhead_w: float
    bf16_dense_tflops: float
    hbm_gb: float
    hbm_bandwidth_tb_s: float
    gpus_per_server: int
    training_curve: CapCurve
    inference_curve: CapCurve
    sources: dict = field(default_factory=dict)

    @property
    def overhead_w_per_gpu(self) -> float:
        return self.server_overhead_w / self.gpus_per_server

    def capped(self, power_w: float, cap_w: float | None) -> float:
        return power_w if cap_w is None else min(power_w, cap_w)


@dataclass(frozen=True)
class Catalog:
    gpus: dict[str, GpuSpec]
    aliases: dict[str, str]
    sources: tuple[str, ...] = ()

    def get(self, name: str, *, field: str | None = None, file: str | None = None) -> GpuSpec:
        key = self.aliases.get(name.lower())
        if key is None:
            known = sorted(self.gpus)
            close = difflib.get_close_matches(name, known + sorted(self.aliases), n=1)
            hint = f"; did you mean '{self.aliases.get(close[0].lower(), close[0])}'?" if close else ""
            raise ScenarioError(f"unknown GPU '{excerpt(name, 40)}'{hint}", file=file, field=field,
                                expected="one of " + ", ".join(known))
        return self.gpus[key]


def _bundled_text() -> str:
    return resources.files("wattscale").joinpath("data/gpu_catalog.yaml").read_text()


def load_catalog(extra: str | Path | None = None) -> Catalog:
    """The bundled catalog, with entries from ``extra`` (same layout) added or overriding by name."""
    raw = yaml.safe_load(_bundled_text())
    curves, gpus = dict(raw.get("power_cap_curves", {})), dict(raw.get("gpus", {}))
    sources = ["bundled gpu_catalog.yaml"]
    if extra is not None:
        path = Path(extra)
        problem = path_problem(path)
        if problem:
            raise DataError(f"GPU catalog file {problem}", file=str(path), field="gpu_catalog")
        if path.stat().st_size > MAX_YAML_BYTES:
            raise DataError("GPU catalog file too large", file=str(path), field="gpu_catalog",
                            expected=f"a YAML file of at most {MAX_YAML_BYTES / 1e6:g} MB")
        try:
            user = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise DataError(f"not valid YAML: {excerpt(exc, 160)}", file=str(path), field="gpu_catalog") from None
        except (UnicodeDecodeError, RecursionError):
            raise DataError("not a YAML text file", file=str(path), field="gpu_catalog") from None
        if not isinstance(user, dict) or not ({"gpus", "power_cap_curves"} & set(user)):
            raise DataError("not a GPU catalog", file=str(path), field="gpu_catalog",
                            expected="a mapping with 'gpus' (and optionally 'power_cap_curves')")
        curves.update(user.get("power_cap_curves") or {})
        gpus.update(user.get("gpus") or {})
        sources.append(str(path))
    file = sources[-1]
    parsed_curves = {name: _curve(name, spec, file) for name, spec in curves.items()}
    specs, aliases = {}, {}
    for name, spec in gpus.items():
        specs[name] = _gpu(name, spec, parsed_curves, file)
        aliases[name.lower()] = name
    for name, spec in gpus.items():
        for alias in spec.get("aliases") or []:
            aliases.setdefault(str(alias).lower(), name)
    return Catalog(specs, aliases, tuple(sources))


def _curve(name: str, spec, file: str) -> CapCurve:
    where = f"power_cap_curves.{excerpt(name, 40)}"
    try:
        pts = np.asarray(spec["points"], dtype=float)
    except (KeyError, TypeError, ValueError, IndexError):
        raise DataError("a curve needs 'points': a list of [power_fraction, throughput_fraction]", file=file,
                        field=where) from None
    ok = (pts.ndim == 2 and pts.shape[1] == 2 and len(pts) >= 2 and (np.diff(pts[:, 0]) > 0).all()
          and (np.diff(pts[:, 1]) >= 0).all() and (pts > 0).all() and (pts <= 1).all()
          and tuple(pts[-1]) == (1.0, 1.0))
    if not ok:
        raise DataError("invalid power-cap curve", file=file, field=where,
                        expected="points with increasing power fractions in (0, 1], non-decreasing throughput "
                                 "in (0, 1], ending at [1.0, 1.0]")
    return CapCurve(name, pts[:, 0].copy(), pts[:, 1].copy(), str(spec.get("source", "")))


def _gpu(name: str, spec, curves: dict[str, CapCurve], file: str) -> GpuSpec:
    where = f"gpus.{excerpt(name, 40)}"
    if not isinstance(spec, dict):
        raise DataError("a GPU entry must be a mapping of fields", file=file, field=where)
    if not str(name).isprintable() or len(str(name)) > 100:
        raise DataError("a GPU name must be printable text of at most 100 characters", file=file, field=where)
    values = {}
    for f in NUMBER_FIELDS:
        v = spec.get(f)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v <= GPU_FIELD_MAX.get(f, 1e5):
            raise DataError(f"missing, non-positive or implausible {f}", file=file, field=f"{where}.{f}",
                            expected=f"a positive number up to {GPU_FIELD_MAX.get(f, 1e5):g}")
        values[f] = float(v)
    if values["gpus_per_server"] != int(values["gpus_per_server"]):
        raise DataError("gpus_per_server must be a whole number", file=file, field=f"{where}.gpus_per_server",
                        expected="a whole number such as 8")
    v = values
    rules = [
        (v["idle_w"] < v["memory_bound_w"] <= v["prefill_w"] <= v["tdp_w"], "idle < memory_bound <= prefill <= tdp"),
        (v["idle_w"] <= v["communication_w"] < v["compute_w"] <= v["tdp_w"], "idle <= communication < compute <= tdp"),
        (v["idle_w"] <= v["checkpoint_w"] < v["compute_w"], "idle <= checkpoint < compute"),
        (v["power_cap_min_w"] < v["power_cap_max_w"] <= v["tdp_w"], "power_cap_min < power_cap_max <= tdp"),
    ]
    for ok, rule in rules:
        if not ok:
            raise DataError("inconsistent powers", file=file, field=where, expected=rule)
    picked = {}
    for key in ("power_cap_curve_training", "power_cap_curve_inference"):
        cname = spec.get(key)
        if cname not in curves:
            raise DataError(f"unknown curve '{excerpt(cname, 40)}'", file=file, field=f"{where}.{key}",
                            expected="one of " + excerpts(sorted(curves)))
        picked[key] = curves[cname]
    v["gpus_per_server"] = int(v["gpus_per_server"])
    return GpuSpec(name=name, **v, training_curve=picked["power_cap_curve_training"],
                   inference_curve=picked["power_cap_curve_inference"], sources=dict(spec.get("sources") or {}))

"""A sweep file: which study, on which scenario (or network), and the parameters that vary from case to case.

Parameters are dotted paths into the scenario (``sites[0].battery.energy_mwh``) or ``options.<name>`` for the
study's options. ``mode: grid`` runs every combination of the listed values, ``zip`` the n-th value of each
together, ``random`` draws ``samples`` cases (a list is a choice; ``{uniform: [low, high]}``, ``{loguniform: ...}``,
``{normal: [mean, sd]}`` and ``{integers: [low, high]}`` are distributions) from ``seed``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wattscale.errors import ScenarioError
from wattscale.guards import excerpt

MAX_CASES = 1_000_000
OPTION_PREFIX = "options."
CASE_COLUMNS = ("case", "status", "error", "seconds", "key")  # the table of cases, beside parameters and KPIs
DISTRIBUTIONS = ("uniform", "loguniform", "normal", "integers")


class SweepError(ScenarioError):
    """A sweep file, or one of its cases, is not valid."""


class SweepFile(BaseModel):
    """What a sweep file holds (see the module's docstring)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    study: str
    scenario: str | None = None  # for studies of a scenario, relative to the sweep file
    network: str | None = None  # for the grid studies: a network file or a built-in case name
    name: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, list | dict]
    mode: Literal["grid", "zip", "random"] = "grid"
    samples: int | None = Field(None, ge=1, le=MAX_CASES)
    seed: int = Field(0, ge=0)

    @field_validator("parameters")
    @classmethod
    def _some(cls, value: dict) -> dict:
        if not value:
            raise ValueError("no parameters to vary")
        for path, values in value.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"'{excerpt(path, 60)}' has an empty list of values")
        return value


@dataclass(frozen=True)
class Case:
    """One case: its number in the sweep and the value of each parameter."""

    index: int
    values: dict[str, Any]

    @property
    def changes(self) -> dict[str, Any]:
        """The scenario changes (dotted path -> value)."""
        return {p: v for p, v in self.values.items() if not p.startswith(OPTION_PREFIX)}

    def options(self, shared: dict) -> dict:
        """The study's options for this case: the sweep's shared options with this case's own on top."""
        return {**shared, **{p.removeprefix(OPTION_PREFIX): v for p, v in self.values.items()
                             if p.startswith(OPTION_PREFIX)}}

    def label(self) -> str:
        return ", ".join(f"{p}={excerpt(v, 30)}" for p, v in self.values.items())


def read_sweep(path: str | Path) -> tuple[SweepFile, str]:
    """The sweep file at ``path``, checked, and its text."""
    from wattscale.scenario.load import parse_yaml

    path = Path(path)
    try:
        if path.stat().st_size > 5_000_000:
            raise SweepError("the sweep file is larger than 5 MB", file=str(path), expected="a short YAML file")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"cannot read the sweep file ({getattr(exc, 'strerror', None) or exc})", file=str(path),
                         expected="a readable UTF-8 YAML file") from None
    data = parse_yaml(text, file=str(path), what="sweep", keys="study, scenario, parameters and mode")
    return sweep_from_dict(data, file=str(path)), text


def sweep_from_dict(data: dict, *, file: str | None = None) -> SweepFile:
    """A sweep from its fields, checked; an error names the field and what it needs."""
    try:
        return SweepFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "sweep"
        raise SweepError(err["msg"].removeprefix("Value error, "), file=file, field=where,
                         expected=_EXPECTED.get(str(err["loc"][0]) if err["loc"] else "", None)) from None


_EXPECTED = {
    "parameters": "a mapping of dotted paths to lists of values (or distributions in random mode)",
    "mode": "grid, zip or random",
    "study": "the name of a study ('wattscale studies' lists them)",
    "samples": "a whole number of cases between 1 and 1,000,000",
}


def expand(sweep: SweepFile, *, file: str | None = None) -> list[Case]:
    """Every case of the sweep, in order; the number of cases is checked before any is built."""
    params = sweep.parameters
    for path, values in params.items():
        if isinstance(values, dict) and sweep.mode != "random":
            raise SweepError(f"a distribution is only drawn from in random mode (mode is {sweep.mode})",
                             file=file, field=f"parameters.{path}", expected="a list of values")
    if sweep.mode == "grid":
        n = math.prod(len(v) for v in params.values())
        _check_count(n, file)
        import itertools

        combos = itertools.product(*params.values())
        return [Case(k, dict(zip(params, combo))) for k, combo in enumerate(combos)]
    if sweep.mode == "zip":
        lengths = {p: len(v) for p, v in params.items()}
        if len(set(lengths.values())) > 1:
            raise SweepError("in zip mode every parameter needs the same number of values (" +
                             ", ".join(f"{excerpt(p, 40)}: {n}" for p, n in lengths.items()) + ")",
                             file=file, field="parameters", expected="lists of equal length, or mode: grid")
        n = next(iter(lengths.values()))
        return [Case(k, {p: v[k] for p, v in params.items()}) for k in range(n)]
    if sweep.samples is None:
        raise SweepError("random mode needs a number of samples", file=file, field="samples",
                         expected="samples: N (the number of cases to draw)")
    rng = np.random.default_rng(sweep.seed)
    draws = {p: _draw(v, sweep.samples, rng, file, p) for p, v in params.items()}
    return [Case(k, {p: d[k] for p, d in draws.items()}) for k in range(sweep.samples)]


def _check_count(n: int, file: str | None) -> None:
    if n > MAX_CASES:
        raise SweepError(f"the grid has {n:,} cases, more than {MAX_CASES:,}", file=file, field="parameters",
                         expected="fewer combinations (or mode: random with samples)")


def _draw(spec, n: int, rng: np.random.Generator, file: str | None, path: str) -> list:
    field = f"parameters.{path}"
    if isinstance(spec, list):
        return [spec[int(i)] for i in rng.integers(0, len(spec), n)]
    if len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
        raise SweepError(f"cannot read the distribution {excerpt(spec, 60)}", file=file, field=field,
                         expected="one of " + ", ".join(f"{{{d}: [a, b]}}" for d in DISTRIBUTIONS))
    kind, args = next(iter(spec.items()))
    ok = (isinstance(args, list) and len(args) == 2 and all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                                           and math.isfinite(a) for a in args))
    if not ok:
        raise SweepError(f"{kind} needs two finite numbers", file=file, field=field,
                         expected=f"{{{kind}: [a, b]}}")
    a, b = args
    if kind == "normal":
        if b < 0:
            raise SweepError("a normal distribution's standard deviation is negative", file=file, field=field,
                             expected="{normal: [mean, sd >= 0]}")
        return [float(x) for x in rng.normal(a, b, n)]
    if b < a or (kind == "loguniform" and a <= 0):
        raise SweepError(f"{kind} bounds out of order", file=file, field=field,
                         expected=f"{{{kind}: [low, high]}} with low <= high" +
                                  (" and low > 0" if kind == "loguniform" else ""))
    if kind == "uniform":
        return [float(x) for x in rng.uniform(a, b, n)]
    if kind == "loguniform":
        return [float(x) for x in np.exp(rng.uniform(math.log(a), math.log(b), n))]
    return [int(x) for x in rng.integers(int(a), int(b), n, endpoint=True)]

"""Simulation results: per-step frames per site plus KPIs; saved as Parquet + JSON atomically, read back in one call."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from wattscale.errors import ResultsError
from wattscale.results_folder import json_default, write_folder
from wattscale.scenario.schema import Scenario
from wattscale.timeseries.timeline import Timeline

SUMMARY = "summary.json"


@dataclass
class Results:
    """``steps[site]`` is a DataFrame of per-step series (columns carry units); ``kpis[site]`` a dict."""

    scenario: Scenario
    timeline: Timeline
    steps: dict[str, pd.DataFrame]
    kpis: dict[str, dict]
    extra: dict = field(default_factory=dict)

    @property
    def total(self) -> dict:
        """KPIs over all sites (filled by ``wattscale.studies.simulation.kpi.attach_kpis``)."""
        return self.extra.get("total", {})

    def save(self, outdir: str | Path, *, extra_files: dict[str, bytes] | None = None) -> Path:
        """Write ``outdir`` atomically: built in a temporary sibling, then swapped in whole."""
        files = {**self.files(), **(extra_files or {})}
        files[SUMMARY] = json.dumps(self.summary(), indent=2, default=json_default).encode()
        return write_folder(outdir, files)

    def step_files(self) -> dict[str, str]:
        """Site name -> the Parquet file of its steps."""
        return {name: f"steps_{i}.parquet" for i, name in enumerate(self.steps)}

    def files(self) -> dict[str, bytes]:
        """The steps of each site as Parquet, and the validated scenario for reproduction."""
        files: dict[str, bytes] = {}
        for name, fname in self.step_files().items():
            buf = io.BytesIO()
            self.steps[name].to_parquet(buf)
            files[fname] = buf.getvalue()
        files["scenario.yaml"] = yaml.safe_dump(self.scenario.model_dump(mode="json"), sort_keys=False).encode()
        return files

    def summary(self) -> dict:
        """summary.json's body: the timeline, per-site KPIs, all-site totals and the controllers' logs."""
        names = self.step_files()
        return {
            "scenario": self.scenario.name,
            "timeline": {"start": self.timeline.start.isoformat(), "step_s": self.timeline.step_s,
                         "n_steps": self.timeline.n_steps, "timezone": str(self.timeline.tz)},
            "sites": {name: {"steps_file": names[name], "kpis": self.kpis[name]} for name in self.steps},
            "total": self.total,
            "extra": {k: v for k, v in self.extra.items() if k != "total"},
        }


def load_results(path: str | Path) -> Results:
    """Read a results directory written by ``Results.save`` (or ``wattscale run``)."""
    path = Path(path)
    summary_file = path / SUMMARY
    if not summary_file.is_file():
        raise ResultsError("not a complete results directory", file=str(path),
                           expected=f"a folder with {SUMMARY} written by 'wattscale run'")
    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        scenario = Scenario.model_validate(yaml.safe_load((path / "scenario.yaml").read_text(encoding="utf-8")))
        steps = {name: pd.read_parquet(path / info["steps_file"]) for name, info in summary["sites"].items()}
    except (OSError, ValueError, KeyError) as exc:
        raise ResultsError(f"cannot read results: {exc}", file=str(path)) from None
    tl = summary["timeline"]
    timeline = Timeline(pd.Timestamp(tl["start"]).tz_convert(tl["timezone"]), tl["step_s"], tl["n_steps"])
    kpis = {name: info["kpis"] for name, info in summary["sites"].items()}
    extra = {**summary.get("extra", {}), "total": summary.get("total", {})}
    return Results(scenario=scenario, timeline=timeline, steps=steps, kpis=kpis, extra=extra)

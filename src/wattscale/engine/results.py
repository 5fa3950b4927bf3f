"""Simulation results: per-step frames per site plus KPIs; saved as Parquet + JSON atomically, read back in one call."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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

    def _repr_html_(self) -> str:
        """In a notebook: the KPIs, one column per site (and all sites together)."""
        import html

        columns = {**self.kpis, **({"all sites": self.total} if len(self.kpis) > 1 and self.total else {})}
        names = [k for k in dict.fromkeys(k for kp in columns.values() for k in kp)
                 if any(_scalar(kp.get(k)) for kp in columns.values())]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       + "".join(f"<td style='text-align:right'>{_cell(kp.get(k))}</td>" for kp in columns.values())
                       + "</tr>" for k in names)
        return (f"<b>{html.escape(self.scenario.name)}</b>: {self.timeline.n_steps:,} steps of "
                f"{self.timeline.step_s:g} s from {self.timeline.start}<table><tr><th></th>{head}</tr>{rows}</table>")

    def to_xarray(self):
        """The steps as an ``xarray.Dataset`` over (site, time): one variable per column (NaN where a site lacks
        it), its unit in ``attrs["units"]`` from the column's name; time in UTC, the zone in the dataset's attrs."""
        import xarray as xr

        frames = {name: frame.tz_convert("UTC").tz_localize(None) for name, frame in self.steps.items()}
        columns = list(dict.fromkeys(c for f in frames.values() for c in f.columns))
        index = next(iter(frames.values())).index
        data = {}
        for c in columns:
            values = np.stack([f[c].to_numpy(dtype=float) if c in f else np.full(len(index), np.nan)
                               for f in frames.values()])
            data[c] = xr.Variable(("site", "time"), values, attrs={"units": unit_of(c)})
        return xr.Dataset(data, coords={"site": list(frames), "time": index.rename("time")},
                          attrs={"scenario": self.scenario.name, "timezone": str(self.timeline.tz),
                                 "step_s": float(self.timeline.step_s), "source": "wattscale"})

    def netcdf_bytes(self) -> bytes:
        """``to_xarray()`` as a NetCDF file (NetCDF 3, written by scipy: no other library needed)."""
        return bytes(self.to_xarray().to_netcdf(engine="scipy"))

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
        files["scenario.yaml"] = yaml.safe_dump(self.scenario_as_run().model_dump(mode="json"),
                                                sort_keys=False).encode()
        return files

    def scenario_as_run(self) -> Scenario:
        """The scenario with every fleet sized for its SLO written in (``gpus``), so that re-running it gives the
        same fleets without sizing them again."""
        fleets = self.extra.get("workloads", {})
        sites = []
        for site in self.scenario.sites:
            sized = fleets.get(site.name, {})
            workloads = [w.model_copy(update={"gpus": int(sized[w.name]["gpus"])})
                         if w.gpus is None and w.name in sized else w for w in site.facility.workloads]
            sites.append(site.model_copy(update={"facility": site.facility.model_copy(update={"workloads": workloads})}))
        return self.scenario.model_copy(update={"sites": sites})

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


#: units by the ending of a column's name
UNITS = (("_mw", "MW"), ("_mwh", "MWh"), ("_usd_per_mwh", "USD/MWh"), ("_usd_per_h", "USD/h"),
         ("_kg_per_mwh", "kg/MWh"), ("_mmbtu", "MMBtu"), ("_c", "degC"), ("_starts", "1"), ("_share", "1"),
         ("pue", "1"), ("grid_available", "1"))


def unit_of(column: str) -> str:
    """The unit a column's name carries (``grid_import_mw`` -> MW); '1' for counts, shares and flags."""
    for ending, unit in sorted(UNITS, key=lambda u: -len(u[0])):
        if column.endswith(ending):
            return unit
    return ""


def _scalar(v) -> bool:
    return isinstance(v, (int, float, str, bool))


def _cell(v) -> str:
    import html

    if v is None or not _scalar(v):
        return "-"
    if isinstance(v, bool) or isinstance(v, str):
        return html.escape(str(v))
    if v != v:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.4g}"


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

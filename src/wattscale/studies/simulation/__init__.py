"""The ``run`` study: simulate every site over the timeline, with KPIs and the interactive report."""
from __future__ import annotations

from pydantic import Field

from wattscale.engine.campus import Campus
from wattscale.studies.base import Options, Progress, StudyResult


class RunOptions(Options):
    """The scenario says everything (controller, timeline, sites); ``netcdf`` adds the steps as one NetCDF file."""

    netcdf: bool = Field(False, description="also write steps.nc: every site's steps as an xarray Dataset over "
                         "(site, time), units in attrs")


def run_simulation(campus: Campus, options: RunOptions, progress: Progress) -> StudyResult:
    from wattscale.engine.simulate import simulate
    from wattscale.studies.simulation.kpi import attach_kpis
    from wattscale.studies.simulation.report import render_report

    sites = campus.scenario.sites
    total = campus.timeline.n_steps * len(sites)
    for i, site in enumerate(sites):  # weather, PV, wind and workloads: the slow part before the first step
        progress(f"inputs of site {site.name} ({i + 1} of {len(sites)})", i, len(sites))
        campus.inputs(site.name)
    done = [0]
    progress("simulating", 0, total)

    def tick(steps: int) -> None:
        done[0] += steps
        progress("simulating", done[0], total)

    results = attach_kpis(simulate(campus, progress=tick))
    return StudyResult("run", options, kpis=dict(results.total), value=results,
                       render_report=lambda: render_report(results),
                       more_files=lambda: {**results.files(), **({"steps.nc": results.netcdf_bytes()}
                                                                  if options.netcdf else {})},
                       details=results.summary())

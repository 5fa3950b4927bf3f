"""The ``run`` study: simulate every site over the timeline, with KPIs and the interactive report."""
from __future__ import annotations

from wattscale.engine.campus import Campus
from wattscale.studies.base import Options, Progress, StudyResult


class RunOptions(Options):
    """No options: the scenario says everything (controller, timeline, sites)."""


def run_simulation(campus: Campus, options: RunOptions, progress: Progress) -> StudyResult:
    from wattscale.engine.simulate import simulate
    from wattscale.studies.simulation.kpi import attach_kpis
    from wattscale.studies.simulation.report import render_report

    total = campus.timeline.n_steps * len(campus.scenario.sites)
    done = [0]
    progress("loading inputs", 0, total)

    def tick(steps: int) -> None:
        done[0] += steps
        progress("simulating", done[0], total)

    results = attach_kpis(simulate(campus, progress=tick))
    return StudyResult("run", options, kpis=dict(results.total), value=results, report_html=render_report(results),
                       files=results.files(), details=results.summary())

"""The ``resilience`` study: the odds a campus survives grid outages of given lengths on its own backup, and the
compute it loses, with and without its flexible compute."""
from __future__ import annotations

from pydantic import Field

from wattscale.engine.campus import Campus
from wattscale.studies.base import Options, Progress, StudyResult, section_with_options


class ResilienceOptions(Options):
    """Each option overrides the scenario's ``resilience:`` section (defaults: that section, else its defaults)."""

    site: str | None = Field(None, description="site to study (default: resilience.site or the first site)")
    trials: int | None = Field(None, description="outages simulated per duration (default 2000)")
    seed: int | None = Field(None, description="Monte Carlo seed (default 0)")


def run_resilience(campus: Campus, options: ResilienceOptions, progress: Progress) -> StudyResult:
    from wattscale.scenario.schema import ResilienceStudy
    from wattscale.studies.resilience.report import render_resilience_report
    from wattscale.studies.resilience.study import run_resilience_study

    study = section_with_options(ResilienceStudy, "resilience", campus.scenario.resilience, options, campus.file)
    result = run_resilience_study(campus, study, progress)
    table = result.table()
    survival = table[table.flexible_compute == study.flexible_compute][
        ["duration_h", "survival_probability", "low", "high", "unserved_mwh", "gpu_hours_lost", "compute_lost_usd"]]
    notes = [f"on-site generation {result.backup_mw:,.0f} MW against a peak of {result.peak_load_mw:,.0f} MW: "
             + ("meets" if result.sb6_met else "does not meet")
             + " the Texas SB 6 test (backup generation for at least half the demand; the battery not counted)"]
    return StudyResult("resilience", options, kpis=result.kpis(), value=result,
                       tables={"survival": survival.reset_index(drop=True), "outcomes": table},
                       render_report=lambda: render_resilience_report(result), notes=notes,
                       details={"site": result.site, "study": study.model_dump(mode="json")})

"""The ``resilience`` study: the odds a campus survives grid outages of given lengths on its own backup, and the
compute it loses, with and without its flexible compute."""
from __future__ import annotations

from pydantic import Field

from wattscale.engine.campus import Campus
from wattscale.errors import ScenarioError
from wattscale.studies.base import Options, Progress, StudyResult


class ResilienceOptions(Options):
    """Each option overrides the scenario's ``resilience:`` section (defaults: that section, else its defaults)."""

    site: str | None = Field(None, description="site to study (default: resilience.site or the first site)")
    trials: int | None = Field(None, description="outages simulated per duration (default 2000)")
    seed: int | None = Field(None, description="Monte Carlo seed (default 0)")


def run_resilience(campus: Campus, options: ResilienceOptions, progress: Progress) -> StudyResult:
    from wattscale.scenario.load import validate_model
    from wattscale.scenario.schema import ResilienceStudy
    from wattscale.studies.resilience.report import render_resilience_report
    from wattscale.studies.resilience.study import run_resilience_study

    base = campus.scenario.resilience.model_dump() if campus.scenario.resilience else {}
    given = {k: v for k, v in options.model_dump().items() if v is not None}
    try:
        study = validate_model(ResilienceStudy, {**base, **given}, campus.file or "<options>")
    except ScenarioError as exc:
        raise ScenarioError(exc.detail, file=exc.file, field=f"resilience.{exc.field}" if exc.field else "resilience",
                            expected=exc.expected) from None
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

"""The ``adequacy`` study: a generating system's loss-of-load indices, exactly from the capacity outage table and by
non-sequential and sequential Monte Carlo, and the AI campus it can take."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from wattscale.studies.base import Options, Progress, StudyResult


class AdequacyOptions(Options):
    """Each option overrides the system file's own setting."""

    method: Literal["all", "exact", "nonsequential", "sequential"] | None = Field(
        None, description="exact (capacity outage table), nonsequential, sequential Monte Carlo, or all")
    years: int | None = Field(None, ge=2, le=1_000_000, description="Monte Carlo years (default: the file's, else 1000)")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Monte Carlo seed")


def run_adequacy(system, options: AdequacyOptions, progress: Progress) -> StudyResult:
    from wattscale.studies.adequacy.report import render_adequacy_report
    from wattscale.studies.adequacy.study import run_adequacy_study

    result = run_adequacy_study(system, method=options.method, years=options.years, seed=options.seed,
                                progress=progress)
    return StudyResult("adequacy", options, kpis=result.kpis(), value=result, tables=result.tables(),
                       render_report=lambda: render_adequacy_report(result), notes=result.notes(),
                       details={"system": system.name, "method": result.method})

"""The ``swings`` study: a site's sub-second power swings against grid limits, and the mitigations that fix them."""
from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field

from wattscale.engine.campus import Campus
from wattscale.studies.base import Options, Progress, StudyResult, section_with_options


class SwingOptions(Options):
    """Each option overrides the scenario's ``swings:`` section (defaults: that section, else the values shown);
    the result is checked as that section is, and errors name it (``swings.resolution_s``)."""

    model_config = ConfigDict(allow_inf_nan=True)  # checked with the section, which refuses them

    site: str | None = Field(None, description="site to analyse (default: swings.site or the first site)")
    start: str | None = Field(None, description="window start, e.g. '2023-07-18 14:00' (default: the timeline's)")
    duration_s: float | None = Field(None, description="window length, s (default 600)")
    resolution_s: float | None = Field(None, description="sample length, s (default 0.01)")
    limits: Path | None = Field(None, description="limits YAML: bands, ramps, dynamic range")


def run_swings(campus: Campus, options: SwingOptions, progress: Progress) -> StudyResult:
    from wattscale.scenario.schema import SwingStudy
    from wattscale.studies.swings.report import render_swing_report
    from wattscale.studies.swings.study import run_swing_study

    study = section_with_options(SwingStudy, "swings", campus.scenario.swings, options, campus.file)
    progress("building the waveform and sizing mitigations", 0, None)
    result = run_swing_study(campus, study=study)
    summary = result.summary()
    w = summary["waveform"]
    kpis = {"mean_mw": w["mean_mw"], "dynamic_range_mw": w["dynamic_range_mw"],
            "raw_complies": result.options[0].complies, "chosen": summary["chosen"],
            "chosen_usd_per_year": result.chosen.total_cost_usd_per_year if result.chosen else None}
    return StudyResult("swings", options, kpis=kpis, value=result, render_report=lambda: render_swing_report(result),
                       details=summary)

"""The ``gridcode`` study: campuses in a sequence of voltage dips (UPS transfer, lockout, return), the load the
grid loses, whether each met its ride-through envelope, and the system's frequency."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field

from wattscale.engine.campus import Campus
from wattscale.errors import ScenarioError
from wattscale.studies.base import Options, Progress, StudyResult, section_with_options


class GridcodeOptions(Options):
    """Each option overrides the scenario's ``gridcode:`` section; the result is checked as that section is."""

    disturbances: Path | None = Field(None, description="CSV of dips: time_s, depth_pu, duration_s")
    envelope: Path | None = Field(None, description="CSV no-trip curve: voltage_pu, duration_s")
    start: str | None = Field(None, description="when the disturbance begins (default: gridcode.start)")
    after_s: float | None = Field(None, description="time simulated after the last dip, s (default 120)")
    resolution_s: float | None = Field(None, description="sample length, s (default 0.01)")


def run_gridcode(campus: Campus, options: GridcodeOptions, progress: Progress) -> StudyResult:
    from wattscale.scenario.schema import GridCode
    from wattscale.studies.gridcode.report import render_gridcode_report
    from wattscale.studies.gridcode.study import run_gridcode_study

    if campus.scenario.gridcode is None and options.disturbances is None:
        raise ScenarioError("the scenario has no gridcode section", file=campus.file, field="gridcode",
                            expected="gridcode: with disturbances: a CSV of dips (or --disturbances)")
    code = section_with_options(GridCode, "gridcode", campus.scenario.gridcode, options, campus.file)
    progress("campuses through the dips, then system frequency", 0, None)
    result = run_gridcode_study(campus, code)
    kpis = result.kpis()
    notes = [f"{c.site}: " + ("; ".join(c.outcome.causes) if c.outcome.left_grid else "rode through")
             for c in result.campuses]
    return StudyResult("gridcode", options, kpis=kpis, value=result,
                       tables={"campuses": result.campus_table(), "dips": result.dip_table(),
                               "timeline": result.timeline_table()},
                       render_report=lambda: render_gridcode_report(result), notes=notes,
                       details={"start": result.start.isoformat(), "disturbances": str(code.disturbances),
                                "envelope": str(code.envelope) if code.envelope else None,
                                "system": campus.scenario.power_system.model_dump() if result.system else None,
                                "ffr_capacity_mw": (result.system.ffr.capacity_mw if result.system and result.system.ffr
                                                    else 0.0)})

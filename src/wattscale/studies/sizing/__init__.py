"""The ``size`` study: least-cost capacities for a site, and a Pareto sweep over carbon prices or CFE targets."""
from __future__ import annotations

import yaml
from pydantic import Field

from wattscale.engine.campus import Campus
from wattscale.studies.base import Options, Progress, StudyResult


class SizeOptions(Options):
    """Settings live in the scenario's ``sizing:`` section; this only chooses whether to check with the engine."""

    check: bool = Field(True, description="simulate the chosen system with the engine")


def run_size(campus: Campus, options: SizeOptions, progress: Progress) -> StudyResult:
    from wattscale.scenario.schema import Sizing
    from wattscale.studies.sizing.report import render_sizing_report
    from wattscale.studies.sizing.study import run_sizing_study

    spec = campus.scenario.sizing or Sizing()
    total = 1 + len(spec.cfe_targets if spec.sweep == "cfe_target" else spec.carbon_prices_usd_per_t)
    done = [0]
    progress("optimisations", 0, total)

    def tick(k: int) -> None:
        done[0] += k
        progress("optimisations", done[0], total)

    study = run_sizing_study(campus, check=options.check, progress=tick)
    c = study.chosen
    kpis = {"total_usd_per_year": c.total_usd_per_year, "co2_t_per_year": c.co2_t_per_year,
            "cfe_score": c.cfe_score, **{f"capacity_{k}": v for k, v in c.capacities.items()}}
    sized = yaml.safe_dump(study.sized.model_dump(mode="json", exclude_none=True), sort_keys=False)
    return StudyResult("size", options, kpis=kpis, value=study, render_report=lambda: render_sizing_report(study),
                       files={"sized.yaml": sized}, details=study.summary())

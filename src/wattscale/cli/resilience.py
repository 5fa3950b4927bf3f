"""``wattscale resilience``: the odds a campus rides out grid outages on its own, and the compute it loses."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from wattscale.cli.common import (
    OUTDIR,
    QUIET,
    SET,
    console,
    df_table,
    print_notes,
    print_report_path,
    run_study_command,
)


def resilience(scenario: Path = typer.Argument(..., help="scenario YAML (its resilience: section, if any)",
                                               show_default=False),
               outdir: Path = OUTDIR,
               site: str = typer.Option(None, help="site to study (default: resilience.site or the first site)"),
               trials: int = typer.Option(None, help="outages per length (default: resilience.trials, else 2000)"),
               seed: int = typer.Option(None, help="Monte Carlo seed (default: resilience.seed, else 0)"),
               set_: list[str] = SET, quiet: bool = QUIET) -> None:
    """Survival probability of grid outages from 1 h to 14 days on the site's generators and battery (generators
    that fail to start or while running, fuel), unserved energy and GPU-hours lost, with and without flexible
    compute; writes survival.csv, report.html and summary.json."""
    result, out = run_study_command("resilience", scenario, outdir=outdir, changes=set_, suffix="-resilience",
                                    quiet=quiet, site=site, trials=trials, seed=seed)
    t = result.value.table()
    wide = t.pivot(index="duration_h", columns="flexible_compute", values="survival_probability")
    lost = t.pivot(index="duration_h", columns="flexible_compute", values="gpu_hours_lost")
    shown = pd.DataFrame({"outage h": wide.index, "survives, flex": [_share(v) for v in wide[True]],
                          "without": [_share(v) for v in wide[False]],
                          "GPU-h lost, flex": lost[True].round(0).to_numpy(),
                          "without ": lost[False].round(0).to_numpy()})
    console.print(df_table(f"{result.value.scenario} / {result.value.site}: riding out a grid outage", shown,
                           caption=f"{result.value.study.trials:,} outages per length; 95 % intervals in survival.csv"))
    print_notes(result.notes)
    print_report_path(out)


def _share(p: float) -> str:
    """A probability as a percentage that never reads 100 % (or 0 %) unless it is."""
    text = f"{p:.2%}"
    if p < 1 and text == "100.00%":
        return "> 99.99%"
    if p > 0 and text == "0.00%":
        return "< 0.01%"
    return text

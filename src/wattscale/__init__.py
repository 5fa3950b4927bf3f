"""wattscale: resilient, decentralised energy infrastructure for AI compute."""
from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

__all__ = ["figures", "load_results", "load_scenario", "run_scenario", "run_study", "simulate", "__version__"]


def load_scenario(path: str | Path):
    """Read and validate a scenario YAML file."""
    from wattscale.scenario import load_scenario as _load

    return _load(path)


def simulate(scenario, **kwargs):
    """Simulate a scenario (see ``wattscale.engine.simulate.simulate``)."""
    from wattscale.engine.simulate import simulate as _simulate

    return _simulate(scenario, **kwargs)


def run_scenario(path: str | Path, *, progress=None):
    """Load, simulate and compute KPIs for the scenario file at ``path``."""
    from wattscale.studies.simulation.kpi import attach_kpis

    scenario = load_scenario(path)
    from wattscale.engine.campus import Campus

    return attach_kpis(simulate(Campus(scenario, file=str(path)), progress=progress))


def load_results(path: str | Path):
    """Read a results directory written by ``wattscale run``."""
    from wattscale.engine.results import load_results as _load

    return _load(path)


def run_study(name: str, subject, **options):
    """Run a registered study by name (``wattscale studies`` lists them); see ``wattscale.studies.run_study``."""
    from wattscale.studies import run_study as _run

    return _run(name, subject, **options)


def figures(results) -> dict:
    """Every figure of a run's report as a plotly figure, by ``"<site>: <title>"``: ``results`` from
    ``run_scenario``, ``load_results`` or ``run_study("run", ...).value``."""
    from wattscale.studies.simulation.report import report_figures

    return report_figures(getattr(results, "value", results))

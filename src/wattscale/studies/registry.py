"""Every study by name, and ``run_study``: the one way the command line, sweeps and the service start a study."""
from __future__ import annotations

from pydantic import ValidationError

from wattscale.errors import ScenarioError, WattscaleError
from wattscale.studies import (adequacy, forecast, grid, gridcode, market, resilience, simulation, sizing,
                               swings)
from wattscale.studies.base import Options, Progress, Study, StudyResult, inputs_sha256, no_progress

STUDIES: dict[str, Study] = {}


def register(study: Study) -> Study:
    """Add a study to the registry (a name may be registered once)."""
    if study.name in STUDIES:
        raise ValueError(f"study '{study.name}' is registered twice")
    STUDIES[study.name] = study
    return study


for _study in (
    Study("run", "simulate every site over the timeline: per-step powers, KPIs, report", simulation.RunOptions,
          simulation.run_simulation),
    Study("swings", "sub-second power swings of a site's workloads against grid limits, and mitigations",
          swings.SwingOptions, swings.run_swings),
    Study("gridcode", "campuses in a sequence of voltage dips: who leaves the grid, MW lost, system frequency",
          gridcode.GridcodeOptions, gridcode.run_gridcode),
    Study("size", "least-cost PV, wind, battery, generators and grid connection; Pareto sweep", sizing.SizeOptions,
          sizing.run_size),
    Study("market", "sites trade peer to peer on a signed ledger; ADMM behind a shared connection; VPP calls",
          market.MarketOptions, market.run_market),
    Study("forecast-backtest", "rolling-origin backtest of a site's series: scores and skill by model",
          forecast.BacktestOptions, forecast.run_backtest),
    Study("forecast-value", "the MPC year once per forecaster: cost and CO2 against perfect foresight",
          forecast.ValueOptions, forecast.run_value),
    Study("grid-flow", "power flow: losses, voltages, loadings, violations; over time; hosting capacity",
          grid.FlowOptions, grid.run_flow, takes="network"),
    Study("grid-contingency", "N-1: every line and transformer out in turn", grid.ContingencyOptions,
          grid.run_contingency, takes="network"),
    Study("grid-heal", "a fault and its restoration (FLISR, manual or none), step by step", grid.HealOptions,
          grid.run_heal, takes="network"),
    Study("grid-reconfigure", "minimum-loss radial configuration by branch exchange", grid.ReconfigureOptions,
          grid.run_reconfigure, takes="network"),
    Study("grid-reliability", "SAIFI, SAIDI, ENS and GPU-hours lost: analytical and Monte Carlo",
          grid.ReliabilityOptions, grid.run_reliability, takes="network"),
    Study("resilience", "odds a campus rides out grid outages of 1 h to 14 days on site; GPU-hours lost",
          resilience.ResilienceOptions, resilience.run_resilience),
    Study("adequacy", "generation adequacy: LOLE, EUE, LOLF exactly and by Monte Carlo; the AI campus it can take",
          adequacy.AdequacyOptions, adequacy.run_adequacy, takes="system"),
):
    register(_study)


def get_study(name: str) -> Study:
    """The study called ``name``, or one clear error listing those there are."""
    if name not in STUDIES:
        raise WattscaleError(f"no study named {str(name)[:40]!r}", field="study",
                             expected="one of " + ", ".join(STUDIES))
    return STUDIES[name]


def make_options(study: Study, options: dict | Options | None) -> Options:
    """``options`` checked against the study's option model; a wrong one names the option and what it needs."""
    if isinstance(options, study.options):
        return options
    try:
        return study.options.model_validate(dict(options or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "options"
        allowed = ", ".join(study.options.model_fields) or "none"
        raise ScenarioError(err["msg"].removeprefix("Value error, "), field=f"options.{where}",
                            expected=f"options of study '{study.name}': {allowed}") from None


def prepare_subject(study: Study, subject, changes: dict | None = None):
    """The study's input made ready: a prepared campus (with ``changes`` to the scenario applied), or a loaded
    network."""
    if study.takes == "system":
        if changes:
            raise WattscaleError("changes by path apply to scenarios, not system files", field="--set",
                                 expected="no --set for an adequacy study")
        from wattscale.network.adequacy_system import System, load_system

        return subject if isinstance(subject, System) else load_system(str(subject))
    if study.takes == "network":
        if changes:
            raise WattscaleError("changes by path apply to scenarios, not networks", field="--set",
                                 expected="no --set for a network study")
        from wattscale.network.build import load_network

        return subject if hasattr(subject, "net") else load_network(str(subject))
    from wattscale.engine.campus import prepare

    return prepare(subject, changes)


def run_study(name: str, subject, *, progress: Progress | None = None, options: dict | Options | None = None,
              changes: dict | None = None, client=None, **kw) -> StudyResult:
    """Run study ``name`` on ``subject`` (a scenario path, YAML text or Scenario; a network for grid studies).

    Options come as keywords or as ``options=``; e.g. ``run_study("swings", "examples/llm-campus.yaml",
    resolution_s=0.01)``; ``changes`` set scenario fields by dotted path first (``{"sites[0].battery.energy_mwh":
    400}``), validated as a file is. With ``client`` (a ``dask.distributed.Client``), a study that is many
    independent tasks (Monte Carlo years, contingencies, restorations, backtest refits) runs them on its cluster,
    with the same result. Returns the study's result; ``result.save(folder)`` writes its results folder."""
    from wattscale.parallel import using

    study = get_study(name)
    opts = make_options(study, {**(options.model_dump() if isinstance(options, Options) else options or {}), **kw})
    prepared = prepare_subject(study, subject, changes)
    with using(client):
        return execute(study, prepared, opts, progress, subject)


def execute(study: Study, prepared, options: Options, progress: Progress | None, subject=None) -> StudyResult:
    """Run a study on its prepared input with checked options; the result carries a hash of the inputs."""
    result = study.run(prepared, options, progress or no_progress)
    result.inputs_sha256 = inputs_sha256(_fingerprint(subject, prepared), options)
    return result


def _fingerprint(subject, prepared):
    """What identifies a study's input: the validated scenario or system, or the network file's bytes (or case
    name)."""
    if hasattr(prepared, "scenario"):
        return prepared.scenario
    if hasattr(prepared, "spec"):
        return prepared.spec
    from pathlib import Path

    path = Path(str(subject))
    return path.read_bytes().hex() if path.is_file() else str(subject)

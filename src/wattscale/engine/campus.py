"""A prepared campus: what every study needs from a loaded scenario, built once and on demand."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from wattscale.errors import ScenarioError
from wattscale.scenario.schema import Scenario, Site
from wattscale.timeseries.timeline import Timeline


@dataclass
class Campus:
    """A scenario with its source file, timeline and GPU catalog; each site's inputs are built when first asked
    for (a study of one window never builds a year of weather it does not read)."""

    scenario: Scenario
    file: str | None = None  # the scenario file, named in error messages
    _inputs: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def source_folder(self) -> Path:
        return Path(self.file).parent if self.file else Path.cwd()

    @cached_property
    def timeline(self) -> Timeline:
        from wattscale.engine.inputs import timeline_of

        return timeline_of(self.scenario)

    @cached_property
    def catalog(self):
        """The GPU catalog (with the scenario's own entries), or None when no site has workloads."""
        from wattscale.compute.catalog import load_catalog

        if not any(s.facility.workloads for s in self.scenario.sites):
            return None
        return load_catalog(self.scenario.gpu_catalog)

    def site(self, name: str | None = None) -> tuple[int, Site]:
        """The site called ``name`` (default: the first) and its index, or one clear error."""
        return self.scenario.site(name, file=self.file)

    def inputs(self, name: str | None = None):
        """The site's inputs over the timeline (built once)."""
        from wattscale.engine.inputs import site_inputs

        index, site = self.site(name)
        if index not in self._inputs:
            self._inputs[index] = site_inputs(site, self.timeline, index=index, scenario_file=self.file,
                                              catalog=self.catalog)
        return self._inputs[index]

    def with_changes(self, changes: dict, *, share: bool = False) -> Campus:
        """This campus with scenario fields changed by dotted path (validated as a file is); the inputs a change
        does not touch (a site's weather, prices and loads when only its battery or generators change) are
        kept, not built again. ``share``: first build those inputs here, so that every later change of this
        campus reuses them too (a sweep over storage sizes reads its year of weather once per worker)."""
        from wattscale.engine.inputs import same_series, with_site
        from wattscale.scenario.changes import change

        changed = Campus(change(self.scenario, changes, file=self.file), file=self.file)
        old, new = self.scenario, changed.scenario
        if (old.time, old.gpu_catalog) != (new.time, new.gpu_catalog):
            return changed
        for index, site in enumerate(old.sites):
            if index < len(new.sites) and same_series(site, new.sites[index]):
                if share:
                    self.inputs(site.name)
                if index in self._inputs:
                    changed._inputs[index] = with_site(self._inputs[index], new.sites[index])
        return changed


def prepare(scenario, changes: dict | None = None) -> Campus:
    """A Campus from a scenario file path, a YAML text, a dictionary, a Scenario or a Campus; ``changes`` (dotted
    path -> value, as ``wattscale.scenario.changes.change``) are applied and validated first."""
    if changes:
        return prepare(scenario).with_changes(changes)
    from wattscale.scenario.load import load_scenario, parse_yaml, scenario_from_dict

    if isinstance(scenario, Campus):
        return scenario
    if isinstance(scenario, Scenario):
        return Campus(scenario)
    if isinstance(scenario, dict):
        return Campus(scenario_from_dict(scenario))
    if isinstance(scenario, str) and "\n" in scenario:
        data = parse_yaml(scenario, file="<scenario text>", what="scenario", keys="keys such as 'time' and 'sites'")
        return Campus(scenario_from_dict(data))
    if isinstance(scenario, (str, Path)):
        return Campus(load_scenario(scenario), file=str(scenario))
    raise ScenarioError(f"cannot read a scenario from a {type(scenario).__name__}",
                        expected="a file path, YAML text, a dictionary or a Scenario")

"""Changing a scenario by dotted paths (``sites[0].battery.energy_mwh``), validated as a file is: a change that
breaks a limit fails the way a bad file does. Used by ``--set`` and from Python."""
from __future__ import annotations

import re
from typing import Any

import yaml

from wattscale.errors import ScenarioError
from wattscale.guards import excerpt
from wattscale.scenario.schema import Scenario

PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


def change(scenario: Scenario, changes: dict[str, Any], *, file: str | None = None) -> Scenario:
    """``scenario`` with each dotted path set to its value, validated anew (paths already resolved stay so)."""
    from wattscale.scenario.load import scenario_from_dict

    if not changes:
        return scenario
    data = scenario.model_dump(mode="json", exclude_none=True)
    for path, value in changes.items():
        _set(data, path, value)
    return scenario_from_dict(data, source=file)


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """``["a.b=1", "c=[1, 2]"]`` as ``{"a.b": 1, "c": [1, 2]}`` (values read as YAML)."""
    out = {}
    for text in assignments:
        path, sep, value = text.partition("=")
        if not sep or not path.strip():
            raise ScenarioError(f"cannot read '{excerpt(text, 60)}'", field="--set",
                                expected="PATH=VALUE, e.g. sites[0].battery.energy_mwh=400")
        try:
            out[path.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ScenarioError(f"cannot read the value of '{excerpt(text, 60)}'", field="--set",
                                expected="a number, text, true/false, or a YAML list or mapping") from None
    return out


def _set(data: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = data
    for k, part in enumerate(parts):
        m = PART.fullmatch(part)
        if m is None:
            raise ScenarioError(f"cannot read the path '{excerpt(path, 60)}'", field=path,
                                expected="names and [index]es joined by dots, e.g. sites[0].battery.energy_mwh")
        name, indexes = m.group(1), [int(i) for i in re.findall(r"\d+", m.group(2))]
        last = k == len(parts) - 1 and not indexes
        if last:
            if not isinstance(node, dict):
                raise ScenarioError("no such field", field=path, expected="a path into the scenario")
            node[name] = value
            return
        if not isinstance(node, dict) or name not in node:
            raise ScenarioError(f"no field '{excerpt(name, 40)}' there", field=path,
                                expected="a path to a field the scenario has (set a whole section to add one)")
        if not indexes:
            node = node[name]
            continue
        node = node[name]
        for j, i in enumerate(indexes):
            if not isinstance(node, list) or not 0 <= i < len(node):
                raise ScenarioError(f"no item {i} in '{excerpt(name, 40)}'", field=path,
                                    expected=f"an index below {len(node) if isinstance(node, list) else 0}")
            if k == len(parts) - 1 and j == len(indexes) - 1:
                node[i] = value
                return
            node = node[i]

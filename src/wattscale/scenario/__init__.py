"""Scenarios: the typed schema of scenario files and their loading with clear errors."""
from wattscale.scenario.load import load_scenario, scenario_from_dict
from wattscale.scenario.schema import Scenario

__all__ = ["Scenario", "load_scenario", "scenario_from_dict"]

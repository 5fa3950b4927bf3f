"""Learning to operate a campus: the engine's physics as a Gymnasium environment (``CampusEnv``)."""
from wattscale.rl.env import CampusEnv, setpoints_to_actions
from wattscale.rl.fleet_env import FleetEnv
from wattscale.rl.wrappers import BatteryAndShedActions

__all__ = ["BatteryAndShedActions", "CampusEnv", "FleetEnv", "setpoints_to_actions"]

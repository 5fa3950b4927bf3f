"""Learning to operate a campus: the engine's physics as a Gymnasium environment (``CampusEnv``)."""
from wattscale.rl.env import CampusEnv, setpoints_to_actions
from wattscale.rl.wrappers import BatteryAndShedActions

__all__ = ["BatteryAndShedActions", "CampusEnv", "setpoints_to_actions"]

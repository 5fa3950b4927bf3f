"""Learning to operate a campus: the engine's physics as a Gymnasium environment (``CampusEnv``)."""
from wattscale.rl.env import CampusEnv, setpoints_to_actions

__all__ = ["CampusEnv", "setpoints_to_actions"]

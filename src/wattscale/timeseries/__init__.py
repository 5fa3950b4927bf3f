"""Time: the simulation timeline and loading of series aligned to it."""
from wattscale.timeseries.timeline import Timeline

__all__ = ["Timeline"]

"""The simulation engine: timeline loop, compiled kernel, results."""

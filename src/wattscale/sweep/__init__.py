"""Sweeps and Monte Carlo of any study: many cases of one study, here or on a Dask cluster, with nothing lost
and nothing run twice (see ``run``), described by a sweep file (see ``spec``)."""
from wattscale.sweep.run import SweepResult, plan_sweep, read_table, run_sweep
from wattscale.sweep.spec import SweepError, SweepFile

__all__ = ["SweepError", "SweepFile", "SweepResult", "plan_sweep", "read_table", "run_sweep"]

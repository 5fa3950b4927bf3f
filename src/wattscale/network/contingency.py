"""N-1 contingency analysis: every line and transformer out in turn, power flow, limits and load cut off.

The Newton-Raphson solve runs in lightsim2grid when it is installed (``fast``), in pandapower otherwise; both
give the same table (tested).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from wattscale.errors import NetworkError
from wattscale.network.build import Network
from wattscale.network.flow import solve
from wattscale.parallel import map_tasks


def n_minus_1(network: Network, *, fast: bool | None = None,
              progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """One row per outaged in-service element: load cut off (MW), lowest voltage, highest loading, violations.
    Each outage is an independent task: on the Dask client in use (``wattscale.parallel``) they run across its
    workers."""
    net = network.net
    cases = [("line", int(i)) for i in net.line.index[net.line.in_service]]
    cases += [("trafo", int(i)) for i in net.trafo.index[net.trafo.in_service]]
    rows = map_tasks(_outage, cases, shared=(network, fast), what="outages",
                     progress=(lambda what, done, total: progress(1)) if progress else None)
    return pd.DataFrame(rows)


def _outage(case: tuple[str, int], shared) -> dict:
    """Power flow with ``case`` out of service, on a copy of the network."""
    network, fast = shared
    table, i = case
    work = network.copy()
    net = work.net
    net[table].loc[i, "in_service"] = False
    name = str(net[table].name[i])
    try:
        s = solve(work, fast=fast)
    except NetworkError:
        return {"outage": f"{table} {name}", "load_cut_mw": np.nan, "vm_min_pu": np.nan, "vm_min_bus": "",
                "max_loading_percent": np.nan, "max_loading_element": "", "violations": 1,
                "worst": "power flow does not converge"}
    live = net.res_bus.vm_pu.notna()
    cut = float(net.load.p_mw[net.load.in_service & ~live.reindex(net.load.bus).to_numpy()].sum())
    return {"outage": f"{table} {name}", "load_cut_mw": cut, "vm_min_pu": s.vm_min_pu, "vm_min_bus": s.vm_min_bus,
            "max_loading_percent": s.max_loading_percent, "max_loading_element": s.max_loading_element,
            "violations": len(s.violations), "worst": str(s.violations[0]) if s.violations else ""}

"""The same system-frequency case built in ANDES (a power system dynamics library, an independent check of
wattscale's aggregate frequency model).

One classical machine (GENCLS: inertia M = 2H, damping D) with a TGOV1 governor feeds constant-power loads over a
lossless line; one load, the campus, is switched off at ``t_loss_s``. TGOV1's lead-lag (1 + T2 s) / (1 + T3 s)
is the reheat stage (1 + Fh Tr s) / (1 + Tr s): T3 = Tr, T2 = Fh Tr (without reheat T2 = T3 cancel). ANDES writes the swing equation in torque,
so it departs from the per-unit power model by the frequency deviation itself (well under 1e-5 pu here).
"""
from __future__ import annotations

import time

import numpy as np

from wattscale.scenario.schema import PowerSystem


def run_andes(system: PowerSystem, load_pu: float, loss_pu: float, *, t_loss_s: float = 1.0, t_end_s: float = 40.0,
              step_s: float = 0.01) -> tuple[np.ndarray, np.ndarray, float]:
    """(time s, frequency deviation in Hz, seconds in the time-domain simulation) for a sudden load loss of
    ``loss_pu`` (on ``system.base_mw``) out of ``load_pu``."""
    import andes

    andes.config_logger(stream_level=40)
    ss = andes.System()
    ss.add("Bus", {"idx": 1, "name": "generator", "Vn": 230.0})
    ss.add("Bus", {"idx": 2, "name": "loads", "Vn": 230.0})
    ss.add("Line", {"idx": "L1", "bus1": 1, "bus2": 2, "r": 0.0, "x": 0.01, "b": 0.0, "Vn1": 230.0, "Vn2": 230.0})
    ss.add("Slack", {"idx": "S1", "bus": 1, "v0": 1.0, "p0": load_pu, "Vn": 230.0})
    ss.add("PQ", {"idx": "rest", "bus": 2, "p0": load_pu - loss_pu, "q0": 0.0, "Vn": 230.0})
    ss.add("PQ", {"idx": "campus", "bus": 2, "p0": loss_pu, "q0": 0.0, "Vn": 230.0})
    ss.add("GENCLS", {"idx": "G1", "bus": 1, "gen": "S1", "M": 2 * system.inertia_s, "D": system.damping,
                      "Sn": 100.0, "Vn": 230.0, "xd1": 0.1, "ra": 0.0})
    tr, fh = system.reheat_time_s, system.high_pressure_fraction
    ss.add("TGOV1", {"idx": "TG1", "syn": "G1", "R": system.droop / system.governor_share,
                     "T1": system.governor_time_s, "T2": fh * tr if tr else 1.0, "T3": tr if tr else 1.0,
                     "VMAX": 99.0, "VMIN": -99.0, "Dt": 0.0})
    ss.add("Toggle", {"idx": "loss", "model": "PQ", "dev": "campus", "t": t_loss_s})
    ss.setup()
    for key, value in (("p2p", 1.0), ("p2i", 0.0), ("p2z", 0.0), ("q2q", 1.0), ("q2i", 0.0), ("q2z", 0.0)):
        setattr(ss.PQ.config, key, value)  # constant-power loads, as in the aggregate model
    ss.PFlow.run()
    ss.TDS.config.tf, ss.TDS.config.tstep, ss.TDS.config.no_tqdm = t_end_s, step_s, 1
    start = time.perf_counter()
    ss.TDS.run()
    seconds = time.perf_counter() - start
    t = np.asarray(ss.dae.ts.t)
    omega = ss.dae.ts.x[:, ss.GENCLS.omega.a[0]]
    return t, (omega - 1.0) * system.frequency_hz, seconds

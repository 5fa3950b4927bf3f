"""How large an AI campus a system can take: the load added, its effect on LOLE and EUE, and the largest campus
that keeps LOLE at the system's level without it when the campus curtails a share of its energy (the
curtailment-enabled headroom of Norris et al., "Rethinking Load Growth", Duke University, 2025), exactly from the
capacity outage table.

A campus that gives up its whole draw whenever the system would be short leaves LOLE where it was. What that costs
it in an hour of load L is E[min(X, (L + X - A)+)] = E[(L + X - A)+] - E[(L - A)+] (A: available capacity); with
on-site backup carrying a share b of its demand first, only E[(L + (1 - b) X - A)+] - E[(L - A)+] is compute given
up. The headroom for a share s is the largest X whose yearly expectation stays within s X 8,760 h.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wattscale.bisection import largest_passing
from wattscale.network.adequacy import Copt, exact_indices


@dataclass(frozen=True)
class CampusEffect:
    campus_mw: float
    lole_h_per_year: float
    lole_increase_h_per_year: float
    eue_mwh_per_year: float
    eue_increase_mwh_per_year: float


def campus_effect(copt: Copt, load_mw: np.ndarray, campus_mw: float) -> CampusEffect:
    """LOLE and EUE with a constant campus of ``campus_mw`` that never curtails, and their increase."""
    base = exact_indices(copt, load_mw)
    w = exact_indices(copt, np.asarray(load_mw, float) + campus_mw)
    return CampusEffect(campus_mw, w.lole_h_per_year, w.lole_h_per_year - base.lole_h_per_year, w.eue_mwh_per_year,
                        w.eue_mwh_per_year - base.eue_mwh_per_year)


def compute_given_up_mwh(copt: Copt, load_mw: np.ndarray, campus_mw: float, backup_fraction: float = 0.0) -> float:
    """Expected compute (MWh a year) a campus of ``campus_mw`` gives up to keep LOLE at the system's own level."""
    load = np.asarray(load_mw, float)
    y = (1.0 - backup_fraction) * campus_mw
    return float((copt.expected_unserved_mw(load + y) - copt.expected_unserved_mw(load)).sum())


def headroom_mw(copt: Copt, load_mw: np.ndarray, share: float, backup_fraction: float = 0.0,
                tolerance_mw: float = 0.5) -> float:
    """The largest campus (MW) whose expected curtailment stays within ``share`` of its annual energy."""
    hours = len(load_mw)

    def fits(x: float) -> bool:
        return compute_given_up_mwh(copt, load_mw, x, backup_fraction) <= share * x * hours

    return largest_passing(fits, 0.0, copt.installed_mw, tolerance_mw)


SHARES = (0.0025, 0.005, 0.01)  # of the campus's annual energy (Norris et al. 2025)
BACKUP_FRACTIONS = (0.0, 0.5)  # none, and half the campus's demand (Texas SB 6's disclosure threshold)


def headroom_table(copt: Copt, load_mw: np.ndarray) -> list[dict]:
    """The headroom for every share and backup fraction above, with the compute given up at that size."""
    rows = []
    for b in BACKUP_FRACTIONS:
        for s in SHARES:
            x = headroom_mw(copt, load_mw, s, b)
            rows.append({"curtail_share": s, "backup_fraction": b, "largest_campus_mw": x,
                         "compute_given_up_mwh_per_year": compute_given_up_mwh(copt, load_mw, x, b),
                         "curtailment_hours_per_year": _hours(copt, load_mw, x, b)})
    return rows


def _hours(copt: Copt, load_mw: np.ndarray, campus_mw: float, backup_fraction: float) -> float:
    """Expected hours a year the campus curtails compute: the system short with its grid draw beyond backup."""
    load = np.asarray(load_mw, float)
    return float(copt.loss_probability(load + (1.0 - backup_fraction) * campus_mw).sum())

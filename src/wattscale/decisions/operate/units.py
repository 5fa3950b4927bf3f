"""Identical generators planned as one: a smaller programme with the same optimum, split back unit by unit.

Units with the same figures and the same state (on, output, warm-up) are merged into one of ``k`` times their
capacity, minimum load, ramp, start-up cost and output. Without commitment, or with the commitment relaxed,
every row of a unit is linear and homogeneous in (output, on, start), so any plan of the merged unit divided
by ``k`` is a plan of each unit and the optimum is the same; each unit merged away takes its output, on and
start columns and their rows out of every step. With whole-unit commitment it would not be (both units would
start together), so ``milp`` keeps every unit.

Split back, each unit of a group gets ``1/k`` of its output and its on and start fractions: the one split that
keeps every unit's own rows. ``whole_units`` turns such a plan into whole units for setpoints: a group on for
``f`` has ``round(k f)`` units on, in the order they are listed.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from wattscale.decisions.operate.problem import DispatchProblem, GeneratorTerms

Groups = list[list[list[int]]]  # per site: groups of generator indices planned as one


def identical_units(problem: DispatchProblem) -> Groups | None:
    """The groups of identical generators of each site, or None when no two are alike (or commitment is
    whole-unit)."""
    if problem.commitment == "milp":
        return None
    out, merging = [], False
    for s in problem.sites:
        groups: dict[tuple, list[int]] = {}
        for j, g in enumerate(s.generators):
            groups.setdefault(_figures(g), []).append(j)
        out.append(list(groups.values()))
        merging |= any(len(members) > 1 for members in groups.values())
    return out if merging else None


def merged(problem: DispatchProblem, groups: Groups) -> DispatchProblem:
    """``problem`` with each group of identical generators as one unit."""
    sites = []
    for s, site_groups in zip(problem.sites, groups):
        gens = []
        for members in site_groups:
            g, k = s.generators[members[0]], len(members)
            gens.append(g if k == 1 else replace(
                g, name="+".join(s.generators[j].name for j in members), capacity_mw=k * g.capacity_mw,
                min_mw=k * g.min_mw, ramp_mw_per_step=k * g.ramp_mw_per_step, start_usd=k * g.start_usd,
                power_mw=k * g.power_mw))
        sites.append(replace(s, generators=gens))
    return replace(problem, sites=sites)


def split(values: dict[str, np.ndarray], problem: DispatchProblem, groups: Groups) -> dict[str, np.ndarray]:
    """A solution of the merged programme with each generator's own output, on-state and starts (``problem``
    is the unmerged one): an equal share of its group's."""
    out = dict(values)
    for i, (s, site_groups) in enumerate(zip(problem.sites, groups)):
        pre = f"{i}."
        for name in ("gen", "gen_on", "gen_start"):
            if pre + name not in values:
                continue
            merged_values = values[pre + name]
            own = np.zeros((len(s.generators), merged_values.shape[1]))
            for q, members in enumerate(site_groups):
                own[members] = merged_values[q] / (len(members) if name == "gen" else 1.0)
            out[pre + name] = own
    return out


def whole_units(on: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Which units are on (G, n) when each group of identical units runs ``round`` of the units its plan has on
    together (a unit on its own: more than half on)."""
    whole = np.zeros(on.shape, dtype=bool)
    for members in groups:
        count = np.floor(on[members].sum(axis=0) + 0.5)  # half a unit or more: one more on
        whole[members] = np.arange(len(members))[:, None] < count[None, :]
    return whole


def _figures(g: GeneratorTerms) -> tuple:
    return (g.capacity_mw, g.min_mw, g.ramp_mw_per_step, g.start_steps, g.cost_usd_per_mwh, g.co2_kg_per_mwh,
            g.start_usd, g.on, g.power_mw, g.warmup_left)

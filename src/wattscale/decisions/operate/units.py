"""Identical generators planned as one: a smaller programme with the same optimum, split back unit by unit.

Units with the same figures and the same state (on, output, warm-up) are merged into one of ``k`` times their
capacity, minimum load, ramp, start-up cost and output. Without commitment, or with the commitment relaxed,
every row of a unit is linear and homogeneous in (output, on, start), so any plan of the merged unit divided
by ``k`` is a plan of each unit and the optimum is the same; the programme loses ``3 (k - 1)`` columns and rows
per step. With whole-unit commitment it would not be (both units would start together), so ``milp`` keeps
every unit.

Splitting back, a group on for a fraction ``f`` puts ``round(k f)`` units on in order (unit ``r`` carries
``clip(k f - r, 0, 1)`` of it) with the output in proportion, and a unit starts where its own share rises;
the group's output, starts and costs are unchanged.
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
    is the unmerged one)."""
    out = dict(values)
    for i, (s, site_groups) in enumerate(zip(problem.sites, groups)):
        pre = f"{i}."
        if pre + "gen" not in values:
            continue
        gen, on = values[pre + "gen"], values.get(pre + "gen_on")
        n = gen.shape[1]
        gen_mw, on_frac, starts = (np.zeros((len(s.generators), n)) for _ in range(3))
        for q, members in enumerate(site_groups):
            k = len(members)
            if on is None:  # no commitment: an equal share each
                gen_mw[members] = gen[q] / k
                continue
            share = np.clip(k * on[q][None, :] - np.arange(k)[:, None], 0.0, 1.0)
            total = share.sum(axis=0)
            gen_mw[members] = gen[q] * np.divide(share, total, out=np.zeros_like(share), where=total > 1e-12)
            on_frac[members] = share
            before = np.full((k, 1), float(s.generators[members[0]].on))
            starts[members] = np.maximum(share - np.concatenate([before, share[:, :-1]], axis=1), 0.0)
        out[pre + "gen"] = gen_mw
        if on is not None:
            out[pre + "gen_on"], out[pre + "gen_start"] = on_frac, starts
    return out


def _figures(g: GeneratorTerms) -> tuple:
    return (g.capacity_mw, g.min_mw, g.ramp_mw_per_step, g.start_steps, g.cost_usd_per_mwh, g.co2_kg_per_mwh,
            g.start_usd, g.on, g.power_mw, g.warmup_left)

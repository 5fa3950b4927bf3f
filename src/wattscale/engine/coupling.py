"""Coupled sites: inference that moves between sites, and shared connections whose limits several sites split.

The rule coordinator decides step by step from what each site sees at that step (no look-ahead), before the
sites' controllers run, over the migration links in the order given:

1. **outage**: a site whose grid is out sends its movable inference to a linked site whose grid is up;
2. **headroom**: a site whose load its connection (or its share of a shared one) and its renewables cannot carry
   sends the excess;
3. **price**: inference goes where a MWh costs less (energy price plus carbon at the scenario's carbon price) by
   more than the link's cost plus the policy's spread.

Prices compare what one IT MWh costs to serve at each site (energy and carbon times its PUE). A move is at most the
source's movable inference (``flexibility.movable_fraction`` of its inference, times the link's ``share``, less what
already moved), the link's ``max_mw``, and what the destination can take: its import limit plus renewables less its
load (its grid must be up), and what its shared connection can still carry. A site under a shared connection is
short of headroom by its share of what that connection cannot carry. Moved IT power leaves the source's load at
the source's PUE and joins the destination's at the destination's; the source's workloads and their flexibility
envelopes shrink in proportion. Then each shared connection's import (and export) limit is split among its sites
with their grid up, step by step: each first gets what its net load needs (within its own limit), the rest in
proportion to the own limits, or, when the needs exceed the shared limit, the shared limit in proportion to the
needs. A site never imports above its share, so the shared limit holds at every step; each site is then simulated
with its new load and limits, and every step of every site balances as before.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from wattscale.compute.flexibility import Envelope
from wattscale.engine.inputs import SiteInputs
from wattscale.errors import ScenarioError
from wattscale.scenario.schema import Fleet

REASONS = ("outage", "headroom", "price", "planned")  # planned: by the fleet MPC (fleet_plan.py)


@dataclass
class Coupling:
    """The sites' inputs after coupling, and what moved where and why."""

    inputs: dict[str, SiteInputs]
    moved_it_mw: dict[tuple[str, str], np.ndarray]  # (from, to) -> IT MW moved at each step
    reason: dict[tuple[str, str], np.ndarray]  # (from, to) -> index into REASONS at each step (-1: no move)
    cost_usd_per_mwh: dict[tuple[str, str], float]
    shared_import_mw: dict[str, np.ndarray]  # site -> its share of its shared connection's import limit

    def moves(self, index: pd.DatetimeIndex, step_h: float) -> pd.DataFrame:
        """MWh of IT energy moved, by link direction and reason."""
        rows = []
        for (a, b), mw in self.moved_it_mw.items():
            for k, why in enumerate(REASONS):
                mwh = float(mw[self.reason[(a, b)] == k].sum() * step_h)
                if mwh > 0:
                    rows.append({"from": a, "to": b, "reason": why, "it_mwh": mwh,
                                 "cost_usd": mwh * self.cost_usd_per_mwh[(a, b)]})
        return pd.DataFrame(rows, columns=["from", "to", "reason", "it_mwh", "cost_usd"])


def check_links(fleet: Fleet, inputs: dict[str, SiteInputs]) -> None:
    """ScenarioError for a migration link between two sites that have nothing to move."""
    for i, link in enumerate(fleet.migration):
        if not any(_movable(inputs[s]).any() for s in link.between):
            raise ScenarioError(f"neither {link.between[0]} nor {link.between[1]} has inference that may move",
                                field=f"fleet.migration[{i}]",
                                expected="flexibility: {movable_fraction: 0.3} on an inference workload of one of them")


def couple(fleet: Fleet, inputs: dict[str, SiteInputs], carbon_price_usd_per_t: float = 0.0) -> Coupling:
    """The coupled inputs of ``inputs`` (site name -> its inputs) under ``fleet``."""
    check_links(fleet, inputs)
    names = list(inputs)
    n = len(next(iter(inputs.values())).load_mw)
    load = {s: inputs[s].load_mw.astype(float).copy() for s in names}
    it = {s: inputs[s].it_load_mw.astype(float).copy() for s in names}
    movable = {s: _movable(inputs[s]) for s in names}
    sent = {s: np.zeros(n) for s in names}  # IT MW each site has sent away
    cap = {s: _import_cap(inputs[s]) for s in names}
    group = {s: c for c in fleet.shared_connections for s in c.sites}
    pol = fleet.policy
    moved, reasons, costs = {}, {}, {}

    def need(s: str) -> np.ndarray:  # what a site's connection must carry (facility MW, within its own limit)
        return np.minimum(np.maximum(load[s] - inputs[s].pv_mw - inputs[s].wind_mw, 0.0), cap[s])

    def group_room(c) -> np.ndarray:  # what a shared connection can still carry (negative: short)
        return c.import_limit_mw - sum(need(x) for x in c.sites)

    for link in fleet.migration:
        for a, b in (tuple(link.between), tuple(reversed(link.between))):
            src, dst = inputs[a], inputs[b]
            same_group = a in group and group.get(b) is group[a]
            room = np.where(dst.grid_up, np.maximum(cap[b] + dst.pv_mw + dst.wind_mw - load[b], 0.0), 0.0)
            if b in group and not same_group:
                room = np.minimum(room, np.maximum(group_room(group[b]), 0.0))
            room_it = room / dst.pue
            can = np.clip(movable[a] * link.share - sent[a], 0.0, link.max_mw)
            want = np.zeros(n)
            why = np.full(n, -1)
            if pol.on_price:  # what serving one IT MWh costs at each site: energy and carbon, times its PUE
                per_it = lambda x: (x.price_usd_per_mwh + carbon_price_usd_per_t * x.intensity_kg_per_mwh / 1e3) \
                    * x.pue  # noqa: E731
                cheaper = per_it(src) - per_it(dst) > link.cost_usd_per_mwh + pol.min_spread_usd_per_mwh
                want = np.where(cheaper, can, want)
                why = np.where(cheaper, 2, why)
            if pol.on_headroom:
                short = np.maximum(load[a] - cap[a] - src.pv_mw - src.wind_mw, 0.0)
                if a in group and not same_group:  # its share of what the shared connection cannot carry
                    excess = np.maximum(-group_room(group[a]), 0.0)
                    needs = sum(need(x) for x in group[a].sites)
                    short = np.maximum(short, excess * need(a) / np.where(needs > 0, needs, 1.0))
                short = short / src.pue
                over = short > 1e-9
                want = np.where(over, np.maximum(want, short), want)
                why = np.where(over, 1, why)
            if pol.on_outage:
                out = ~src.grid_up
                want = np.where(out, can, want)
                why = np.where(out, 0, why)
            m = np.minimum(np.minimum(want, can), room_it)
            m[m < 1e-9] = 0.0
            why = np.where(m > 0, why, -1)
            load[a] -= m * src.pue
            it[a] -= m
            load[b] += m * dst.pue
            it[b] += m
            sent[a] += m
            key = (a, b)
            moved[key] = moved.get(key, np.zeros(n)) + m
            reasons[key] = np.where(m > 0, why, reasons.get(key, np.full(n, -1)))
            costs[key] = link.cost_usd_per_mwh
    shares = {}
    new_limits = {s: inputs[s].import_limit_mw.astype(float).copy() for s in names}
    new_export = {s: inputs[s].export_limit_mw.astype(float).copy() for s in names}
    for conn in fleet.shared_connections:
        for s, (imp, exp) in split_connection(conn, inputs, load).items():
            new_limits[s], new_export[s] = imp, exp
            shares[s] = np.where(inputs[s].grid_up, imp, 0.0)
    out = {}
    for s in names:
        x = inputs[s]
        envelopes, workloads = shrink_envelopes(x.envelopes, x.workload_it_mw, sent[s])
        out[s] = replace(x, load_mw=load[s], it_load_mw=it[s], import_limit_mw=new_limits[s],
                         export_limit_mw=new_export[s], envelopes=envelopes, workload_it_mw=workloads)
    return Coupling(out, moved, reasons, costs, shares)


def split_connection(conn, inputs: dict[str, SiteInputs], load: dict[str, np.ndarray], at: slice = slice(None)
                     ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each site's (import limit, export limit) over steps ``at`` under shared connection ``conn``, given the
    sites' loads after any moves (``load[s]`` covers the same steps): the shared limits split by need among the
    sites with their grid up (``_split``); a site in an outage keeps its own limits (it draws nothing)."""
    xs = {s: inputs[s] for s in conn.sites}
    up = {s: xs[s].grid_up[at] for s in xs}
    ren = {s: xs[s].pv_mw[at] + xs[s].wind_mw[at] for s in xs}
    own_imp = {s: xs[s].import_limit_mw[at].astype(float) for s in xs}
    own_exp = {s: xs[s].export_limit_mw[at].astype(float) for s in xs}
    imp = _split(conn.import_limit_mw, {s: np.maximum(load[s] - ren[s], 0.0) for s in xs},
                 {s: np.where(up[s], np.minimum(own_imp[s], 1e9), 0.0) for s in xs})
    exp = _split(conn.export_limit_mw, {s: np.maximum(ren[s] - load[s], 0.0) for s in xs},
                 {s: np.where(up[s], own_exp[s], 0.0) for s in xs})
    return {s: (np.where(up[s], np.minimum(imp[s], own_imp[s]), own_imp[s]),
                np.where(up[s], np.minimum(exp[s], own_exp[s]), own_exp[s])) for s in xs}


def _split(total: float, need: dict[str, np.ndarray], own: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``total`` split step by step: each site its need (within its own limit) and the rest by own limits; when
    the needs exceed the total, the total in proportion to the needs. The shares never exceed the total."""
    sites = list(need)
    want = np.array([np.minimum(need[s], own[s]) for s in sites])
    caps = np.array([own[s] for s in sites])
    asked = want.sum(axis=0)
    spare = np.maximum(total - asked, 0.0)
    room = np.maximum(caps - want, 0.0)
    room_total = room.sum(axis=0)
    extra = np.where(room_total > 0, spare * room / np.where(room_total > 0, room_total, 1.0), 0.0)
    fits = asked <= total
    scaled = want * np.where(asked > 0, total / np.where(asked > 0, asked, 1.0), 0.0)
    shares = np.where(fits, np.minimum(want + extra, caps), scaled)
    return {s: shares[i] for i, s in enumerate(sites)}


def _import_cap(x: SiteInputs) -> np.ndarray:
    return np.where(x.grid_up, np.minimum(x.import_limit_mw, 1e9), 0.0)


def _movable(x: SiteInputs) -> np.ndarray:
    return np.sum([e.movable_mw for e in x.envelopes], axis=0) if x.envelopes else np.zeros(len(x.load_mw))


def shrink_envelopes(envelopes: list[Envelope], workload_it_mw: dict[str, np.ndarray], sent_it_mw: np.ndarray
                     ) -> tuple[list[Envelope], dict[str, np.ndarray]]:
    """The envelopes and workloads' IT power once ``sent_it_mw`` has left, taken from the movable workloads in
    proportion to what each could move: what left is no longer here, so it can be moved no more, and each
    workload's reducible power (a power cap on its fleet) shrinks in proportion to the fleet that stays."""
    if not envelopes or not np.any(sent_it_mw):
        return envelopes, workload_it_mw
    total = _movable_of(envelopes)
    workloads = dict(workload_it_mw)
    out = []
    for e in envelopes:
        part = np.where(total > 0, sent_it_mw * e.movable_mw / np.where(total > 0, total, 1.0), 0.0)
        fleet = workload_it_mw.get(e.name)
        if fleet is not None:
            stays = np.clip(1.0 - part / np.where(fleet > 0, fleet, 1.0), 0.0, 1.0)
            workloads[e.name] = np.maximum(fleet - part, 0.0)
            reducible = e.reducible_mw * stays
        else:
            reducible = np.maximum(e.reducible_mw - part, 0.0)
        out.append(replace(e, reducible_mw=reducible, movable_mw=np.maximum(e.movable_mw - part, 0.0)))
    return out, workloads


def _movable_of(envelopes: list[Envelope]) -> np.ndarray:
    return np.sum([e.movable_mw for e in envelopes], axis=0) if envelopes else np.zeros(0)

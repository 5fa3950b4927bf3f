"""Double-auction clearing of one interval's bids and offers: pay-as-clear, pay-as-bid, or nodal with limits.

Orders are matched in merit order (highest bid against lowest offer) while the bid is at least the offer;
the matched volume and the welfare (the area between the demand and supply curves) are the same for
both mechanisms, which differ in who keeps the surplus:

- ``pay_as_clear``: one uniform price for all, in the interval between the marginal orders
  ([max(last accepted offer, first rejected bid), min(last accepted bid, first rejected offer)]), at its
  point ``k`` (0.5: the midpoint). Every accepted bid is at or above it, every accepted offer at or below.
- ``pay_as_bid``: discriminatory; each matched pair trades at ``offer + k * (bid - offer)``, so each pair
  splits its own surplus and nobody pays more than their bid or gets less than their offer.

Both are budget-balanced: what buyers pay, sellers receive. With transfer limits between sites the
clearing is a linear programme (linopy + HiGHS) that maximises welfare subject to each site's balance and
each link's limit; prices are then nodal (the duals of the balances) and the operator keeps the
congestion rent.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from wattscale.decisions.operate.lp import quiet_stdout
from wattscale.errors import MarketError

Mechanism = Literal["pay_as_clear", "pay_as_bid"]
TOL = 1e-9


@dataclass(frozen=True)
class Order:
    id: str
    participant: str
    side: Literal["buy", "sell"]
    quantity_mwh: float
    price_usd_per_mwh: float


@dataclass(frozen=True)
class Trade:
    buy_order: str
    sell_order: str
    buyer: str
    seller: str
    quantity_mwh: float
    price_usd_per_mwh: float  # what the buyer pays per MWh
    seller_price_usd_per_mwh: float  # what the seller receives per MWh (differs only across a congested link)


@dataclass
class Clearing:
    mechanism: str
    trades: list[Trade]
    price_usd_per_mwh: float  # uniform price (NaN with no trade, or with nodal prices)
    volume_mwh: float
    welfare_usd: float
    buyer_surplus_usd: float
    seller_surplus_usd: float
    operator_surplus_usd: float  # congestion rent; zero without limits
    nodal_prices_usd_per_mwh: dict[str, float] = field(default_factory=dict)

    def accepted_mwh(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for t in self.trades:
            out[t.buy_order] = out.get(t.buy_order, 0.0) + t.quantity_mwh
            out[t.sell_order] = out.get(t.sell_order, 0.0) + t.quantity_mwh
        return out


def check_orders(orders: list[Order], price_floor: float, price_cap: float) -> None:
    """Refuse negative or non-finite quantities, prices outside the market's bounds and repeated ids."""
    seen = set()
    for o in orders:
        where = f"order '{o.id}' of '{o.participant}'"
        if o.id in seen:
            raise MarketError(f"{where}: the id is used twice", field="orders", expected="unique order ids")
        seen.add(o.id)
        if o.side not in ("buy", "sell"):
            raise MarketError(f"{where}: side '{o.side}'", field="orders", expected="'buy' or 'sell'")
        if not (math.isfinite(o.quantity_mwh) and o.quantity_mwh > 0):
            raise MarketError(f"{where}: quantity {o.quantity_mwh} MWh", field="orders", expected="a positive MWh")
        if not (math.isfinite(o.price_usd_per_mwh) and price_floor <= o.price_usd_per_mwh <= price_cap):
            raise MarketError(f"{where}: price {o.price_usd_per_mwh} USD/MWh", field="orders",
                              expected=f"a price within [{price_floor:g}, {price_cap:g}] USD/MWh")


def clear(orders: list[Order], mechanism: Mechanism = "pay_as_clear", *, k: float = 0.5) -> Clearing:
    """Clear one interval without transfer limits (a copper plate)."""
    if mechanism not in ("pay_as_clear", "pay_as_bid"):
        raise MarketError(f"unknown mechanism '{mechanism}'", field="market.mechanism",
                          expected="pay_as_clear or pay_as_bid")
    if not 0.0 <= k <= 1.0:
        raise MarketError(f"k = {k}", field="market.k", expected="a share between 0 and 1")
    buys = sorted((o for o in orders if o.side == "buy"), key=lambda o: (-o.price_usd_per_mwh, o.id))
    sells = sorted((o for o in orders if o.side == "sell"), key=lambda o: (o.price_usd_per_mwh, o.id))
    left_b = [o.quantity_mwh for o in buys]
    left_s = [o.quantity_mwh for o in sells]
    pairs = []  # (buy index, sell index, quantity)
    i = j = 0
    while i < len(buys) and j < len(sells) and buys[i].price_usd_per_mwh >= sells[j].price_usd_per_mwh:
        q = min(left_b[i], left_s[j])
        pairs.append((i, j, q))
        left_b[i] -= q
        left_s[j] -= q
        if left_b[i] <= TOL:
            i += 1
        if left_s[j] <= TOL:
            j += 1
    if not pairs:
        return Clearing(mechanism, [], math.nan, 0.0, 0.0, 0.0, 0.0, 0.0)
    last_b, last_s = buys[pairs[-1][0]], sells[pairs[-1][1]]
    # the first rejected order on each side: the remainder of a partly accepted one, else the next
    next_b = buys[i].price_usd_per_mwh if i < len(buys) else -math.inf
    next_s = sells[j].price_usd_per_mwh if j < len(sells) else math.inf
    lo = max(last_s.price_usd_per_mwh, next_b)
    hi = min(last_b.price_usd_per_mwh, next_s)
    uniform = lo + k * (hi - lo)
    trades = []
    for bi, sj, q in pairs:
        b, s = buys[bi], sells[sj]
        price = uniform if mechanism == "pay_as_clear" else \
            s.price_usd_per_mwh + k * (b.price_usd_per_mwh - s.price_usd_per_mwh)
        trades.append(Trade(b.id, s.id, b.participant, s.participant, q, price, price))
    return _summarise(mechanism, trades, {o.id: o for o in orders},
                      uniform if mechanism == "pay_as_clear" else math.nan)


def clear_with_limits(orders: list[Order], node_of: dict[str, str], links: list[tuple[str, str, float]]
                      ) -> Clearing:
    """Clear one interval on a network: participants sit at nodes (``node_of``), energy moves only along
    ``links`` (node a, node b, limit in MWh per interval, either way); nodal pay-as-clear prices."""
    import linopy
    import pandas as pd
    import xarray as xr

    nodes = sorted(set(node_of.values()) | {a for a, _b, _l in links} | {b for _a, b, _l in links})
    for o in orders:
        if o.participant not in node_of:
            raise MarketError(f"participant '{o.participant}' has no node", field="market.transfer_limits",
                              expected="every trading site on the network")
    for a, b, lim in links:
        if not (lim >= 0):
            raise MarketError(f"link {a}-{b}: limit {lim}", field="market.transfer_limits",
                              expected="a limit >= 0 MW")
    if not orders:
        return Clearing("pay_as_clear", [], math.nan, 0.0, 0.0, 0.0, 0.0, 0.0)
    m = linopy.Model()
    oidx = pd.RangeIndex(len(orders), name="o")
    qty = np.array([o.quantity_mwh for o in orders])
    sign = np.array([1.0 if o.side == "sell" else -1.0 for o in orders])
    price = np.array([o.price_usd_per_mwh for o in orders])
    x = m.add_variables(lower=xr.DataArray(np.zeros(len(orders)), coords=[oidx]),
                        upper=xr.DataArray(qty, coords=[oidx]), name="accepted")
    at = np.array([[1.0 if node_of[o.participant] == n else 0.0 for o in orders] for n in nodes])
    nidx = pd.RangeIndex(len(nodes), name="n")
    injection = (xr.DataArray(at * sign, coords=[nidx, oidx]) * x).sum("o")
    if links:
        lidx = pd.RangeIndex(len(links), name="l")
        lim = np.array([float(limit) for _a, _b, limit in links])
        f = m.add_variables(lower=xr.DataArray(-lim, coords=[lidx]), upper=xr.DataArray(lim, coords=[lidx]),
                            name="flow")
        inc = np.zeros((len(nodes), len(links)))  # +1 where a link leaves a node
        for li, (a, b, _lim) in enumerate(links):
            inc[nodes.index(a), li] += 1.0
            inc[nodes.index(b), li] -= 1.0
        m.add_constraints(injection - (xr.DataArray(inc, coords=[nidx, lidx]) * f).sum("l") == 0, name="balance")
    else:
        m.add_constraints(injection == 0, name="balance")
    m.add_objective((xr.DataArray(-sign * price, coords=[oidx]) * x).sum(), sense="max")
    with quiet_stdout():  # HiGHS's banner
        status, _cond = m.solve(solver_name="highs", output_flag=False)
    if status != "ok":
        raise MarketError(f"the network clearing could not be solved (HiGHS: {status})", field="market")
    acc = np.asarray(x.solution.values, float).round(9)
    duals = np.asarray(m.constraints["balance"].dual.values, float)
    nodal = {n: _nodal_price(duals[i]) for i, n in enumerate(nodes)}
    trades = _pair_by_merit(orders, acc, node_of, nodal)
    return _summarise("pay_as_clear", trades, {o.id: o for o in orders}, math.nan, nodal)


def _nodal_price(dual: float) -> float:
    """linopy reports the dual of a maximisation's balance row with the sign of d(objective)/d(rhs): the value of
    one more MWh injected is minus that."""
    return float(-dual) if dual != 0 else 0.0


def _pair_by_merit(orders: list[Order], accepted: np.ndarray, node_of: dict[str, str], nodal: dict[str, float]
                   ) -> list[Trade]:
    """Split accepted volumes into buyer-seller trades (merit order), each side settled at its own node's price."""
    buys = sorted(((o, a) for o, a in zip(orders, accepted) if o.side == "buy" and a > TOL),
                  key=lambda p: (-p[0].price_usd_per_mwh, p[0].id))
    sells = sorted(((o, a) for o, a in zip(orders, accepted) if o.side == "sell" and a > TOL),
                   key=lambda p: (p[0].price_usd_per_mwh, p[0].id))
    left_b = [a for _o, a in buys]
    left_s = [a for _o, a in sells]
    trades, j = [], 0
    for i, (b, _a) in enumerate(buys):
        while left_b[i] > TOL and j < len(sells):
            s = sells[j][0]
            q = float(min(left_b[i], left_s[j]))
            trades.append(Trade(b.id, s.id, b.participant, s.participant, q, nodal[node_of[b.participant]],
                                nodal[node_of[s.participant]]))
            left_b[i] -= q
            left_s[j] -= q
            if left_s[j] <= TOL:
                j += 1
    return trades


def _summarise(mechanism: str, trades: list[Trade], by_id: dict[str, Order], uniform: float,
               nodal: dict[str, float] | None = None) -> Clearing:
    volume = sum(t.quantity_mwh for t in trades)
    welfare = sum(t.quantity_mwh * (by_id[t.buy_order].price_usd_per_mwh - by_id[t.sell_order].price_usd_per_mwh)
                  for t in trades)
    buyer = sum(t.quantity_mwh * (by_id[t.buy_order].price_usd_per_mwh - t.price_usd_per_mwh) for t in trades)
    seller = sum(t.quantity_mwh * (t.seller_price_usd_per_mwh - by_id[t.sell_order].price_usd_per_mwh)
                 for t in trades)
    rent = sum(t.quantity_mwh * (t.price_usd_per_mwh - t.seller_price_usd_per_mwh) for t in trades)
    return Clearing(mechanism, trades, uniform, volume, welfare, buyer, seller, rent, nodal or {})

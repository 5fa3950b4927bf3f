"""Trading agents and the market operator: agents see only market messages; the clearing lives in one place.

A ``SiteAgent`` knows its own plan: its net draw per interval and the marginal value of energy there (the
dual of its balance in its own optimal dispatch), and what it could add (curtailed renewables, spare
generator capacity, each at its marginal cost). Each interval it sends signed orders: a deficit as a bid at
its marginal value (what the grid would otherwise charge it), a surplus and its spare capacity as offers.
The ``Operator`` records the orders on the ledger, clears them (``auction``), records the matches, and at the
end sends each agent a settlement statement that the agent checks against its own trades and co-signs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import wattscale.decisions.market.entries  # noqa: F401 - registers the market's entries with the ledger
from wattscale.decisions.market.auction import Clearing, Mechanism, Order, Trade, clear, clear_with_limits
from wattscale.errors import MarketError
from wattscale.ledger.book import Entry, Ledger, make
from wattscale.ledger.keys import Identity

MIN_MWH = 1e-4  # smaller orders are not worth a message


@dataclass
class Offer:
    """Extra energy a site could sell: per-interval MW at a price (USD/MWh)."""

    label: str
    power_mw: np.ndarray
    price_usd_per_mwh: float | np.ndarray


class SiteAgent:
    def __init__(self, identity: Identity, net_draw_mw: np.ndarray, value_usd_per_mwh: np.ndarray, step_h: float,
                 extra: list[Offer] | None = None) -> None:
        self.identity = identity
        self.name = identity.name
        self.net_draw_mw = np.asarray(net_draw_mw, float)
        self.value = np.asarray(value_usd_per_mwh, float)
        self.step_h = step_h
        self.extra = extra or []
        self.trades: list[tuple[int, Trade]] = []
        self.orders: dict[str, Order] = {}

    def bid(self, t: int, interval: str, floor: float, cap: float) -> list[Entry]:
        """This interval's signed orders."""
        out = []
        q = self.net_draw_mw[t] * self.step_h
        value = float(np.clip(self.value[t], floor, cap))
        if q > MIN_MWH:
            out.append(self._order(f"{self.name}/{t}/buy", interval, "buy", q, value))
        else:
            if q < -MIN_MWH:
                out.append(self._order(f"{self.name}/{t}/sell", interval, "sell", -q, value))
            for e in self.extra:
                mwh = float(e.power_mw[t]) * self.step_h
                price = float(np.clip(np.broadcast_to(e.price_usd_per_mwh, self.net_draw_mw.shape)[t], floor, cap))
                if mwh > MIN_MWH:
                    out.append(self._order(f"{self.name}/{t}/{e.label}", interval, "sell", mwh, price))
        return out

    def _order(self, oid: str, interval: str, side: str, q: float, price: float) -> Entry:
        body = {"id": oid, "participant": self.name, "interval": interval, "side": side,
                "quantity_mwh": round(q, 6), "price_usd_per_mwh": round(price, 4)}
        self.orders[oid] = Order(oid, self.name, side, body["quantity_mwh"], body["price_usd_per_mwh"])
        return make("order", body, self.identity)

    def hear(self, t: int, trades: list[Trade]) -> None:
        """The operator's message after clearing: the trades this agent is in."""
        self.trades += [(t, tr) for tr in trades if self.name in (tr.buyer, tr.seller)]

    def statement(self) -> tuple[float, float]:
        """(net energy bought, net amount paid) by its own records."""
        energy = sum(tr.quantity_mwh * (1 if tr.buyer == self.name else -1) for _t, tr in self.trades)
        paid = sum(tr.quantity_mwh * (tr.price_usd_per_mwh if tr.buyer == self.name else -tr.seller_price_usd_per_mwh)
                   for _t, tr in self.trades)
        return energy, paid

    def countersign(self, entry: Entry) -> Entry:
        """Co-sign a settlement statement only if it matches this agent's own records."""
        energy, paid = self.statement()
        b = entry.body
        if b["participant"] != self.name or abs(b["energy_mwh"] - round(energy, 6)) > 1e-5 \
                or abs(b["amount_usd"] - round(paid, 2)) > 0.011:
            raise MarketError(f"'{self.name}' refuses a settlement that does not match its trades",
                              field="settlement", expected=f"{energy:.6f} MWh for {paid:.2f} USD")
        return entry.signed_by(self.identity)


@dataclass
class IntervalResult:
    interval: str
    clearing: Clearing
    n_orders: int


@dataclass
class Operator:
    """Runs the market: records, clears, matches, settles; the only place prices are made."""

    identity: Identity
    ledger: Ledger
    mechanism: Mechanism = "pay_as_clear"
    k: float = 0.5
    node_of: dict[str, str] | None = None  # with transfer limits: each participant's node
    links: list[tuple[str, str, float]] = field(default_factory=list)
    results: list[IntervalResult] = field(default_factory=list)

    def register(self, agents: list[SiteAgent]) -> None:
        new = [a for a in agents if a.name not in self.ledger.participants]
        if new:
            self.ledger.append([make("participant", {"name": a.name, "public_key": a.identity.public_hex},
                                     self.identity, a.identity) for a in new], self.identity)

    def run_interval(self, t: int, interval: str, agents: list[SiteAgent], step_h: float) -> IntervalResult:
        g = self.ledger.genesis
        floor, cap = g["price_floor_usd_per_mwh"], g["price_cap_usd_per_mwh"]
        entries = [e for a in agents for e in a.bid(t, interval, floor, cap)]
        orders = [Order(e.body["id"], e.body["participant"], e.body["side"], e.body["quantity_mwh"],
                        e.body["price_usd_per_mwh"]) for e in entries]
        if self.node_of is not None:
            limits = [(a, b, lim * step_h) for a, b, lim in self.links]
            result = clear_with_limits(orders, self.node_of, limits)
        else:
            result = clear(orders, self.mechanism, k=self.k)
        matches = [make("match", {"id": f"m/{t}/{j}", "interval": interval, "buy_order": tr.buy_order,
                                  "sell_order": tr.sell_order, "quantity_mwh": round(tr.quantity_mwh, 6),
                                  "price_usd_per_mwh": round(tr.price_usd_per_mwh, 4)}, self.identity)
                   for j, tr in enumerate(result.trades) if tr.buyer != tr.seller]
        if entries:
            self.ledger.append(entries + matches, self.identity)  # one block per interval
        for a in agents:
            a.hear(t, result.trades)
        res = IntervalResult(interval, result, len(entries))
        self.results.append(res)
        return res

    def settle(self, agents: list[SiteAgent], period: str) -> None:
        statements = []
        for a in agents:
            energy, paid = a.statement()
            body = {"id": f"settle/{period}/{a.name}", "participant": a.name, "period": period,
                    "energy_mwh": round(energy, 6), "amount_usd": round(paid, 2)}
            statements.append(a.countersign(make("settlement", body, self.identity)))
        self.ledger.append(statements, self.identity)

"""The market's entries on the signed ledger, registered with it: orders (signed by their participant), matches
(signed by the operator, between a buy and a sell order of the same interval) and settlements (signed by the
participant and the operator). Prices must lie within the market's bounds, set in the ledger's genesis entry."""
from __future__ import annotations

import math

from wattscale.ledger.rules import EntryKind, EntryRules, register_kind

SIDES = ("buy", "sell")


def quantity_price_problem(rules: EntryRules, body: dict) -> str:
    """'' when the quantity is positive and the price within the market's bounds."""
    try:
        q, p = float(body["quantity_mwh"]), float(body["price_usd_per_mwh"])
    except OverflowError:
        return "a quantity or price is too large"
    if not math.isfinite(q) or q <= 0:
        return f"quantity {q} MWh is not positive"
    lo, hi = rules.genesis["price_floor_usd_per_mwh"], rules.genesis["price_cap_usd_per_mwh"]
    if not (math.isfinite(p) and lo <= p <= hi):
        return f"price {p} USD/MWh is outside the market's bounds [{lo:g}, {hi:g}]"
    return ""


def _order_problem(rules: EntryRules, body: dict) -> str:
    if body["participant"] not in rules.participants:
        return f"unknown participant '{body['participant']}'"
    if body["side"] not in SIDES:
        return f"side '{body['side']}' is neither 'buy' nor 'sell'"
    return quantity_price_problem(rules, body)


def _match_problem(rules: EntryRules, body: dict) -> str:
    for side, ref in (("buy", body["buy_order"]), ("sell", body["sell_order"])):
        known = rules.known(ref)
        if known is None or known[0] != "order":
            return f"{side} order '{ref}' is not in the ledger"
        if known[1]["side"] != side or known[1]["interval"] != body["interval"]:
            return f"order '{ref}' is not a {side} order for interval {body['interval']}"
    return quantity_price_problem(rules, body)


def _settlement_problem(rules: EntryRules, body: dict) -> str:
    return "" if body["participant"] in rules.participants else f"unknown participant '{body['participant']}'"


ORDER = register_kind(EntryKind(
    "order", {"id": str, "participant": str, "interval": str, "side": str, "quantity_mwh": float,
              "price_usd_per_mwh": float},
    signers=lambda rules, body: {body["participant"]: rules.participants[body["participant"]]},
    check=_order_problem, has_id=True))
MATCH = register_kind(EntryKind(
    "match", {"id": str, "interval": str, "buy_order": str, "sell_order": str, "quantity_mwh": float,
              "price_usd_per_mwh": float},
    signers=lambda rules, body: rules.operator_key(), check=_match_problem, has_id=True))
SETTLEMENT = register_kind(EntryKind(
    "settlement", {"id": str, "participant": str, "period": str, "energy_mwh": float, "amount_usd": float},
    signers=lambda rules, body: {body["participant"]: rules.participants[body["participant"]],
                                 **rules.operator_key()},
    check=_settlement_problem, has_id=True))

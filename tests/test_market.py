"""The peer-to-peer auction against hand-computed textbook cases and its welfare identities, the nodal clearing
against the merit-order one, and ADMM's price-coordinated dispatch against the centralised optimum."""
from __future__ import annotations

import copy
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattscale.decisions.market.admm import coordinate
from wattscale.decisions.market.auction import Order, check_orders, clear, clear_with_limits
from wattscale.decisions.operate.dispatch import plan_dispatch
from wattscale.decisions.operate.problem import DispatchProblem
from wattscale.errors import MarketError

sys.path.insert(0, str(Path(__file__).parent))
from test_dispatch import site  # noqa: E402

# buyers A 10 @ 50, B 5 @ 40, C 10 @ 20; sellers X 8 @ 15, Y 10 @ 30, Z 10 @ 45
BOOK = [Order("a", "A", "buy", 10, 50), Order("b", "B", "buy", 5, 40), Order("c", "C", "buy", 10, 20),
        Order("x", "X", "sell", 8, 15), Order("y", "Y", "sell", 10, 30), Order("z", "Z", "sell", 10, 45)]


def test_pay_as_clear_by_hand():
    """Merit order: A takes X's 8 and 2 of Y, B takes 5 of Y; C (20) is below Y's remaining 30: 15 MWh.
    Y is partly accepted, so it sets the price: [max(30, 20), min(40, 30)] = 30."""
    c = clear(BOOK, "pay_as_clear")
    assert c.volume_mwh == pytest.approx(15.0)
    assert c.price_usd_per_mwh == pytest.approx(30.0)
    assert c.welfare_usd == pytest.approx(8 * 35 + 2 * 20 + 5 * 10)  # 370
    assert c.buyer_surplus_usd == pytest.approx(10 * 20 + 5 * 10)  # A and B at 30
    assert c.seller_surplus_usd == pytest.approx(8 * 15 + 7 * 0)
    assert c.accepted_mwh() == {"a": 10, "b": 5, "x": 8, "y": 7}


def test_pay_as_clear_midpoint_when_the_marginal_orders_are_fully_accepted():
    """Buyer 5 @ 60 and seller 5 @ 20 match whole; the next bid is 25 and the next offer 55:
    the price may lie in [max(20, 25), min(60, 55)] = [25, 55]; the midpoint is 40."""
    book = [Order("b1", "B1", "buy", 5, 60), Order("b2", "B2", "buy", 5, 25),
            Order("s1", "S1", "sell", 5, 20), Order("s2", "S2", "sell", 5, 55)]
    c = clear(book)
    assert (c.volume_mwh, c.price_usd_per_mwh, c.welfare_usd) == (5, 40.0, 200.0)
    assert clear(book, k=0.0).price_usd_per_mwh == 25.0 and clear(book, k=1.0).price_usd_per_mwh == 55.0


def test_pay_as_bid_by_hand():
    c = clear(BOOK, "pay_as_bid")
    prices = {(t.buy_order, t.sell_order): t.price_usd_per_mwh for t in c.trades}
    assert prices == {("a", "x"): 32.5, ("a", "y"): 40.0, ("b", "y"): 35.0}
    assert c.welfare_usd == pytest.approx(370.0)


def orders_strategy():
    order = st.tuples(st.sampled_from(["buy", "sell"]), st.floats(0.1, 50), st.integers(-50, 300))
    return st.lists(order, min_size=1, max_size=20)


@settings(max_examples=60, deadline=None)
@given(orders_strategy(), st.floats(0, 1))
def test_welfare_identities_hold_for_both_mechanisms(raw, k):
    book = [Order(f"o{i}", f"p{i}", side, q, float(p)) for i, (side, q, p) in enumerate(raw)]
    pac, pab = clear(book, "pay_as_clear", k=k), clear(book, "pay_as_bid", k=k)
    # the same matching: same volume and welfare; the surplus splits add up, money balances
    assert pac.volume_mwh == pytest.approx(pab.volume_mwh) and pac.welfare_usd == pytest.approx(pab.welfare_usd)
    for c in (pac, pab):
        assert c.buyer_surplus_usd + c.seller_surplus_usd + c.operator_surplus_usd == pytest.approx(c.welfare_usd)
        assert c.operator_surplus_usd == pytest.approx(0.0)
        by = {o.id: o for o in book}
        for t in c.trades:  # individually rational
            assert by[t.sell_order].price_usd_per_mwh - 1e-9 <= t.price_usd_per_mwh
            assert t.price_usd_per_mwh <= by[t.buy_order].price_usd_per_mwh + 1e-9
    if pac.trades:  # a competitive equilibrium: nobody left out would trade at the price
        acc = pac.accepted_mwh()
        p = pac.price_usd_per_mwh
        for o in book:
            left = o.quantity_mwh - acc.get(o.id, 0.0)
            if left > 1e-9:
                assert (o.price_usd_per_mwh <= p + 1e-9) if o.side == "buy" else (o.price_usd_per_mwh >= p - 1e-9)
    # the welfare is the largest possible: the same as the linear programme's on a copper plate
    lp = clear_with_limits(book, {o.participant: "bus" for o in book}, [])
    assert lp.welfare_usd == pytest.approx(pac.welfare_usd, abs=1e-6)


def test_congested_link_splits_prices_and_the_operator_keeps_the_rent():
    """A (node a) offers 10 @ 20; B (node b) bids 10 @ 50 and also offers 3 @ 45. The link a-b carries 4:
    B takes 4 from A and 3 from itself; a's price is A's offer 20, b's is B's bid 50, the rent 4 x 30."""
    book = [Order("s", "A", "sell", 10, 20), Order("b", "B", "buy", 10, 50), Order("s2", "B", "sell", 3, 45)]
    c = clear_with_limits(book, {"A": "a", "B": "b"}, [("a", "b", 4.0)])
    assert c.nodal_prices_usd_per_mwh == pytest.approx({"a": 20.0, "b": 50.0})
    assert c.volume_mwh == pytest.approx(7.0)
    assert c.operator_surplus_usd == pytest.approx(120.0)
    assert c.welfare_usd == pytest.approx(4 * 30 + 3 * 5)
    assert c.buyer_surplus_usd + c.seller_surplus_usd + c.operator_surplus_usd == pytest.approx(c.welfare_usd)
    wide = clear_with_limits(book, {"A": "a", "B": "b"}, [("a", "b", 100.0)])
    assert wide.welfare_usd == pytest.approx(clear(book).welfare_usd) and wide.operator_surplus_usd == pytest.approx(0)


@pytest.mark.parametrize("bad, why", [
    (Order("o", "A", "buy", -1.0, 30), "positive MWh"), (Order("o", "A", "buy", math.nan, 30), "positive MWh"),
    (Order("o", "A", "sell", 1.0, 6000), "within [-100, 5000]"), (Order("o", "A", "hold", 1.0, 30), "'buy' or"),
])
def test_bad_orders_are_named(bad, why):
    with pytest.raises(MarketError, match=why.replace("[", r"\[")) as err:
        check_orders([bad], -100, 5000)
    assert "order 'o' of 'A'" in str(err.value)
    with pytest.raises(MarketError, match="used twice"):
        check_orders([BOOK[0], BOOK[0]], -100, 5000)


def shared_campus(n_sites: int, n_steps: int = 48) -> DispatchProblem:
    sites = [site(n=n_steps, name=f"s{i}", seed=i + 1, demand_charge=0.0, flex=i % 2 == 0) for i in range(n_sites)]
    for s in sites:
        s.grid.import_limit_mw[:] = 150.0
    tie = copy.deepcopy(sites[0].grid)
    tie.import_limit_mw[:] = 65.0 * n_sites  # binds at the peaks
    tie.demand_charge_usd_per_mw_month = 8000.0
    return DispatchProblem(sites, 1.0, carbon_price_usd_per_t=30, commitment="none", connection=tie)


def test_admm_reaches_the_central_optimum_within_a_tenth_of_a_percent():
    problem = shared_campus(3)
    central = plan_dispatch(problem)
    assert central.unserved_mwh == 0.0
    res = coordinate(problem, tolerance=1e-3, central=central)
    assert res.converged and abs(res.gap) <= 1e-3
    assert res.central_usd == central.objective_usd
    assert res.history[-1].residual_mw <= 1e-3 * sum(s.load_mw.mean() for s in problem.sites)
    # the coordinated flows respect the shared limit and each site's own, as the central plan does
    assert np.all(res.tie_mw <= problem.connection.import_cap_mw() + 1e-6)
    assert np.all(res.site_draw_mw.sum(axis=0) <= problem.connection.import_cap_mw() + 0.2)
    # the demand charge couples the sites through the peak: coordinated, they keep the central plan's peak
    central_tie = sum(s.import_mw - s.export_mw for s in central.sites)
    assert res.tie_mw.max() == pytest.approx(central_tie.max(), rel=2e-3)
    alone = sum(plan_dispatch(DispatchProblem([s], 1.0, carbon_price_usd_per_t=30, commitment="none")).sites[0]
                .import_mw for s in problem.sites)  # each site on its own tariff, no demand charge: a higher peak
    assert alone.max() > central_tie.max() + 1.0


def test_admm_refuses_a_problem_it_cannot_coordinate():
    p = shared_campus(2)
    with pytest.raises(MarketError, match="convex"):
        coordinate(DispatchProblem(p.sites, 1.0, commitment="milp", connection=p.connection))
    with pytest.raises(MarketError, match="shared connection"):
        coordinate(DispatchProblem(p.sites, 1.0, commitment="none"))

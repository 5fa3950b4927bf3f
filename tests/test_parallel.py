"""Studies that are many independent tasks give the same numbers on a Dask cluster (real worker processes) as here,
whatever the number of workers: Monte Carlo years (seeds spawned per chunk), N-1 outages, restorations and
backtest refits."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.test_studies import short

from wattscale.parallel import completed, map_tasks, seeds, using
from wattscale.studies.registry import run_study

pytestmark = pytest.mark.xdist_group("test_parallel")  # its module fixtures are built once, on one worker

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ROOT / "examples" / "networks"


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def square(x: int, offset: int = 0) -> int:
    if x == 3:
        raise ValueError("three")
    return x * x + offset


def test_map_tasks_keeps_order_and_reports_the_failing_task(client):
    with using(client):
        assert map_tasks(square, [5, 1, 4], shared=10) == [35, 11, 26]
        with pytest.raises(ValueError, match="three"):
            map_tasks(square, [1, 3, 2])
    got = {i: (v, type(e).__name__ if e else None) for i, v, e in completed(square, [2, 3], client=client, window=1)}
    assert got == {0: (4, None), 1: (None, "ValueError")}


def test_spawned_seeds_do_not_depend_on_how_many_are_drawn_later():
    a = [np.random.default_rng(s).random(3) for s in seeds(7, 4)]
    b = [np.random.default_rng(s).random(3) for s in seeds(7, 9)][:4]
    assert all((x == y).all() for x, y in zip(a, b))
    assert not (a[0] == a[1]).all()


def test_reliability_is_the_same_on_a_cluster(client):
    """The restorations behind the outcome table, and Monte Carlo years in three chunks of spawned seeds."""
    from wattscale.network.build import load_network
    from wattscale.network.reliability import monte_carlo, outcome_table

    network = load_network(str(NETWORKS / "rbts-bus2.yaml"))
    here = outcome_table(network, "flisr")
    with using(client):
        there = outcome_table(network, "flisr")
        mc_there = monte_carlo(here, 2500, seed=3)
    assert here.components == there.components and (here.affected == there.affected).all()
    np.testing.assert_array_equal(here.switched_h, there.switched_h)
    mc_here = monte_carlo(here, 2500, seed=3)
    pd.testing.assert_frame_equal(mc_here.per_year, mc_there.per_year)
    assert len(mc_here.per_year) == 2500 and mc_here.mean["SAIFI"] > 0


def test_contingency_is_the_same_on_a_cluster(client):
    here = run_study("grid-contingency", "ieee33")
    there = run_study("grid-contingency", "ieee33", client=client)
    pd.testing.assert_frame_equal(here.value, there.value)
    from wattscale.network.build import load_network

    net = load_network("ieee33").net
    assert len(here.value) == net.line.in_service.sum() + net.trafo.in_service.sum()  # each element out once


def test_backtest_is_the_same_on_a_cluster(client, tmp_path):
    path = short("llm-campus.yaml", tmp_path, days=40, start="2023-06-15")
    options = {"target": "price", "models": ["lgbm"], "issue_every_h": 48, "refit_every_h": 96, "horizon_h": 24,
               "train_days": 28}
    here = run_study("forecast-backtest", path, **options)
    there = run_study("forecast-backtest", path, client=client, **options)
    for a, b in zip(here.value.results, there.value.results):
        assert a.fits == b.fits > 1
        pd.testing.assert_frame_equal(a.forecasts, b.forecasts)


def test_admm_site_sub_problems_on_a_cluster_take_the_same_steps(client):
    """Each site's programme lives on a worker (a Dask actor), re-filled every round: the same iterates."""
    from tests.test_market import shared_campus
    from wattscale.decisions.market.admm import coordinate
    from wattscale.decisions.operate.dispatch import plan_dispatch

    problem = shared_campus(3)
    central = plan_dispatch(problem)
    here = coordinate(problem, tolerance=1e-3, central=central, threads=1)
    with using(client):
        there = coordinate(problem, tolerance=1e-3, central=central)
    assert here.converged and there.iterations == here.iterations > 1
    assert there.objective_usd == pytest.approx(here.objective_usd, rel=1e-9)
    np.testing.assert_allclose(there.site_draw_mw, here.site_draw_mw, rtol=1e-7, atol=1e-6)

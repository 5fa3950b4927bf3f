"""Generation adequacy against published systems (IEEE RTS-79, RBTS), an independent library (gen_adequacy), brute
force, the Monte Carlo methods against the exact table, and the campus headroom's own algebra."""
from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import DATA
from wattscale.cli import app
from wattscale.network.adequacy import Units, exact_indices, outage_table
from wattscale.network.adequacy_mc import FlexibleLoad, Storage, nonsequential, sequential
from wattscale.network.headroom import headroom_mw

pytestmark = pytest.mark.realdata
CASES = DATA / "power_system_testcases"


def system(name: str) -> tuple[Units, np.ndarray]:
    u = pd.read_csv(CASES / f"{name}_units.csv")
    load = pd.read_csv(CASES / f"{name}_hourly_load.csv")["load_MW"].to_numpy()
    return Units(u.n_units.to_numpy(), u.unit_MW.to_numpy(float), u.FOR.to_numpy(float)), load


# published HL-I indices: IEEE RTS (Subcommittee, IEEE Trans. PAS 1979, and Billinton & Allan's tables);
# RBTS (Billinton et al., IEEE Trans. Power Systems 1989)
PUBLISHED = {"rts79": {"lole_h": 9.3942, "lole_d": 1.3689, "loee": 1176.0},
             "rbts": {"lole_h": 1.0916, "lole_d": 0.14695, "loee": 9.8613}}


@pytest.mark.parametrize("name", ["rts79", "rbts"])
def test_exact_indices_match_the_published_systems(name):
    units, load = system(name)
    ix = exact_indices(outage_table(units), load)
    ref = PUBLISHED[name]
    assert ix.lole_h_per_year == pytest.approx(ref["lole_h"], abs=1e-4)
    assert ix.lole_d_per_year == pytest.approx(ref["lole_d"], abs=1e-4)
    assert ix.eue_mwh_per_year == pytest.approx(ref["loee"], rel=1e-3)


def test_the_same_lole_as_gen_adequacy():
    """An independent implementation (gen_adequacy, Tindemans) of the same table."""
    ga = pytest.importorskip("gen_adequacy")
    units, load = system("rts79")
    gens = [ga.Generator(float(c), 1.0 - float(q), 1000.0, int(n))
            for n, c, q in zip(units.count, units.capacity_mw, units.forced_outage_rate)]
    theirs = ga.SingleNodeSystem(gens, load, resolution=1)
    ours = exact_indices(outage_table(units), load)
    assert ours.lole_h_per_year == pytest.approx(theirs.lole(), rel=1e-10)
    daily = ga.SingleNodeSystem(gens, load[: len(load) // 24 * 24].reshape(-1, 24).max(axis=1), resolution=1)
    assert ours.lole_d_per_year == pytest.approx(daily.lole(), rel=1e-10)


def test_the_table_is_the_sum_over_every_state():
    """Brute force over all 2^10 states of ten units of different sizes and rates."""
    caps = np.array([5, 10, 10, 20, 25, 40, 40, 50, 60, 100], float)
    q = np.array([0.01, 0.02, 0.05, 0.03, 0.08, 0.04, 0.1, 0.02, 0.06, 0.09])
    units = Units(np.ones(10, np.int64), caps, q)
    copt = outage_table(units)
    brute = np.zeros(int(caps.sum()) + 1)
    for state in itertools.product((0, 1), repeat=10):
        s = np.array(state)
        brute[int((caps * s).sum())] += np.prod(np.where(s == 1, q, 1 - q))
    full = np.zeros(len(brute))
    full[np.round(copt.outage_mw).astype(int)] = copt.probability
    np.testing.assert_allclose(full, brute, atol=1e-15)
    load = np.array([250.0, 300.0, 320.5, 355.0, 380.0])
    short = np.array([sum(brute[x] for x in range(len(brute)) if caps.sum() - x < L) for L in load])
    np.testing.assert_allclose(copt.loss_probability(load), short, atol=1e-12)
    eu = np.array([sum(brute[x] * max(0.0, L - (caps.sum() - x)) for x in range(len(brute))) for L in load])
    np.testing.assert_allclose(copt.expected_unserved_mw(load), eu, atol=1e-9)


@pytest.mark.parametrize("method, years", [(nonsequential, 300), (sequential, 1000)])
def test_monte_carlo_agrees_with_the_exact_table_within_its_error(method, years):
    units, load = system("rts79")
    exact = exact_indices(outage_table(units), load)
    mc = method(units, load, years, seed=0)
    for key, se in (("lole_h_per_year", "lole_h_se"), ("lole_d_per_year", "lole_d_se"), ("eue_mwh_per_year", "eue_se")):
        # within 4 standard errors (over twelve seeds the errors of the sequential method spread about 1.3 times
        # its standard error: shortfalls cluster within the year more than the years differ)
        assert abs(getattr(mc, key) - getattr(exact, key)) < 4 * getattr(mc, se), key
    assert mc.lole_h_se < 0.1 * exact.lole_h_per_year  # and precise enough to mean something


def test_storage_and_a_campus_that_always_curtails_in_the_sequential_method():
    units, load = system("rts79")
    base = sequential(units, load, 200, seed=3)
    # a campus that gives up everything when the system is short changes no hour: same draws, same shortfalls
    flexible = sequential(units, load, 200, seed=3, flexible=FlexibleLoad(300.0, share=1.0))
    assert flexible.lole_h_per_year == base.lole_h_per_year and flexible.eue_mwh_per_year == base.eue_mwh_per_year
    assert flexible.curtailed_mwh_per_year > 0
    rigid = sequential(units, load, 200, seed=3, flexible=FlexibleLoad(300.0, share=0.0))
    assert rigid.lole_h_per_year > 3 * base.lole_h_per_year
    stored = sequential(units, load, 200, seed=3, storage=Storage(200.0, 800.0, 0.9))
    assert stored.lole_h_per_year < base.lole_h_per_year and stored.eue_mwh_per_year < base.eue_mwh_per_year
    durations = base.durations_h
    assert durations[1:].sum() == pytest.approx(base.lolf_per_year * base.years)  # every event has a length
    assert (np.arange(len(durations)) * durations).sum() <= base.lole_h_per_year * base.years + 1e-9


def test_backup_scales_the_headroom_as_its_algebra_says():
    """With backup for a share b of demand only (1 - b) X is curtailed, so the headroom at share s with backup b is
    the headroom at s / (1 - b) without it, divided by (1 - b)."""
    units, load = system("rts79")
    copt = outage_table(units)
    for s in (0.0025, 0.005):
        with_backup = headroom_mw(copt, load, s, 0.5, tolerance_mw=0.01)
        assert with_backup == pytest.approx(headroom_mw(copt, load, 2 * s, 0.0, tolerance_mw=0.01) / 0.5, abs=0.05)
    assert headroom_mw(copt, load, 0.0025) < headroom_mw(copt, load, 0.005) < headroom_mw(copt, load, 0.01)


def test_adequacy_command_end_to_end(examples_dir, tmp_path):
    out = tmp_path / "a"
    res = CliRunner().invoke(app, ["adequacy", str(examples_dir / "adequacy" / "rts79-campus.yaml"), "-o", str(out),
                                   "-q", "--years", "200"], terminal_width=80)
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80 and "…" not in res.output
    summary = json.loads((out / "summary.json").read_text())
    k = summary["kpis"]
    assert {"lole_h_per_year", "lole_d_per_year", "eue_mwh_per_year", "method"} <= set(k)
    assert k["campus_lole_increase_h_per_year"] > 0 and k["method"].startswith("sequential")
    headroom = pd.read_csv(out / "headroom.csv")
    assert len(headroom) == 6 and (headroom.largest_campus_mw > 0).all()
    assert {"indices.csv", "copt.csv", "hourly_lolp.csv", "event_durations.csv", "report.html"} <= {
        p.name for p in out.iterdir()}


@pytest.mark.parametrize("edit, words", [
    (lambda units, load: units.replace("\n5,12,0.02", "\n5,-12,0.02"), ["unit_MW", "-12", "above 0"]),
    (lambda units, load: units.replace("\n5,12,0.02", "\n5,12,1.0"), ["FOR", "[0, 1)"]),
    (lambda units, load: (units, load.replace("\n2,1,1,2,1439.3805", "\n2,1,1,2,")), ["load_MW", "row 3", "no gaps"]),
], ids=["negative-capacity", "outage-rate-one", "load-gap"])
def test_bad_system_input_is_one_clear_error(tmp_path, examples_dir, edit, words):
    units = (CASES / "rts79_units.csv").read_text()
    load = (CASES / "rts79_hourly_load.csv").read_text()
    changed = edit(units, load)
    units, load = changed if isinstance(changed, tuple) else (changed, load)
    (tmp_path / "units.csv").write_text(units)
    (tmp_path / "load.csv").write_text(load)
    (tmp_path / "s.yaml").write_text("units: {file: units.csv, columns: {count: n_units, capacity_mw: unit_MW, "
                                     "forced_outage_rate: FOR}}\nload_mw: {file: load.csv, column: load_MW}\n")
    res = CliRunner().invoke(app, ["adequacy", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    for word in words:
        assert word in res.output, (word, res.output)
    assert not (tmp_path / "out").exists()


def test_a_campus_larger_than_the_system_is_refused(tmp_path, examples_dir):
    text = (examples_dir / "adequacy" / "rts79-campus.yaml").read_text().replace("mw: 300", "mw: 5000")
    (tmp_path / "s.yaml").write_text(text)
    res = CliRunner().invoke(app, ["adequacy", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 2 and "campus.mw" in res.output and "3,405 MW" in res.output
    assert not (tmp_path / "out").exists()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_campus_paid_by_the_hour_curtails_without_a_budget(tmp_path, examples_dir):
    text = (examples_dir / "adequacy" / "rts79-campus.yaml").read_text().replace(
        "campus: {mw: 300, curtail_share: 0.005}", "campus: {mw: 300, curtail_price_usd_per_mwh: 500}")
    (tmp_path / "s.yaml").write_text(text)
    r = wattscale_run(tmp_path / "s.yaml")
    k = r.kpis
    # curtailing whenever short leaves LOLE where the system alone has it (within the Monte Carlo error)
    base = exact_indices(outage_table(system("rts79")[0]), system("rts79")[1]).lole_h_per_year
    seq = next(m for m in r.value.monte_carlo if m.method.startswith("sequential"))
    assert abs(seq.lole_h_per_year - base) < 4 * seq.lole_h_se
    assert k["campus_curtailment_paid_usd_per_year"] == pytest.approx(500 * k["campus_curtailed_mwh_per_year"])


def wattscale_run(path):
    import wattscale

    return wattscale.run_study("adequacy", path, years=300)


def test_each_method_alone_and_the_ones_that_cannot_follow_storage(tmp_path, examples_dir):
    rts = examples_dir / "adequacy" / "rts79.yaml"
    for method in ("exact", "nonsequential", "sequential"):
        res = CliRunner().invoke(app, ["adequacy", str(rts), "--method", method, "--years", "20", "-q", "-o",
                                       str(tmp_path / method)])
        assert res.exit_code == 0, res.output
        assert json.loads((tmp_path / method / "summary.json").read_text())["kpis"]["method"].startswith(
            {"exact": "exact", "nonsequential": "non-sequential", "sequential": "sequential"}[method])
    stored = tmp_path / "stored.yaml"
    stored.write_text(rts.read_text().replace("years: 1000", "years: 20\nstorage: {power_mw: 200, energy_mwh: 800}"))
    res = CliRunner().invoke(app, ["adequacy", str(stored), "--method", "exact", "-q", "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "method" in res.output and not (tmp_path / "x").exists()


def test_capacities_that_are_not_whole_megawatts_and_series_that_are_not_a_year():
    """Units of 12.5 and 27.5 MW against brute force; a day of load is a day, not a year."""
    units = Units(np.array([1, 2]), np.array([12.5, 27.5]), np.array([0.1, 0.15]))
    copt = outage_table(units)
    assert copt.step_mw == 2.5 and copt.installed_mw == 67.5  # 12.5 and 27.5 MW are 5 and 11 steps of 2.5
    load = np.array([0.4, 20.0, 40.0, 55.0, 67.4])
    caps = np.array([12.5, 27.5, 27.5])
    q = np.array([0.1, 0.15, 0.15])
    short, eu = np.zeros(len(load)), np.zeros(len(load))
    for state in itertools.product((0, 1), repeat=3):
        s = np.array(state)
        pr = np.prod(np.where(s == 1, q, 1 - q))
        avail = caps.sum() - (caps * s).sum()
        short += pr * (avail < load)
        eu += pr * np.maximum(load - avail, 0.0)
    np.testing.assert_allclose(copt.loss_probability(load), short, atol=1e-12)
    np.testing.assert_allclose(copt.expected_unserved_mw(load), eu, atol=1e-9)
    day = exact_indices(copt, np.full(24, 55.0))
    year = exact_indices(copt, np.full(8760, 55.0))
    assert day.lole_h_per_year == pytest.approx(year.lole_h_per_year)  # both per year

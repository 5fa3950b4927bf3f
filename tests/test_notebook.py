"""What a notebook user gets from a run: the KPI table, the report's figures, the steps as xarray and NetCDF."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import wattscale
from wattscale.cli import app
from wattscale.engine.results import unit_of

pytestmark = pytest.mark.xdist_group("test_notebook")  # its module fixtures are built once, on one worker

SHORT = {"time.start": "2023-07-17", "time.duration": "3d", "time.end": None}


@pytest.fixture(scope="module")
def run(examples_dir, tmp_path_factory):
    """One short run through the command line with --netcdf, then read back as a notebook user would."""
    out = tmp_path_factory.mktemp("nb") / "run"
    sets = [x for k, v in SHORT.items() for x in ("--set", f"{k}={'null' if v is None else v}")]
    res = CliRunner().invoke(app, ["run", str(examples_dir / "llm-campus.yaml"), "-q", "-o", str(out), "--netcdf",
                                   *sets])
    assert res.exit_code == 0, res.output
    return out


def test_a_run_in_a_notebook(run):
    """The KPI table, the report's own figures, the steps as xarray and as the NetCDF file written."""
    res = wattscale.load_results(run)
    html = res._repr_html_()
    total = res.kpis["campus"]
    for key in ("load_mwh", "grid_import_mwh", "cfe_score_hourly"):
        assert f">{key}<" in html
    assert f"{total['load_mwh']:,.0f}" in html  # as people read it, thousands separated
    assert "<th>campus</th>" in html and "nan" not in html.lower().replace("financ", "")

    figs = wattscale.figures(res)
    assert len(figs) >= 5 and all(hasattr(f, "to_plotly_json") for f in figs.values())
    report = (run / "report.html").read_text()
    for title in figs:
        assert json.dumps(title)[1:-1] in report  # every figure listed is in the report, under its title
    stacked = next(f for t, f in figs.items() if "supply stacked" in t)
    assert stacked.layout.barmode in (None, "stack", "relative") and stacked.layout.yaxis.title.text

    frame = res.steps["campus"]
    ds = res.to_xarray()
    assert ds.sizes == {"site": 1, "time": len(frame)}
    for column in ("grid_import_mw", "battery_soc_mwh", "price_usd_per_mwh", "gen_gt1_starts"):
        np.testing.assert_array_equal(ds[column].sel(site="campus").values, frame[column].to_numpy(float))
    assert ds["grid_import_mw"].attrs["units"] == "MW" and ds["battery_soc_mwh"].attrs["units"] == "MWh"
    assert ds["price_usd_per_mwh"].attrs["units"] == "USD/MWh" and unit_of("temp_air_c") == "degC"
    # time in UTC: the same instants as the tz-aware index
    np.testing.assert_array_equal(ds["time"].values, frame.index.tz_convert("UTC").tz_localize(None).values)
    assert ds.attrs["timezone"] == "America/New_York"
    # the fleet sized for its SLO is written into scenario.yaml, so a re-run does not size it again
    chat = next(w for w in res.scenario.sites[0].facility.workloads if w.name == "chat")
    assert chat.gpus == res.extra["workloads"]["campus"]["chat"]["gpus"] > 0
    written = xr.open_dataset(run / "steps.nc", engine="scipy")  # the file --netcdf wrote
    np.testing.assert_array_equal(written["grid_import_mw"].values, ds["grid_import_mw"].values)
    assert written["load_mw"].attrs["units"] == "MW"
    back = xr.open_dataset(io.BytesIO(res.netcdf_bytes()), engine="scipy")
    np.testing.assert_array_equal(back["battery_soc_mwh"].values, ds["battery_soc_mwh"].values)


@pytest.mark.parametrize("lat, lon, market", [(31.0, -97.0, "ercot"), (37.3, -121.9, "caiso"), (39.0, -77.5, "pjm")])
def test_init_writes_a_valid_starter_for_the_nearest_market(tmp_path, lat, lon, market):
    path = tmp_path / "my-campus.yaml"
    res = CliRunner().invoke(app, ["init", str(path), "--latitude", str(lat), "--longitude", str(lon), "--it-mw",
                                   "120"])
    assert res.exit_code == 0, res.output
    scenario = wattscale.load_scenario(path)  # a valid scenario, as written
    site = scenario.sites[0]
    assert site.facility.it_load_mw == 120 and site.location.latitude == lat
    assert site.grid.price_usd_per_mwh.default.startswith(market)
    assert site.grid.intensity_kg_per_mwh.default.startswith(market) and "#" in path.read_text()
    again = CliRunner().invoke(app, ["init", str(path), "--latitude", "0", "--longitude", "0"])
    assert again.exit_code == 2 and "left untouched" in again.output
    assert wattscale.load_scenario(path).sites[0].facility.it_load_mw == 120  # not overwritten


def test_init_refuses_a_bad_location_and_writes_nothing(tmp_path):
    res = CliRunner().invoke(app, ["init", str(tmp_path / "x.yaml"), "--latitude", "95", "--longitude", "0"])
    assert res.exit_code == 2 and "--latitude" in res.output and not list(tmp_path.iterdir())


def test_init_never_removes_a_file_it_did_not_write(tmp_path):
    stray = tmp_path / f".x.yaml.{__import__('os').getpid()}.tmp"
    stray.write_text("mine")
    res = CliRunner().invoke(app, ["init", str(tmp_path / "x.yaml"), "--latitude", "30", "--longitude", "-97",
                                   "--it-mw", "0.01"])
    assert res.exit_code == 0, res.output
    assert stray.read_text() == "mine"
    assert wattscale.load_scenario(tmp_path / "x.yaml").sites[0].grid.import_limit_mw > 0  # never a 0 MW connection

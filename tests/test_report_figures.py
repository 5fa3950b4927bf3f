"""Report figures show the truth: no bar hides another (bars of one axis either stack or sit side by side), and
every bar chart's value axes are titled with their unit. Checked on the figures' own plotly JSON."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import wattscale

pytestmark = pytest.mark.xdist_group("test_report_figures")  # its module fixtures are built once, on one worker

ROOT = Path(__file__).resolve().parents[1]


def figures(html: str) -> list[tuple[list, dict]]:
    """The (data, layout) of every plotly figure inlined in a report."""
    dec = json.JSONDecoder()
    out = []
    for m in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]*\",\s*", html):
        data, end = dec.raw_decode(html, m.end())
        layout, _ = dec.raw_decode(html[end:].lstrip()[1:].lstrip())
        out.append((data, layout))
    return out


def hidden_bars(data: list, layout: dict) -> list[str]:
    """Bar traces drawn over another bar trace of the same axes and offset group, without stacking."""
    mode = layout.get("barmode", "group")
    if mode in ("stack", "relative"):
        return []
    groups: dict = {}
    for tr in data:
        if tr.get("type") == "bar":
            key = (tr.get("xaxis", "x"), tr.get("yaxis", "y"), tr.get("offsetgroup") if mode == "group" else None)
            groups.setdefault(key, []).append(tr)
    bad = []
    for (x, y, group), trs in groups.items():
        if mode == "group" and group is None:
            continue  # side by side
        if len(trs) > 1 and not all("base" in t for t in trs[1:]):
            bad += [t.get("name", "?") for t in trs[1:]]
    return bad


def bar_axes_untitled(data: list, layout: dict) -> list[str]:
    axes = {tr.get("yaxis", "y") for tr in data if tr.get("type") == "bar"}
    names = {a: "yaxis" + a[1:] for a in axes}
    return [a for a, name in names.items() if not ((layout.get(name) or {}).get("title") or {}).get("text")]


@pytest.fixture(scope="session")  # once per worker, however its tests are interleaved
def reports(tmp_path_factory) -> dict[str, str]:
    out = {}
    out["reliability"] = wattscale.run_study("grid-reliability", str(ROOT / "examples/networks/campus-ring.yaml"),
                                             years=20).report_html
    out["market"] = wattscale.run_study("market", str(ROOT / "examples/market-texas.yaml"),
                                        changes={"market.events": [], "time.duration": "3d",
                                                 "time.end": None}).report_html
    july = tmp_path_factory.mktemp("run") / "campus.yaml"
    import yaml

    data = yaml.safe_load((ROOT / "examples/llm-campus.yaml").read_text())
    data["time"] = {**data["time"], "start": "2023-07-01", "duration": "21d", "step": "1h"}
    data["time"].pop("end", None)
    data.pop("swings", None)
    july.write_text(yaml.safe_dump(data))
    out["run"] = wattscale.run_study("run", july).report_html
    out["swings"] = wattscale.run_study("swings", july, duration_s=120).report_html
    out["gridcode"] = wattscale.run_study("gridcode", ROOT / "examples/gridcode-virginia-2024.yaml").report_html
    out["heal"] = wattscale.run_study("grid-heal", str(ROOT / "examples/networks/campus-ring.yaml"),
                                      fault="T1").report_html
    return out


@pytest.mark.parametrize("name", ["run", "market", "reliability"])
def test_no_bar_hides_another_and_bar_axes_have_units(reports, name):
    figs = figures(reports[name])
    assert figs, "no figure found"
    for data, layout in figs:
        title = (layout.get("title") or {}).get("text", "")
        assert hidden_bars(data, layout) == [], f"{name}: '{title}' hides bars"
        if any(tr.get("type") == "bar" for tr in data):
            assert bar_axes_untitled(data, layout) == [], f"{name}: '{title}' has a bar axis without its unit"


def test_the_checker_finds_overlaid_bars():
    """The check itself can fail: two bars on one axis, neither stacked nor grouped apart, are found."""
    data = [{"type": "bar", "name": "a", "offsetgroup": "g"}, {"type": "bar", "name": "b", "offsetgroup": "g"}]
    assert hidden_bars(data, {"barmode": "group"}) == ["b"]
    assert hidden_bars(data, {"barmode": "overlay"}) == ["b"]
    assert hidden_bars(data, {"barmode": "stack"}) == []


def test_network_diagram_has_the_scale_its_lines_are_coloured_on():
    from wattscale.network.build import load_network
    from wattscale.network.flow import solve
    from wattscale.network.report import diagram

    net = load_network("ieee33")
    solve(net)
    fig = diagram(net, title="t")
    scales = [t.marker.colorbar.title.text for t in fig.data if t.marker is not None and t.marker.showscale]
    assert len(scales) == 1 and "loading (%)" in scales[0] and f"{net.limits.max_loading_percent:g} %" in scales[0]


def test_report_tables_never_show_scientific_notation():
    import pandas as pd

    from wattscale.studies.page import table_html

    html = table_html(pd.DataFrame({"system_cost_usd": [1.226e7, 1.288e7], "share": [0.2757, 0.0]}))
    assert "e+" not in html and "12,260,000" in html and "0.2757" in html


# ---------------------------------------------------------------- in a real browser
def chromium() -> str:
    """The headless browser (installed by scripts/ensure-chromium.sh, which 'make test' runs)."""
    import os
    import shutil

    found = os.environ.get("WATTSCALE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("no chromium: run scripts/ensure-chromium.sh (or set WATTSCALE_CHROMIUM)")
    return found


def open_in_browser(page: Path, tmp: Path) -> tuple[list[str], str]:
    """(console messages, the page's DOM after its scripts ran) for ``page`` in headless Chromium."""
    import subprocess

    run = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0",
                          "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    return console, run.stdout


def test_the_browser_check_finds_a_script_error(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('boom'); notAFunction();</script></body></html>")
    console, _ = open_in_browser(page, tmp_path)
    assert any("boom" in line for line in console) and any("notAFunction" in line for line in console)


@pytest.mark.parametrize("name", ["run", "market", "reliability", "swings", "gridcode", "heal"])
def test_reports_open_in_a_browser_without_console_errors_and_draw_every_figure(reports, name, tmp_path):
    page = tmp_path / f"{name}.html"
    page.write_text(reports[name], encoding="utf-8")
    console, dom = open_in_browser(page, tmp_path)
    assert console == [], f"{name}: the browser console says {console[:3]}"
    drawn = len(re.findall(r'class="plotly-graph-div js-plotly-plot"', dom))
    assert drawn == len(figures(reports[name])) > 0, f"{name}: {drawn} of {len(figures(reports[name]))} figures drawn"

"""Every documented command works: each line of the README's Quick use, and each "From Python" snippet, runs
from a working folder holding the examples (output not a terminal), exits 0 and writes the files it promises.
Lines that take minutes run in a short variant, through their own options."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import DATA, HAVE_DATA

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
WATTSCALE = Path(sys.executable).parent / "wattscale"

# options appended to a Quick-use line so that it runs in seconds (the same command, a smaller case)
SHORTER = {
    "grid reliability": ["--years", "50"],
    "forecast backtest": ["--issue-every-h", "1440", "--refit-every-h", "1440", "--horizon-h", "24"],
    "forecast value": ["--model", "seasonal_naive", "--set", "time.end=2023-03-01"],
}
SLOW = ("forecast value", "forecast backtest", "make ercot", "size ", "grid reliability", "sweep ")
REALDATA = ("ercot", "forecast", "adequacy")


def quick_use_lines() -> list[str]:
    block = README.split("## Quick use", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def quick_use_groups() -> list[list[str]]:
    """The lines, each with the 'ledger' lines that read what the line before them wrote."""
    groups: list[list[str]] = []
    for line in quick_use_lines():
        if " ledger " in line and groups:
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def python_snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def make_recipe(target: str) -> list[str]:
    """The commands of a Makefile target, with the venv's programs."""
    makefile = (ROOT / "Makefile").read_text()
    body = makefile.split(f"\n{target}: ", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return [line.strip().replace("$(BIN)/", ".venv/bin/") for line in body if line.startswith("\t")]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working folder with the examples in it (as in a clone), so relative paths and out/ land here."""
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    return tmp_path


def run_line(line: str, cwd: Path) -> subprocess.CompletedProcess:
    args = shlex.split(line)
    assert args[0] == ".venv/bin/wattscale", line
    args[0] = str(WATTSCALE)
    for key, extra in SHORTER.items():
        if key in line:
            args += extra
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.setdefault("WATTSCALE_DATA", str(DATA))
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def marks(line: str):
    m = []
    if any(s in line for s in SLOW):
        m.append(pytest.mark.slow)
    if any(s in line for s in REALDATA):
        m.append(pytest.mark.realdata)
    return m


@pytest.mark.parametrize("group", [pytest.param(g, marks=marks(g[0]), id=g[0].split("  ")[0][:60])
                                   for g in quick_use_groups()])
def test_quick_use_line(group, workdir):
    line = group[0]
    lines = make_recipe(line.split()[1]) if line.startswith("make ") else group
    for cmd in lines:
        proc = run_line(cmd, workdir)
        assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr
        out = re.search(r"(?:-o|--outdir) (\S+)", cmd)
        if out and out.group(1).endswith(".json"):  # one file, not a results folder
            assert (workdir / out.group(1)).is_file(), f"{cmd} wrote no {out.group(1)}"
        elif out:
            assert (workdir / out.group(1) / "summary.json").is_file(), f"{cmd} wrote no summary.json"
            assert (workdir / out.group(1) / "report.html").is_file(), f"{cmd} wrote no report.html"
    writes = line.split()[1] in ("run", "swings", "size", "market", "forecast", "grid", "sweep") and "models" not in line
    if writes and "-o" not in line:
        written = list((workdir / "out").iterdir())
        assert len(written) == 1 and (written[0] / "summary.json").is_file(), written


@pytest.mark.parametrize("index", range(len(python_snippets())))
def test_python_snippet(index, workdir, monkeypatch):
    code = python_snippets()[index]
    if ("ercot" in code or "WATTSCALE_DATA" in code) and not HAVE_DATA:
        pytest.skip("needs the shared data folder")
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("WATTSCALE_DATA", os.environ.get("WATTSCALE_DATA", str(DATA)))
    exec(compile(code, f"README.md snippet {index}", "exec"), {"__name__": "readme"})  # noqa: S102


def test_every_screenshot_the_readme_links_is_there():
    links = re.findall(r"\]\((docs/screenshots/[^)]+\.png)\)", README)
    assert {"run", "swings", "heal", "market", "forecast", "gridcode"} <= {Path(link).stem for link in links}
    for link in links:
        data = (ROOT / link).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, link

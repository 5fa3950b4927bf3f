"""Results folders: wattscale never deletes what it did not write, never writes outside the folder it is given,
swaps a finished folder in so that a crash at any point is recovered, and leaves no private key behind.

Crashes are real: a child process kills itself with SIGKILL at the exact point under test."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from tests.test_bad_input import WATTSCALE, error_text, invoke, scenario, site

from wattscale.errors import ResultsError
from wattscale.results_folder import MARKER, check_replaceable, recover, safe_folder_name, write_folder

ROOT = Path(__file__).resolve().parents[1]


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


# ---------------------------------------------------------------- never delete what is not ours
def test_folder_with_a_summary_json_of_someone_else_is_refused_and_kept(tmp_path):
    """The reported case: a folder with thesis.txt, src/ and a summary.json is not a results folder."""
    p = tmp_path / "P"
    (p / "src").mkdir(parents=True)
    (p / "src" / "main.c").write_text("int main;")
    (p / "thesis.txt").write_text("keep")
    (p / "summary.json").write_text('{"hello": 1}')
    before = snapshot(p)
    msg = error_text(invoke("run", str(scenario(tmp_path)), "-o", str(p), "-q"))
    assert "not a wattscale results folder" in msg and str(p) in msg
    assert snapshot(p) == before
    assert hidden(tmp_path) == []


def test_results_folder_with_a_file_added_by_hand_is_refused(tmp_path):
    out = tmp_path / "res"
    write_folder(out, {"summary.json": "{}", "report.html": "<p>r</p>"})
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ResultsError, match="did not write.*notes.txt"):
        write_folder(out, {"summary.json": "{}"})
    assert (out / "notes.txt").read_text() == "mine" and (out / "report.html").exists()


def test_marker_that_lists_everything_may_be_replaced(tmp_path):
    out = tmp_path / "res"
    write_folder(out, {"summary.json": '{"run": 1}', "keys/a.pem": b"k", "report.html": "x"})
    write_folder(out, {"summary.json": '{"run": 2}'})
    assert json.loads((out / "summary.json").read_text()) == {"run": 2}
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "summary.json"]


def test_output_path_that_is_a_file_is_refused_before_any_work(tmp_path):
    """The scenario's price file is missing: refusing the output first proves no input was read before."""
    target = tmp_path / "a-file"
    target.write_text("mine")
    bad = scenario(tmp_path, lambda d: site(d)["grid"]["price_usd_per_mwh"].update(file="missing.csv"))
    msg = error_text(invoke("run", str(bad), "-o", str(target), "-q"))
    assert "not a folder" in msg and "missing.csv" not in msg
    assert target.read_text() == "mine"


# ---------------------------------------------------------------- names never escape
@pytest.mark.parametrize("name, folder", [("../../escaped", "escaped"), ("/etc/abs path", "etc-abs-path"),
                                          ("..", "scenario"), ("a\x1b[31mred", "a-31mred")])
def test_scenario_name_becomes_a_safe_folder_name(tmp_path, name, folder):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    path = scenario(work, lambda d: d.update(name=name))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    proc = subprocess.run([str(WATTSCALE), "run", str(path), "-q", "--no-report"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert safe_folder_name(name) == folder
    assert sorted(p.name for p in (work / "out").iterdir()) == [folder]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # nothing written above the working folder
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b"]


# ---------------------------------------------------------------- links are refused, never followed
def test_output_that_is_a_symlink_is_refused_and_its_target_kept(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    write_folder(elsewhere, {"summary.json": '{"mine": true}'})
    link = tmp_path / "link"
    link.symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(elsewhere)
    msg = error_text(invoke("run", str(scenario(tmp_path)), "-o", str(link), "-q"))
    assert "symbolic link" in msg
    assert link.is_symlink() and snapshot(elsewhere) == before


def test_symlink_in_a_results_folder_is_not_ours(tmp_path):
    out = tmp_path / "res"
    write_folder(out, {"summary.json": "{}"})
    (out / "sub").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ResultsError, match="did not write"):
        check_replaceable(out)


# ---------------------------------------------------------------- crashes are recovered
CRASH = textwrap.dedent("""
    import os, signal, sys
    from wattscale import results_folder as rf
    point = sys.argv[2]
    real_replace, calls = os.replace, []
    def replace(a, b):
        calls.append(a)
        if point == "between-renames" and len(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(a, b)
    rf.os.replace = replace
    if point == "before-swap":
        rf._swap_in = lambda tmp, out: os.kill(os.getpid(), signal.SIGKILL)
    rf.write_folder(sys.argv[1], {"summary.json": '{"run": "new"}', "report.html": "new"})
""")


@pytest.mark.parametrize("point", ["between-renames", "before-swap"])
def test_a_crash_during_the_swap_is_recovered_on_the_next_write(tmp_path, point):
    out = tmp_path / "res"
    write_folder(out, {"summary.json": '{"run": "old"}', "report.html": "old"})
    proc = subprocess.run([sys.executable, "-c", CRASH, str(out), point], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if point == "between-renames":  # the state the issue describes: folder gone, both versions hidden
        assert not out.exists()
        assert [n.split("-")[0] for n in hidden(tmp_path)] == [".res.old", ".res.partial"]
    else:
        assert json.loads((out / "summary.json").read_text()) == {"run": "old"}
        assert len(hidden(tmp_path)) == 1
    recover(out)
    expected = "new" if point == "between-renames" else "old"  # a finished folder wins; an unswapped one goes
    assert json.loads((out / "summary.json").read_text()) == {"run": expected}
    assert (out / "report.html").read_text() == expected
    assert hidden(tmp_path) == []
    write_folder(out, {"summary.json": '{"run": "next"}'})  # and the folder is usable again
    assert hidden(tmp_path) == [] and json.loads((out / "summary.json").read_text()) == {"run": "next"}


def test_partial_folder_of_a_running_process_is_left_alone(tmp_path):
    out = tmp_path / "res"
    mine = tmp_path / f".res.partial-{os.getppid()}-abc"  # a live process (pytest's parent)
    mine.mkdir()
    gone = tmp_path / f".res.partial-{dead_pid()}-abc"
    gone.mkdir()
    other = tmp_path / f".other.partial-{dead_pid()}-abc"  # another folder's: not ours to judge here
    other.mkdir()
    write_folder(out, {"summary.json": "{}"})
    assert mine.exists() and other.exists() and not gone.exists()


def test_killed_run_leaves_no_partial_after_the_next_run(tmp_path):
    """A real ``wattscale run`` killed with SIGKILL while it writes; the next run cleans up after it."""
    out = tmp_path / "res"
    path = scenario(tmp_path)
    code = ("import os, signal, sys; from wattscale import results_folder as rf\n"
            "rf._swap_in = lambda tmp, out: os.kill(os.getpid(), signal.SIGKILL)\n"
            "sys.argv = ['wattscale', 'run', sys.argv[1], '-o', sys.argv[2], '-q']\n"
            "from wattscale.entry import main; main()")
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(out)], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists() and [n.startswith(".res.partial-") for n in hidden(tmp_path)] == [True]
    res = invoke("run", str(path), "-o", str(out), "-q", "--no-report")
    assert res.exit_code == 0, res.output
    assert hidden(tmp_path) == [] and (out / "summary.json").is_file()


# ---------------------------------------------------------------- strict JSON and private files
def test_summary_json_is_strict_json(tmp_path):
    out = write_folder(tmp_path / "res", {"summary.json": '{"a": NaN, "b": [Infinity, 1.5], "c": -Infinity}'})
    text = (out / "summary.json").read_text()
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}")) == \
        {"a": None, "b": [None, 1.5], "c": None}


def test_private_keys_are_owner_only_from_the_first_byte(tmp_path):
    old = os.umask(0)  # even with a permissive umask
    try:
        out = write_folder(tmp_path / "res", {"keys/op.pem": b"secret", "summary.json": "{}"})
    finally:
        os.umask(old)
    assert stat.S_IMODE((out / "keys" / "op.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "summary.json").stat().st_mode) == 0o644


@pytest.mark.parametrize("name", ["../x", "/abs", MARKER])
def test_result_file_names_cannot_leave_the_folder(tmp_path, name):
    with pytest.raises(ResultsError):
        write_folder(tmp_path / "res", {name: "x"})
    assert not (tmp_path / "res").exists() and not (tmp_path / "x").exists()


# ---------------------------------------------------------------- Ctrl-C
@pytest.mark.parametrize("after_s", [1.0, 3.0])
def test_ctrl_c_ends_a_run_with_one_line_and_exit_130(tmp_path, after_s):
    data = yaml.safe_load((ROOT / "examples" / "llm-campus.yaml").read_text())
    data["time"] = {**data["time"], "duration": "3650d"}  # long enough never to finish first
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(data))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    proc = subprocess.Popen([str(WATTSCALE), "run", str(path), "-o", str(tmp_path / "res"), "-q"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(after_s)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in out + err and err.strip().splitlines()[-1].startswith("interrupted")
    assert not (tmp_path / "res").exists() and hidden(tmp_path) == []


def test_an_interrupt_python_dropped_still_stops_the_results_being_swapped_in(tmp_path, monkeypatch):
    """Python ignores a KeyboardInterrupt raised inside its import machinery; the interrupt is remembered, and
    the finished folder is not swapped in after it."""
    from wattscale import guards

    monkeypatch.setattr(guards, "_interrupted", True)
    with pytest.raises(KeyboardInterrupt):
        write_folder(tmp_path / "res", {"summary.json": "{}"})
    assert not (tmp_path / "res").exists() and hidden(tmp_path) == []

"""Running a sweep: every case checked first, then run here or on a Dask cluster, each written as it finishes.

The results folder grows as cases finish (``cases.jsonl``, one line per case, fsync-ed), so nothing finished is
lost when a sweep is stopped; run again into the same folder, a sweep skips the cases already done (each is known
by a hash of its study, scenario, changes and options) and runs only the rest. A case whose study fails (an
infeasible plan, a value out of range) is recorded as failed with its message and the others go on; a case whose
workers kept dying is recorded as failed too, and is tried again by the next run.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from wattscale.errors import WattscaleError
from wattscale.guards import excerpt
from wattscale.parallel import completed
from wattscale.results_folder import GrowingFolder, json_default
from wattscale.studies.base import Progress, inputs_sha256, no_progress
from wattscale.studies.registry import execute, get_study, make_options, prepare_subject
from wattscale.sweep.spec import OPTION_PREFIX, Case, SweepError, SweepFile, expand, read_sweep, sweep_from_dict

JOURNAL = "cases.jsonl"
TABLE = "cases.parquet"
FLUSH_EVERY_S = 20.0  # cases.parquet is rewritten at most this often while a sweep runs (and at its end)


@dataclass(frozen=True)
class CaseTask:
    """What a worker needs to run one case (the scenario or network itself is scattered once, beside it)."""

    study: str
    changes: dict[str, Any]
    options: dict[str, Any]
    keep: bool


@dataclass
class Plan:
    """A checked sweep: its study, the prepared scenario or network, the cases and each case's key."""

    sweep: SweepFile
    text: str
    file: str | None
    base: Any
    cases: list[Case]
    keys: list[str]

    @property
    def name(self) -> str:
        """The sweep's name (default: its file's name)."""
        return self.sweep.name or (Path(self.file).stem if self.file else self.sweep.study)


@dataclass
class SweepResult:
    """A finished sweep: its folder, the table of cases, and counts."""

    folder: Path
    cases: pd.DataFrame
    parameters: list[str]
    ran: int
    skipped: int
    seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return int((self.cases["status"] != "ok").sum())

    def __repr__(self) -> str:
        return (f"SweepResult(folder={str(self.folder)!r}, cases={len(self.cases)}, failed={self.failed}, "
                f"ran={self.ran}, skipped={self.skipped}, seconds={self.seconds:.1f})")


def plan_sweep(sweep, *, progress: Progress | None = None) -> Plan:
    """Read and check a sweep (a file path, or its fields as a dictionary) and every one of its cases, before any
    runs: a bad case names its number, its values and the field."""
    progress = progress or no_progress
    if isinstance(sweep, (str, Path)):
        spec, text = read_sweep(sweep)
        file, folder = str(sweep), Path(sweep).parent
    else:
        spec = sweep if isinstance(sweep, SweepFile) else sweep_from_dict(dict(sweep))
        text, file, folder = json.dumps(spec.model_dump(mode="json"), indent=1), None, Path.cwd()
    try:
        study = get_study(spec.study)
    except WattscaleError as exc:
        raise SweepError(exc.detail, file=file, field="study", expected=exc.expected) from None
    subject = _subject(spec, study, folder, file)
    cases = expand(spec, file=file)
    progress("loading the scenario" if study.takes == "scenario" else "loading the network", 0, None)
    try:
        base = prepare_subject(study, subject)
    except WattscaleError as exc:
        if exc.file is not None:
            raise
        raise SweepError(exc.detail, file=file, field=study.takes, expected=exc.expected) from None
    base_hash = inputs_sha256(base.scenario if study.takes == "scenario" else _network_fingerprint(subject))
    keys, problems = [], []
    for n, case in enumerate(cases):
        if n % 200 == 0:
            progress("checking cases", n, len(cases))
        try:
            keys.append(_check_case(study, base, case, spec.options, base_hash))
        except WattscaleError as exc:
            problems.append((case, exc))
    if problems:
        case, exc = problems[0]
        more = f"; {len(problems) - 1} more case(s) fail too" if len(problems) > 1 else ""
        field = f"parameters.{exc.field}" if (exc.field or "").startswith(OPTION_PREFIX) else exc.field
        raise SweepError(f"case {case.index} of {len(cases)} (counting from 0; {case.label()}): {exc.detail}{more}",
                         file=file, field=field, expected=exc.expected)
    return Plan(spec, text, file, base, cases, keys)


def run_sweep(sweep, outdir: str | Path, *, client=None, keep_results: bool = False,
              progress: Progress | None = None) -> SweepResult:
    """Run every case of ``sweep`` (a file path, a dictionary, or a ``plan_sweep`` plan) into ``outdir``.

    With ``client`` (a ``dask.distributed.Client``) the cases run on its cluster, else one after another here;
    the table of cases is the same either way, apart from run times. Cases already in ``outdir`` are skipped."""
    progress = progress or no_progress
    plan = sweep if isinstance(sweep, Plan) else plan_sweep(sweep, progress=progress)
    folder = open_folder(outdir, plan)
    done = _journal(folder.path)
    todo = _pending(plan, done, folder.path, keep_results)
    skipped = len(set(plan.keys)) - len(todo)
    start = time.perf_counter()
    study = get_study(plan.sweep.study)
    tasks = [CaseTask(study.name, case.changes, case.options(plan.sweep.options), keep_results)
             for case in todo.values()]
    keys = list(todo)
    flushed = time.monotonic()
    progress(f"cases ({skipped} done before)" if skipped else "cases", 0, len(tasks))
    for n, (index, row, error) in enumerate(completed(run_case, tasks, shared=plan.base, client=client,
                                                      keys=[f"case-{k}" for k in keys]), start=1):
        key = keys[index]
        if error is not None:  # the cluster could not run it (its workers kept dying): tried again next time
            row = {"status": "failed", "error": _lost(error), "seconds": float("nan"), "kpis": {}, "retry": True}
        files = row.pop("files", None)
        if files:
            prefix = _case_dir(todo[key], key)
            folder.write({f"{prefix}/{name}": data for name, data in files.items()})
        row["key"] = key
        done[key] = row
        folder.append(JOURNAL, json.dumps(row, default=json_default, allow_nan=True) + "\n")
        progress(f"cases ({skipped} done before)" if skipped else "cases", n, len(tasks))
        if time.monotonic() - flushed > FLUSH_EVERY_S:
            folder.write({TABLE: _parquet(case_table(plan, done))})
            flushed = time.monotonic()
    table = case_table(plan, done)
    seconds = time.perf_counter() - start
    result = SweepResult(folder.path, table, list(plan.sweep.parameters), ran=len(tasks), skipped=skipped,
                         seconds=seconds)
    _write_results(folder, plan, result, client)
    return result


def pending(plan: Plan, outdir: str | Path, *, keep_results: bool = False) -> int:
    """How many of the sweep's cases an earlier run into ``outdir`` has not done (all, for a new folder)."""
    return len(_pending(plan, _journal(Path(outdir)), Path(outdir), keep_results))


def _pending(plan: Plan, done: dict[str, dict], folder: Path, keep_results: bool) -> dict[str, Case]:
    todo: dict[str, Case] = {}
    for case, key in zip(plan.cases, plan.keys):
        entry = done.get(key)
        kept = (folder / _case_dir(case, key) / "summary.json").is_file()
        if (entry is None or entry.get("retry") or (keep_results and not kept)) and key not in todo:
            todo[key] = case
    return todo


def run_case(task: CaseTask, base) -> dict:
    """Run one case (on a worker, or here): its status, message, run time and scalar KPIs, never an exception
    for what a study can get wrong."""
    start = time.perf_counter()
    study = get_study(task.study)
    try:
        subject = base.with_changes(task.changes, share=True) if task.changes else base
        result = execute(study, subject, make_options(study, task.options), None)
        row = {"status": "ok", "error": "", "kpis": _scalar_kpis(result.kpis)}
        if task.keep:
            row["files"] = result.folder_files(report=True)
    except WattscaleError as exc:
        row = {"status": "failed", "error": str(exc), "kpis": {}}
    except Exception as exc:  # noqa: BLE001 - a fault in a study fails its case, not the sweep
        row = {"status": "failed", "error": f"{type(exc).__name__}: {excerpt(exc, 300)}", "kpis": {}}
    row["seconds"] = time.perf_counter() - start
    return row


def open_folder(outdir: str | Path, plan: Plan) -> GrowingFolder:
    """The sweep's results folder: a new one, or an earlier sweep's to resume (another results folder is
    replaced, as ``write_folder`` would; a folder wattscale did not write is refused)."""
    folder = GrowingFolder(outdir)
    if folder.listed and "sweep.yaml" not in folder.listed:
        folder.clear()
    folder.write({"sweep.yaml": plan.text})
    return folder


def case_table(plan: Plan, done: dict[str, dict]) -> pd.DataFrame:
    """One row per case: its number, parameters, status, message, run time, key and KPIs (NaN where not run)."""
    rows, kpi_names = [], {}
    for case, key in zip(plan.cases, plan.keys):
        entry = done.get(key, {"status": "not run", "error": "", "seconds": float("nan"), "kpis": {}})
        kpi_names.update(dict.fromkeys(entry["kpis"]))
        rows.append({"case": case.index, **{p: _cell(v) for p, v in case.values.items()},
                     "status": entry["status"], "error": entry["error"], "seconds": entry["seconds"],
                     "key": key, **entry["kpis"]})
    frame = pd.DataFrame(rows)
    for name in kpi_names:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    for p in plan.sweep.parameters:
        frame[p] = _uniform(frame[p])
    return frame


def read_table(folder: str | Path) -> pd.DataFrame:
    """A sweep folder's table of cases."""
    return pd.read_parquet(Path(folder) / TABLE)


# ---------------------------------------------------------------- helpers
def _subject(spec: SweepFile, study, folder: Path, file: str | None) -> str:
    if study.takes not in ("scenario", "network"):
        raise SweepError(f"study '{study.name}' reads a {study.takes} file, which sweeps do not vary", file=file,
                         field="study", expected="a scenario or network study (wattscale studies lists them)")
    want, other = ("scenario", "network") if study.takes == "scenario" else ("network", "scenario")
    value = getattr(spec, want)
    if getattr(spec, other) is not None:
        raise SweepError(f"study '{study.name}' reads a {want}, not a {other}", file=file, field=other,
                         expected=f"{want}: PATH")
    if value is None:
        raise SweepError(f"no {want} given", file=file, field=want, expected=f"{want}: PATH (relative to the sweep "
                                                                           "file)")
    path = folder / value
    if want == "network" and not path.exists():
        return value  # a built-in case name
    if not path.is_file():
        raise SweepError(f"no {want} file '{excerpt(value)}' (looked for {excerpt(path, 120)})", file=file,
                         field=want, expected=f"a path to a {want} file, relative to the sweep file")
    return str(path)


def _network_fingerprint(subject: str) -> str:
    path = Path(subject)
    return path.read_bytes().hex() if path.is_file() else subject


def _check_case(study, base, case: Case, shared_options: dict, base_hash: str) -> str:
    from wattscale.scenario.changes import change

    options = make_options(study, case.options(shared_options))
    if case.changes:
        if study.takes != "scenario":
            raise SweepError("a network study's parameters are its options", field=next(iter(case.changes)),
                             expected="options.<name>")
        change(base.scenario, case.changes, file=base.file)
    return inputs_sha256(study.name, base_hash, case.changes, options)


def _journal(folder: Path) -> dict[str, dict]:
    """The cases an earlier run finished (the last line of a key wins; a line cut by a crash is ignored)."""
    from wattscale.results_folder import written_files

    done: dict[str, dict] = {}
    path = folder / JOURNAL
    if JOURNAL not in (written_files(folder) or set()) or path.is_symlink() or not path.is_file():
        return done
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                done[entry["key"]] = entry
    return done


def _write_results(folder: GrowingFolder, plan: Plan, result: SweepResult, client) -> None:
    from wattscale import __version__
    from wattscale.sweep.report import sweep_report

    table = result.cases
    summary = {"study": plan.sweep.study, "sweep": plan.name,
               "mode": plan.sweep.mode, "cases": len(table), "ok": int((table.status == "ok").sum()),
               "failed": result.failed, "ran": result.ran, "skipped": result.skipped,
               "seconds": result.seconds, "workers": sum(client.nthreads().values()) if client else 0,
               "wattscale_version": __version__}
    result.extra = summary
    folder.write({TABLE: _parquet(table), "report.html": sweep_report(plan, table),
                  "summary.json": json.dumps(summary, default=json_default)})


def _parquet(frame: pd.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def _case_dir(case: Case, key: str) -> str:
    return f"cases/{case.index:06d}-{key[:10]}"


def _scalar_kpis(kpis: dict) -> dict[str, float]:
    return {k: float(v) for k, v in kpis.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _cell(value):
    return value if isinstance(value, (int, float, str, bool)) or value is None else json.dumps(value)


def _uniform(column: pd.Series) -> pd.Series:
    """A parameter column of one type (numbers as numbers; anything mixed as text), so it can be stored."""
    kinds = {type(v) for v in column}
    if kinds <= {int, float} or kinds <= {str} or kinds <= {bool}:
        return column
    return column.map(str)


def _lost(error: BaseException) -> str:
    return (f"the cluster could not run this case ({type(error).__name__}: {excerpt(error, 200)}); "
            "it is run again when the sweep is run again")

"""The contract every study keeps: a name, typed options, ``run`` with progress, and one results layout."""
from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from wattscale.results_folder import json_default, write_folder

Progress = Callable[[str, float, "float | None"], None]  # (what is being done, done, total or None)
TableFormat = Literal["parquet", "csv"]


def no_progress(stage: str, done: float, total: float | None) -> None:
    """A progress callback that shows nothing."""


class Options(BaseModel):
    """A study's options: typed, units in the names, documented defaults; unknown names are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@dataclass
class StudyResult:
    """What a study returns: headline KPIs, tables, a report, other files, and the study's own typed value."""

    study: str
    options: Options
    kpis: dict
    value: Any = None  # the study's own result object (Results, SwingStudyResult, ...)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    render_report: Callable[[], str] | None = None  # the report, rendered when first asked for (a sweep may not)
    files: dict[str, bytes | str] = field(default_factory=dict)  # written as they are (ledger, keys)
    more_files: Callable[[], dict[str, bytes | str]] | None = None  # files built only when saved (steps)
    details: dict = field(default_factory=dict)  # more of summary.json, beside the common keys
    notes: list[str] = field(default_factory=list)  # findings in a sentence each, for the terminal and the report
    inputs_sha256: str = ""
    table_format: TableFormat = "csv"

    @property
    def report_html(self) -> str | None:
        """The study's report as one self-contained HTML page (rendered once, on first use)."""
        if self.render_report is not None and "_report" not in self.__dict__:
            self.__dict__["_report"] = self.render_report()
        return self.__dict__.get("_report")

    def __repr__(self) -> str:
        kpis = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(self.kpis.items())[:6])
        more = f", ... ({len(self.kpis)} KPIs)" if len(self.kpis) > 6 else ""
        return (f"StudyResult(study={self.study!r}, kpis={{{kpis}{more}}}, tables={list(self.tables)}, "
                f"files={list(self.files)[:8]}, report={'yes' if self.render_report else 'no'})")

    def _repr_html_(self) -> str:
        """In a notebook: the headline KPIs as a table (units in the names; money and shares as people read them)."""
        import html

        from wattscale.studies.simulation.kpi_registry import BY_KEY, format_kpi

        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(BY_KEY[k].title if k in BY_KEY else k)}</th>"
                       f"<td style='text-align:right'>{html.escape(_kpi_text(k, v, BY_KEY, format_kpi))}</td></tr>"
                       for k, v in self.kpis.items())
        return f"<b>{html.escape(self.study)}</b><table>{rows}</table>"

    def summary(self) -> dict:
        """summary.json: study, options, version, a hash of the inputs, KPIs and the study's own details."""
        from wattscale import __version__

        return {"study": self.study, "options": self.options.model_dump(mode="json"),
                "wattscale_version": __version__, "inputs_sha256": self.inputs_sha256, "kpis": self.kpis,
                **self.details}

    def save(self, folder: str | Path, *, report: bool = True) -> Path:
        """Write the results folder atomically (see ``wattscale.results_folder``); returns its path."""
        return write_folder(folder, self.folder_files(report=report))

    def folder_files(self, *, report: bool = True) -> dict[str, bytes | str]:
        """Every file of the results folder, by name: tables, files, the report and summary.json."""
        files: dict[str, bytes | str] = {**self.files, **(self.more_files() if self.more_files else {})}
        for name, frame in self.tables.items():
            files[f"{name}.{self.table_format}"] = _table_bytes(frame, self.table_format)
        if report and self.report_html is not None:
            files["report.html"] = self.report_html
        files["summary.json"] = json.dumps(self.summary(), indent=2, default=json_default)
        return files


@dataclass(frozen=True)
class Study:
    """A registered study: ``run(subject, options, progress) -> StudyResult``."""

    name: str
    summary: str  # one line for 'wattscale studies'
    options: type[Options]
    run: Callable[..., StudyResult]
    takes: Literal["scenario", "network", "system"] = "scenario"  # system: a generation-adequacy system file


def section_with_options(model: type[BaseModel], name: str, section: BaseModel | None, options: Options,
                         file: str | None) -> Any:
    """The scenario's ``name`` section with the study's options laid over it (paths among them made absolute),
    checked as the section is: a bad value names ``name.field`` in ``file``."""
    from wattscale.errors import ScenarioError
    from wattscale.guards import safe_resolve
    from wattscale.scenario.load import validate_model

    given = {k: safe_resolve(Path(v)) if isinstance(v, Path) else v
             for k, v in options.model_dump().items() if v is not None}
    base = section.model_dump(exclude_none=True) if section is not None else {}
    try:
        return validate_model(model, {**base, **given}, file or "<options>")
    except ScenarioError as exc:
        raise ScenarioError(exc.detail, file=exc.file, field=f"{name}.{exc.field}" if exc.field else name,
                            expected=exc.expected) from None


def inputs_sha256(*parts: Any) -> str:
    """A hash of what a study read: the scenario (or network) as validated, and its options."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, BaseModel):
            part = part.model_dump(mode="json")
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _kpi_text(key: str, value, registry: dict, format_kpi) -> str:
    if key in registry or not isinstance(value, float):
        return format_kpi(key, value)
    return f"{value:,.4g}"


def _table_bytes(frame: pd.DataFrame, fmt: TableFormat) -> bytes:
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf)
        return buf.getvalue()
    return frame.to_csv(index=not isinstance(frame.index, pd.RangeIndex)).encode()

"""Load a scenario YAML file into the typed schema, turning every problem into one clear ScenarioError."""
from __future__ import annotations

import difflib
import os
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from wattscale.errors import ScenarioError
from wattscale.scenario.schema import Scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError naming the file, field and expectation."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError("scenario file not found", file=str(path), expected="a YAML scenario file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"YAML syntax error{where}: {problem}", file=str(path)) from None
    except UnicodeDecodeError:
        raise ScenarioError("file is not UTF-8 text", file=str(path), expected="a YAML scenario file") from None
    if not isinstance(data, dict):
        raise ScenarioError("the file does not contain a mapping of scenario fields", file=str(path),
                            expected="keys such as 'time' and 'sites'")
    return scenario_from_dict(data, source=path)


def scenario_from_dict(data: dict, source: str | Path | None = None) -> Scenario:
    """Validate a scenario given as a dictionary; file paths are resolved relative to ``source``'s folder."""
    file = str(source) if source is not None else "<scenario>"
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(err) for err in exc.errors()]
        first_field = _loc_text(exc.errors()[0]["loc"])
        raise ScenarioError("; ".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines),
                            file=file, field=first_field if len(lines) == 1 else None) from None
    base = Path(source).parent if source is not None else Path.cwd()
    return resolve_paths(scenario, base)


def resolve_paths(scenario: Scenario, base: Path) -> Scenario:
    """Expand environment variables (e.g. ``${WATTSCALE_DATA}``) and make file paths absolute."""

    def fix(value):
        if isinstance(value, BaseModel):
            updates = {name: fix(getattr(value, name)) for name in type(value).model_fields}
            return value.model_copy(update=updates)
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, Path):
            return _expand(value, base)
        return value

    return fix(scenario)


def default_data_dir() -> Path | None:
    """The shared data folder: $WATTSCALE_DATA, else ../shared/data from the working directory."""
    env = os.environ.get("WATTSCALE_DATA")
    if env:
        return Path(env)
    guess = Path.cwd().parent / "shared" / "data"
    return guess if guess.is_dir() else None


def _expand(path: Path, base: Path) -> Path:
    text = str(path)
    if "WATTSCALE_DATA" in text and "WATTSCALE_DATA" not in os.environ:
        data_dir = default_data_dir()
        if data_dir is not None:
            text = text.replace("${WATTSCALE_DATA}", str(data_dir)).replace("$WATTSCALE_DATA", str(data_dir))
    p = Path(os.path.expandvars(text)).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _loc_text(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"float", "FileSeries", "DefaultSeries", "TemperaturePUE", "WeatherFile",
                      "function-after[_nonneg(), union[float,FileSeries,DefaultSeries]]"} or "[" in str(part):
            continue  # pydantic's union-branch labels are noise for users
        else:
            out += ("." if out else "") + str(part)
    return out


def _describe(err: dict) -> str:
    loc = err["loc"]
    field = _loc_text(loc)
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        known = _fields_at(loc[:-1])
        hint = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
        text = f"field '{field}': unknown key '{key}'"
        if hint:
            text += f" (did you mean '{hint[0]}'?)"
        elif known:
            text += f" (expected one of: {', '.join(sorted(known))})"
        return text
    if err["type"] == "missing":
        return f"field '{field}': required but missing"
    got = err.get("input")
    got_text = f" (got {got!r})" if got is not None and not isinstance(got, (dict, list)) else ""
    return f"field '{field}': {err['msg']}{got_text}"


def _fields_at(loc: tuple) -> list[str]:
    """Field names accepted at a location of the schema (union of all models possible there)."""
    models: list[type[BaseModel]] = [Scenario]
    for part in loc:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for model in models:
            field = model.model_fields.get(str(part))
            if field is not None:
                nxt.extend(_models_in(field.annotation))
            elif str(part) in _model_names():
                nxt.extend(m for m in _model_names()[str(part)] if m not in nxt)
        models = nxt or models
    return sorted({name for m in models for name in m.model_fields})


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out = []
    for arg in typing.get_args(annotation):
        out.extend(_models_in(arg))
    return out


def _model_names() -> dict[str, list[type[BaseModel]]]:
    from wattscale.scenario import schema

    return {name: [obj] for name, obj in vars(schema).items()
            if isinstance(obj, type) and issubclass(obj, BaseModel)}

"""Load a scenario YAML file into the typed schema, turning every problem into one clear ScenarioError."""
from __future__ import annotations

import difflib
import os
import re
import typing
from pathlib import Path

import pandas as pd
import yaml
from pydantic import BaseModel, ValidationError

from wattscale.errors import ScenarioError
from wattscale.guards import MAX_YAML_BYTES, excerpt, path_problem, safe_resolve
from wattscale.scenario.base import FIRST_YEAR, LAST_YEAR
from wattscale.scenario.schema import Scenario
from wattscale.timeseries.timeline import localize, parse_duration


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError naming the file, field and expectation."""
    path = Path(path)
    return scenario_from_dict(read_yaml(path, "scenario", "keys such as 'time' and 'sites'"), source=path)


def read_yaml(path: Path, what: str, keys: str) -> dict:
    """The mapping in YAML file ``path`` (a ``what`` file whose top level has ``keys``), or a clear error."""
    problem = path_problem(path)
    if problem:
        raise ScenarioError(f"{what} file {problem}", file=str(path), expected=f"a YAML {what} file")
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise ScenarioError(f"{what} file is {size / 1e6:,.1f} MB, too large for a {what}", file=str(path),
                            expected=f"a YAML {what} file of at most {MAX_YAML_BYTES / 1e6:g} MB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError("file is not UTF-8 text", file=str(path), expected=f"a YAML {what} file") from None
    return parse_yaml(text, file=str(path), what=what, keys=keys)


def parse_yaml(text: str, *, file: str, what: str, keys: str) -> dict:
    """The mapping in YAML ``text`` (from ``file``, or given as text), with the same limits as a file: size,
    nesting, duplicate keys and alias expansion."""
    if len(text) > MAX_YAML_BYTES:
        raise ScenarioError(f"{what} text is {len(text) / 1e6:,.1f} MB, too large for a {what}", file=file,
                            expected=f"YAML of at most {MAX_YAML_BYTES / 1e6:g} MB")
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        line = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        hint = None
        if "${" in line and "{" in line.replace("${", ""):  # {file: ${WATTSCALE_DATA}/x.csv}: braces inside braces
            hint = ('quotes around a path with ${...} inside { }, e.g. {file: "${WATTSCALE_DATA}/x.epw"}, or the '
                    "block form (file: on its own line)")
        raise ScenarioError(f"YAML syntax error{where}: {excerpt(problem, 200)}", file=file, expected=hint) from None
    except RecursionError:
        raise ScenarioError("YAML nested too deeply", file=file, expected=f"a YAML {what} file") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"the {what} does not contain a mapping of {what} fields", file=file, expected=keys)
    return data


class _StrictLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice in one mapping (YAML would keep the last silently), and
    a document whose aliases expand it beyond ``MAX_NODES`` values (a 'billion laughs' file is small as text, but
    each alias becomes a copy once validated)."""

    MAX_NODES = 200_000

    def compose_document(self):
        node = super().compose_document()
        sizes: dict[int, int] = {}

        def size(n) -> int:
            if id(n) not in sizes:
                sizes[id(n)] = 0  # a recursive alias counts once
                children = n.value if isinstance(n.value, list) else []
                parts = [c for pair in children for c in pair] if isinstance(n, yaml.MappingNode) else children
                sizes[id(n)] = 1 + sum(size(c) for c in parts)
                if sizes[id(n)] > self.MAX_NODES:
                    raise yaml.composer.ComposerError(None, None, f"the aliases (*name) expand the document to more "
                                                      f"than {self.MAX_NODES:,} values", n.start_mark)
            return sizes[id(n)]

        if node is not None:
            size(node)
        return node


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"key '{excerpt(key, 40)}' appears twice",
                                                    key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def scenario_from_dict(data: dict, source: str | Path | None = None) -> Scenario:
    """Validate a scenario given as a dictionary; file paths are resolved relative to ``source``'s folder."""
    file = str(source) if source is not None else "<scenario>"
    scenario = validate_model(Scenario, data, file)
    _check_times(scenario, file)
    base = Path(source).parent if source is not None else Path.cwd()
    return resolve_paths(scenario, base)


M = typing.TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], data: dict, file: str) -> M:
    """``data`` validated as ``model``; every problem becomes one ScenarioError naming the file and fields."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = _relevant(exc.errors(), data, model)
        if len(errors) == 1:  # the field is named once, by the error itself
            raise ScenarioError(_describe(errors[0], model, with_field=False), file=file,
                                field=_loc_text(errors[0]["loc"])) from None
        raise ScenarioError("\n  " + "\n  ".join(_describe(err, model) for err in errors), file=file) from None


def _check_times(scenario: Scenario, file: str) -> None:
    """Timestamps and durations must parse, lie in the supported years, and the timeline must hold at least one
    step (else pandas raises); then every section is checked against the timeline (``_check_sections``)."""
    spec = scenario.time

    def when(text: str, field: str, tz: str) -> pd.Timestamp:
        try:
            ts = pd.Timestamp(text)
            if ts is not pd.NaT:
                ts = localize(ts, tz)
                ts.as_unit("ns")  # times pandas cannot compute with (beyond 2262) fail here, not later
                return ts
            problem = ""
        except Exception as exc:  # noqa: BLE001 - unparsable, or a local time DST skips or repeats (pytz errors)
            problem = f": {excerpt(exc, 120)}"
        raise ScenarioError(f"cannot read the time '{excerpt(text, 40)}'{problem}", file=file, field=field,
                            expected="a timestamp such as 2023-07-01 or 2023-07-01 14:00") from None

    def span(text: str, field: str) -> pd.Timedelta:
        try:
            td = parse_duration(text)
        except (ValueError, TypeError, OverflowError):
            td = pd.NaT
        if td is pd.NaT:
            raise ScenarioError(f"cannot read the duration '{excerpt(text, 40)}'", file=file, field=field,
                                expected="a duration such as 48h, 7d or 365d") from None
        return td

    def later(t: pd.Timestamp, td: pd.Timedelta, field: str) -> pd.Timestamp:
        try:
            out = t + td
        except (OverflowError, ValueError):  # pandas' OutOfBoundsDatetime is a ValueError
            out = None
        if out is None or out.year >= LAST_YEAR:
            raise ScenarioError(f"{t} + {td} ends after the year {LAST_YEAR}", file=file, field=field,
                                expected=f"times between {FIRST_YEAR} and {LAST_YEAR}") from None
        return out

    start = when(spec.start, "time.start", spec.timezone)
    if spec.end:
        end = when(spec.end, "time.end", spec.timezone)
    else:
        end = later(start, span(spec.duration, "time.duration"), "time.duration")
    step_s = parse_duration(spec.step).total_seconds()
    if (end - start).total_seconds() < step_s:
        raise ScenarioError(f"the timeline {start} .. {end} is shorter than one step ({spec.step})", file=file,
                            field="time.end" if spec.end else "time.duration",
                            expected="an end after the start by at least one step")
    for i, site in enumerate(scenario.sites):
        for kind, events in (("outage", site.grid.outages), ("demand-response event", site.grid.demand_response)):
            key = "outages" if kind == "outage" else "demand_response"
            for j, event in enumerate(events):
                _check_span(event, f"sites[{i}].grid.{key}[{j}]", kind, start, end, spec.timezone, when, span,
                            later, file)
    for j, event in enumerate(scenario.market.events if scenario.market else []):
        _check_span(event, f"market.events[{j}]", "event", start, end, spec.timezone, when, span, later, file)
    n_steps = int((end - start).total_seconds() // step_s)
    _check_step_multiples(scenario, file, step_s)
    _check_sections(scenario, file, start, end, n_steps, when)


def _check_step_multiples(scenario: Scenario, file: str, step_s: float) -> None:
    """Hours that the controller and market round to whole steps must hold at least one step (else a replanning
    interval of 0.0001 h would silently become one step)."""
    hours = []
    if scenario.controller.kind == "mpc":
        c = scenario.controller
        hours += [("controller.horizon_h", c.horizon_h), ("controller.replan_every_h", c.replan_every_h),
                  ("controller.refit_every_h", c.refit_every_h)]
    if scenario.market is not None:
        hours.append(("market.admm_horizon_h", scenario.market.admm_horizon_h))
    for field, h in hours:
        if h * 3600 < step_s:
            raise ScenarioError(f"{h:g} h is shorter than one step ({step_s:g} s)", file=file, field=field,
                                expected=f"at least {step_s / 3600:g} h")


def _check_span(event, field: str, what: str, t0: pd.Timestamp, t1: pd.Timestamp, tz: str, when, span, later,
                file: str) -> None:
    """An outage, demand-response or market event must parse, end after it starts and overlap the timeline."""
    a = when(event.start, f"{field}.start", tz)
    b = when(event.end, f"{field}.end", tz) if event.end else later(a, span(event.duration, f"{field}.duration"),
                                                                     f"{field}.duration")
    if b <= a:
        raise ScenarioError(f"{what} ends before it starts", file=file, field=field)
    if not (a < t1 and b > t0):
        article = "an" if what[0] in "aeiou" else "a"
        raise ScenarioError(f"{what} {a} .. {b} lies outside the timeline {t0} .. {t1}", file=file, field=field,
                            expected=f"{article} {what} that overlaps the simulated period")


def _check_sections(scenario: Scenario, file: str, t0: pd.Timestamp, t1: pd.Timestamp, n_steps: int, when) -> None:
    """What the commands would refuse later, refused now (so ``validate`` catches it): sites named by the swing
    and sizing sections exist, the swing window lies in the timeline, market participants have names the ledger
    accepts, VPP events have their baseline days, and the run and swing study fit in memory."""
    from wattscale.guards import check_memory, run_bytes, swing_bytes

    for section in ("swings", "sizing"):
        spec = getattr(scenario, section)
        if spec is not None:
            scenario.site(spec.site, field=f"{section}.site", file=file)
    check_memory(run_bytes(n_steps, [(len(s.generators), len(s.facility.workloads)) for s in scenario.sites]),
                 what=f"the timeline of {n_steps:,} steps x {len(scenario.sites)} site(s)", field="time", file=file,
                 shorten="a shorter timeline or a coarser step")
    if scenario.swings is not None:
        sw = scenario.swings
        index, site = scenario.site(sw.site, field="swings.site", file=file)
        if not site.facility.workloads:
            raise ScenarioError(f"the swing study's site '{excerpt(site.name, 40)}' has no workloads to analyse",
                                file=file, field="swings.site" if sw.site else f"sites[{index}].facility.workloads",
                                expected="a site with at least one training or inference workload")
        if sw.start is not None:
            a = when(sw.start, "swings.start", scenario.time.timezone)
            if not (t0 <= a and a + pd.Timedelta(seconds=sw.duration_s) <= t1):
                raise ScenarioError(f"the window {a} + {sw.duration_s:g} s lies outside the timeline", file=file,
                                    field="swings.start", expected=f"a window within {t0} .. {t1}")
        samples = int(round(sw.duration_s / sw.resolution_s))
        check_memory(swing_bytes(samples, len(site.facility.workloads)),
                     what=f"the swing study of {samples:,} samples x {len(site.facility.workloads)} workload(s)",
                     field="swings.resolution_s", file=file, shorten="a shorter duration_s or a coarser resolution_s")
    if scenario.market is not None:
        _check_market(scenario, file, t0)


def _check_market(scenario: Scenario, file: str, t0: pd.Timestamp) -> None:
    from wattscale.guards import PARTICIPANT_NAME, PARTICIPANT_NAME_RULE

    for i, site in enumerate(scenario.sites):
        if not PARTICIPANT_NAME.match(site.name):
            raise ScenarioError(f"site name '{excerpt(site.name, 40)}' cannot be a market participant's",
                                file=file, field=f"sites[{i}].name", expected=PARTICIPANT_NAME_RULE)
        if site.name == "operator":
            raise ScenarioError("a site may not be named 'operator': the market operator has that name", file=file,
                                field=f"sites[{i}].name", expected="another site name")
    if len(scenario.sites) < 2:
        raise ScenarioError("a market needs at least two sites", file=file, field="sites",
                            expected="two or more sites")
    days = scenario.market.baseline.days
    for j, event in enumerate(scenario.market.events):
        first = localize(event.start, t0.tz)
        history = (first.normalize() - t0.normalize()).days
        if history < days:
            raise ScenarioError(f"the event on {first.date()} needs {days} event-free days of history before it "
                                f"for its baseline, the timeline has {max(history, 0)}", file=file,
                                field=f"market.events[{j}].start",
                                expected=f"a timeline starting at least {days} days before the event, or a smaller "
                                         "market.baseline.days")


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
    expanded = os.path.expandvars(text)
    unset = re.search(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", expanded)
    if unset:
        name = unset.group(1)
        hint = ", or run from a folder beside ../shared/data" if name == "WATTSCALE_DATA" else ""
        raise ScenarioError(f"the path '{excerpt(text, 80)}' uses the environment variable {name}, which is not set",
                            expected=f"export {name}=/path/to/the/folder{hint}")
    p = Path(expanded).expanduser()
    return p if p.is_absolute() else safe_resolve(base / p)


def _loc_text(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _is_label(part):
            continue  # pydantic's union-branch labels are noise for users
        else:
            out += ("." if out else "") + excerpt(str(part), 60)
    return out


def _relevant(errors: list[dict], data, root: type[BaseModel]) -> list[dict]:
    """Of the errors pydantic reports for every branch of a union (a number, a file or a default series ...),
    keep only those of the branch the user evidently meant; drop 'missing' keys that an unknown key misspells."""
    groups: dict[tuple, dict[str, list[dict]]] = {}
    out: list = []
    for err in errors:
        loc = err["loc"]
        at = next((i for i, part in enumerate(loc) if _is_branch(part, _value_at(data, loc[:i]))), None)
        if at is None:
            out.append(err)
            continue
        key = loc[:at]
        if key not in groups:
            groups[key] = {}
            out.append(key)  # placeholder keeps the order
        groups[key].setdefault(loc[at], []).append(err)
    kept: list[dict] = []
    for item in out:
        if isinstance(item, dict):
            kept.append(item)
            continue
        branches = groups[item]
        given = _value_at(data, item)
        if isinstance(given, dict):
            def score(tag, keys=set(map(str, given))):
                model = _branch_model(tag)
                return (len(keys & set(model.model_fields)) if model else -1, -len(branches[tag]))
        else:
            def score(tag):
                return (0 if _branch_model(tag) else 1, -len(branches[tag]))
        kept.extend(branches[max(branches, key=score)])
    hinted = set()
    for err in kept:
        if err["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(str(err["loc"][-1]), _fields_at(err["loc"][:-1], root), n=1, cutoff=0.5)
            hinted.update((err["loc"][:-1] + (h,)) for h in hint)
    return [e for e in kept if not (e["type"] == "missing" and e["loc"] in hinted)] or kept


def _is_branch(part, given) -> bool:
    """A union-branch label in an error location (not a field name, a key the user wrote, or a list index)."""
    if isinstance(part, int) or (isinstance(given, dict) and part in given):
        return False
    return _is_label(part)


def _is_label(part) -> bool:
    """A type label pydantic puts in error locations (a model or type name, or a validator description)."""
    part = str(part)
    return part in _model_names() or not part.isidentifier() or part in {"float", "int", "str", "bool", "none"}


def _branch_model(tag) -> type[BaseModel] | None:
    names = _model_names()
    tag = str(tag)
    for name, models in names.items():
        if tag == name or tag.endswith(f", {name}]"):
            return models[0]
    return None


def _value_at(data, loc: tuple):
    for part in loc:
        if isinstance(data, dict) and isinstance(part, str) and part not in data:
            continue  # a discriminated union's tag (e.g. 'inference') or a branch label, not a key of the data
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _describe(err: dict, root: type[BaseModel], with_field: bool = True) -> str:
    loc = err["loc"]
    field = _loc_text(loc)
    head = f"field '{field}': " if with_field else ""
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        known = _fields_at(loc[:-1], root)
        hint = difflib.get_close_matches(key[:100], known, n=1, cutoff=0.5)
        text = f"{head}unknown key '{excerpt(key, 60)}'"
        if hint:
            text += f" (did you mean '{hint[0]}'?)"
        elif known:
            text += f" (expected one of: {', '.join(sorted(known))})"
        return text
    if err["type"] == "missing":
        return f"{head}required but missing"
    got = err.get("input")
    got_text = f" (got {excerpt(repr(got), 60)})" if got is not None and not isinstance(got, (dict, list)) else ""
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] in ("int_parsing", "float_parsing") and got in ("true", "false"):
        msg, got_text = f"expected a number, not {got}", ""
    elif err["type"] == "finite_number":
        msg = "expected a finite number, not NaN or infinity"
    return f"{head}{msg}{got_text}"


def _fields_at(loc: tuple, root: type[BaseModel]) -> list[str]:
    """Field names accepted at a location of the schema (union of all models possible there)."""
    models: list[type[BaseModel]] = [root]
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
    from wattscale.scenario import network, schema, workloads

    return {name: [obj] for module in (schema, network, workloads) for name, obj in vars(module).items()
            if isinstance(obj, type) and issubclass(obj, BaseModel)}

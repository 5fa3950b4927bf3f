"""What a request may read: only the data files in the service's ``files`` folder.

A scenario (or network, or system) given to the service may name weather, price or trace files. Paths are taken
relative to ``DIR/files``; every path in the scenario and in the study's options must resolve (links followed)
inside it, and none may pass through a hidden name (the service keeps its own files there under ``.job-*``).
Environment variables and ``~`` are not expanded for a request: a path holding ``$`` or starting with ``~`` is
refused before anything reads it. Messages never show the server's own folders (``public``)."""
from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from wattscale.errors import ScenarioError
from wattscale.guards import safe_resolve

FILES = "files"
_VARIABLE = re.compile(r"\$\{?[A-Za-z_]")


def paths_in(value, where: str = "") -> list[tuple[str, Path]]:
    """Every (field path, Path) inside a model, list or mapping."""
    if isinstance(value, Path):
        return [(where, value)]
    if isinstance(value, BaseModel):
        return [p for name in type(value).model_fields
                for p in paths_in(getattr(value, name), f"{where}.{name}" if where else name)]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in paths_in(v, f"{where}[{i}]")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in paths_in(v, f"{where}.{k}" if where else str(k))]
    return []


def strings_in(value, where: str = "") -> list[tuple[str, str]]:
    """Every (field path, string) of parsed YAML."""
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in strings_in(v, f"{where}.{k}" if where else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in strings_in(v, f"{where}[{i}]")]
    return []


def refuse_expansion(data, file: str) -> None:
    """ScenarioError for a value that would expand an environment variable or a home folder on the server."""
    for field, text in strings_in(data):
        if _VARIABLE.search(text) or (text.startswith("~") and field.split(".")[-1] in ("file", "path", "weather")):
            raise ScenarioError("the service does not expand environment variables or '~' in a request",
                                file=file, field=field, expected="a path relative to the service's files folder")


def confine(models: list, files_root: Path, file: str) -> None:
    """ScenarioError naming the first path in ``models`` that lies outside ``files_root`` or passes through a
    hidden name."""
    root = safe_resolve(files_root)
    for model in models:
        for field, path in paths_in(model):
            real = safe_resolve(path if path.is_absolute() else root / path)
            inside = real != root and root in real.parents
            if not inside or any(part.startswith(".") for part in real.relative_to(root).parts):
                raise ScenarioError("the path lies outside the service's files folder", file=file, field=field,
                                    expected="a file in the data folder's files/, named relative to it")


def public(text: str, data_dir: Path) -> str:
    """``text`` with the server's folders taken out: paths under DIR/files shown relative to it."""
    files = str(data_dir / FILES) + "/"
    return text.replace(files, "").replace(str(data_dir), "DATA").replace(str(data_dir.parent), "..")

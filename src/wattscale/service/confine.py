"""What a request may read: only files inside the service's data folder.

A scenario (or network, or system) given to the service may name weather, price or trace files; every path in it,
and in the study's options, must resolve (links followed) inside the data folder, or the study is refused before
it runs."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from wattscale.errors import ScenarioError
from wattscale.guards import excerpt, safe_resolve


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


def confine(models: list, root: Path, file: str) -> None:
    """ScenarioError naming the first path in ``models`` that lies outside ``root``."""
    root = safe_resolve(root)
    for model in models:
        for field, path in paths_in(model):
            real = safe_resolve(path if path.is_absolute() else root / path)
            if real != root and root not in real.parents:
                raise ScenarioError(f"the path '{excerpt(str(path), 80)}' lies outside the service's data folder",
                                    file=file, field=field,
                                    expected="files inside the data folder, named relative to it")

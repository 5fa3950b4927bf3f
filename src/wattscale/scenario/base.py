"""Shared pieces of the scenario schema: the strict base model, time checks, unique names."""
from __future__ import annotations

import typing
from functools import lru_cache
from typing import Annotated

import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from wattscale.errors import ScenarioError
from wattscale.guards import excerpt
from wattscale.timeseries.timeline import localize

#: the years a timeline (and any time in a scenario) may lie in
FIRST_YEAR, LAST_YEAR = 1900, 2200


class Model(BaseModel):
    """Strict base of every scenario and network model: unknown keys, NaN and infinities are refused, and
    true/false is never read as a number (``gpus: true`` is not one GPU)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data):
        """true/false where a number (or text) is expected stays text, so it fails as what it is."""
        if isinstance(data, dict):
            bad = {k: str(v).lower() for k, v in data.items()
                   if isinstance(v, bool) and isinstance(k, str) and not _takes_bool(cls, k)}
            if bad:
                data = {**data, **bad}
        return data


@lru_cache(maxsize=None)
def _takes_bool(model: type[BaseModel], name: str) -> bool:
    field = model.model_fields.get(name)
    return field is None or _has_bool(field.annotation)


def _has_bool(annotation) -> bool:
    if annotation is bool or annotation is typing.Any:
        return True
    return any(_has_bool(a) for a in typing.get_args(annotation) if not isinstance(a, (str, int, float)))


def _printable_name(v: str) -> str:
    if not v.strip():
        raise ValueError("a name must not be empty")
    if not v.isprintable():
        raise ValueError("a name must be printable text, without control characters or escape codes")
    return v


#: an element's name: 1-100 printable characters (no control characters or terminal escape codes)
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_printable_name)]


def check_time(v: str | None) -> str | None:
    """A timestamp given as text (YAML dates arrive as dates: pass ``str(v)``), within the supported years."""
    if v is not None:
        try:
            ts = pd.Timestamp(v)
        except (ValueError, OverflowError):
            raise ValueError(f"'{excerpt(v, 40)}' is not a timestamp (expected a date or time such as 2023-01-01 "
                             "or 2023-07-18 14:00)") from None
        if ts is not pd.NaT and not FIRST_YEAR <= ts.year < LAST_YEAR:
            raise ValueError(f"'{excerpt(v, 40)}' is outside the years {FIRST_YEAR} to {LAST_YEAR} that times may "
                             "lie in")
    return v


def check_below(model, low: str, high: str, *, allow_equal: bool = False):
    """A model validator's body: field ``low`` must be below (or, allowed, equal to) field ``high``."""
    a, b = getattr(model, low), getattr(model, high)
    if a > b or (a == b and not allow_equal):
        raise ValueError(f"{low} ({a:g}) must {'not exceed' if allow_equal else 'be below'} {high} ({b:g})")
    return model


def check_unique(names: list[str], what: str) -> None:
    if len(set(names)) != len(names):
        raise ValueError(f"{what} names must be unique")


def local_time(value: str | pd.Timestamp, tz, *, field: str, file: str | None = None) -> pd.Timestamp:
    """``value`` in zone ``tz`` (naive times are local); a time that DST skips or repeats is a clear error."""
    try:
        return localize(value, tz)
    except Exception as exc:  # unparsable, or pytz/zoneinfo non-existent or ambiguous local time
        raise ScenarioError(f"cannot read the time '{excerpt(value, 40)}': {excerpt(exc, 120)}", file=file,
                            field=field,
                            expected="a timestamp such as 2023-07-01 14:00 that exists in the timeline's zone") from None

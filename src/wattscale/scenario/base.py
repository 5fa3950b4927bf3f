"""Shared pieces of the scenario schema: the strict base model, time checks, unique names."""
from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, ConfigDict

from wattscale.errors import ScenarioError


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_time(v: str | None) -> str | None:
    """A timestamp given as text (YAML dates arrive as dates: pass ``str(v)``)."""
    if v is not None:
        try:
            pd.Timestamp(v)
        except ValueError:
            raise ValueError(f"'{v}' is not a timestamp (expected a date or time such as 2023-01-01 "
                             "or 2023-07-18 14:00)") from None
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
        t = pd.Timestamp(value)
        return t.tz_localize(tz) if t.tzinfo is None else t.tz_convert(tz)
    except Exception as exc:  # unparsable, or pytz/zoneinfo non-existent or ambiguous local time
        raise ScenarioError(f"cannot read the time '{value}': {exc}", file=file, field=field,
                            expected="a timestamp such as 2023-07-01 14:00 that exists in the timeline's zone") \
            from None

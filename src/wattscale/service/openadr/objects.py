"""OpenADR 3.0.1 objects as the VTN receives them (the specification's schemas ``program``, ``event``,
``report``, ``subscription`` and the parts they share), checked with pydantic under the specification's JSON
names; fields the VTN provisions (id, times, objectType) are set by the VTN whatever a client sends."""
from __future__ import annotations

import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ObjectID = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]*$", min_length=1, max_length=128)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]
MAX_ITEMS = 10_000  # intervals, values or targets in one object


class Oadr(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)


class IntervalPeriod(Oadr):
    start: datetime.datetime
    duration: datetime.timedelta = datetime.timedelta(0)
    randomizeStart: datetime.timedelta | None = None


class ValuesMap(Oadr):
    type: Name
    values: list[float | int | str | bool | dict] = Field(max_length=MAX_ITEMS)


class Interval(Oadr):
    id: int
    intervalPeriod: IntervalPeriod | None = None
    payloads: list[ValuesMap] = Field(max_length=64)


class PayloadDescriptor(Oadr):
    objectType: str | None = None
    payloadType: Name
    units: str | None = None
    currency: str | None = None
    readingType: str | None = None


class ReportDescriptor(Oadr):
    payloadType: Name
    readingType: str | None = None
    units: str | None = None
    targets: list[ValuesMap] | None = None
    aggregate: bool = False
    startInterval: int = -1
    numIntervals: int = -1
    historical: bool = True
    frequency: int = -1
    repeat: int = 1


class Program(Oadr):
    programName: Name
    programLongName: str | None = None
    retailerName: str | None = None
    retailerLongName: str | None = None
    programType: str | None = None
    country: str | None = None
    principalSubdivision: str | None = None
    timeZoneOffset: datetime.timedelta | None = None
    intervalPeriod: IntervalPeriod | None = None
    programDescriptions: list[dict] | None = None
    bindingEvents: bool | None = None
    localPrice: bool | None = None
    payloadDescriptors: list[PayloadDescriptor] | None = None
    targets: list[ValuesMap] | None = Field(None, max_length=MAX_ITEMS)


class Event(Oadr):
    programID: ObjectID
    eventName: str | None = None
    priority: int | None = Field(None, ge=0)
    targets: list[ValuesMap] | None = Field(None, max_length=MAX_ITEMS)
    reportDescriptors: list[ReportDescriptor] | None = None
    payloadDescriptors: list[PayloadDescriptor] | None = None
    intervalPeriod: IntervalPeriod | None = None
    intervals: list[Interval] = Field(max_length=MAX_ITEMS)


class ReportResource(Oadr):
    resourceName: Name
    intervalPeriod: IntervalPeriod | None = None
    intervals: list[Interval] = Field(max_length=MAX_ITEMS)


class Report(Oadr):
    programID: ObjectID
    eventID: ObjectID
    clientName: Name
    reportName: str | None = None
    payloadDescriptors: list[PayloadDescriptor] | None = None
    resources: list[ReportResource] = Field(max_length=1000)


class ObjectOperation(Oadr):
    objects: list[Literal["PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"]]
    operations: list[Literal["GET", "POST", "PUT", "DELETE"]]
    callbackUrl: Annotated[str, StringConstraints(max_length=2000)]
    bearerToken: str | None = None


class Subscription(Oadr):
    clientName: Name
    programID: ObjectID
    objectOperations: list[ObjectOperation] = Field(max_length=64)
    targets: list[ValuesMap] | None = None


KINDS: dict[str, type[Oadr]] = {"PROGRAM": Program, "EVENT": Event, "REPORT": Report, "SUBSCRIPTION": Subscription}


def target_values(targets: list[ValuesMap] | list[dict] | None, kind: str = "VEN_NAME") -> list[str]:
    """The values of the targets of ``kind`` (e.g. the VEN names an event is for)."""
    out = []
    for t in targets or []:
        t = t if isinstance(t, dict) else t.model_dump()
        if t.get("type") == kind:
            out += [str(v) for v in t.get("values", [])]
    return out

"""Integers the API takes that a database keeps, bounded as their columns are, so a bigger number is refused at the
edge (a 422 naming the field) instead of failing in the driver with a 500. Rows are keyed by 32-bit integers
(PostgreSQL `integer`); the timeline's and the stream's events, which grow without end, by 64-bit ones (`bigint`).
SQLite keeps 64 bits in both."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
Key = Annotated[int, Interval(ge=1, le=INT32_MAX)]  # the id of a stored row
EventKey = Annotated[int, Interval(ge=1, le=INT64_MAX)]  # the id of a timeline event
Cursor = Annotated[int, Interval(ge=0, le=INT64_MAX)]  # a stream event id to resume after

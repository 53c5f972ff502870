"""Requests from a trace: one row per request with its send time and token counts.

CSV with a header, or JSON Lines, with the columns `timestamp` (seconds; `arrival_s` is
accepted too), `input_tokens` and `output_tokens` (`input_length`/`output_length` too).
Rows are sorted by time; times are shifted so the first request arrives at 0. A closed
loop (`concurrency` with `trace`) reads only the lengths, in the file's order, and needs
no timestamp. The CLI reads the file; this module checks and converts its text.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping

import numpy as np

from inferplan.sim.requests import Requests
from inferplan.units import InferplanError

ALIASES = {"timestamp": ("timestamp", "arrival_s"),
           "input_tokens": ("input_tokens", "input_length"),
           "output_tokens": ("output_tokens", "output_length")}


def _rows(text: str, origin: str) -> list[Mapping[str, object]]:
    stripped = text.lstrip()
    if not stripped:
        raise InferplanError(origin, "", "the trace is empty; one request per row")
    if stripped.startswith("{"):
        rows: list[Mapping[str, object]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InferplanError(f"{origin}:{number}", line[:40],
                                     f"is not a JSON object ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InferplanError(f"{origin}:{number}", line[:40], "is not a JSON object")
            rows.append(row)
        return rows
    return [dict(r) for r in csv.DictReader(io.StringIO(text))]


def _field(row: Mapping[str, object], name: str, where: str) -> float:
    for key in ALIASES[name]:
        if key in row and row[key] not in (None, ""):
            value = row[key]
            try:
                number = float(str(value))
            except (TypeError, ValueError):
                raise InferplanError(f"{where}.{key}", value, "a number") from None
            if not math.isfinite(number) or number < 0:
                raise InferplanError(f"{where}.{key}", value, "a finite number >= 0")
            return number
    raise InferplanError(where, name, f"missing; give one of {', '.join(ALIASES[name])}")


def trace_requests(text: str, origin: str = "trace", timed: bool = True) -> Requests:
    """The trace's requests in time order, the first at t = 0; token counts ≥ 1. Not
    `timed` (a closed loop takes only its lengths): the rows in the file's order, no
    send times, the timestamp column optional and unread.

    Rows (0.5, 100, 10), (0.0, 200, 20): arrivals [0.0, 0.5], inputs [200, 100]; not
    timed: inputs [100, 200].
    """
    rows = _rows(text, origin)
    if not rows:
        raise InferplanError(origin, "", "the trace has no requests")
    times: list[float] = []
    inputs: list[int] = []
    outputs: list[int] = []
    for number, row in enumerate(rows, start=1):
        where = f"{origin}:{number}"
        times.append(_field(row, "timestamp", where) if timed else 0.0)
        for name, out in (("input_tokens", inputs), ("output_tokens", outputs)):
            value = _field(row, name, where)
            if value < 1 or value != int(value):
                raise InferplanError(f"{where}.{name}", value, "a whole number of tokens >= 1")
            out.append(int(value))
    if not timed:
        return Requests(input_tokens=np.asarray(inputs, dtype=np.int64),
                        output_tokens=np.asarray(outputs, dtype=np.int64))
    order = np.argsort(np.asarray(times), kind="stable")
    t = np.asarray(times, dtype=np.float64)[order]
    return Requests(input_tokens=np.asarray(inputs, dtype=np.int64)[order],
                    output_tokens=np.asarray(outputs, dtype=np.int64)[order],
                    arrival_s=t - t[0])

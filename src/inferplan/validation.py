"""Turn pydantic validation errors, and CSV files without the columns a reader needs, into
one clear `InferplanError` line."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from inferplan.units import InferplanError


def first_error(exc: ValidationError, origin: str) -> InferplanError:
    """The first problem pydantic found, as `origin.field: value is not valid; why`."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
    value = err.get("input")
    if isinstance(value, Mapping):
        value = "{...}"
    message = str(err["msg"]).removeprefix("Value error, ")
    return InferplanError(f"{origin}.{where}" if where else origin, value, message)


def read_csv_rows(text: str, origin: str, required: Sequence[str]) -> list[dict[str, str]]:
    """CSV text → rows as dicts; a missing required column is an error naming it."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise InferplanError(origin, ", ".join(missing),
                             f"missing columns; required: {', '.join(required)}")
    return [dict(r) for r in reader]

"""Turn pydantic validation errors, and CSV files without the columns a reader needs, into
one clear `InferplanError` line."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar, cast

from pydantic import BaseModel, ValidationError

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


Model = TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], raw: object, origin: str) -> Model:
    """A mapping validated as `model` (a scenario, a search space, a sweep spec), or one
    `InferplanError`: `origin: 'list' is not valid; must be a mapping`, else pydantic's
    first problem as `first_error` words it."""
    if not isinstance(raw, Mapping):
        raise InferplanError(origin, type(raw).__name__, "must be a mapping")
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        raise first_error(exc, origin) from None


def read_csv_rows(text: str, origin: str, required: Sequence[str]) -> list[dict[str, str]]:
    """CSV text → rows as dicts; a missing required column is an error naming it."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise InferplanError(origin, ", ".join(missing),
                             f"missing columns; required: {', '.join(required)}")
    return [dict(r) for r in reader]


Row = TypeVar("Row")
Case = TypeVar("Case")
Skip = TypeVar("Skip")


def map_and_predict(rows: Iterable[Row], map_row: Callable[[Row], Case | Skip],
                    predict: Callable[[Case], Case | Skip], skip_type: type[Skip],
                    ) -> tuple[list[Case], list[Skip]]:
    """Map each measured row to a case (or the reason not), predict the mapped ones (or the
    reason not): (predicted cases, skipped rows), both in row order."""
    cases: list[Case] = []
    skipped: list[Skip] = []
    for row in rows:
        mapped = map_row(row)
        result = mapped if isinstance(mapped, skip_type) else predict(cast(Case, mapped))
        if isinstance(result, skip_type):
            skipped.append(result)
        else:
            cases.append(cast(Case, result))
    return cases, skipped

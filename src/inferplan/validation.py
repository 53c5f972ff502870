"""Turn pydantic validation errors into one clear `InferplanError` line."""

from __future__ import annotations

from collections.abc import Mapping

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

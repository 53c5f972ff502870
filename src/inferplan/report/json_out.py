"""JSON rendering of result records."""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def _default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(record: Any) -> str:
    """Pretty JSON of a dict/list of plain values and numpy scalars."""
    return json.dumps(record, indent=2, default=_default)

"""Reading user files (scenarios, configs, chip YAMLs, length data): the only place that does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from inferplan.units import InferplanError


def read_mapping(path: str | Path, field: str = "file") -> dict[str, Any]:
    """Parse a YAML or JSON file that must hold one object; errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise InferplanError(field, str(path), "no such file")
    text = p.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise InferplanError(field, str(path), f"is not valid {p.suffix[1:] or 'YAML'}: {first}")\
            from None
    if not isinstance(data, dict):
        raise InferplanError(field, str(path), "must contain a mapping (key: value) at top level")
    return data


def looks_like_path(ref: str) -> bool:
    """A scenario's `model`/`hardware` value names a file rather than a catalog entry."""
    return ref.endswith((".json", ".yaml", ".yml")) or "/" in ref or "\\" in ref

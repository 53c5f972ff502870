"""A sweep spec's points: the grid's cross product over the base scenario, each checked
by the scenario parser and keyed (`sweep.keys`), times the jobs.

Worked number: `model: [a, b]`, `dtypes.weights: [bf16, fp8, int4]` and `jobs: [estimate,
simulate]` give 2 · 3 · 2 = 12 points, in the grid's order with the last entry varying
fastest and the jobs innermost; a value listed twice gives its points once.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from typing import Any

from inferplan.scenario import parse_scenario
from inferplan.sweep.keys import canonical_scenario, point_key
from inferplan.sweep.spec import SweepSpecIn, field_paths
from inferplan.units import InferplanError

#: Most points one sweep may expand to (a guard against a mistyped grid).
MAX_POINTS = 1_000_000


@dataclass(frozen=True)
class Point:
    """One question of a sweep: a job on a scenario. `scenario` is the validated scenario
    as JSON values (every field, defaults included, nulls left out), `axes` the grid
    values that made it (grid key → value)."""

    index: int
    key: str
    job: str
    scenario: dict[str, Any]
    axes: dict[str, Any]


def merged(base: Any, value: Any) -> Any:
    """`value` put over `base`: a mapping merges into a mapping key by key (recursively; a
    None drops the key), anything else replaces. {a: 1, b: 2} + {b: null, c: 3} → {a: 1,
    c: 3}."""
    if not (isinstance(base, dict) and isinstance(value, dict)):
        return copy.deepcopy(value)
    out = dict(base)
    for k, v in value.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merged(out.get(k), v)
    return out


def assigned(scenario: dict[str, Any], path: str, value: Any) -> None:
    """Put `value` at the dotted `path` of `scenario` (in place), creating the blocks on
    the way and merging a mapping into the block already there."""
    *blocks, leaf = path.split(".")
    node = scenario
    for name in blocks:
        child = node.get(name)
        if not isinstance(child, dict):
            child = {}
            node[name] = child
        node = child
    if value is None:
        node.pop(leaf, None)
    else:
        node[leaf] = merged(node.get(leaf), value)


def _grid_field(field: str, keys: list[str]) -> str | None:
    """The grid key whose fields hold (or contain, or sit inside) the scenario field an
    error names, so that the error points at the line of the spec that made it."""
    for key in keys:
        for path in field_paths(key):
            if field == path or field.startswith(path + ".") or path.startswith(field + "."):
                return key
    return None


def point_error(exc: InferplanError, keys: list[str], axes: dict[str, Any]
                ) -> InferplanError:
    """A point's scenario error, named by the grid key that made it (`grid.dtypes.weights:
    'fp9' ...`) or by the spec's base scenario (`scenario.chips: ...`)."""
    field = exc.field.removeprefix("scenario.").removeprefix("scenario")
    key = _grid_field(field, keys)
    if key is not None:
        # the grid's value when the error is about its field or a block holding it
        # (`workload`'s one-of check); the scenario's own value when it is deeper
        whole = any(field == p or p.startswith(field + ".") for p in field_paths(key))
        return InferplanError(f"grid.{key}", axes[key] if whole else exc.value, exc.allowed)
    return InferplanError(f"scenario.{field}" if field else "scenario", exc.value, exc.allowed)


def point_count(spec: SweepSpecIn) -> int:
    """Points before duplicates are dropped: the product of the grid's list lengths, times
    the jobs."""
    return math.prod(len(v) for v in spec.grid.values()) * len(spec.jobs)


def expand(spec: SweepSpecIn) -> list[Point]:
    """Every point of the spec, in order, each once (by key). A grid value the scenario
    schema refuses is the one-line error of its grid key."""
    total = point_count(spec)
    if total > MAX_POINTS:
        raise InferplanError("grid", f"{total:,} points",
                             f"at most {MAX_POINTS:,} in one sweep; split it into several")
    keys = list(spec.grid)
    points: list[Point] = []
    seen: set[str] = set()
    for values in itertools.product(*spec.grid.values()):
        axes = dict(zip(keys, values, strict=True))
        raw = copy.deepcopy(spec.scenario)
        for key, value in axes.items():
            paths = field_paths(key)
            for path, one in zip(paths, value if len(paths) > 1 else [value], strict=True):
                assigned(raw, path, one)
        try:
            scenario = parse_scenario(raw, origin="scenario")
        except InferplanError as exc:
            raise point_error(exc, keys, axes) from None
        canonical = canonical_scenario(scenario)
        full = scenario.model_dump(mode="json", exclude_none=True)
        for job in spec.jobs:
            key = point_key(canonical, job, spec.seed if job == "simulate" else None)
            if key in seen:
                continue
            seen.add(key)
            points.append(Point(len(points), key, job, full, axes))
    return points

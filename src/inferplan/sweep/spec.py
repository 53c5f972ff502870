"""The sweep spec: a scenario, a grid of the scenario fields that vary, and the jobs that
answer each point.

    name: fleet                      # optional
    jobs: [estimate, simulate]       # the closed form and/or the simulator; default estimate
    seed: 0                          # the simulator's seed (part of a simulate point's key)
    scenario:                        # a scenario file's fields: what every point shares
      model: llama-3.1-8b
      hardware: h100-sxm
      chips: 1
      workload: {input_len: 1024, output_len: 256, concurrency: 16, requests: 200}
    grid:                            # dotted scenario fields -> the values each takes
      model: [llama-3.1-8b, qwen3-32b]
      dtypes.weights: [bf16, fp8]
      "chips, parallelism.tp": [[1, 1], [2, 2]]    # several fields, zipped
      workload:                      # a mapping merges into the block (null drops a field)
        - {input_len: 1024, output_len: 256}
        - {input_len: 4096, output_len: 512}

The points are the cross product of the grid's entries, times the jobs
(`sweep.expand`). This module checks the spec's own fields and the grid's field paths
against the scenario schema (`scenario.ScenarioIn`); each point's values are checked by
the scenario parser itself when the grid expands.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from inferplan.scenario import ScenarioIn
from inferplan.units import InferplanError, close_matches
from inferplan.validation import validated

#: The questions a point can be asked: `estimate` (the closed form, `inferplan estimate`)
#: and `simulate` (request by request, `inferplan simulate`).
Job = Literal["estimate", "simulate"]
JOBS: tuple[str, ...] = typing.get_args(Job)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SweepSpecIn(_Strict):
    """A sweep spec file, validated; `grid` keys are checked by `check_grid_key`."""

    name: str | None = None
    description: str | None = None
    jobs: list[Job] = ["estimate"]
    seed: StrictInt = Field(default=0, ge=0)
    scenario: dict[str, Any]
    grid: dict[str, list[Any]] = {}

    @field_validator("jobs", mode="before")
    @classmethod
    def _jobs(cls, v: object) -> object:
        items = [v] if isinstance(v, str) else v
        if isinstance(items, list) and not items:
            raise ValueError(f"an empty list; give one or more of {', '.join(JOBS)}")
        return list(dict.fromkeys(items)) if isinstance(items, list) else items

    @field_validator("grid")
    @classmethod
    def _grid(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in v.items():
            if not values:
                raise ValueError(f"{key!r} has an empty list; give one or more values")
        return v


def _block_model(annotation: object) -> type[BaseModel] | None:
    """The pydantic model a field's annotation holds (`ParallelismIn`,
    `PoolIn | None`), or None for a plain value (`int`, `str | dict`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _block_model(arg)
            if found is not None:
                return found
    return None


def field_paths(key: str) -> list[str]:
    """The scenario fields a grid key names: `"chips, parallelism.tp"` → ['chips',
    'parallelism.tp'] (several fields zipped), `"model"` → ['model']."""
    return [part.strip() for part in key.split(",")]


def check_field_path(path: str, where: str) -> None:
    """`path` (`parallelism.tp`, `disaggregated.prefill.chips`, `workload`) names a field
    of the scenario schema; else the one-line error, with close names."""
    model: type[BaseModel] | None = ScenarioIn
    parts = path.split(".")
    for depth, part in enumerate(parts):
        if model is None:
            block = ".".join(parts[:depth])
            raise InferplanError(where, path, f"{block!r} is a value, not a block of fields")
        fields = list(model.model_fields)
        if part not in fields:
            near = close_matches(part, fields)
            hint = f"did you mean {', '.join(near)}?" if near else f"known: {', '.join(fields)}"
            raise InferplanError(where, path, f"not a scenario field; {hint}")
        model = _block_model(model.model_fields[part].annotation)


def check_grid_key(key: str, values: list[Any]) -> None:
    """A grid entry: each field it names exists, and a zipped key's values are lists of
    one value per field."""
    paths = field_paths(key)
    for path in paths:
        check_field_path(path, f"grid.{key}")
    if len(paths) > 1:
        for value in values:
            if not isinstance(value, list) or len(value) != len(paths):
                raise InferplanError(f"grid.{key}", value,
                                     f"a list of {len(paths)} values, one per field")


def parse_spec(raw: Mapping[str, Any], origin: str = "spec") -> SweepSpecIn:
    """Validate a sweep spec mapping; the first problem becomes one `InferplanError`."""
    spec = validated(SweepSpecIn, raw, origin)
    for key, values in spec.grid.items():
        check_grid_key(key, values)
    return spec

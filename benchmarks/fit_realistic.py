"""Refit the generic engine's op costs (data/engines/generic.yaml) on the bundled measurements.

    python benchmarks/fit_realistic.py

Coordinate descent over each fitted constant on a grid, minimising
median |log(pred/meas)| + 0.3 · mean |log(pred/meas)| over the rows the validation
target is about (static-batch throughput and TTFT). It prints the values found and the
error table with them; copying them (rounded) into efficiency.yaml is a human decision.
Takes about a minute on 2 cores. Not part of CI.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from inferplan.engines import EngineProfile, OpCosts, engine_profile
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.validate import (
    acceptance_cases,
    bundled_measurements_text,
    error_table,
    read_rows,
    run_validation,
)

#: constant → (path in the generic profile's default op costs, grid)
GRID: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
    "gemm 16-bit": (("gemm_fraction_of_ceiling", "default"), np.linspace(0.6, 1.0, 17)),
    "gemm fp8": (("gemm_fraction_of_ceiling", "fp8"), np.linspace(0.5, 1.0, 21)),
    "overlap loss": (("gemm_overlap_loss",), np.linspace(0.0, 1.0, 21)),
    "per layer": (("per_layer_s",), np.linspace(0.0, 2e-4, 21)),
    "per collective": (("per_collective_s",), np.linspace(0.0, 4e-5, 21)),
    "per step": (("per_step_s",), np.linspace(0.0, 4e-3, 17)),
}


def _set(ops: dict[str, Any], path: tuple[str, ...], value: float) -> None:
    target = ops
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = float(value)


def profile(ops: dict[str, Any]) -> EngineProfile:
    """The generic profile with `ops` as its default op costs (a new immutable profile)."""
    base = engine_profile("generic")
    return base.model_copy(update={"ops": {**base.ops, "default": OpCosts.model_validate(ops)}})


def loss(rows: list[dict[str, str]], ops: dict[str, Any]) -> float:
    """median + 0.3 · mean of |log(pred/meas)| over the acceptance rows."""
    cases, _ = run_validation(rows, catalog_model, catalog_chip, engine=profile(ops))
    logs = np.array([abs(math.log(c.predicted / c.measured))
                     for c in acceptance_cases(cases)])
    return float(np.median(logs) + 0.3 * np.mean(logs))


def main() -> None:
    rows = read_rows(bundled_measurements_text())
    ops = engine_profile("generic").ops["default"].model_dump()
    best = loss(rows, ops)
    print(f"start: loss {best:.4f}")
    for sweep in range(3):
        for name, (path, grid) in GRID.items():
            scores = []
            for value in grid:
                _set(ops, path, value)
                scores.append(loss(rows, ops))
            pick = float(grid[int(np.argmin(scores))])
            _set(ops, path, pick)
            best = min(scores)
            print(f"sweep {sweep}: {name:15s} = {pick:.6g}  loss {best:.4f}")
    cases, _ = run_validation(rows, catalog_model, catalog_chip, engine=profile(ops))
    for s in error_table(acceptance_cases(cases)):
        print(f"{s.group:32s} {s.rows:3d}  median {s.median_ape:6.1%}  p90 {s.p90_ape:6.1%}"
              f"  bias {s.bias:+6.1%}")


if __name__ == "__main__":
    main()

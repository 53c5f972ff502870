"""The worker's side of `inferplan sweep`: a shard's points answered, one row each.

It runs in a pool process or a Ray worker, so it is a module-level function that a
backend ships by name. A point that is invalid (a layout its chips cannot hold, a batch
that does not fit, an open loop asked for the closed form) gets its one-line reason in
`error`; an unexpected exception gets its type and message there too, so one point
never takes a sweep down.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

from inferplan.cli.actions.estimate import does_not_fit
from inferplan.cli.actions.simulate import simulate_built, simulate_scenario
from inferplan.cli.loader import load_scenario
from inferplan.serving import estimate
from inferplan.sweep.columns import Row
from inferplan.sweep.expand import Point
from inferplan.sweep.rows import deployment_columns, estimate_columns, point_row, simulation_columns
from inferplan.sweep.shards import Shard
from inferplan.units import InferplanError


def _plain(value: Any) -> Any:
    """numpy scalars as Python's (Arrow and JSON take those)."""
    return value.item() if isinstance(value, np.generic) else value


def answer(point: Point, base: Path, seed: int) -> Row:
    """The columns a job adds to a point's row: the closed form's figures, or the
    simulation's; a point whose batch (or one sequence) does not fit gets no figures and
    the refusal `inferplan estimate` prints."""
    deployment, workload = load_scenario(point.scenario, base)
    if point.job == "estimate":
        est = estimate(deployment, workload)
        if not est.fits:
            return {"fits": False, "max_batch": est.memory.max_batch,
                    "replicas": deployment.layout.dp, "error": str(does_not_fit(est))}
        return estimate_columns(est)
    held = deployment_columns(deployment, workload)
    if not held["fits"]:
        return {**held, "error": str(InferplanError(
            "deployment", f"{deployment.model.name} on {deployment.chips}x "
            f"{deployment.chip.name}", f"does not fit: not one sequence of "
            f"{workload.context_len} tokens beside the weights (see inferplan memory)"))}
    sim = (simulate_scenario(point.scenario, seed, base) if "disaggregated" in point.scenario
           else simulate_built(deployment, workload, seed, base))
    return {**held, **simulation_columns(sim)}


def run_point(point: Point, base: Path, seed: int, worker: str | None) -> Row:
    """A point's whole row; with a `worker` name (`--timings`) also the time it took and
    that worker, else those two columns stay null."""
    start = time.perf_counter()
    row = point_row(point, seed)
    try:
        row.update(answer(point, base, seed))
    except InferplanError as exc:
        row["error"] = str(exc)
    except Exception as exc:   # a bug in one point: recorded in its row, the sweep goes on
        row["error"] = f"internal error: {type(exc).__name__}: {exc}"
    if worker is not None:
        row["elapsed_s"] = time.perf_counter() - start
        row["worker"] = worker
    return {k: _plain(v) for k, v in row.items()}


def run_shard(shard: Shard) -> list[Row]:
    """Every point of a shard, in order (what a backend runs as one task)."""
    base = Path(shard.base)
    worker = f"{socket.gethostname()}:{os.getpid()}" if shard.timings else None
    return [run_point(point, base, shard.seed, worker) for point in shard.points]

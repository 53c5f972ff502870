"""Shards: the unit of work a backend hands a worker, a few points at a time.

A shard is small enough that a worker's death costs little (it is run again whole) and a
result that lands is written at once, and large enough that the cost of one task (a
process pool's pickling, a Ray task's scheduling, about a millisecond) stays below the
points' own (an estimate is ~2 ms, a simulation 5 ms and up).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from inferplan.sweep.columns import Row
from inferplan.sweep.expand import Point

#: Shards per worker that the automatic size aims for: enough that the last shards do
#: not leave workers idle for long, and that a progress bar moves.
SHARDS_PER_WORKER = 8
#: Largest automatic shard (points).
MAX_AUTO_SHARD_POINTS = 64


@dataclass(frozen=True)
class Shard:
    """Points a worker answers in one task; `base` is the folder the scenario's relative
    references (model configs, traces) resolve from, `seed` the simulator's; `timings`
    fills the rows' `elapsed_s` and `worker` (null otherwise, so that one spec gives
    byte-identical results on every run)."""

    index: int
    points: tuple[Point, ...]
    base: str
    seed: int
    timings: bool = False


#: What a worker runs: a shard → its rows, one per point, in order. A module-level
#: function, so that a process pool or Ray ships it by name.
ShardRunner = Callable[[Shard], list[Row]]


def auto_shard_points(points: int, workers: int) -> int:
    """Points per shard for `points` over `workers`: SHARDS_PER_WORKER shards each, within
    [1, MAX_AUTO_SHARD_POINTS]. 1,000 points on 2 workers: ceil(1000 / 16) = 63."""
    return max(1, min(MAX_AUTO_SHARD_POINTS,
                      math.ceil(points / (SHARDS_PER_WORKER * max(1, workers)))))


def make_shards(points: Sequence[Point], size: int, base: str, seed: int,
                timings: bool = False) -> list[Shard]:
    """`points` in order, `size` at a time (the last shard may be smaller)."""
    return [Shard(i, tuple(points[start:start + size]), base, seed, timings)
            for i, start in enumerate(range(0, len(points), size))]

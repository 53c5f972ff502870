"""Timing calls: warm-up runs (the first compiles), then repeats, each waited for to the
end (the callable blocks: `jax.block_until_ready`), summarised by median and spread, and
by the best run (the least disturbed on a shared machine).

A grid is timed in rounds (`time_calls`): each round runs every call once, so each
call's samples spread over the whole measurement and a burst of load from elsewhere on
the machine lands on every point alike instead of on a few neighbours."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: Runs before timing: the first compiles, the second settles caches and allocations.
WARMUP_RUNS = 2
#: Fewest timed runs of a call.
MIN_REPEATS = 5
#: What a step's time is taken to be: the median of its runs, or the best (fastest) run,
#: which other work on a shared machine disturbs least.
STATISTICS = ("median", "best")


@dataclass(frozen=True)
class Timing:
    """Seconds of a call over its timed runs: the median, the interquartile range and the
    best (fastest) run."""

    median_s: float
    iqr_s: float
    repeats: int
    best_s: float

    @classmethod
    def of(cls, samples_s: Sequence[float]) -> Timing:
        """Median, IQR (75th − 25th percentile) and best of the samples: 1, 2, 3, 4, 10 ms
        → 3 ms, IQR 2 ms, best 1 ms."""
        s = np.asarray(samples_s, dtype=np.float64)
        q25, q50, q75 = np.percentile(s, [25, 50, 75])
        return cls(float(q50), float(q75 - q25), int(s.size), float(s.min()))

    def seconds(self, statistic: str) -> float:
        """The step time by `statistic` (STATISTICS): the median, or the best run."""
        return self.best_s if statistic == "best" else self.median_s

    @property
    def spread(self) -> float:
        """IQR over median: the run-to-run noise of the point."""
        return self.iqr_s / self.median_s if self.median_s > 0 else 0.0


def time_call(run: Callable[[], object], repeats: int = MIN_REPEATS,
              warmup: int = WARMUP_RUNS) -> Timing:
    """`run()` `warmup` times untimed, then `repeats` (at least MIN_REPEATS) times timed.
    `run` must return only when the device has finished."""
    return time_calls([run], repeats, warmup)[0]


def time_calls(runs: Sequence[Callable[[], object]], repeats: int = MIN_REPEATS,
               warmup: int = WARMUP_RUNS,
               progress: Callable[[int], None] | None = None) -> list[Timing]:
    """Each call warmed up (`progress(i)` before call i's first run), then `repeats`
    rounds (at least MIN_REPEATS) that time every call once, in order."""
    for i, run in enumerate(runs):
        if progress is not None:
            progress(i)
        for _ in range(warmup):
            run()
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(max(repeats, MIN_REPEATS)):
        for run, times in zip(runs, samples, strict=True):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return [Timing.of(times) for times in samples]

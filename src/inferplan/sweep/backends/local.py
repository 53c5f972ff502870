"""The `local` backend: a process pool on this machine (`concurrent.futures`)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from inferplan.sweep.columns import Row
from inferplan.sweep.shards import Shard, ShardRunner
from inferplan.units import InferplanError


def pool_context() -> multiprocessing.context.BaseContext:
    """`fork` on Linux: a worker starts in milliseconds with the driver's modules and
    catalogs already loaded (the pool is started before the progress bar's thread, so
    no thread is forked); elsewhere the platform's default (`spawn` on macOS and
    Windows, which re-imports the caller's main module: a script needs the
    `if __name__ == "__main__":` guard)."""
    return multiprocessing.get_context("fork" if sys.platform == "linux" else None)


class LocalBackend:
    """`workers` processes on this machine (default: one per CPU)."""

    name = "local"

    def __init__(self, workers: int | None) -> None:
        self.workers = workers or os.cpu_count() or 1

    def run(self, shards: Sequence[Shard], runner: ShardRunner
            ) -> Iterator[tuple[Shard, list[Row]]]:
        """Start the pool and submit every shard now; the iterator yields each shard as it
        completes. A worker that dies ends the sweep with one line; the rows already
        yielded are written, so a rerun resumes."""
        if not shards:
            return iter(())
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(shards)),
                                   mp_context=pool_context())
        futures: dict[Future[list[Row]], Shard] = {
            pool.submit(runner, shard): shard for shard in shards}
        return _completed(pool, futures)

    def close(self) -> None:
        """Nothing held between runs: each run's pool is shut down when it ends."""


def _completed(pool: ProcessPoolExecutor, futures: dict[Future[list[Row]], Shard]
               ) -> Iterator[tuple[Shard, list[Row]]]:
    """Each shard and its rows as its future completes; the pool shut down at the end
    (or when the caller stops early: the shards not started are cancelled)."""
    try:
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BrokenProcessPool as exc:
        raise InferplanError("backend", "local",
                             f"a worker process died ({exc}); the rows that landed are "
                             "written: run the same command again to resume") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

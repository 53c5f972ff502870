"""The `local` backend: a process pool on this machine (`concurrent.futures`)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from inferplan.sweep.columns import Row
from inferplan.sweep.shards import Shard, ShardRunner
from inferplan.units import InferplanError


class LocalBackend:
    """`workers` processes (default: one per CPU), started with `spawn` so that a worker
    never inherits the driver's threads (the progress bar's) or its state."""

    name = "local"

    def __init__(self, workers: int | None) -> None:
        self.workers = workers or os.cpu_count() or 1

    def run(self, shards: Sequence[Shard], runner: ShardRunner
            ) -> Iterator[tuple[Shard, list[Row]]]:
        """Submit every shard; yield each as it completes. A worker that dies ends the
        sweep with one line; the rows already yielded are written, so a rerun resumes."""
        if not shards:
            return
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(shards)),
                                   mp_context=multiprocessing.get_context("spawn"))
        try:
            futures: dict[Future[list[Row]], Shard] = {
                pool.submit(runner, shard): shard for shard in shards}
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BrokenProcessPool as exc:
            raise InferplanError("backend", "local",
                                 f"a worker process died ({exc}); the rows that landed are "
                                 "written: run the same command again to resume") from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Nothing held between runs: each run's pool is shut down when it ends."""

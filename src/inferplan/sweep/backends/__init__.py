"""Where a sweep's shards run: `local` (a process pool on this machine) or `ray` (tasks
on a Ray cluster, the `ray` extra). Each backend yields each shard's rows as the shard
completes, in completion order; writing them (once) is the sink's job."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from inferplan.sweep.columns import Row
from inferplan.sweep.shards import Shard, ShardRunner
from inferplan.units import InferplanError

BACKENDS = ("local", "ray")


class Backend(Protocol):
    """A place to run shards."""

    name: str
    #: Shards it runs at once (processes, or the cluster's CPUs).
    workers: int

    def run(self, shards: Sequence[Shard], runner: ShardRunner
            ) -> Iterator[tuple[Shard, list[Row]]]:
        """Start running `runner` on the shards (before the caller starts any thread:
        the local pool forks); the iterator gives (shard, its rows) as each completes."""
        ...

    def close(self) -> None:
        """Let go of what it holds (processes, the cluster connection)."""
        ...


def check_backend(name: str, workers: int | None, address: str | None, retries: int,
                  connect_timeout_s: float) -> None:
    """The backend options, checked before any file is written or cluster started: one
    line for an unknown name, a bad count, an `--address` without Ray, of the wrong form
    or where nothing listens, or Ray not installed."""
    if name not in BACKENDS:
        raise InferplanError("--backend", name, f"allowed: {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise InferplanError("--workers", workers, "a positive integer")
    if retries < 0:
        raise InferplanError("--retries", retries, "a non-negative integer")
    if name == "local" and address is not None:
        raise InferplanError("--address", address, "only with --backend ray")
    if name == "ray":
        from inferplan.sweep.backends.ray_tasks import import_ray, probe, split_address

        if address is not None and address != "auto":
            split_address(address)
        import_ray()
        if address is not None:
            probe(address, connect_timeout_s)


def open_backend(name: str, workers: int | None, address: str | None, retries: int,
                 connect_timeout_s: float) -> Backend:
    """The named backend, started or connected (`check_backend` first): one line for a
    cluster that does not answer."""
    check_backend(name, workers, address, retries, connect_timeout_s)
    if name == "local":
        from inferplan.sweep.backends.local import LocalBackend

        return LocalBackend(workers)
    from inferplan.sweep.backends.ray_tasks import RayBackend

    return RayBackend(workers, address, retries, connect_timeout_s)

"""The `ray` backend: each shard a Ray task on a cluster (`--address`) or on a Ray
instance started here; needs the `ray` extra, imported only here.

Exactly once: a task whose worker dies is run again by Ray (`max_retries`; a shard's
rows come back whole from the attempt that finished, never from the one that died), and
the sink drops a key it already holds. A shard that fails every retry ends the sweep
with one line once the others have landed; their rows are written, so running the same
command again runs only what is missing.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from inferplan.sweep.columns import Row
from inferplan.sweep.shards import Shard, ShardRunner
from inferplan.units import InferplanError

#: What the one line says when `import ray` fails.
RAY_EXTRA = "needs the ray extra: pip install 'inferplan[ray]'"
#: Shards in flight per cluster CPU: enough that a CPU never waits for the driver to hand
#: it the next shard, few enough that the driver holds little (and a retry waits little).
SHARDS_IN_FLIGHT_PER_WORKER = 2


def import_ray() -> Any:
    """The `ray` module, or the one line that says how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise InferplanError("backend", "ray", RAY_EXTRA) from None


def split_address(address: str) -> tuple[str, int]:
    """`host:port` (or `ray://host:port`, `[::1]:6379`) → (host, port); else one line."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InferplanError("--address", address,
                             "HOST:PORT of a Ray head (ray start --head prints it), "
                             "ray://HOST:PORT, or auto")
    return host, int(port)


def probe(address: str, timeout_s: float) -> None:
    """A TCP connection to the head's port opens within `timeout_s`, so that an address
    nothing listens on is one line at once rather than Ray's minutes of retries."""
    if address == "auto":
        return
    host, port = split_address(address)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise InferplanError("--address", address,
                             f"unreachable ({reason}); start a head there with "
                             "`ray start --head`, or check the host and port") from None


def init_within(ray: Any, address: str | None, workers: int | None,
                timeout_s: float) -> None:
    """`ray.init` (connect to `address`, or start a local instance of `workers` CPUs),
    given up after `timeout_s`: a port that answers but is no Ray head would otherwise
    hold the command for minutes."""
    kwargs: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address is None:
        kwargs.update(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False)
    else:
        kwargs["address"] = address
    failure: list[BaseException] = []

    def connect() -> None:
        try:
            ray.init(**kwargs)
        except Exception as exc:
            failure.append(exc)

    thread = threading.Thread(target=connect, name="ray-init", daemon=True)
    thread.start()
    thread.join(timeout_s)
    where = address or "a local Ray instance"
    if thread.is_alive():
        raise InferplanError("--address" if address else "backend", where,
                             f"no Ray cluster answered within {timeout_s:g} s")
    if failure:
        first = (str(failure[0]).strip().splitlines() or [type(failure[0]).__name__])[0]
        raise InferplanError("--address" if address else "backend", where,
                             f"Ray could not connect: {first}")


class RayBackend:
    """Shards as Ray tasks of one CPU each, retried `retries` times when a worker or its
    node dies, streamed back as they finish. Connects to `address` (checked first by
    `probe`), or starts a Ray instance of `workers` CPUs here; a driver already connected
    (a notebook's `ray.init`) is used as it is."""

    name = "ray"

    def __init__(self, workers: int | None, address: str | None, retries: int,
                 connect_timeout_s: float) -> None:
        self._ray = import_ray()
        self.retries = retries
        self._owns = not self._ray.is_initialized()
        if self._owns:
            init_within(self._ray, address, workers, connect_timeout_s)
        cpus = int(self._ray.cluster_resources().get("CPU", 0))
        self.workers = max(1, cpus)

    def run(self, shards: Sequence[Shard], runner: ShardRunner
            ) -> Iterator[tuple[Shard, list[Row]]]:
        """Submit the first SHARDS_IN_FLIGHT_PER_WORKER shards per CPU now; the iterator
        yields each shard's rows as its task finishes and keeps the window full."""
        task = self._ray.remote(num_cpus=1, max_retries=self.retries)(runner)
        todo = iter(shards)
        pending: dict[Any, Shard] = {}
        window = SHARDS_IN_FLIGHT_PER_WORKER * self.workers

        def submit() -> None:
            for shard in itertools.islice(todo, max(0, window - len(pending))):
                pending[task.remote(shard)] = shard

        submit()
        return self._completed(pending, submit, len(shards))

    def _completed(self, pending: dict[Any, Shard], submit: Callable[[], None],
                   total: int) -> Iterator[tuple[Shard, list[Row]]]:
        ray = self._ray
        failed: list[tuple[Shard, str]] = []
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                shard = pending.pop(ref)
                try:
                    rows: list[Row] = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    failed.append((shard, (str(exc).strip().splitlines() or ["?"])[0]))
                    continue
                yield shard, rows
            submit()
        if failed:
            raise InferplanError("backend", "ray",
                                 f"{len(failed)} of {total} shards failed after "
                                 f"{self.retries} retries (first: {failed[0][1]}); the rows "
                                 "that landed are written: run the same command again to "
                                 "resume")

    def close(self) -> None:
        """Disconnect (and stop the instance this backend started)."""
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()

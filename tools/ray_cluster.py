"""A Ray cluster on this machine, for the sweep's tests and benchmarks: a head (no CPUs,
so every task runs on a worker node) and worker nodes of one CPU each, every node a
`ray start --block` process in its own process group, so that one node can be killed
(a crashed machine) and all of them stopped, by process group id.

Every node says its address is 127.0.0.2: Ray turns 127.0.0.1 and localhost into the
machine's outward address, which a test must not use; 127.0.0.2 is loopback all the same
and Ray leaves it alone. Needs the `ray` extra.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.2"
#: Bytes of object store per node (Ray's floor is 75 MiB; rows are a few kB a shard).
OBJECT_STORE_BYTES = 100 * 10**6
#: Seconds a node may take to start on a busy 2-core machine.
START_TIMEOUT_S = 60.0


def ray_command() -> str:
    """The `ray` script beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.is_file() else (shutil.which("ray") or "ray")


def node_env() -> dict[str, str]:
    """The environment of every node: no usage statistics sent anywhere."""
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _launch(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """A `ray start --block` node in its own process group, its output in `log`."""
    return subprocess.Popen([ray_command(), "start", "--block", "--disable-usage-stats",
                             f"--node-ip-address={HOST}",
                             f"--object-store-memory={OBJECT_STORE_BYTES}", *args],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=node_env(),
                            start_new_session=True)


def _wait_started(proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the node says it has started (or one line of why not)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while b"Ray runtime started" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            _kill(proc)
            raise RuntimeError(f"ray start failed: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a node's process group (the `ray start` process, its raylet and agents;
    its task workers exit when their raylet does) and reap the leader."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@dataclass
class LocalRayCluster:
    """A head and worker nodes; `address` is what `--address` takes."""

    logs: Path
    port: int = field(default_factory=free_port)
    head: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    #: Ray's session folder: short (its socket paths must fit AF_UNIX's 107 bytes).
    temp_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="ray-"))

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self, workers: int) -> LocalRayCluster:
        """Start the head, then `workers` worker nodes of one CPU each, one after the
        other (two raylets starting at once can race for a port); a node that does not
        start stops the others."""
        try:
            log = self.logs / "head.log"
            self.head = _launch(["--head", f"--port={self.port}", "--num-cpus=0",
                                 "--include-dashboard=false", f"--temp-dir={self.temp_dir}"],
                                log)
            _wait_started(self.head, log)
            for n in range(workers):
                log = self.logs / f"worker-{n}.log"
                self.workers.append(_launch([f"--address={self.address}", "--num-cpus=1"],
                                            log))
                _wait_started(self.workers[-1], log)
        except BaseException:
            self.stop()
            raise
        return self

    def kill_worker(self, n: int) -> None:
        """SIGKILL worker node `n` and its processes, as a machine that crashed."""
        _kill(self.workers[n])

    def stop(self) -> None:
        """Kill every node, workers first (a test cluster keeps nothing worth draining)."""
        for proc in [*self.workers, *([self.head] if self.head else [])]:
            _kill(proc)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalRayCluster:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

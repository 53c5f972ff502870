"""Start-up speed of the `inferplan` command (issue 12, "a fast start"); run:
`python benchmarks/bench_startup.py`.

Each benchmark returns (name, seconds, target) like `run_all.py`'s. A start-up is one
subprocess from fork to exit (what `/usr/bin/time -f %e` reports), the best of five after
one untimed run (files cached, .pyc written): this machine's 2 cores are shared, so the
best run is the one least disturbed.

- `inferplan --help` ≤ 0.25 s: no command module, numpy, pydantic or catalog loaded.
- `inferplan estimate` (the bundled default scenario) ≤ 0.4 s end to end.
- one in-process estimate (scenario already loaded, catalogs parsed) ≤ 1 ms: the median
  of 50 after one untimed call.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from inferplan.cli.loader import load_scenario
from inferplan.serving import estimate

REPEATS = 5


def command() -> list[str]:
    """The installed `inferplan` script beside this interpreter, else `python -m inferplan`."""
    script = Path(sys.executable).with_name("inferplan")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "inferplan"]


def best_start_up_s(args: list[str], repeats: int = REPEATS) -> float:
    """Best wall time of `repeats` runs of the command after one untimed run."""
    argv = command() + args
    subprocess.run(argv, check=True, capture_output=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def bench_help_start_up() -> tuple[str, float, float]:
    return "start-up: inferplan --help, best of 5", best_start_up_s(["--help"]), 0.25


def bench_estimate_start_up() -> tuple[str, float, float]:
    return ("start-up: inferplan estimate (default), best of 5",
            best_start_up_s(["estimate"]), 0.4)


def bench_estimate_in_process(repeats: int = 50) -> tuple[str, float, float]:
    deployment, workload = load_scenario(None)
    estimate(deployment, workload)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        estimate(deployment, workload)
        times.append(time.perf_counter() - start)
    return "one in-process estimate (default), median", statistics.median(times), 0.001


def main() -> None:
    for name, seconds, target in (bench_help_start_up(), bench_estimate_start_up(),
                                  bench_estimate_in_process()):
        print(f"{name:55} {seconds:9.4f} {target:8.3f}  {'yes' if seconds <= target else 'NO'}")


if __name__ == "__main__":
    main()

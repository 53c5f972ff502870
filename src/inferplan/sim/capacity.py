"""The highest request rate one replica serves within latency limits, MLPerf-Server style:
Poisson arrivals at a rate, and the run passes when its p90 TTFT and p90 TPOT are within
the limits. Bisection on the rate between a passing and a failing rate."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from inferplan.deployment import Deployment, Workload
from inferplan.serving import admitted_sequences, closed_loop
from inferplan.sim.loop import simulate_replica
from inferplan.sim.metrics import SimSummary, summarise_run
from inferplan.sim.requests import (
    OPEN_LOOP_REQUESTS,
    Requests,
    arrival_times,
    file_rows,
)
from inferplan.units import InferplanError


@dataclass(frozen=True)
class CapacityResult:
    """The highest passing rate found, its run, and the failing rate above it."""

    rate: float                       # requests/s that pass (0: none found)
    failing_rate: float
    summary: SimSummary | None        # the run at `rate`
    ttft_p90_limit_s: float
    tpot_p90_limit_s: float
    runs: int

    def to_dict(self, chips: int) -> dict[str, object]:
        return {"requests_per_s": self.rate, "failing_requests_per_s": self.failing_rate,
                "ttft_p90_limit_s": self.ttft_p90_limit_s,
                "tpot_p90_limit_s": self.tpot_p90_limit_s, "simulations": self.runs,
                "at_capacity": None if self.summary is None else self.summary.to_dict(chips)}


def passes(summary: SimSummary, ttft_limit_s: float, tpot_limit_s: float) -> bool:
    """p90 TTFT and p90 TPOT both within their limits."""
    return summary.ttft_s.p90 <= ttft_limit_s and summary.tpot_s.p90 <= tpot_limit_s


def file_arrivals(rows: Requests, rate: float, count: int, seed: int) -> Requests:
    """`count` requests with a lengths file's rows (in the file's order, wrapping around)
    sent at `rate` per second, Poisson (`requests.arrival_times`, seeded): how a capacity
    search replays a lengths file. A file of 3 rows, 5 requests: rows 0, 1, 2, 0, 1."""
    return replace(file_rows(rows, count), arrival_s=arrival_times(
        rate, count, "poisson", 1.0, np.random.default_rng(seed)))


def capacity(deployment: Deployment, workload: Workload, ttft_limit_s: float,
             tpot_limit_s: float, seed: int = 0, tolerance: float = 0.02,
             lengths: Requests | None = None) -> CapacityResult:
    """Bisection on Poisson rates: start from the saturated closed loop's request rate
    (the most the replica can complete; doubled while it still passes), halve the
    bracket until it is within `tolerance` (relative). Each rate runs the workload's
    `requests` (default 1000) with the same seed; their lengths as the workload draws
    them, or a lengths file's rows (`lengths`: the workload's `trace`, `file_arrivals`),
    the means of the rows a run sends then pricing the starting closed loop."""
    for name, value in (("--ttft-p90", ttft_limit_s), ("--tpot-p90", tpot_limit_s)):
        if not value > 0:
            raise InferplanError(name, value, "a positive number of seconds")
    base = replace(workload, batch=None, concurrency=None, arrival="poisson")
    count = int(workload.requests or OPEN_LOOP_REQUESTS)
    if lengths is not None:      # the rows each run sends: the file's first `count`, wrapping
        sent_rows = file_rows(lengths, count)
        base = replace(base, file_mean_lengths=(float(sent_rows.input_tokens.mean()),
                                                float(sent_rows.output_tokens.mean())))
    full = admitted_sequences(deployment, base)
    loop = closed_loop(deployment, replace(base, concurrency=full), full)
    high = full / float(loop.e2e_latency_s)
    runs = 0

    def run(rate: float) -> SimSummary:
        nonlocal runs
        runs += 1
        sent = None if lengths is None else file_arrivals(lengths, rate, count, seed)
        return summarise_run(simulate_replica(deployment, replace(base, rate=rate), None, seed,
                                              requests=sent))

    good_rate, good = 0.0, None
    at_high = run(high)
    for _ in range(6):
        if not passes(at_high, ttft_limit_s, tpot_limit_s):
            break
        good_rate, good, high = high, at_high, 2 * high
        at_high = run(high)
    low = good_rate
    while high - low > tolerance * high:
        mid = (low + high) / 2
        at_mid = run(mid)
        if passes(at_mid, ttft_limit_s, tpot_limit_s):
            low, good = mid, at_mid
        else:
            high = mid
    return CapacityResult(rate=low, failing_rate=high, summary=good,
                          ttft_p90_limit_s=ttft_limit_s, tpot_p90_limit_s=tpot_limit_s,
                          runs=runs)

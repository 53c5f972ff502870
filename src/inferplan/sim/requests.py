"""The requests a closed-loop benchmark client sends: N of them, lengths fixed or uniform
in [ratio·L, L] (InferenceX's vLLM client with --random-range-ratio), seeded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Workload

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Requests:
    """Prompt and output tokens of each request, in the order the client sends them, and
    for an open loop the time each is sent (None: a closed loop sends on completions)."""

    input_tokens: IntArray
    output_tokens: IntArray
    arrival_s: npt.NDArray[np.float64] | None = None

    @property
    def count(self) -> int:
        return int(self.input_tokens.size)


def uniform_lengths(length: int, ratio: float, count: int,
                    rng: np.random.Generator) -> IntArray:
    """`count` integers uniform in [⌈ratio·L⌉, L]; all L when ratio is 1.

    L = 1024, ratio 0.8: in [820, 1024], mean ≈ 922.
    """
    low = max(1, int(np.ceil(ratio * length)))
    if low >= length:
        return np.full(count, length, dtype=np.int64)
    return rng.integers(low, length + 1, size=count, dtype=np.int64)


def closed_loop_requests(workload: Workload, concurrency: int, seed: int = 0) -> Requests:
    """N = `workload.requests` (default 10·C, InferenceX's --num-prompts) requests with
    lengths from `workload.length_ratio`; the same seed gives the same requests."""
    count = int(workload.requests or 10 * concurrency)
    count = max(count, concurrency)
    rng = np.random.default_rng(seed)
    return Requests(
        input_tokens=uniform_lengths(workload.input_len, workload.length_ratio, count, rng),
        output_tokens=uniform_lengths(workload.output_len, workload.length_ratio, count, rng))


#: requests an open-loop run sends when the workload does not say: vLLM's
#: benchmark_serving.py default --num-prompts
OPEN_LOOP_REQUESTS = 1000


def arrival_times(rate: float, count: int, process: str, burstiness: float,
                  rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Send times of `count` requests at `rate` per second: gaps exponential (Poisson) or
    gamma with shape `burstiness` and mean 1/rate (vLLM's --burstiness: below 1 burstier);
    the first request at its first gap. Rate 2/s: mean gap 0.5 s."""
    shape = 1.0 if process == "poisson" else burstiness
    gaps = rng.gamma(shape, 1.0 / (rate * shape), size=count)
    return np.asarray(np.cumsum(gaps), dtype=np.float64)


def open_loop_requests(workload: Workload, seed: int = 0) -> Requests:
    """N = `workload.requests` (default 1000) requests at `workload.rate` per second, or all
    at t = 0 with `arrival: offline` (MLPerf Offline)."""
    count = int(workload.requests or OPEN_LOOP_REQUESTS)
    rng = np.random.default_rng(seed)
    inputs = uniform_lengths(workload.input_len, workload.length_ratio, count, rng)
    outputs = uniform_lengths(workload.output_len, workload.length_ratio, count, rng)
    if workload.arrival == "offline":
        return Requests(inputs, outputs, np.zeros(count, dtype=np.float64))
    if workload.rate is None:
        raise ValueError("an open loop needs workload.rate")
    return Requests(inputs, outputs, arrival_times(workload.rate, count, workload.arrival,
                                                   workload.burstiness, rng))

"""The requests a benchmark client sends: N of them, lengths fixed, uniform in [ratio·L, L]
(InferenceX's vLLM client with --random-range-ratio) or from a named distribution
(`inferplan.lengths`), seeded; or a lengths file's rows in order."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Workload
from inferplan.lengths import IntArray, draw_requests, uniform_lengths

__all__ = ["OPEN_LOOP_REQUESTS", "IntArray", "Requests", "arrival_times",
           "closed_loop_requests", "file_requests", "file_rows", "open_loop_requests",
           "uniform_lengths", "with_file_lengths", "workload_lengths"]


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


def workload_lengths(workload: Workload, count: int, rng: np.random.Generator
                     ) -> tuple[IntArray, IntArray]:
    """`count` (prompt, output) lengths as the workload says (`lengths.draw_requests`):
    prompts first, then outputs, from one seeded stream; uniform lengths exactly as
    before named distributions (two `uniform_lengths` draws)."""
    return draw_requests(workload.length_distribution, workload.input_len,
                         workload.output_len, workload.length_ratio, workload.length_cv,
                         workload.max_context_tokens, count, rng)


def closed_loop_requests(workload: Workload, concurrency: int, seed: int = 0) -> Requests:
    """N = `workload.requests` (default 10·C, InferenceX's --num-prompts) requests with
    lengths as the workload draws them (`workload_lengths`); the same seed gives the same
    requests."""
    count = int(workload.requests or 10 * concurrency)
    count = max(count, concurrency)
    inputs, outputs = workload_lengths(workload, count, np.random.default_rng(seed))
    return Requests(input_tokens=inputs, output_tokens=outputs)


def file_requests(rows: Requests, workload: Workload, concurrency: int,
                  replica: int = 0) -> Requests:
    """A closed loop's requests from a lengths file's rows (`trace` with `concurrency`):
    N = `workload.requests`, by default the file's rows, at least C; taken in the file's
    order from row replica·N, wrapping around (replica r of a fleet starts where the
    r − 1 before it stopped; a file of 100 rows, N = 40: replica 0 sends rows 0–39,
    replica 1 rows 40–79, replica 2 rows 80–99 then 0–19). No send times: each
    completion sends the next."""
    count = max(int(workload.requests or rows.count), concurrency)
    return file_rows(rows, count, replica * count)


def file_rows(rows: Requests, count: int, start: int = 0) -> Requests:
    """`count` of a lengths file's rows in the file's order from row `start`, wrapping
    around, without send times. 3 rows, 5 from row 1: rows 1, 2, 0, 1, 2."""
    index = (start + np.arange(count)) % rows.count
    return Requests(input_tokens=rows.input_tokens[index],
                    output_tokens=rows.output_tokens[index])


def with_file_lengths(workload: Workload, rows: Requests, concurrency: int) -> Workload:
    """The workload with a lengths file's mean prompt and output tokens, as its closed loop
    sends them (`file_requests`, the first replica's), for the closed form to read
    (`Workload.mean_input_len`). Rows of 100 and 300 prompt tokens: 200."""
    sent = file_requests(rows, workload, concurrency)
    return replace(workload, file_mean_lengths=(float(sent.input_tokens.mean()),
                                                float(sent.output_tokens.mean())))


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
    inputs, outputs = workload_lengths(workload, count, rng)
    if workload.arrival == "offline":
        return Requests(inputs, outputs, np.zeros(count, dtype=np.float64))
    if workload.rate is None:
        raise ValueError("an open loop needs workload.rate")
    return Requests(inputs, outputs, arrival_times(workload.rate, count, workload.arrival,
                                                   workload.burstiness, rng))

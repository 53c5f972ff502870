"""Evaluate one group (a deployment and its batch or concurrency values) in one pass.

Strategies share one signature, `Evaluator(deployment, workload, values, slo)`, one per
serving mode: `static` (batch: B), `concurrency` (closed loop, in-flight batching) and
`max` (the largest batch memory allows, in flight). Speculative-decoding groups go to
`evaluate_speculative.evaluate_speculative`; disaggregated pools are
`disagg_search`'s.

Rows that do not fit are not timed (their drop reason is settled).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, Workload
from inferplan.memory import max_batch, memory_breakdown
from inferplan.search.space import SLO
from inferplan.search.vectorised import (
    Latencies,
    in_flight_latencies,
    static_batch_latencies,
    static_batch_latencies_many,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class GroupMetrics:
    """Per value: sequences per replica, fit, latencies and throughput (NaN: not timed)."""

    batch: IntArray
    fits: BoolArray
    ttft_s: FloatArray
    tpot_s: FloatArray
    e2e_latency_s: FloatArray
    gamma: IntArray | None = None      # draft tokens per cycle (speculative groups)

    def requests_per_s(self, replicas: int) -> FloatArray:
        """Requests per second of the deployment (`requests_per_s`)."""
        return requests_per_s(replicas, self.batch, self.e2e_latency_s)


def requests_per_s(replicas: npt.ArrayLike, batch: npt.ArrayLike,
                   e2e_latency_s: npt.ArrayLike) -> FloatArray:
    """Every replica completes `batch` requests per end-to-end latency: dp·B/e2e (NaN
    where the latency is).

    dp = 1, B = 32, e2e = 9.0 s: 3.56 requests/s."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.asarray(replicas) * np.asarray(batch)
                          / np.asarray(e2e_latency_s), dtype=np.float64)


Evaluator = Callable[[Deployment, Workload, IntArray, SLO], GroupMetrics]


def _nan(n: int) -> FloatArray:
    return np.full(n, np.nan, dtype=np.float64)


def _evaluate_fitting(deployment: Deployment, workload: Workload, values: IntArray,
                      latencies: Callable[[Deployment, Workload, IntArray], Latencies],
                      ) -> GroupMetrics:
    """Latencies of the values (batch or concurrency) whose memory fits; NaN elsewhere."""
    V = np.asarray(values, dtype=np.int64)
    fits = np.asarray(memory_breakdown(deployment, workload, V).fits, dtype=bool)
    ttft, tpot, e2e = _nan(V.size), _nan(V.size), _nan(V.size)
    rows = np.nonzero(fits)[0]
    if rows.size:
        lat = latencies(deployment, workload, V[rows])
        ttft[rows], tpot[rows], e2e[rows] = lat.ttft_s, lat.tpot_s, lat.e2e_latency_s
    return GroupMetrics(V, fits, ttft, tpot, e2e)


def evaluate_static(deployment: Deployment, workload: Workload, batches: IntArray,
                    slo: SLO) -> GroupMetrics:
    """Static batching over the batch values (`serving.static_batch`)."""
    return _evaluate_fitting(deployment, workload, batches, static_batch_latencies)


def evaluate_static_groups(deployment: Deployment,
                           shapes: Sequence[tuple[Workload, IntArray]]) -> list[GroupMetrics]:
    """`evaluate_static` of several groups of one deployment (workload shapes with their
    batch values), the fitting rows of all of them timed in one pass
    (`static_batch_latencies_many`): the same metrics, one step-cost call per deployment
    instead of one per group. Two prompt lengths × 16 batches on one deployment: one call
    of 2 × (16 + 16 × (output_len − 1)) cells."""
    fitting: list[tuple[Workload, IntArray]] = []
    out: list[GroupMetrics] = []
    for workload, values in shapes:
        V = np.asarray(values, dtype=np.int64)
        fits = np.asarray(memory_breakdown(deployment, workload, V).fits, dtype=bool)
        out.append(GroupMetrics(V, fits, _nan(V.size), _nan(V.size), _nan(V.size)))
        if fits.any():
            fitting.append((workload, V[fits]))
    latencies = iter(static_batch_latencies_many(deployment, fitting) if fitting else [])
    for m in out:
        if m.fits.any():
            lat = next(latencies)
            m.ttft_s[m.fits], m.tpot_s[m.fits] = lat.ttft_s, lat.tpot_s
            m.e2e_latency_s[m.fits] = lat.e2e_latency_s
    return out


def evaluate_concurrency(deployment: Deployment, workload: Workload, values: IntArray,
                         slo: SLO) -> GroupMetrics:
    """A closed loop of C requests per replica for each C (`serving.in_flight`)."""
    return _evaluate_fitting(deployment, workload, values, in_flight_latencies)


def evaluate_max(deployment: Deployment, workload: Workload, values: IntArray,
                 slo: SLO) -> GroupMetrics:
    """`batch: max`: the largest batch that fits, served in flight; 0 fits → dropped."""
    largest = max_batch(deployment, workload)
    metrics = evaluate_concurrency(deployment, workload,
                                   np.asarray([max(largest, 1)], dtype=np.int64), slo)
    return GroupMetrics(metrics.batch, np.asarray([largest >= 1]), metrics.ttft_s,
                        metrics.tpot_s, metrics.e2e_latency_s)


EVALUATORS: dict[str, Evaluator] = {
    "static": evaluate_static,
    "concurrency": evaluate_concurrency,
    "max": evaluate_max,
}

"""What a benchmark client reports from a run: TTFT, TPOT and end-to-end latency as mean
and percentiles over requests, inter-token latency over tokens, and throughput."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.sim.loop import SimResult


@dataclass(frozen=True)
class Distribution:
    """Mean and percentiles of one per-request figure (seconds)."""

    mean: float
    p50: float
    p90: float
    p99: float

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "p50": self.p50, "p90": self.p90, "p99": self.p99}


def weighted_distribution(values: npt.ArrayLike, weights: npt.ArrayLike) -> Distribution:
    """Mean and percentiles of values each counted `weights` times (the lowest value whose
    cumulative weight reaches the quantile). [1, 2] weighted [3, 1]: mean 1.25, p50 1,
    p90 2."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if v.size == 0 or w.sum() <= 0:
        return Distribution(0.0, 0.0, 0.0, 0.0)
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cumulative = np.cumsum(w) / w.sum()

    def q(p: float) -> float:
        return float(v[min(int(np.searchsorted(cumulative, p - 1e-12)), v.size - 1)])
    return Distribution(float(np.average(v, weights=w)), q(0.5), q(0.9), q(0.99))


def distribution(values: npt.ArrayLike) -> Distribution:
    """Mean and the 50th/90th/99th percentiles (linear interpolation, numpy's default).

    [1, 2, 3, 4]: mean 2.5, p50 2.5, p90 3.7, p99 3.97.
    """
    v = np.asarray(values, dtype=np.float64)
    p50, p90, p99 = np.percentile(v, [50, 90, 99])
    return Distribution(float(np.mean(v)), float(p50), float(p90), float(p99))


@dataclass(frozen=True)
class SimSummary:
    """A run as a benchmark client prints it."""

    requests: int
    ttft_s: Distribution
    tpot_s: Distribution
    itl_s: Distribution
    e2e_s: Distribution
    duration_s: float
    output_tokens_per_s: float
    requests_per_s: float
    steps: int
    max_running: int
    preemptions: int
    running_mean: float               # sequences per replica, time-weighted over busy time
    kv_occupancy_mean: float          # KV held / room, time-weighted over busy time
    kv_occupancy_max: float

    def to_dict(self, chips: int) -> dict[str, object]:
        return {
            "requests": self.requests, "ttft_s": self.ttft_s.to_dict(),
            "tpot_s": self.tpot_s.to_dict(), "itl_s": self.itl_s.to_dict(),
            "e2e_s": self.e2e_s.to_dict(), "duration_s": self.duration_s,
            "throughput": {"output_tokens_per_s": self.output_tokens_per_s,
                           "output_tokens_per_s_per_chip": self.output_tokens_per_s / chips,
                           "requests_per_s": self.requests_per_s},
            "steps": self.steps, "max_running": self.max_running,
            "preemptions": self.preemptions,
            "occupancy": {"running_mean": self.running_mean,
                          "kv_mean": self.kv_occupancy_mean, "kv_max": self.kv_occupancy_max}}


def summarise_run(run: SimResult) -> SimSummary:
    """Per-request figures over every request (TPOT over those with more than one output
    token), inter-token latencies over every decoded token; throughput over the run's
    span."""
    n = run.requests.output_tokens
    duration = float(np.max(run.finished_s))
    multi = n > 1
    return SimSummary(
        requests=run.requests.count, ttft_s=distribution(run.ttft_s),
        tpot_s=distribution(run.tpot_s[multi] if multi.any() else [0.0]),
        itl_s=weighted_distribution(run.itl_s, run.itl_tokens),
        e2e_s=distribution(run.e2e_s), duration_s=duration,
        output_tokens_per_s=float(n.sum()) / duration if duration > 0 else 0.0,
        requests_per_s=run.requests.count / duration if duration > 0 else 0.0,
        steps=run.steps, max_running=run.max_running, preemptions=run.preemptions,
        **occupancy(run))


def occupancy(run: SimResult) -> dict[str, float]:
    """Running sequences and the KV cache's fill, time-weighted over the iterations (each
    weighs its duration). Iterations of 1 s at 2 running and 3 s at 4: mean 3.5."""
    log = run.log
    if log.size == 0:
        return {"running_mean": 0.0, "kv_occupancy_mean": 0.0, "kv_occupancy_max": 0.0}
    duration = log[:, 2]
    room = max(run.kv_capacity_tokens, 1)
    kv = log[:, 7] / room
    return {"running_mean": float(np.average(log[:, 4], weights=duration)),
            "kv_occupancy_mean": float(np.average(kv, weights=duration)),
            "kv_occupancy_max": float(kv.max())}

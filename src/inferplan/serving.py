"""Serving metrics from step costs: TTFT, TPOT, end-to-end latency, tokens/s, MFU, $/Mtok.

Conventions (seed 002, D6): the prefill step emits the first output token, so a
request of `output_len` tokens runs one prefill and output_len − 1 decode steps.
TTFT = time to the first token; TPOT = (e2e − TTFT)/(output_len − 1), as benchmark
clients (vLLM `benchmark_serving`, genai-perf) report it.

Modes, per model replica:
- static `batch: B`: all B prompts prefill in one step, then B sequences decode to the
  last token, the context growing each step (TensorRT-LLM gptSessionBenchmark).
- `concurrency: C`: a closed loop at steady state with in-flight batching and chunked
  prefill (vLLM, SGLang, TensorRT-LLM): each step runs the decoding sequences plus up to
  a token budget of prompt tokens; a finished request is replaced at once.
- `batch: max`: the largest batch memory allows, served in flight (throughput mode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from inferplan.cost import Segment, StepCost, mixed_step_cost, step_cost
from inferplan.deployment import Deployment, Workload, engine_defaults
from inferplan.memory import MemoryResult, memory_result
from inferplan.units import S_PER_HOUR

Mode = Literal["static", "concurrency", "max"]


@dataclass(frozen=True)
class PhaseSummary:
    """A phase's step time, the term it is bound by, MFU and the exposed-time split."""

    latency_s: float
    bound: str
    mfu: float
    breakdown_s: dict[str, float]
    layout: str = "none"             # tensor-parallel partitioning that ran (most steps)


def summarise(cost: StepCost, weights: np.ndarray | None = None) -> PhaseSummary:
    """Collapse a step cost over an array of steps to its (weighted) mean."""
    def mean(x: np.ndarray) -> float:
        return float(np.average(np.ravel(x), weights=None if weights is None
                                else np.ravel(np.broadcast_to(weights, np.shape(x)))))
    breakdown = {k: mean(v) for k, v in cost.breakdown_s().items()}
    return PhaseSummary(latency_s=mean(cost.latency_s), bound=most_common(cost.bound),
                        mfu=mean(cost.mfu), breakdown_s=breakdown,
                        layout="none" if cost.layout is None else most_common(cost.layout))


def most_common(values: np.ndarray) -> str:
    """The most frequent entry of a string array (ties: the first in sorted order)."""
    names, counts = np.unique(np.ravel(values), return_counts=True)
    return str(names[np.argmax(counts)])


@dataclass(frozen=True)
class Estimate:
    """Everything `inferplan estimate` reports for one scenario."""

    deployment: Deployment
    workload: Workload
    mode: Mode
    batch: int                       # sequences in flight per replica
    memory: MemoryResult
    prefill: PhaseSummary
    decode: PhaseSummary
    ttft_s: float
    tpot_s: float
    e2e_latency_s: float
    output_tokens_per_s: float       # whole deployment
    requests_per_s: float

    @property
    def fits(self) -> bool:
        return self.memory.fits

    @property
    def output_tokens_per_s_per_chip(self) -> float:
        return self.output_tokens_per_s / self.deployment.chips

    @property
    def usd_per_million_output_tokens(self) -> float | None:
        """Price · chips / (tokens/s) · 1e6 / 3600. v5e $1.2/h, 8 chips, 1851 tok/s: $1.44."""
        price = self.deployment.price
        if price is None or self.output_tokens_per_s <= 0:
            return None
        return price * self.deployment.chips / self.output_tokens_per_s * 1e6 / S_PER_HOUR


def static_batch(deployment: Deployment, workload: Workload, batch: int) -> tuple[
        PhaseSummary, PhaseSummary, float, float, float]:
    """Static batching: one prefill of B·S tokens, then output_len − 1 decode steps at
    contexts S, S+1, ..., S+output_len−2 cached tokens (vectorised over the steps).

    Returns (prefill, decode, TTFT, TPOT, e2e). Seed 001 A22/A23: a full-HBM decode
    step of 19.5 ms over 512 tokens is 10 s.
    """
    S, n = workload.input_len, workload.output_len
    prefill = step_cost(deployment, "prefill", batch, S, 0)
    ttft = float(prefill.latency_s)
    if n > 1:
        contexts = S + np.arange(n - 1, dtype=np.float64)
        decode = step_cost(deployment, "decode", batch, 1, contexts)
        tpot = float(np.mean(decode.latency_s))
        decode_summary = summarise(decode)
    else:
        tpot = 0.0
        decode_summary = summarise(step_cost(deployment, "decode", batch, 1, S))
    return summarise(prefill), decode_summary, ttft, tpot, ttft + (n - 1) * tpot


def in_flight(deployment: Deployment, workload: Workload, concurrency: int) -> tuple[
        PhaseSummary, PhaseSummary, float, float, float]:
    """Closed loop of C requests with in-flight batching and chunked prefill.

    At steady state a request spends n_p steps in prefill (its S prompt tokens taken
    at most `budget` − decodes per step) and output_len − 1 steps decoding, so each step
    carries C·S/N prompt tokens and C·(output_len − 1)/N decoding sequences at mean
    context S + output_len/2, with N = n_p + output_len − 1. A new request waits half a
    step on average, then its prefill takes n_p steps: TTFT = (n_p + ½)·τ; TPOT = τ.
    """
    S, n = workload.input_len, workload.output_len
    budget = float(workload.prefill_chunk_tokens
                   or int(engine_defaults()["prefill_chunk_tokens"]))
    C = float(concurrency)
    n_p = 1.0
    for _ in range(20):                      # fixed point: prefill steps per request
        N = n_p + n - 1
        decoding = C * (n - 1) / N
        room = max(budget - decoding, 1.0)
        nxt = float(max(1, math.ceil(S / room)))
        if nxt == n_p:
            break
        n_p = nxt
    N = n_p + n - 1
    decoding, prompt_tokens = C * (n - 1) / N, C * S / N
    mean_context = S + n / 2.0
    segments = [Segment("decode", decoding, 1, mean_context)]
    if prompt_tokens > 0:
        # a prompt's chunks attend on average to half the prompt already cached
        chunk = min(float(S), budget)
        segments.append(Segment("chunk", prompt_tokens / chunk, chunk, max(0.0, S - chunk) / 2))
    step = mixed_step_cost(deployment, segments)
    tau = float(step.latency_s)
    prefill_only = step_cost(deployment, "prefill", 1, S, 0)
    ttft = (n_p + 0.5) * tau
    return summarise(prefill_only), summarise(step), ttft, tau, ttft + (n - 1) * tau


def estimate(deployment: Deployment, workload: Workload) -> Estimate:
    """Memory, step costs and serving metrics for one scenario."""
    mem = memory_result(deployment, workload, find_smallest=False)
    if workload.batch == "max":
        mode: Mode = "max"
        batch = max(mem.max_batch, 1)
        prefill, decode, ttft, tpot, e2e = in_flight(deployment, workload, batch)
    elif workload.concurrency is not None:
        mode, batch = "concurrency", workload.concurrency
        prefill, decode, ttft, tpot, e2e = in_flight(deployment, workload, batch)
    else:
        mode, batch = "static", int(workload.batch or 1)
        prefill, decode, ttft, tpot, e2e = static_batch(deployment, workload, batch)
    # every replica completes `batch` requests per end-to-end latency
    requests_per_s = deployment.layout.dp * batch / e2e if e2e > 0 else 0.0
    return Estimate(
        deployment=deployment, workload=workload, mode=mode, batch=batch, memory=mem,
        prefill=prefill, decode=decode, ttft_s=ttft, tpot_s=tpot, e2e_latency_s=e2e,
        output_tokens_per_s=requests_per_s * workload.output_len,
        requests_per_s=requests_per_s)


def phase_dict(p: PhaseSummary, step_key: str) -> dict[str, object]:
    return {step_key: p.latency_s, "bound": p.bound, "mfu": p.mfu,
            "breakdown_s": dict(p.breakdown_s), "layout": p.layout}


def explain(est: Estimate) -> str:
    """One line on why decode takes the time it does."""
    d = est.decode
    total = sum(d.breakdown_s.values()) or 1.0
    if d.bound == "communication" and d.breakdown_s["communication"] < 0.5 * total:
        return ("decode is communication-bound: its collectives outlast the compute and "
                "memory traffic they overlap")
    share = d.breakdown_s[d.bound] / total
    kind = {"compute": "compute-bound", "weights": "HBM-bound (weights)",
            "kv": "HBM-bound (KV cache)", "communication": "communication-bound",
            "overhead": "overhead-bound"}[d.bound]
    return f"decode is {kind}: {d.bound} {share:.0%} of the step"


def estimate_dict(est: Estimate) -> dict[str, object]:
    """The JSON contract of `inferplan estimate --json`."""
    mem = est.memory.to_dict()
    usd = est.usd_per_million_output_tokens
    return {
        "model": mem["model"], "hardware": mem["hardware"], "chips": mem["chips"],
        "topology": mem["topology"], "parallelism": mem["parallelism"],
        "dtypes": mem["dtypes"], "efficiency": mem["efficiency"],
        "mode": est.mode, "fits": est.fits, "batch": est.batch,
        "max_batch": est.memory.max_batch, "memory": mem["memory"],
        "ttft_s": est.ttft_s, "tpot_s": est.tpot_s, "e2e_latency_s": est.e2e_latency_s,
        "prefill": phase_dict(est.prefill, "latency_s"),
        "decode": phase_dict(est.decode, "step_latency_s"),
        "throughput": {
            "output_tokens_per_s": est.output_tokens_per_s,
            "output_tokens_per_s_per_chip": est.output_tokens_per_s_per_chip,
            "requests_per_s": est.requests_per_s},
        "cost": {"usd_per_million_output_tokens": usd,
                 "usd_per_chip_hour": est.deployment.price},
        "explanation": explain(est),
    }

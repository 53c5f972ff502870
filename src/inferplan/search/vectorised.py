"""`serving.static_batch` over a whole batch axis in one numpy pass, `serving.closed_loop`
for in-flight points, and the decode-step split of chosen points.

Same conventions as `serving`: the prefill step emits the first token, a request runs
output_len − 1 decode steps, TPOT = (e2e − TTFT)/(output_len − 1). The tests check these
against `serving.estimate` point by point (relative 1e-9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, Workload
from inferplan.engines import EngineProfile
from inferplan.lengths import prompt_work
from inferplan.search.decode_mean import (
    DIRECT_CELLS,
    DecodeCells,
    decode_cells,
    decode_contexts,
    mean_decode_step_s,
)
from inferplan.serving import closed_loop
from inferplan.steptime import step_cost

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Latencies:
    """Per-request latencies of each batch value (seconds)."""

    ttft_s: FloatArray
    tpot_s: FloatArray
    e2e_latency_s: FloatArray


def static_prefill_s(deployment: Deployment, workload: Workload,
                     batches: npt.ArrayLike) -> FloatArray:
    """TTFT of static batching: one prefill step of B·S tokens, per batch value.

    LLaMA 3-70B bf16 on 16 book v5e chips, ideal, B = 1, S = 8192: 0.48 s, of which
    0.39 s FLOPs at peak (A31's 0.98 s at 40% MFU) and 0.09 s exposed ICI time.
    """
    B = np.asarray(batches, dtype=np.float64)
    computed, cached = prompt_work(workload.input_len, workload.prefix_hit_rate)
    return np.asarray(step_cost(deployment, "prefill", B, computed, cached).latency_s,
                      dtype=np.float64)


#: (model, chip, efficiency, engine, step-time model) → whether the phase label leaves a
#: prompt step's cost alone.
_INERT: dict[tuple[str, str, str, EngineProfile, object], bool] = {}


def phase_label_is_inert(deployment: Deployment) -> bool:
    """Whether `cost.step_cost` prices a prompt step the same labelled 'prefill' or
    'decode' (today only 'verify' changes the count of logits), so one call can hold a
    static batch's prefill and decode cells. Checked once per model, chip, efficiency
    mode, engine and step-time model on a 3 × 97-token step; if a phase-specific term
    ever appears, the search falls back to one call per phase.
    """
    key = (deployment.model.name, deployment.chip.name, deployment.efficiency,
           deployment.engine, deployment.step_time)
    if key not in _INERT:
        a = step_cost(deployment, "prefill", 3, 97, 0).breakdown_s()
        b = step_cost(deployment, "decode", 3, 97, 0).breakdown_s()
        _INERT[key] = all(np.array_equal(a[k], b[k]) for k in a)
    return _INERT[key]


def static_batch_latencies(deployment: Deployment, workload: Workload,
                           batches: npt.ArrayLike) -> Latencies:
    """Static batching over a batch array: TTFT = prefill(B, S·(1 − h), S·h) (h the prefix
    hit rate, `lengths.prompt_work`); TPOT = mean decode
    step over contexts S..S+n−2; e2e = TTFT + (n − 1)·TPOT (`serving.static_batch`).
    The prefill and the decode cells go through one `step_cost` call when the phase label
    does not change the cost (`phase_label_is_inert`).

    Seed 001 A22/A23: a 19.5 ms step over 512 tokens is 10 s of decoding.
    """
    B = np.asarray(batches, dtype=np.float64).ravel()
    S, n = workload.input_len, workload.output_len
    cells = decode_cells(S, n, B)
    if cells.batch.size and phase_label_is_inert(deployment):
        k = B.size
        computed, cached = prompt_work(S, workload.prefix_hit_rate)
        latency = np.asarray(step_cost(
            deployment, "decode", np.concatenate([B, cells.batch]),
            np.concatenate([np.full(k, float(computed)), np.ones(cells.batch.size)]),
            np.concatenate([np.full(k, float(cached)), cells.cached_tokens])).latency_s,
            dtype=np.float64)
        ttft, tpot = latency[:k], cells.mean_s(deployment, latency[k:])
    else:
        ttft = static_prefill_s(deployment, workload, B)
        tpot = mean_decode_step_s(deployment, S, n, B)
    return Latencies(ttft, tpot, np.asarray(ttft + (n - 1) * tpot, dtype=np.float64))


#: Most cells `static_batch_latencies_many` prices in one call (as many as a full decode
#: grid: `decode_mean.DIRECT_CELLS`), bounding the memory of the call's temporaries.
JOINT_CELLS = DIRECT_CELLS


def static_batch_latencies_many(deployment: Deployment,
                                shapes: Sequence[tuple[Workload, npt.ArrayLike]]
                                ) -> list[Latencies]:
    """`static_batch_latencies` of several workload shapes on one deployment, their cells
    priced together: one `step_cost` call for all the shapes' prefill and decode cells
    when the phase label is inert (else one 'prefill' and one 'decode' call), not one or
    two per shape. Each cell is priced as `static_batch_latencies` prices it (the cost
    is elementwise over cells), so each shape's latencies are the same numbers.

    LLaMA 3.1-8B on one H100, prompts of 1,024 and 4,096 tokens, 16 out, batches 1..16
    each: 2 × (16 prefill + 16 × 15 decode) = 512 cells in one call, not two calls.
    Shapes are taken together up to `JOINT_CELLS` cells a call (a shape with more is
    priced alone), so a call's temporaries stay as small as one shape's.
    """
    cells_of = [decode_cells(w.input_len, w.output_len, b) for w, b in shapes]
    out: list[Latencies] = []
    start, cells = 0, 0
    for j, c in enumerate(cells_of):
        size = c.batches.size + c.batch.size
        if j > start and cells + size > JOINT_CELLS:
            out += _latencies_together(deployment, shapes[start:j], cells_of[start:j])
            start, cells = j, 0
        cells += size
    if start < len(shapes):
        out += _latencies_together(deployment, shapes[start:], cells_of[start:])
    return out


def _latencies_together(deployment: Deployment,
                        shapes: Sequence[tuple[Workload, npt.ArrayLike]],
                        cells_of: Sequence[DecodeCells]) -> list[Latencies]:
    """`static_batch_latencies` of each shape (with its `decode_cells`), every cell in one
    'decode' call when the phase label is inert, else one 'prefill' and one 'decode'
    call: shapes of 3 and 5 batches, 2 decode steps each → one call of 3·3 + 5·3 = 24
    cells."""
    inert = phase_label_is_inert(deployment)
    # (shape, B, computed and cached prompt tokens) priced 'prefill'
    prefill: list[tuple[int, FloatArray, float, float]] = []
    decode: list[tuple[int, FloatArray, FloatArray, FloatArray]] = []   # (shape, B, q, kv)
    for j, (workload, _) in enumerate(shapes):
        cells = cells_of[j]
        B = cells.batches
        S, H = prompt_work(workload.input_len, workload.prefix_hit_rate)
        if cells.batch.size and inert:
            k = B.size
            decode.append((j, np.concatenate([B, cells.batch]),
                           np.concatenate([np.full(k, float(S)), np.ones(cells.batch.size)]),
                           np.concatenate([np.full(k, float(H)), cells.cached_tokens])))
        else:
            prefill.append((j, B, float(S), float(H)))
            if cells.batch.size:
                decode.append((j, cells.batch, np.ones(cells.batch.size), cells.cached_tokens))
    ttft: dict[int, FloatArray] = {}
    decode_s: dict[int, FloatArray] = {}
    if prefill:
        latency = _joint_latency(deployment, "prefill", [
            (B, np.full(B.size, S), np.full(B.size, H)) for _, B, S, H in prefill])
        for (j, _, _, _), lat in zip(prefill, latency, strict=True):
            ttft[j] = lat
    if decode:
        latency = _joint_latency(deployment, "decode", [(B, q, kv) for _, B, q, kv in decode])
        for (j, _, _, _), lat in zip(decode, latency, strict=True):
            if j in ttft:                        # priced apart: decode cells only
                decode_s[j] = lat
            else:
                k = cells_of[j].batches.size
                ttft[j], decode_s[j] = lat[:k], lat[k:]
    out = []
    for j, (workload, _) in enumerate(shapes):
        cells, n = cells_of[j], workload.output_len
        tpot = cells.mean_s(deployment, decode_s.get(j, cells.batch))
        out.append(Latencies(ttft[j], tpot,
                             np.asarray(ttft[j] + (n - 1) * tpot, dtype=np.float64)))
    return out


def _joint_latency(deployment: Deployment, phase: str,
                   parts: Sequence[tuple[FloatArray, FloatArray, FloatArray]]
                   ) -> list[FloatArray]:
    """One `step_cost` call over the concatenated (batch, new tokens, cached tokens) cells
    of several parts, its latencies split back per part: parts of 3 and 5 cells → one
    call of 8 cells → latencies of 3 and of 5."""
    batch = np.concatenate([b for b, _, _ in parts])
    latency = np.asarray(step_cost(deployment, phase, batch,
                                   np.concatenate([q for _, q, _ in parts]),
                                   np.concatenate([kv for _, _, kv in parts])).latency_s,
                         dtype=np.float64)
    ends = np.cumsum([b.size for b, _, _ in parts])
    return [latency[end - b.size:end] for (b, _, _), end in zip(parts, ends, strict=True)]


def in_flight_latencies(deployment: Deployment, workload: Workload,
                        concurrency: npt.ArrayLike) -> Latencies:
    """Closed loop of C requests for each C: `serving.closed_loop`, the one serving model."""
    loop = closed_loop(deployment, workload, concurrency)
    return Latencies(loop.ttft_s, loop.tpot_s, loop.e2e_latency_s)


def static_decode_split_s(deployment: Deployment, workload: Workload,
                          batches: npt.ArrayLike) -> dict[str, FloatArray]:
    """Mean exposed decode time per term (compute, weights, kv, communication, overhead)
    for each batch, every step evaluated (for the few points a frontier shows)."""
    B = np.asarray(batches, dtype=np.float64).ravel()
    contexts = decode_contexts(workload.input_len, workload.output_len)
    if contexts.size == 0:
        contexts = np.asarray([float(workload.input_len)])
    cost = step_cost(deployment, "decode", B[:, None], 1, contexts[None, :])
    return {k: np.asarray(np.mean(v, axis=1), dtype=np.float64)
            for k, v in cost.breakdown_s().items()}


def in_flight_decode_split_s(deployment: Deployment, workload: Workload,
                             concurrency: npt.ArrayLike) -> dict[str, FloatArray]:
    """The time between two tokens of a closed loop, per term, for each concurrency."""
    split = closed_loop(deployment, workload, concurrency).breakdown_s()
    shape = np.shape(np.asarray(concurrency))
    return {k: np.asarray(np.broadcast_to(v, shape), dtype=np.float64)
            for k, v in split.items()}


__all__ = ["Latencies", "in_flight_decode_split_s", "in_flight_latencies",
           "static_batch_latencies", "static_batch_latencies_many", "static_decode_split_s",
           "static_prefill_s"]

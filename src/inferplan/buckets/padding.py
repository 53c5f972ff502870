"""Expected padding and wasted compute of a bucket set under a length distribution.

Prefill: a prompt of S tokens runs on the cheapest covering path: one batch-1
prefill graph with attn >= S, or a chain of chunk/append graphs (kv of each = attn of
the previous) whose last graph has attn >= S. Padded tokens = last attn - S.
Batch > 1 prefill graphs are counted as graphs but not used here: under FLOPs,
batching does not change padding per request.

Decode: the engine runs batch size B (levels with weights). A step at context t
(keys attended, t = S+1 .. S+O) uses the bucket (b, L) with L >= t minimising
ceil(B/b)·cost(b, L); `per_sequence` charges each sequence its own context
(composable kernels, 2026.1+); `batch_max` charges the longest of B independent
contexts (one graph per step, <= 2025.3). Contexts with B·t above the memory cap
`max_batch_context` are not run at batch B and are left out of that level.

Waste = expected cost at the bucket shapes - expected cost of the same requests at
their own shapes, both from the same step-cost function: the reference ("useful")
runs a prompt of S tokens as one step (1, q=S, attn=S) and a decode step of B
sequences as one step of batch B at their own contexts, priced per sequence as
cost(B, 1, t)/B (exact when the cost is affine in t, as FLOPs and cost.step_cost's
decode are). The reference does not depend on the bucket set, so least waste = least
cost. Waste >= 0 when the cost grows with batch, q and attn and one step of b1 + b2
costs no more than two steps of b1 and b2 (true of FLOPs and of cost.step_cost, which
reads the weights once per step); it then also counts the extra steps of a chunk chain
and of a batch split over smaller buckets, not only padded slots.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from inferplan.buckets.costs import CostModel
from inferplan.buckets.graphs import Graph
from inferplan.buckets.lengths import LengthDistribution
from inferplan.buckets.padding_report import (
    DecodeLevelPadding,
    DecodeModel,
    DecodePadding,
    Grouping,
    PaddingReport,
    PrefillPadding,
)

__all__ = ["DecodeModel", "Grouping", "PaddingReport", "evaluate_padding"]

FloatArray = npt.NDArray[np.float64]


def prefill_paths(graphs: Sequence[Graph]) -> list[tuple[int, int]]:
    """The distinct (kv, attn) of batch-1 graphs with q > 1 (prefill, chunk, append)."""
    return sorted({(g.kv, g.attn) for g in graphs if g.batch == 1 and (g.q > 1 or g.kv == 0)})


def prefill_cost_by_length(paths: Sequence[tuple[int, int]], lengths: npt.ArrayLike,
                           cost: CostModel) -> tuple[FloatArray, FloatArray]:
    """(cost, padded attn) of the cheapest path covering each prompt length; inf if none.

    Seed 000's set, S = 20000: prefill (1, 8192) then chunk (8192, 16384) then
    (16384, 24576): padded attn 24576, 4576 padded tokens.
    """
    prompt = np.asarray(lengths, dtype=np.float64)
    reach: dict[int, float] = {0: 0.0}
    edge_cost: list[float] = []
    for kv, attn in sorted(paths):
        c = float(cost.fn("chunk" if kv else "prefill", 1, attn - kv, attn))
        edge_cost.append(c)
        if kv in reach:
            reach[attn] = min(reach.get(attn, np.inf), reach[kv] + c)
    # each path covers the prompts in (kv, attn]: a contiguous run of the sorted lengths,
    # so a path touches only its run (a chunk chain's runs are disjoint: linear work)
    order = np.argsort(prompt, kind="stable")
    ranked = prompt[order]
    best_sorted = np.full(prompt.shape, np.inf)
    top_sorted = np.zeros(prompt.shape)
    for (kv, attn), c in zip(sorted(paths), edge_cost, strict=True):
        if kv not in reach:
            continue
        total = reach[kv] + c
        lo, hi = np.searchsorted(ranked, [kv, attn], side="right")
        run = best_sorted[lo:hi]
        ok = total < run
        run[ok] = total
        top_sorted[lo:hi][ok] = attn
    best = np.empty_like(best_sorted)
    top = np.empty_like(top_sorted)
    best[order] = best_sorted
    top[order] = top_sorted
    return best, top


def evaluate_prefill(paths: Sequence[tuple[int, int]], dist: LengthDistribution,
                     cost: CostModel) -> PrefillPadding:
    """Expected padded tokens and wasted cost per request of prefilling the prompts."""
    h = dist.prompt_histogram()
    S = np.nonzero(h)[0]
    w = h[S]
    path_cost, top = prefill_cost_by_length(paths, S, cost)
    ok = np.isfinite(path_cost)
    useful = cost.fn("prefill", 1, S, S)
    covered = w[ok].sum()
    scale = 1.0 / covered if covered else 0.0
    return PrefillPadding(
        mean_prompt_tokens=float((w[ok] * S[ok]).sum() * scale),
        padded_tokens_per_request=float((w[ok] * (top[ok] - S[ok])).sum() * scale),
        wasted_cost_per_request=float((w[ok] * (path_cost[ok] - useful[ok])).sum() * scale),
        useful_cost_per_request=float((w[ok] * useful[ok]).sum() * scale),
        uncovered_share=float(w[~ok].sum()))


def _level_table(buckets: Sequence[tuple[int, int]], B: int, cost: CostModel
                 ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """For batch B: bucket lengths L ascending, least per-token cost for contexts <= L,
    and the padded key slots per token (ceil(B/b)·b·L/B) of that choice."""
    b = np.array([bk[0] for bk in buckets], dtype=np.float64)
    L = np.array([bk[1] for bk in buckets], dtype=np.float64)
    launches = np.ceil(B / b)
    per_token = launches * cost.fn("decode", b, 1, L) / B
    slots = launches * b / B
    order = np.argsort(L, kind="stable")
    L, per_token, slots = L[order], per_token[order], slots[order]
    # suffix minimum: the cheapest bucket among those with length >= L[i]
    best = per_token.copy()
    best_keys = slots * L
    best_slots = slots.copy()
    for i in range(L.size - 2, -1, -1):
        if best[i + 1] < best[i]:
            best[i], best_keys[i], best_slots[i] = best[i + 1], best_keys[i + 1], best_slots[i + 1]
    return L, best, np.stack([best_keys, best_slots])


def step_context_mass(h: FloatArray, B: int, grouping: Grouping) -> FloatArray:
    """Share of decode steps whose graph is chosen for context t.

    per_sequence: h[t]/Σh (each sequence at its own context). batch_max: the longest of
    B independent contexts, F(t)^B - F(t-1)^B with F the CDF of h. Contexts 1, 2 equally
    likely, B = 2: the longest is 2 with probability 1 - 0.5² = 0.75.
    """
    total = h.sum()
    if grouping == "batch_max":
        F = np.cumsum(h) / total
        return np.asarray(np.diff(np.concatenate([[0.0], F ** B])), dtype=np.float64)
    return np.asarray(h / total, dtype=np.float64)


def decode_reference_per_token(h: FloatArray, B: int, cost: CostModel) -> float:
    """Unpadded cost per generated token at batch B: Σ_t h[t]·cost(B, 1, t) / (B·Σ_t h[t]),
    one step of B sequences at their own contexts, shared over its B tokens.

    FLOPs of Llama-3.1-8B, all contexts 1024, B = 4: 4·decode_flops_per_token(1024)/4
    = 2·7,504,658,432 + 4·32·128·32·1024 = 1.555e10 FLOP/token.
    """
    t = np.nonzero(h)[0]
    if t.size == 0:
        return 0.0
    w = h[t] / h[t].sum()
    return float((w * cost.fn("decode", B, 1, t.astype(np.float64))).sum() / B)


def evaluate_decode_level(buckets: Sequence[tuple[int, int]], h: FloatArray, B: int,
                          weight: float, model: DecodeModel, cost: CostModel
                          ) -> DecodeLevelPadding:
    """Padding of decode at batch B for the context histogram h[t]."""
    t = np.arange(h.size, dtype=np.float64)
    cap = model.max_batch_context // B
    servable = np.where(t <= cap, h, 0.0)
    total = h.sum()
    over_cap = float(1.0 - servable.sum() / total) if total else 0.0
    if servable.sum() == 0:
        return DecodeLevelPadding(B, weight, 0.0, 0.0, 0.0, 0.0, 0.0, over_cap)
    L, per_token, extra = _level_table(buckets, B, cost)
    pick = np.searchsorted(L, t, side="left")
    covered = pick < L.size
    safe = np.minimum(pick, L.size - 1)
    c = np.where(covered, per_token[safe], np.inf)
    keys = extra[0][safe]
    slots = extra[1][safe]
    mass = step_context_mass(servable, B, model.grouping)
    cov_mass = mass[covered].sum()
    p = np.where(covered, mass, 0.0) / cov_mass if cov_mass else mass * 0
    hs = np.where(covered, servable, 0.0)
    hs = hs / hs.sum() if hs.sum() else hs
    useful = decode_reference_per_token(hs, B, cost)
    spent = float((p * np.where(covered, c, 0.0)).sum())
    return DecodeLevelPadding(
        batch=B, weight=weight,
        padded_keys_per_token=float((p * keys).sum() - (hs * t).sum()),
        padded_slots_per_token=float((p * slots).sum() - 1.0),
        wasted_cost_per_token=spent - useful, useful_cost_per_token=useful,
        uncovered_share=float(1.0 - cov_mass), over_memory_cap_share=over_cap)


def evaluate_decode(buckets: Sequence[tuple[int, int]], dist: LengthDistribution,
                    model: DecodeModel, cost: CostModel) -> DecodePadding:
    """Per-level decode padding, weighted by how often the engine runs each batch size."""
    h = dist.context_histogram()
    levels = tuple(evaluate_decode_level(buckets, h, B, w, model, cost)
                   for B, w in zip(model.levels, model.weights, strict=True))
    return DecodePadding(model.grouping, levels)


def evaluate_padding(graphs: Sequence[Graph], dist: LengthDistribution, model: DecodeModel,
                     cost: CostModel) -> PaddingReport:
    """Prefill and decode padding of the graphs a build compiles."""
    decode = sorted({(g.batch, g.attn) for g in graphs if g.kind == "decode"})
    return PaddingReport(
        distribution=dist.name, unit=cost.unit, mean_output_tokens=float(dist.output.mean()),
        prefill=evaluate_prefill(prefill_paths(graphs), dist, cost),
        decode=evaluate_decode(decode, dist, model, cost))

"""A better furiosa-llm bucket set for a length distribution, at a graph budget.

Decisions: the chunk size C (or none), batch-1 prefill lengths, and decode lengths
per decode batch size. Each part is an exact DP over candidate lengths (multiples
of `bucket_multiple`, see `dp.py`); a knapsack splits the graph budget between
prefill and the decode batch sizes. The suggestion covers the same prompts and
contexts as the given config, keeps every attention graph within the size known to
compile at this TP (unless the risk limit is off), obeys the version's rules (2026.2+:
append buckets instead of chunks, largest prefill/append attn = largest decode attn),
and is re-enumerated and re-evaluated with the same code as the input.

The objective is the expected wasted FLOPs (`objective="flops"`) or the expected wasted
step time from a performance model (`objective="time"`); both are reported when a
step-time model is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from inferplan.buckets.config import BucketConfig
from inferplan.buckets.costs import CostModel
from inferplan.buckets.dp import optimal_boundaries
from inferplan.buckets.furiosa_rules import (
    GraphPlan,
    chunk_boundaries,
    chunk_graph_count,
    enumerate_graphs,
)
from inferplan.buckets.lengths import LengthDistribution
from inferplan.buckets.padding import (
    DecodeModel,
    PaddingReport,
    decode_reference_per_token,
    evaluate_padding,
    prefill_cost_by_length,
    prefill_paths,
    step_context_mass,
)
from inferplan.buckets.rules import FuriosaRules, VersionRules
from inferplan.models import ModelSpec
from inferplan.units import InferplanError

FloatArray = npt.NDArray[np.float64]
#: keep: prefill/decode graph counts in the input's proportion; free (alias flops): the
#: objective trades them.
Split = Literal["keep", "free", "flops"]
Objective = Literal["flops", "time"]
OBJECTIVES: tuple[str, ...] = ("flops", "time")


@dataclass(frozen=True)
class Suggestion:
    """The suggested config, its graphs and padding, next to the input's."""

    config: BucketConfig
    plan: GraphPlan
    padding: PaddingReport
    baseline: PaddingReport
    chunk_size: int | None
    risk_limit: int | None
    max_graphs: int
    split: Split
    objective: Objective = "flops"
    time_padding: PaddingReport | None = None
    time_baseline: PaddingReport | None = None

    @property
    def waste_reduction(self) -> float:
        """1 - suggested / input wasted FLOPs per request (0.6 = 60 % less waste)."""
        return reduction(self.padding.wasted_cost_per_request,
                         self.baseline.wasted_cost_per_request)

    @property
    def time_waste_reduction(self) -> float | None:
        """1 - suggested / input wasted step time per request; None without a step time."""
        if self.time_padding is None or self.time_baseline is None:
            return None
        return reduction(self.time_padding.wasted_cost_per_request,
                         self.time_baseline.wasted_cost_per_request)

    @property
    def prefill_padding_reduction(self) -> float:
        return 1.0 - (self.padding.prefill.padded_tokens_per_request
                      / self.baseline.prefill.padded_tokens_per_request)


def reduction(new: float, old: float) -> float:
    """1 - new / old: the share of `old` that `new` removes (0 when old is 0).

    Seed 000 'chat', wasted FLOP per request 2.84e13 -> 5.07e12: 1 - 5.07/28.4 = 0.82.
    """
    return 1.0 - new / old if old else 0.0


@dataclass(frozen=True)
class _Part:
    """A cost curve: best[n] for n graphs, and the chosen lengths for each n."""

    best: FloatArray
    choices: tuple[tuple[int, ...], ...]


#: Most candidate lengths one dynamic programme runs over: its cost grows as the square of
#: the count (an m x m transition matrix per bucket added), so past this many multiples of
#: `bucket_multiple` the grid steps by a whole number of multiples instead. 1,024 keeps
#: every multiple of 128 up to 131,072 tokens; a 2^20-token context is searched on
#: multiples of 1,024 (a bucket there pads at most 0.1% more than on the fine grid).
MAX_CANDIDATES = 1024


def candidate_lengths(top: int, multiple: int, limit: int | None = None,
                      extra: tuple[int, ...] = ()) -> npt.NDArray[np.int64]:
    """Multiples of `multiple` up to `top`, plus `top` and `extra`; capped at `limit`.
    With more than `MAX_CANDIDATES` multiples, every s-th multiple, s = ⌈(top/multiple)
    / MAX_CANDIDATES⌉, so the dynamic programme stays bounded.

    top 1000, multiple 256 -> [256, 512, 768, 1000]; top 2^20, multiple 128 -> s = 8:
    1,024, 2,048, ..., 1,048,576 (1,024 lengths).
    """
    stride = multiple * max(1, math.ceil(top // multiple / MAX_CANDIDATES))
    values = set(range(stride, top + 1, stride)) | {top} | {e for e in extra if e <= top}
    if limit is not None:
        values = {v for v in values if v <= limit}
    return np.array(sorted(values), dtype=np.int64)


def _chunk_sizes(top: int, multiple: int) -> list[int]:
    """Chunk sizes tried: powers-of-two multiples and near-even splits of `top`."""
    sizes = {multiple * 2**i for i in range(16) if multiple * 2**i <= top}
    for n in range(1, 17):
        sizes.add(min(top, math.ceil(top / n / multiple) * multiple))
    return sorted(sizes)


def _decode_part(h: FloatArray, B: int, weight: float, top: int, dm: DecodeModel,
                 cost: CostModel, multiple: int, limit: int | None, k_max: int) -> _Part:
    """Decode lengths for batch B: DP on the per-token cost of contexts up to `top`."""
    cand = candidate_lengths(top, multiple, None if limit is None else limit // B)
    if cand.size == 0 or cand[-1] < top:
        raise InferplanError("max_graphs", k_max, f"no decode length for batch {B} fits the "
                             "risk limit")
    servable = h[: top + 1].copy()
    if servable.sum() == 0:
        return _Part(np.where(np.arange(k_max + 1) >= 1, 0.0, np.inf),
                     tuple(() if n == 0 else (top,) for n in range(k_max + 1)))
    mass = step_context_mass(servable, B, dm.grouping)
    useful = decode_reference_per_token(servable, B, cost)
    cum = np.cumsum(mass)[cand]
    g = cost.fn("decode", B, 1, cand) / B
    choice = optimal_boundaries(cum, g, k_max)
    best = weight * (choice.best - useful)
    return _Part(best, tuple(tuple(int(cand[i]) for i in s) for s in choice.sets))


def _knapsack(parts: list[_Part], k_max: int) -> tuple[FloatArray, list[list[int]]]:
    """Split n graphs over parts (each >= 1): least total cost and the split, per n."""
    best = np.zeros(k_max + 1)
    split: list[list[int]] = [[] for _ in range(k_max + 1)]
    for i, part in enumerate(parts):
        new = np.full(k_max + 1, np.inf)
        new_split: list[list[int]] = [[] for _ in range(k_max + 1)]
        for n in range(i + 1, k_max + 1):
            for a in range(1, n - i + 1):
                prev = best[n - a] if i else (0.0 if n - a == 0 else np.inf)
                if a < part.best.size and prev + part.best[a] < new[n]:
                    new[n] = prev + part.best[a]
                    new_split[n] = ([*split[n - a], a] if i else [a])
        best, split = new, new_split
    return best, split


def _coverage(plan: GraphPlan) -> tuple[int, int]:
    """Longest prompt the plan prefills and longest decode context it serves."""
    paths = prefill_paths(plan.graphs)
    tops = np.array([a for _, a in paths], dtype=np.float64)
    cost, _ = prefill_cost_by_length(paths, tops, _UNIT)
    top_prompt = int(tops[np.isfinite(cost)].max()) if tops.size else 0
    top_ctx = max((g.attn for g in plan.graphs if g.kind == "decode"), default=0)
    return top_prompt, top_ctx


def _unit_cost(kind: str, batch: npt.ArrayLike, q: npt.ArrayLike, attn: npt.ArrayLike
               ) -> FloatArray:
    return np.asarray(np.asarray(batch, dtype=np.float64) * np.asarray(q), dtype=np.float64)


_UNIT = CostModel(_unit_cost, "token")


def _chain(C: int, top: int) -> list[tuple[int, int]]:
    return chunk_boundaries(top, C)


def _prefill_part(h: FloatArray, C: int | None, top: int, cost: CostModel, multiple: int,
                  limit: int | None, k_max: int, only_chunk: bool) -> _Part | None:
    """Prefill lengths with chunk C (forced as a prefill length) or without chunks."""
    side = None if limit is None else math.isqrt(limit)
    if C is None and side is not None and top > side:
        return None
    if C is not None and limit is not None and max(
            (a - kv) * a for kv, a in _chain(C, top)) > limit:
        return None
    extra = () if C is None else (C,)
    cand = candidate_lengths(top, multiple, side, extra)
    if only_chunk:
        cand = np.array([C], dtype=np.int64)
    S = np.arange(h.size, dtype=np.float64)
    cum = np.cumsum(h)[np.minimum(cand, h.size - 1)]
    g = cost.fn("prefill", 1, cand, cand)
    forced = None
    tail = np.full(cand.size, np.inf)
    tail[-1] = 0.0
    if C is not None:
        forced = int(np.searchsorted(cand, C))
        chain_cost, _ = prefill_cost_by_length(_chain(C, top), S, cost)
        above = h * np.where(np.isfinite(chain_cost), chain_cost, 0.0)
        rev = np.cumsum(above[::-1])[::-1]  # rev[s] = weight·cost of prompts >= s
        nxt = np.minimum(cand + 1, h.size - 1)
        tail = np.where(cand + 1 < h.size, rev[nxt], 0.0)
    useful = float((h * cost.fn("prefill", 1, S, S)).sum())
    choice = optimal_boundaries(cum, g, min(k_max, cand.size), tail=tail, forced=forced)
    best = np.full(k_max + 1, np.inf)
    best[: choice.best.size] = choice.best - useful
    sets = [tuple(int(cand[i]) for i in s) for s in choice.sets]
    sets += [sets[-1]] * (k_max + 1 - len(sets))
    for n in range(choice.best.size, k_max + 1):
        best[n] = best[choice.best.size - 1]
    return _Part(best, tuple(sets))


def _best_split(chosen: dict[int | None, tuple[_Part, int]], dec_best: FloatArray, K: int,
                levels: int, decode_budget: int | None, mean_out: float
                ) -> tuple[float, int | None, int, int] | None:
    """(cost, chunk size, prefill graphs k, decode graphs n) with the least total waste."""
    best: tuple[float, int | None, int, int] | None = None
    for C, (part, fixed) in chosen.items():
        for k in range(1, K + 1):
            n = K - fixed - k if decode_budget is None else decode_budget
            if n < levels or n + k + fixed > K or not np.isfinite(part.best[k]):
                continue
            total = part.best[k] + mean_out * dec_best[n]
            if best is None or total < best[0]:
                best = (total, C, k, n)
    return best


def _suggested_config(cfg: BucketConfig, version: VersionRules, C: int | None, prefill:
                      tuple[int, ...], decode: list[tuple[int, int]], top_prompt: int,
                      top_ctx: int, msl: int) -> BucketConfig:
    fields = cfg.model_dump()
    fields.update(decode_buckets=tuple(sorted(decode, key=lambda d: (d[1], d[0]))),
                  max_seq_len_to_capture=msl, tokenwise_seq_lens=(),
                  num_speculative_tokens=cfg.num_speculative_tokens)
    if version.chunked_prefill:
        manual = tuple((1, L) for L in prefill if L != C)
        if C is not None and version.manual_prefill_with_chunking == "ignored":
            manual = ()
        fields.update(prefill_buckets=manual, prefill_chunk_size=C, append_buckets=(),
                      max_prompt_len=(top_prompt if C is not None and top_prompt != msl
                                      else None))
    else:
        chain = [] if C is None else _chain(C, top_prompt)[1:]
        fields.update(prefill_buckets=tuple((1, L) for L in prefill), prefill_chunk_size=None,
                      append_buckets=tuple((1, a, a - kv) for kv, a in chain),
                      max_model_len=top_ctx, max_prompt_len=None)
    return BucketConfig.model_validate(fields)


def optimise_furiosa(cfg: BucketConfig, model: ModelSpec, rules: FuriosaRules,
                     dist: LengthDistribution, dm: DecodeModel, cost: CostModel,
                     max_graphs: int | None = None, risk_limit: int | None = None,
                     baseline: GraphPlan | None = None, tp: int | None = None,
                     split: Split = "keep", time: CostModel | None = None,
                     objective: Objective = "flops") -> Suggestion:
    """Least expected wasted cost per request at <= `max_graphs` graphs (default: the input's).

    `cost` prices in FLOPs, `time` (optional) in seconds; `objective` says which one
    the optimiser minimises. Both sets are reported in both where `time` is given.

    split="keep": prefill-side graphs (prefill, chunk, append) and decode graphs keep
    the input's proportion, and each side is optimised on its own (under FLOPs, decode
    waste is only attention FLOPs, so a free trade would starve decode of buckets
    although decode steps are bandwidth-bound); split="free" (or its older name "flops")
    trades them freely by the objective, which is sound under objective="time".

    Seed 000 at 38 graphs on the 'chat' distribution at TP=1: chunk 4096 instead of
    8192, more short prefill lengths; tests/test_buckets_optimise.py states the margin.
    """
    if objective not in OBJECTIVES:
        raise InferplanError("objective", objective, f"allowed: {', '.join(OBJECTIVES)}")
    if objective == "time" and time is None:
        raise InferplanError("objective", objective, "needs a step-time model (a chip to "
                             "price steps on, or plan_buckets(step_time=...))")
    obj = time if objective == "time" and time is not None else cost
    base = baseline or enumerate_graphs(cfg, model, rules, tp)
    if base.preset is not None:
        raise InferplanError("prefill_buckets", [], "the optimiser needs explicit buckets, "
                             "not a preset")
    version = base.version
    K = max_graphs or base.count
    n_decode = sum(1 for g in base.graphs if g.kind == "decode")
    decode_budget = (max(len(dm.levels), round(K * n_decode / base.count))
                     if split == "keep" else None)
    top_prompt, top_ctx = _coverage(base)
    if not version.chunked_prefill:
        top_prompt = top_ctx
    msl = base.max_seq_len_to_capture
    m = cfg.bucket_multiple
    hp = dist.prompt_histogram()
    hp = np.concatenate([hp, np.zeros(max(0, top_prompt + 1 - hp.size))])[: top_prompt + 1]
    hc = dist.context_histogram()
    hc = np.concatenate([hc, np.zeros(max(0, top_ctx + 1 - hc.size))])
    # decode: one curve per batch size, then a knapsack over batch sizes
    parts = [_decode_part(hc, B, w, min(top_ctx, dm.max_batch_context // B), dm, obj, m,
                          risk_limit, K) for B, w in zip(dm.levels, dm.weights, strict=True)]
    dec_best, dec_split = _knapsack(parts, K)
    mean_out = float(dist.output.mean())
    options: list[int | None] = [None]
    if version.chunked_prefill or version.append_buckets:
        options += _chunk_sizes(top_prompt, m)
    if version.chunked_prefill and version.chunk_limit == "max_seq_len_to_capture":
        options = [None] + [C for C in options[1:] if top_prompt == msl and C is not None]
    chosen: dict[int | None, tuple[_Part, int]] = {}
    for C in options:
        only_chunk = (C is not None and version.chunked_prefill
                      and version.manual_prefill_with_chunking == "ignored")
        part = _prefill_part(hp, C, top_prompt, obj, m, risk_limit, K, only_chunk)
        if part is None:
            continue
        fixed = 0
        if C is not None:
            fixed = (chunk_graph_count(top_prompt, C, version) - 1 if version.chunked_prefill
                     else len(_chain(C, top_prompt)) - 1)
        chosen[C] = (part, fixed)
    best = _best_split(chosen, dec_best, K, len(parts), decode_budget, mean_out)
    if best is None and decode_budget is not None:
        split = "free"
        best = _best_split(chosen, dec_best, K, len(parts), None, mean_out)
    if best is None:
        raise InferplanError("max_graphs", K, "too few graphs for this coverage and risk limit")
    _, C, k, n = best
    decode = [(B, L) for (B, _), part, a in zip(zip(dm.levels, dm.weights, strict=True), parts,
                                                dec_split[n], strict=True)
              for L in part.choices[a]]
    new_cfg = _suggested_config(cfg, version, C, chosen[C][0].choices[k], decode, top_prompt,
                                top_ctx, msl)
    plan = enumerate_graphs(new_cfg, model, rules, base.tp)

    def priced(by: CostModel) -> tuple[PaddingReport, PaddingReport]:
        """(suggested, input) padding priced by `by`."""
        return (evaluate_padding(plan.graphs, dist, dm, by),
                evaluate_padding(base.graphs, dist, dm, by))

    timed = (None, None) if time is None else priced(time)
    return Suggestion(new_cfg, plan, *priced(cost), C, risk_limit, K, split, objective, *timed)

"""Disaggregated prefill/decode pools chosen from a search space, against the best
co-located deployment of the same space under the same SLO.

Every buildable group of the space (a deployment and a workload shape) is a candidate
replica for either pool (`disagg.py` for the formulas):
- prefill, at each `disaggregated.prefill_batch` B_p: TTFT = t_prefill(B_p) + the KV
  hand-off of the B_p prompts; it completes r_p = B_p / t_prefill prompts/s; it holds
  weights, the prompts' caches and the step's activations (`prefill_server_memory`);
- decode, at each batch of the space (`max`: the most a decode server holds; concurrency
  values count as slots): TPOT = τ, the mean decode step over contexts S..S+n−2; it
  finishes r_d = B_d / ((n−1)·τ) requests/s (`decode_server_memory`).
A replica is tp·pp devices: c = chips / dp chips (a fraction on chips built of cores).

Pools pair when they serve the same model, weights and KV dtypes, efficiency mode, engine
and workload shape; hardware, chips, layout and compute dtype may differ (heterogeneous
pools, as in Splitwise). At the saturating ratio P/G = r_d / r_p the fleet's output
tokens/s per chip is

    goodput = n / (c_p / r_p + c_d / r_d)

(the chip-seconds each pool spends per request, summed; with `throughput_per_usd` the
USD-seconds). So each pool's best replica can be chosen on its own; an end-to-end SLO
couples them, and each decode candidate takes the cheapest prefill whose TTFT fits the
budget e2e − (n−1)·τ it leaves (a search on the prefill's TTFT/cost front).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, SpeculativeDecoding, Workload
from inferplan.disagg import (
    decode_server_memory,
    kv_transfer_s,
    max_decode_batch,
    prefill_server_memory,
    prefill_steps_s,
    speculative_decode_server_memory,
    with_draft_memory,
)
from inferplan.hardware import ChipSpec
from inferplan.models import ModelSpec
from inferplan.search.decode_mean import mean_decode_step_s
from inferplan.search.expand import Group, Speculation, expand
from inferplan.search.result import SearchResult, run_search
from inferplan.search.space import SpaceIn
from inferplan.speculative import (
    chosen_cost,
    draft_deployment,
    mean_decode_context,
)
from inferplan.units import S_PER_HOUR, InferplanError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Objectives a disaggregated fleet is ranked by: what each request costs in chip-seconds
#: or in USD-seconds.
DISAGG_OBJECTIVES: tuple[str, ...] = ("throughput_per_chip", "throughput_per_usd")
#: Pool drop reasons, in the order they are checked.
POOL_REASONS: tuple[str, ...] = ("topology", "layout", "compute_dtype", "draft", "memory",
                                 "slo_ttft", "slo_tpot", "no_price", "no_prefill", "slo_e2e")
#: Whole-replica fleets are tried up to this many decode replicas.
MAX_DECODE_REPLICAS = 16
#: The smallest whole-replica fleet within this fraction of the continuous optimum wins.
FLEET_WITHIN = 0.98


@dataclass(frozen=True)
class PoolCandidates:
    """One entry per (group, batch) candidate replica of one pool."""

    group: IntArray
    batch: IntArray
    step_s: FloatArray                 # prefill step, or mean decode step (TPOT)
    transfer_s: FloatArray             # KV hand-off after the prefill step (0 for decode)
    requests_per_s: FloatArray         # one replica
    chips: FloatArray                  # one replica
    usd_per_hour: FloatArray           # one replica; NaN: no price
    status: IntArray                   # -1 kept, else an index into POOL_REASONS
    #: the prefill server's per-request time outside its steps (`scheduler.frontend_s`;
    #: 0 for decode)
    frontend_s: FloatArray
    #: draft tokens a decode cycle proposes (0: plain decoding, and every prefill candidate)
    gamma: IntArray

    @property
    def latency_s(self) -> FloatArray:
        """TTFT (prefill: step + hand-off + the stack's front end) or TPOT (decode: the
        step)."""
        return np.asarray(self.step_s + self.transfer_s + self.frontend_s, dtype=np.float64)

    def dropped(self) -> dict[str, int]:
        return {r: int(np.sum(self.status == k)) for k, r in enumerate(POOL_REASONS)
                if np.any(self.status == k)}


@dataclass(frozen=True)
class Pair:
    """A decode candidate and the prefill candidate that feeds it best."""

    decode: int
    prefill: int
    output_len: int
    prefill_replicas_per_decode_replica: float      # P/G = r_d / r_p
    prefill_chips_per_decode_chip: float
    output_tokens_per_s_per_chip: float
    tokens_per_usd: float                            # NaN without prices
    ttft_s: float
    tpot_s: float

    @property
    def e2e_latency_s(self) -> float:
        return self.ttft_s + (self.output_len - 1) * self.tpot_s


@dataclass(frozen=True)
class Fleet:
    """Whole replicas: P prefill and G decode replicas, and what they serve per chip."""

    prefill_replicas: int
    decode_replicas: int
    chips: float
    requests_per_s: float
    output_tokens_per_s_per_chip: float


@dataclass(frozen=True)
class DisaggResult:
    """The best disaggregated fleets of a space, and the best co-located deployment."""

    space: SpaceIn
    groups: list[Group]
    prefill: PoolCandidates
    decode: PoolCandidates
    pairs: list[Pair]                  # best first
    colocated: SearchResult
    elapsed_s: float

    @property
    def objective(self) -> str:
        return self.space.objective

    def score(self, pair: Pair) -> float:
        """The objective's value of a pair: tokens/s per chip, or tokens per USD."""
        return (pair.tokens_per_usd if self.objective == "throughput_per_usd"
                else pair.output_tokens_per_s_per_chip)

    def colocated_score(self) -> float | None:
        """The best co-located point's value of the same objective; None: none feasible."""
        if not self.colocated.feasible:
            return None
        i = int(self.colocated.order[0])
        cols = self.colocated.cols
        values = (cols.tokens_per_usd if self.objective == "throughput_per_usd"
                  else cols.tokens_per_s_per_chip)
        return float(values[i])

    def gain(self) -> float | None:
        """Best disaggregated over best co-located (> 1: disaggregation serves more)."""
        co = self.colocated_score()
        if co is None or not self.pairs:
            return None
        return self.score(self.pairs[0]) / co

    def deployment(self, pool: PoolCandidates, i: int) -> Deployment:
        dep = self.groups[int(pool.group[i])].deployment
        assert dep is not None
        return dep

    def scenario(self, pool: PoolCandidates, i: int) -> dict[str, Any]:
        """A candidate's scenario: its group's, with the candidate's batch (and a drafting
        decode server's γ where the space said `auto`)."""
        scenario = self.groups[int(pool.group[i])].point_scenario(int(pool.batch[i]))
        if int(pool.gamma[i]) and "speculative" in scenario:
            scenario["speculative"] = {**scenario["speculative"], "gamma": int(pool.gamma[i])}
        return scenario

    def best_per_design(self, top: int) -> list[Pair]:
        """The best pair of each (decode replica, prefill replica) design, whatever the
        batches, best first: the alternatives worth listing."""
        seen: set[tuple[Any, ...]] = set()
        out: list[Pair] = []
        for pair in self.pairs:
            key = (replica_key(self.groups[int(self.decode.group[pair.decode])]),
                   replica_key(self.groups[int(self.prefill.group[pair.prefill])]))
            if key not in seen:
                seen.add(key)
                out.append(pair)
                if len(out) == top:
                    break
        return out

    def fleet(self, pair: Pair) -> Fleet:
        return whole_replica_fleet(
            float(self.prefill.requests_per_s[pair.prefill]),
            float(self.decode.requests_per_s[pair.decode]),
            float(self.prefill.chips[pair.prefill]), float(self.decode.chips[pair.decode]),
            pair.output_len)


# ------------------------------------------------------------------ formulas
def fleet_goodput_per_chip(output_len: float, prefill_chips: npt.ArrayLike,
                           prefill_requests_per_s: npt.ArrayLike, decode_chips: npt.ArrayLike,
                           decode_requests_per_s: npt.ArrayLike) -> FloatArray:
    """Output tokens/s per chip of pools at the saturating ratio: n / (c_p/r_p + c_d/r_d).

    Seed 001 A34 pools (16 chips each), r_p = 1/0.977 prompts/s, r_d = 43/(511·19.88 ms)
    = 4.23 requests/s, n = 512: 512 / (15.63 + 3.78) = 26.4 tok/s per chip.
    """
    return np.asarray(output_len / (np.asarray(prefill_chips) / np.asarray(
        prefill_requests_per_s) + np.asarray(decode_chips) / np.asarray(
        decode_requests_per_s)), dtype=np.float64)


def whole_replica_fleet(prefill_requests_per_s: float, decode_requests_per_s: float,
                        prefill_chips: float, decode_chips: float, output_len: int,
                        max_decode: int = MAX_DECODE_REPLICAS,
                        within: float = FLEET_WITHIN) -> Fleet:
    """The smallest fleet of whole replicas (G = 1..max_decode decode replicas, P = ⌊G·ρ⌋
    or ⌈G·ρ⌉ prefill replicas, ρ = r_d/r_p) whose goodput per chip is within `within`
    of the continuous optimum, else the best one tried. It serves min(P·r_p, G·r_d)
    requests/s on P·c_p + G·c_d chips.

    ρ = 4.135, 16-chip replicas, r_p = 1: with G = 1, 4 prefill replicas feed 4.0 of the
    decode replica's 4.135 requests/s, 25.6 tok/s/chip (0.993 of the optimum), and 5
    would idle (0.856): 4:1 on 80 chips.
    """
    rho = decode_requests_per_s / prefill_requests_per_s
    best_k = fleet_goodput_per_chip(output_len, prefill_chips, prefill_requests_per_s,
                                    decode_chips, decode_requests_per_s)
    best: Fleet | None = None
    for g in range(1, max_decode + 1):
        for p in {max(1, math.floor(g * rho)), max(1, math.ceil(g * rho - 1e-9))}:
            rate = min(p * prefill_requests_per_s, g * decode_requests_per_s)
            chips = p * prefill_chips + g * decode_chips
            fleet = Fleet(p, g, chips, rate, rate * output_len / chips)
            if best is None or (fleet.output_tokens_per_s_per_chip
                                > best.output_tokens_per_s_per_chip):
                best = fleet
        assert best is not None
        if best.output_tokens_per_s_per_chip >= within * float(best_k):
            return best
    assert best is not None
    return best


# ------------------------------------------------------------------ candidates
def _status(n: int, reason: str | None) -> IntArray:
    return np.full(n, -1 if reason is None else POOL_REASONS.index(reason), dtype=np.int64)


def _mark(status: IntArray, failed: BoolArray, reason: str) -> IntArray:
    return np.where((status == -1) & failed, POOL_REASONS.index(reason), status)


def _replica(dep: Deployment, n: int) -> tuple[FloatArray, FloatArray]:
    """Chips and USD per hour of one replica, n times."""
    chips = dep.chips / dep.layout.dp
    price = dep.price
    return (np.full(n, chips), np.full(n, np.nan if price is None else price * chips))


def _concat(parts: list[PoolCandidates]) -> PoolCandidates:
    if not parts:
        z = np.zeros(0)
        zi = np.zeros(0, dtype=np.int64)
        return PoolCandidates(zi, zi, z, z, z, z, z, zi, z, zi)
    return PoolCandidates(*(np.concatenate([getattr(p, f) for p in parts])
                            for f in PoolCandidates.__dataclass_fields__))


def replica_key(g: Group) -> tuple[Any, ...] | None:
    """What one replica of a buildable group is, whatever dp is: model, chip, engine, slice
    shape per replica's placement aside, tp/pp/ep/layout/attention, dtypes, efficiency,
    lengths. Groups that differ only in dp (tp4 on 4 chips, tp4 on 8 chips with dp2) share
    it; None for a group that cannot be built."""
    if g.deployment is None:
        return None
    s, lay = g.scenario, g.deployment.layout
    spec = g.speculative
    return (s["model"], s["hardware"], repr(s.get("engine")), lay.tp, lay.pp, lay.ep,
            lay.layout, lay.attention, lay.attention_dp, tuple(sorted(s["dtypes"].items())),
            s["efficiency"], None if spec is None else repr(spec.scenario()),
            g.workload.input_len, g.workload.output_len, g.mode)


def _distinct(pool: PoolCandidates, groups: list[Group]) -> PoolCandidates:
    """One candidate per replica design and batch: rows of groups that differ only in dp,
    with the same step times (the placement inside the slice did not change them), are
    the same replica; the first is kept. Rows of unbuildable groups are all kept."""
    codes: dict[tuple[Any, ...], int] = {}
    group_code = np.asarray([
        codes.setdefault(key, len(codes)) if (key := replica_key(g)) is not None
        else -1 - gi for gi, g in enumerate(groups)], dtype=np.float64)
    rows = np.column_stack([group_code[pool.group], pool.batch.astype(np.float64),
                            np.nan_to_num(pool.step_s, nan=-1.0),
                            np.nan_to_num(pool.transfer_s, nan=-1.0),
                            pool.status.astype(np.float64)])
    _, first = np.unique(rows, axis=0, return_index=True)
    keep = np.sort(first)
    return PoolCandidates(*(getattr(pool, f)[keep] for f in PoolCandidates.__dataclass_fields__))


def _dropped_group(gi: int, g: Group, values: IntArray) -> PoolCandidates:
    n = values.size
    nan = np.full(n, np.nan)
    return PoolCandidates(np.full(n, gi, dtype=np.int64), values, nan, nan, nan, nan, nan,
                          _status(n, g.drop_reason or "layout"), nan,
                          np.zeros(n, dtype=np.int64))


def _with_speculation(dep: Deployment, spec: Speculation | None) -> Deployment:
    """The deployment with its group's draft (`Deployment.speculative`), which the pool
    formulas of `disagg.py` read; γ `auto` is held at gamma_max there (the prefill reads
    only the draft)."""
    if spec is None:
        return dep
    return replace(dep, speculative=SpeculativeDecoding(spec.draft, spec.gamma or spec.gamma_max,
                                                        spec.alpha))


def prefill_candidates(space: SpaceIn, groups: list[Group]) -> PoolCandidates:
    """Every (deployment, input_len, draft, prefill batch) once, timed where it fits. A
    speculative group's prefill server prefills the prompts with the draft too and holds
    the draft beside the target (`disagg.prefill_steps_s`, `disagg.with_draft_memory`);
    α and γ do not change it."""
    opts, slo = space.disaggregated, space.slo
    batches = np.asarray(opts.prefill_batch, dtype=np.int64)
    seen: set[tuple[int, int, int, str | None]] = set()
    parts: list[PoolCandidates] = []
    for gi, g in enumerate(groups):
        spec = g.speculative
        key = (id(g.deployment) if g.deployment is not None else -gi,
               g.workload.input_len, g.workload.output_len,
               None if spec is None else spec.draft_name)
        if key in seen:
            continue
        seen.add(key)
        if g.deployment is None:
            parts.append(_dropped_group(gi, g, batches))
            continue
        dep = _with_speculation(g.deployment, spec)
        S, n = g.workload.input_len, batches.size
        memory = prefill_server_memory(dep, S, batches)
        if spec is not None:
            memory = with_draft_memory(memory, dep, spec.draft, S, batches)
        status = _mark(_status(n, None), ~memory.fits, "memory")
        step = np.full(n, np.nan)
        transfer = np.full(n, np.nan)
        fit = status == -1
        if fit.any():
            step[fit] = prefill_steps_s(dep, S, batches[fit], opts.prefill_mfu)
            transfer[fit] = kv_transfer_s(dep, S, opts.kv_link == "scale_up", batches[fit])
        chips, usd = _replica(dep, n)
        front = np.full(n, dep.engine.scheduler.frontend_s)
        if slo.ttft_s is not None:
            status = _mark(status, ~(step + transfer + front <= slo.ttft_s), "slo_ttft")
        parts.append(PoolCandidates(np.full(n, gi, dtype=np.int64), batches, step, transfer,
                                    batches / step, chips, usd, status, front,
                                    np.zeros(n, dtype=np.int64)))
    return _concat(parts)


def _decode_batches(g: Group) -> IntArray:
    dep = g.deployment
    if g.mode == "max" and dep is not None:
        spec, wl = g.speculative, g.workload
        largest = (max_decode_batch(dep, wl.input_len, wl.output_len) if spec is None else
                   max_decode_batch(dep, wl.input_len, wl.output_len, spec.draft,
                                    spec.gamma or spec.gamma_max))
        return np.asarray([max(largest, 1)], dtype=np.int64)
    return np.asarray(g.values, dtype=np.int64)


def _speculative_tpot(dep: Deployment, spec: Speculation, wl: Workload,
                      batches: IntArray) -> tuple[FloatArray, IntArray]:
    """A drafting decode server's TPOT per batch and its γ: the cycle over E at the mean
    decode context S + n/2, γ the space's or the best of 1..gamma_max
    (`speculative.chosen_cost`), as the co-located search prices a speculative point."""
    cost = chosen_cost(dep, draft_deployment(dep, spec.draft), batches.astype(np.float64),
                       mean_decode_context(wl), spec.alpha, spec.gamma, spec.gamma_max)
    return (np.asarray(cost.tpot_s, dtype=np.float64),
            np.asarray(cost.gamma, dtype=np.int64))


def decode_candidates(space: SpaceIn, groups: list[Group]) -> PoolCandidates:
    """Every (deployment, workload shape, speculation, decode batch), timed where it fits.
    A speculative group's decode server runs draft-and-verify cycles
    (`_speculative_tpot`) and holds the draft, its caches at S + n + γ tokens and the
    verify step's working memory (`disagg.speculative_decode_server_memory`, at the
    space's γ or gamma_max)."""
    parts: list[PoolCandidates] = []
    for gi, g in enumerate(groups):
        batches = _decode_batches(g)
        dep = g.deployment
        if dep is None:
            parts.append(_dropped_group(gi, g, batches))
            continue
        S, out, n = g.workload.input_len, g.workload.output_len, batches.size
        if out < 2:
            raise InferplanError("workload.output_len", out,
                                 "must be ≥ 2 for disaggregated pools: the prefill step emits "
                                 "the first token, a decode server the rest")
        spec = g.speculative
        memory = (decode_server_memory(dep, S, out, batches) if spec is None
                  else speculative_decode_server_memory(dep, spec.draft, S, out, batches,
                                                        spec.gamma or spec.gamma_max))
        status = _mark(_status(n, None), ~memory.fits, "memory")
        tpot = np.full(n, np.nan)
        gamma = np.zeros(n, dtype=np.int64)
        fit = status == -1
        if fit.any():
            if spec is None:
                tpot[fit] = mean_decode_step_s(dep, S, out, batches[fit])
            else:
                tpot[fit], gamma[fit] = _speculative_tpot(dep, spec, g.workload, batches[fit])
        if space.slo.tpot_s is not None:
            status = _mark(status, ~(tpot <= space.slo.tpot_s), "slo_tpot")
        chips, usd = _replica(dep, n)
        parts.append(PoolCandidates(np.full(n, gi, dtype=np.int64), batches, tpot,
                                    np.zeros(n), batches / ((out - 1) * tpot), chips, usd,
                                    status, np.zeros(n), gamma))
    return _concat(parts)


# ------------------------------------------------------------------ pairing
def _pool_key(g: Group) -> tuple[Any, ...]:
    """What both pools of a pair share: model, weights and KV dtypes, efficiency, engine,
    the draft (its cache is prefilled for the decode side) and the lengths, last."""
    s = g.scenario
    return (s["model"], s["dtypes"]["weights"], s["dtypes"]["kv"], s["efficiency"],
            repr(s.get("engine")), None if g.speculative is None else g.speculative.draft_name,
            g.workload.input_len, g.workload.output_len)


def _by_key(groups: list[Group], group_of: IntArray,
            status: IntArray) -> dict[tuple[Any, ...], IntArray]:
    """Kept candidates' indices per pool key."""
    out: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    keys = {int(g): _pool_key(groups[int(g)]) for g in np.unique(group_of)}
    for i in np.nonzero(status == -1)[0]:
        out[keys[int(group_of[i])]].append(int(i))
    return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}


def cheapest_within(ttft: FloatArray, cost: FloatArray, budget: FloatArray) -> IntArray:
    """For each budget, the index of the least `cost` among entries with ttft ≤ budget
    (−1: none), via the TTFT-sorted running minimum of cost.

    ttft [0.5, 0.2, 0.9], cost [1, 3, 0.5], budgets [0.1, 0.6, 1.0]: [−1, 0, 2].
    """
    order = np.argsort(ttft, kind="stable")
    t, c = ttft[order], cost[order]
    running = np.minimum.accumulate(c)
    new_min = c < np.concatenate([[np.inf], running[:-1]])
    at = np.maximum.accumulate(np.where(new_min, np.arange(c.size), 0))
    k = np.searchsorted(t, budget, side="right") - 1
    return np.where(k >= 0, order[at[np.maximum(k, 0)]], -1).astype(np.int64)


def pair_pools(space: SpaceIn, groups: list[Group], prefill: PoolCandidates,
               decode: PoolCandidates) -> tuple[list[Pair], IntArray, IntArray]:
    """Each kept decode candidate with its best prefill partner, best pair first; and the
    prefill and decode statuses updated (`no_price` under a cost objective; `no_prefill`,
    `slo_e2e` for decode candidates left without a partner)."""
    usd = space.objective == "throughput_per_usd"
    weight_p = prefill.usd_per_hour if usd else prefill.chips
    weight_d = decode.usd_per_hour if usd else decode.chips
    status_p, status_d = prefill.status.copy(), decode.status.copy()
    if usd:
        status_p = _mark(status_p, np.isnan(weight_p), "no_price")
        status_d = _mark(status_d, np.isnan(weight_d), "no_price")
    prefill_by_key = _by_key(groups, prefill.group, status_p)
    e2e = space.slo.e2e_latency_s
    pairs: list[Pair] = []
    for key, d in _by_key(groups, decode.group, status_d).items():
        p = prefill_by_key.get(key)
        if p is None:
            status_d[d] = POOL_REASONS.index("no_prefill")
            continue
        out = int(key[-1])
        budget = (np.full(d.size, np.inf) if e2e is None
                  else e2e - (out - 1) * decode.step_s[d])
        cost = weight_p[p] / prefill.requests_per_s[p]
        pick = cheapest_within(prefill.latency_s[p], cost, budget)
        status_d[d[pick < 0]] = POOL_REASONS.index("slo_e2e")
        di, pi = d[pick >= 0], p[pick[pick >= 0]]
        r_p, r_d = prefill.requests_per_s[pi], decode.requests_per_s[di]
        c_p, c_d = prefill.chips[pi], decode.chips[di]
        per_usd = out * S_PER_HOUR / (prefill.usd_per_hour[pi] / r_p
                                      + decode.usd_per_hour[di] / r_d)
        per_chip = fleet_goodput_per_chip(out, c_p, r_p, c_d, r_d)
        rho = r_d / r_p
        columns = zip(di.tolist(), pi.tolist(), rho.tolist(), (rho * c_p / c_d).tolist(),
                      per_chip.tolist(), per_usd.tolist(), prefill.latency_s[pi].tolist(),
                      decode.step_s[di].tolist(), strict=True)
        pairs.extend(Pair(a, b, out, r, rc, k, u, t, tp) for a, b, r, rc, k, u, t, tp in columns)
    score = [(-(p.tokens_per_usd if usd else p.output_tokens_per_s_per_chip), p.tpot_s,
              p.ttft_s, p.decode) for p in pairs]
    ranked = [pairs[i] for i in sorted(range(len(pairs)), key=lambda i: score[i])]
    return ranked, status_p, status_d


def run_disagg_search(space: SpaceIn, resolve_model: Callable[[str], ModelSpec],
                      resolve_chip: Callable[[str], ChipSpec], *,
                      step_time: object | None = None) -> DisaggResult:
    """Candidates for both pools, the best pairs, and the co-located search beside them,
    every step priced with `step_time` (None: the analytic roofline)."""
    if space.objective not in DISAGG_OBJECTIVES:
        raise InferplanError("objective", space.objective,
                             "disaggregated pools are ranked by "
                             f"{' or '.join(DISAGG_OBJECTIVES)}")
    for field, value in space.workload.drawn().items():
        raise InferplanError(f"workload.{field}", value,
                             "the pools are priced at fixed lengths, without a prefix "
                             "cache or a closed loop's request count; leave it out or "
                             "search the co-located side with `inferplan search`")
    start = time.perf_counter()
    groups = expand(space, resolve_model, resolve_chip, step_time)
    prefill = _distinct(prefill_candidates(space, groups), groups)
    decode = _distinct(decode_candidates(space, groups), groups)
    pairs, status_p, status_d = pair_pools(space, groups, prefill, decode)
    prefill = replace(prefill, status=status_p)
    decode = replace(decode, status=status_d)
    colocated = run_search(space, resolve_model, resolve_chip, step_time=step_time)
    return DisaggResult(space=space, groups=groups, prefill=prefill, decode=decode,
                        pairs=pairs, colocated=colocated,
                        elapsed_s=time.perf_counter() - start)

"""Speculative decoding: a draft model proposes γ tokens, the target verifies them in one step.

Leviathan et al. (2023), "Fast Inference from Transformers via Speculative Decoding": each
drafted token is accepted with probability α, independently (their i.i.d. assumption),
and the verify step always yields one token of its own (the correction or the bonus), so
one draft-and-verify *cycle* emits on average

    E(α, γ) = Σ_{i=0..γ} α^i = (1 − α^(γ+1)) / (1 − α)      (γ + 1 when α = 1; 1 when α = 0)

tokens per sequence. A cycle costs γ draft decode steps plus one target verify step of
q = γ + 1 new tokens on the KV cache (cost.step_cost phase "verify"), both on the same
chips and layout, one after the other:

    cycle = γ·t_draft + t_verify,     TPOT = cycle / E,     speedup = t_decode / TPOT

with t_decode the plain decode step of the same batch. γ = 0 is plain decoding.

For the search (vectorised over batch): `speculative_cost(target, draft, B, T, α, γ)`
broadcasts `B`, `T` and `γ` like numpy (B of shape (n, 1) against γ of shape (1, m) gives
an (n, m) grid), and `best_gamma(target, draft, B, T, α, γ_max)` returns, for every B, the
γ in 1..γ_max with the least TPOT and its cost. Memory with the draft alongside the
target: `speculative_memory` and `max_batch_with_draft`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, Workload, check_draft
from inferplan.memory import (
    activation_bytes_per_device,
    decode_working_bytes,
    devices_per_chip,
    kv_bytes_per_sequence_per_device,
    largest_true,
    max_batch,
    sequences_per_device,
    weight_bytes_at,
)
from inferplan.models import ModelSpec
from inferplan.steptime import step_cost
from inferplan.units import DEFAULT_GAMMA_MAX, InferplanError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Largest γ accepted (engines draft a handful of tokens; α^γ makes more worthless, and each
#: γ tried is one more row of the cost table).
MAX_GAMMA = 64


# --------------------------------------------------------------- validation
def check_alpha(alpha: float) -> float:
    """α as a float in [0, 1], or `InferplanError`."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) \
            or not 0.0 <= float(alpha) <= 1.0:
        raise InferplanError("alpha", alpha, "the per-token acceptance rate, a number in [0, 1]")
    return float(alpha)


def check_gamma(gamma: npt.ArrayLike, field: str = "gamma") -> IntArray:
    """γ as an integer array ≥ 0 (the number of draft tokens per cycle), or `InferplanError`."""
    g = np.asarray(gamma)
    if g.dtype == np.bool_ or not np.issubdtype(g.dtype, np.number) or g.size == 0 \
            or np.any(g < 0) or np.any(np.asarray(g, dtype=np.float64) % 1 != 0):
        raise InferplanError(field, gamma if g.ndim == 0 else g.tolist(),
                             "whole numbers of draft tokens, 0 or more")
    return np.asarray(g, dtype=np.int64)


def check_positive(gamma: object, field: str) -> int:
    """A γ from 1 to MAX_GAMMA as an int (`--gamma`, `--gamma-max`), or `InferplanError`."""
    if isinstance(gamma, bool) or not isinstance(gamma, (int, np.integer)) \
            or not 1 <= gamma <= MAX_GAMMA:
        raise InferplanError(field, gamma, f"a whole number of draft tokens from 1 to "
                             f"{MAX_GAMMA} (γ = 0 is plain decoding)")
    return int(gamma)


# ------------------------------------------------------------------ formulae
def expected_tokens_per_step(alpha: float, gamma: npt.ArrayLike) -> FloatArray:
    """E = (1 − α^(γ+1))/(1 − α): tokens one draft-and-verify cycle emits per sequence.

    α = 0.8, γ = 4: (1 − 0.8⁵)/0.2 = 3.3616. α → 1 gives γ + 1; α = 0 gives 1. For α ≥ 0.5
    computed as −expm1((γ+1)·log1p(α−1))/(1−α), accurate near α = 1.
    """
    a = check_alpha(alpha)
    g = np.asarray(check_gamma(gamma), dtype=np.float64)
    if a == 1.0:
        return np.asarray(g + 1.0, dtype=np.float64)
    if a == 0.0:
        return np.asarray(np.ones_like(g), dtype=np.float64)
    if a < 0.5:                                   # no cancellation to guard against
        return np.asarray((1.0 - a ** (g + 1.0)) / (1.0 - a), dtype=np.float64)
    return np.asarray(-np.expm1((g + 1.0) * np.log1p(a - 1.0)) / (1.0 - a), dtype=np.float64)


def speculative_tpot(draft_step_s: npt.ArrayLike, verify_step_s: npt.ArrayLike, alpha: float,
                     gamma: npt.ArrayLike) -> FloatArray:
    """TPOT = (γ·t_draft + t_verify)/E(α, γ).

    t_draft 2 ms, t_verify 10 ms, α 0.8, γ 4: 18 ms / 3.3616 = 5.355 ms per token.
    """
    g = np.asarray(check_gamma(gamma), dtype=np.float64)
    cycle = g * np.asarray(draft_step_s, dtype=np.float64) + np.asarray(verify_step_s,
                                                                        dtype=np.float64)
    return np.asarray(cycle / expected_tokens_per_step(alpha, gamma), dtype=np.float64)


# ------------------------------------------------------------------- the draft
def draft_deployment(target: Deployment, draft: ModelSpec) -> Deployment:
    """The draft model on the target's chips with the target's layout and dtypes, plain
    (its own decoding is not speculative).

    Raises `InferplanError` (field `draft`) when that layout cannot hold the draft, e.g.
    tp not dividing its heads, or when its vocabulary is not the target's
    (`deployment.check_draft`): the target verifies the draft's tokens by id.
    """
    check_draft(target.model, draft, target.chip, target.layout, target.chips)
    sched = target.engine.scheduler
    if sched.step_host_s or sched.step_host_per_sequence_s:
        # the draft's passes run inside the target's engine step, whose host work the
        # verify pays once (`cost.synchronous_host_s`)
        engine = target.engine.model_copy(update={"scheduler": sched.model_copy(
            update={"step_host_s": 0.0, "step_host_per_sequence_s": 0.0})})
        return replace(target, model=draft, speculative=None, engine=engine)
    return replace(target, model=draft, speculative=None)


@dataclass(frozen=True)
class SpeculativeCost:
    """One draft-and-verify cycle and plain decoding, per replica, broadcast over B, T, γ."""

    alpha: float
    gamma: IntArray
    batch: FloatArray
    expected_tokens: FloatArray      # E per sequence per cycle
    draft_step_s: FloatArray         # one draft decode step (at the cycle's mean draft context)
    verify_step_s: FloatArray        # the target's verify step, q = γ + 1
    decode_step_s: FloatArray        # the target's plain decode step, q = 1
    replicas: int                    # dp: replicas of target and draft on the deployment

    @property
    def cycle_s(self) -> FloatArray:
        """γ·t_draft + t_verify."""
        return np.asarray(self.gamma * self.draft_step_s + self.verify_step_s, dtype=np.float64)

    @property
    def tpot_s(self) -> FloatArray:
        """Seconds per output token of one sequence: cycle / E."""
        return np.asarray(self.cycle_s / self.expected_tokens, dtype=np.float64)

    @property
    def plain_tpot_s(self) -> FloatArray:
        return self.decode_step_s

    @property
    def speedup(self) -> FloatArray:
        """Plain TPOT over speculative TPOT (> 1: speculation helps)."""
        return np.asarray(self.decode_step_s / self.tpot_s, dtype=np.float64)

    @property
    def output_tokens_per_s(self) -> FloatArray:
        """Decode throughput of the deployment: dp · B · E / cycle."""
        return np.asarray(self.replicas * self.batch / self.tpot_s, dtype=np.float64)

    @property
    def plain_output_tokens_per_s(self) -> FloatArray:
        return np.asarray(self.replicas * self.batch / self.decode_step_s, dtype=np.float64)


def speculative_cost(target: Deployment, draft: Deployment | ModelSpec, batch: npt.ArrayLike,
                     cached_tokens: npt.ArrayLike, alpha: float,
                     gamma: npt.ArrayLike) -> SpeculativeCost:
    """Cost of speculative decoding for `batch` sequences per replica with `cached_tokens`
    in their caches; B, T and γ broadcast (vectorised: pass B with a trailing axis to grid γ).

    The draft decodes γ tokens one step at a time (its contexts T .. T+γ−1 are costed at
    their mean, T + (γ−1)/2); the target verifies q = γ+1 tokens at T. Llama-3.1-8B on one
    RNGD (tp=8, realistic) with a Llama-3.2-1B draft, B=1, T=1152, α=0.8, γ=4: decode
    14.51 ms, draft 3.26 ms, verify 14.75 ms, cycle 4·3.26 + 14.75 = 27.78 ms, E 3.3616,
    TPOT 8.26 ms: 1.76x faster than plain decoding.
    """
    a = check_alpha(alpha)
    g = check_gamma(gamma)
    d = draft if isinstance(draft, Deployment) else draft_deployment(target, draft)
    B = np.asarray(batch, dtype=np.float64)
    T = np.asarray(cached_tokens, dtype=np.float64)
    if np.any(B <= 0):
        raise InferplanError("batch", np.ravel(B).tolist(), "sequences per replica, at least 1")
    gf = np.asarray(g, dtype=np.float64)
    decode = step_cost(target, "decode", B, 1, T).latency_s
    verify = step_cost(target, "verify", B, gf + 1.0, T).latency_s
    draft_s = step_cost(d, "decode", B, 1, T + np.maximum(gf - 1.0, 0.0) / 2.0).latency_s
    shape = np.broadcast_shapes(B.shape, T.shape, g.shape)

    def b(x: npt.ArrayLike) -> FloatArray:
        return np.asarray(np.broadcast_to(np.asarray(x, dtype=np.float64), shape))

    return SpeculativeCost(
        alpha=a, gamma=np.asarray(np.broadcast_to(g, shape)), batch=b(B),
        expected_tokens=b(expected_tokens_per_step(a, g)), draft_step_s=b(draft_s),
        verify_step_s=b(verify), decode_step_s=b(decode), replicas=target.layout.dp)


def speculative_decode_split_s(target: Deployment, draft: Deployment, batch: npt.ArrayLike,
                               cached_tokens: float, alpha: float,
                               gamma: npt.ArrayLike) -> dict[str, FloatArray]:
    """Exposed time per emitted token by roofline term (compute, weights, kv,
    communication, overhead), (γ·draft_term + verify_term) / E, per batch and γ: the
    speculative counterpart of a decode step's split, summing to `speculative_cost`'s
    TPOT. B = 1, γ = 4, α = 0.8 on one RNGD (8B + 1B draft): 8.26 ms, mostly weights.
    """
    B = np.asarray(batch, dtype=np.float64)
    g = np.asarray(check_gamma(gamma), dtype=np.float64)
    E = expected_tokens_per_step(check_alpha(alpha), check_gamma(gamma))
    verify = step_cost(target, "verify", B, g + 1.0, cached_tokens).breakdown_s()
    drafted = step_cost(draft, "decode", B, 1,
                        cached_tokens + np.maximum(g - 1.0, 0.0) / 2.0).breakdown_s()
    return {k: np.asarray((g * drafted[k] + verify[k]) / E, dtype=np.float64) for k in verify}


@dataclass(frozen=True)
class BestGamma:
    """The γ with the least TPOT for each batch, its cost, and the whole γ grid."""

    gamma: IntArray                  # shape of B
    cost: SpeculativeCost            # at the best γ, shape of B
    grid: SpeculativeCost            # shape B.shape + (γ_max,), γ = 1..γ_max on the last axis


def best_gamma(target: Deployment, draft: Deployment | ModelSpec, batch: npt.ArrayLike,
               cached_tokens: npt.ArrayLike, alpha: float,
               gamma_max: int = DEFAULT_GAMMA_MAX) -> BestGamma:
    """Search γ = 1..γ_max for the least TPOT, vectorised over `batch` (any shape, with
    `cached_tokens` broadcast against it). Speculation pays where `cost.speedup` > 1; the
    caller compares (γ = 0, plain decoding, is `cost.decode_step_s`).
    """
    gm = check_positive(gamma_max, "gamma_max")
    B = np.asarray(batch, dtype=np.float64)
    T = np.asarray(cached_tokens, dtype=np.float64)
    shape = np.broadcast_shapes(B.shape, T.shape)
    gammas = np.arange(1, gm + 1, dtype=np.int64)
    grid = speculative_cost(target, draft, np.broadcast_to(B, shape)[..., None],
                            np.broadcast_to(T, shape)[..., None], alpha, gammas)
    pick = np.argmin(grid.tpot_s, axis=-1)

    def at(x: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        return np.take_along_axis(x, pick[..., None], axis=-1)[..., 0]

    cost = SpeculativeCost(
        alpha=grid.alpha, gamma=np.asarray(at(grid.gamma), dtype=np.int64),
        batch=np.asarray(at(grid.batch), dtype=np.float64),
        expected_tokens=np.asarray(at(grid.expected_tokens), dtype=np.float64),
        draft_step_s=np.asarray(at(grid.draft_step_s), dtype=np.float64),
        verify_step_s=np.asarray(at(grid.verify_step_s), dtype=np.float64),
        decode_step_s=np.asarray(at(grid.decode_step_s), dtype=np.float64),
        replicas=grid.replicas)
    return BestGamma(gamma=cost.gamma, cost=cost, grid=grid)


def chosen_cost(target: Deployment, draft: Deployment, batch: npt.ArrayLike,
                cached_tokens: npt.ArrayLike, alpha: float, gamma: int | None,
                gamma_max: int = DEFAULT_GAMMA_MAX) -> SpeculativeCost:
    """`speculative_cost` at the stated γ, or at the best γ of 1..γ_max for each batch
    (`best_gamma`, γ `auto`). Llama-3.1-8B on one RNGD (tp=8) with a Llama-3.2-1B draft,
    B = 1, T = 1152, α = 0.8, γ = 4: TPOT 8.26 ms."""
    if gamma is not None:
        return speculative_cost(target, draft, batch, cached_tokens, alpha, gamma)
    return best_gamma(target, draft, batch, cached_tokens, alpha, gamma_max).cost


def cycle_for(target: Deployment, draft: Deployment, alpha: float, gamma: int | None,
              gamma_max: int = DEFAULT_GAMMA_MAX,
              ) -> Callable[[FloatArray, float],
                            tuple[FloatArray, FloatArray, dict[str, FloatArray]]]:
    """The closed loop's speculative cycle (`serving.closed_loop`'s `cycle`): for R running
    sequences at a decode context, (γ·t_draft + t_verify, E, the cycle by term) at the
    given γ, or at the best γ of 1..γ_max for each R. Its TPOT is cycle/E,
    `speculative_cost`'s."""
    def cycle(running: FloatArray, context: float
              ) -> tuple[FloatArray, FloatArray, dict[str, FloatArray]]:
        R = np.maximum(np.asarray(running, dtype=np.float64), 1.0)
        cost = chosen_cost(target, draft, R, context, alpha, gamma, gamma_max)
        per_token = speculative_decode_split_s(target, draft, R, context, alpha, cost.gamma)
        terms = {k: np.asarray(v * cost.expected_tokens, dtype=np.float64)
                 for k, v in per_token.items()}
        return cost.cycle_s, cost.expected_tokens, terms
    return cycle


# --------------------------------------------------------------------- memory
@dataclass(frozen=True)
class SpeculativeMemory:
    """Per-chip bytes of target and draft together, at contexts of input + output + γ."""

    target_weights_bytes_per_chip: float
    target_kv_bytes_per_chip: FloatArray
    draft_weights_bytes_per_chip: float
    draft_kv_bytes_per_chip: FloatArray
    working_bytes_per_chip: FloatArray
    usable_bytes_per_chip: float

    @property
    def total_bytes_per_chip(self) -> FloatArray:
        return np.asarray(self.target_weights_bytes_per_chip + self.target_kv_bytes_per_chip
                          + self.draft_weights_bytes_per_chip + self.draft_kv_bytes_per_chip
                          + self.working_bytes_per_chip, dtype=np.float64)

    @property
    def headroom_bytes_per_chip(self) -> FloatArray:
        return np.asarray(self.usable_bytes_per_chip - self.total_bytes_per_chip,
                          dtype=np.float64)

    @property
    def fits(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.total_bytes_per_chip <= self.usable_bytes_per_chip)


def draft_bytes_per_chip(target: Deployment, draft: ModelSpec, context_len: int,
                         batch: npt.ArrayLike) -> tuple[float, FloatArray]:
    """A draft model's weights and its B caches at `context_len` tokens per chip, split
    like the target's: the draft runs with the target's layout, weight and KV dtypes
    (`draft_deployment`). Llama-3.2-1B beside Llama-3.1-8B bf16 on one H100, B = 8 at
    1,152 tokens: 2.47 GB of weights and 8 · 37.7 MB = 0.30 GB of cache."""
    layout, dt, per_chip = target.layout, target.dtypes, devices_per_chip(target.chip)
    B = np.asarray(batch, dtype=np.float64)
    kv = (sequences_per_device(draft, layout, B)
          * kv_bytes_per_sequence_per_device(draft, layout, dt.kv, context_len) * per_chip)
    return (weight_bytes_at(draft, layout, replace(dt, experts=None)) * per_chip,
            np.asarray(kv, dtype=np.float64))


def speculative_memory(target: Deployment, draft: Deployment, workload: Workload,
                       batch: npt.ArrayLike, gamma: int) -> SpeculativeMemory:
    """Target and draft weights, both KV caches at input + output + γ tokens, and the
    working memory of the larger of the target's prefill step and its verify step of
    B·(γ+1) tokens (fp32 logits at every drafted position), per chip (memory.py's terms).

    Llama-3.1-8B + Llama-3.2-1B bf16 on one RNGD (tp=8), B=32, 1024+256 tokens, γ=4:
    weights 16.06 + KV 5.39 GB (target), 2.47 + 1.35 GB (draft), working 1.65 GB (the
    8192-token prefill chunk): 26.9 of 43.2 GB usable.
    """
    g = int(check_gamma(gamma))
    B = np.asarray(batch, dtype=np.float64)
    layout, dt, per_chip = target.layout, target.dtypes, devices_per_chip(target.chip)
    longer = replace(workload, output_len=workload.output_len + g)

    seq = kv_bytes_per_sequence_per_device(target.model, layout, dt.kv, longer.context_len)
    target_kv = np.asarray(sequences_per_device(target.model, layout, B) * seq * per_chip,
                           dtype=np.float64)
    draft_weights, draft_kv = draft_bytes_per_chip(target, draft.model, longer.context_len, B)
    working = np.maximum(activation_bytes_per_device(target, longer, B),
                         decode_working_bytes(target.model, layout, dt.compute, B * (g + 1)))
    return SpeculativeMemory(
        target_weights_bytes_per_chip=weight_bytes_at(target.model, layout, dt) * per_chip,
        target_kv_bytes_per_chip=target_kv,
        draft_weights_bytes_per_chip=draft_weights,
        draft_kv_bytes_per_chip=draft_kv,
        working_bytes_per_chip=np.asarray(working * per_chip, dtype=np.float64),
        usable_bytes_per_chip=target.chip.memory_bytes * target.usable_fraction)


def max_batch_with_draft(target: Deployment, draft: Deployment, workload: Workload,
                         gamma: int) -> int:
    """Largest batch per replica whose target and draft memory fit (`speculative_memory`)."""
    return largest_true(lambda b: speculative_memory(target, draft, workload, b, gamma).fits)


# --------------------------------------------------------------------- result
@dataclass(frozen=True)
class SpeculativeResult:
    """What `inferplan speculative` reports: plain against speculative decoding per replica
    at `batch` sequences and mean context `cached_tokens`, the γ table, and memory."""

    target: Deployment
    draft: Deployment
    workload: Workload
    batch: int
    cached_tokens: float
    gamma_given: bool
    chosen: SpeculativeCost          # scalars, at the chosen γ (given, or the best)
    table: SpeculativeCost           # γ = 1..γ_max, one row each
    memory: SpeculativeMemory        # at the chosen γ
    max_batch_plain: int
    max_batch_with_draft: int

    @property
    def fits(self) -> bool:
        return bool(self.memory.fits) and self.batch >= 1

    def to_dict(self) -> dict[str, object]:
        """The JSON contract of `inferplan speculative --json`."""
        t, c, m, lay = self.target, self.chosen, self.memory, self.target.layout

        def row(x: SpeculativeCost, i: int | None = None) -> dict[str, float]:
            def v(a: npt.NDArray[np.generic]) -> float:
                return float(np.ravel(a)[0] if i is None else np.ravel(a)[i])
            return {"gamma": v(x.gamma), "expected_tokens_per_step": v(x.expected_tokens),
                    "draft_step_s": v(x.draft_step_s), "verify_step_s": v(x.verify_step_s),
                    "cycle_s": v(x.cycle_s), "tpot_s": v(x.tpot_s),
                    "output_tokens_per_s": v(x.output_tokens_per_s), "speedup": v(x.speedup)}

        return {
            "model": t.model.name, "draft": self.draft.model.name, "hardware": t.chip.name,
            "chips": t.chips, "parallelism": {"tp": lay.tp, "pp": lay.pp, "dp": lay.dp},
            "dtypes": {"weights": t.dtypes.weights, "kv": t.dtypes.kv,
                       "compute": t.dtypes.compute},
            "efficiency": t.efficiency, "alpha": c.alpha, "batch": self.batch,
            "cached_tokens": self.cached_tokens, "gamma_given": self.gamma_given,
            "plain": {"tpot_s": float(c.decode_step_s),
                      "output_tokens_per_s": float(c.plain_output_tokens_per_s)},
            "speculative": row(c),
            "gammas": [row(self.table, i) for i in range(int(self.table.gamma.size))],
            "fits": self.fits,
            "memory": {
                "target_weights_bytes_per_chip": m.target_weights_bytes_per_chip,
                "target_kv_bytes_per_chip": float(m.target_kv_bytes_per_chip),
                "draft_weights_bytes_per_chip": m.draft_weights_bytes_per_chip,
                "draft_kv_bytes_per_chip": float(m.draft_kv_bytes_per_chip),
                "working_bytes_per_chip": float(m.working_bytes_per_chip),
                "total_bytes_per_chip": float(m.total_bytes_per_chip),
                "usable_bytes_per_chip": m.usable_bytes_per_chip},
            "max_batch_plain": self.max_batch_plain,
            "max_batch_with_draft": self.max_batch_with_draft,
        }


def mean_decode_context(workload: Workload) -> float:
    """Mean tokens cached over a request's decode: S + n/2 (serving's closed loop uses it)."""
    return workload.input_len + workload.output_len / 2.0


def speculative_result(target: Deployment, draft_model: ModelSpec, workload: Workload,
                       alpha: float, gamma: int | None = None,
                       gamma_max: int = DEFAULT_GAMMA_MAX) -> SpeculativeResult:
    """Plain against speculative decoding for a scenario: B = the workload's batch or
    concurrency per replica (`max`: the largest batch that fits with the draft at γ_max),
    decode-only steps at the mean context; γ given, or the best of 1..γ_max."""
    a = check_alpha(alpha)
    gm = check_positive(gamma_max, "gamma_max")
    if gamma is not None:
        gm = max(gm, check_positive(gamma, "gamma"))
    draft = draft_deployment(target, draft_model)
    plain_max = max_batch(target, workload)
    with_draft = max_batch_with_draft(target, draft, workload, gm if gamma is None else gamma)
    if workload.batch == "max":
        batch = max(with_draft, 1)
    else:
        batch = int(workload.batch if workload.batch is not None else workload.concurrency or 1)
    T = mean_decode_context(workload)
    table = speculative_cost(target, draft, float(batch), T, a, np.arange(1, gm + 1))
    pick = int(gamma) - 1 if gamma is not None else int(np.argmin(table.tpot_s))
    chosen = speculative_cost(target, draft, float(batch), T, a, pick + 1)
    return SpeculativeResult(
        target=target, draft=draft, workload=workload, batch=batch, cached_tokens=T,
        gamma_given=gamma is not None, chosen=chosen, table=table,
        memory=speculative_memory(target, draft, workload, batch, pick + 1),
        max_batch_plain=plain_max, max_batch_with_draft=with_draft)

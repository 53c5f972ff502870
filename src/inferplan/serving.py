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
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, Workload, overlap_scheduling
from inferplan.lengths import prompt_work
from inferplan.memory import MemoryResult, max_batch, memory_result
from inferplan.speculative import cycle_for, draft_deployment
from inferplan.steptime import Segment, StepCost, mixed_step_cost, step_cost
from inferplan.units import S_PER_HOUR, InferplanError

Mode = Literal["static", "concurrency", "max"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PhaseSummary:
    """A phase's step time, the term it is bound by, MFU and the exposed-time split."""

    latency_s: float
    bound: str
    mfu: float
    breakdown_s: dict[str, float]
    layout: str = "none"             # tensor-parallel partitioning that ran (most steps)


def summarise(cost: StepCost, weights: np.ndarray | None = None) -> PhaseSummary:
    """Collapse a step cost over an array of steps to its (weighted) mean.

    A decode over 511 contexts bound by weights in 400 steps and by kv in 111: bound
    'weights', each term its mean over the 511 steps.
    """
    def mean(x: np.ndarray) -> float:
        if weights is None:
            flat = np.ravel(x)     # one step: its value (the mean of one number)
            return float(flat[0]) if flat.size == 1 else float(np.mean(flat))
        return float(np.average(np.ravel(x),
                                weights=np.ravel(np.broadcast_to(weights, np.shape(x)))))
    breakdown = {k: mean(v) for k, v in cost.breakdown_s().items()}
    return PhaseSummary(latency_s=mean(cost.latency_s), bound=cost.most_common_bound(),
                        mfu=mean(cost.mfu), breakdown_s=breakdown,
                        layout="none" if cost.layout is None else most_common(cost.layout))


def most_common(values: np.ndarray) -> str:
    """The most frequent entry of a string array (ties: the first in sorted order).
    ['ws2d', 'megatron', 'ws2d']: 'ws2d'; all one name (the usual case): that name."""
    flat = np.ravel(values)
    if flat.size and bool(np.all(flat == flat[0])):
        return str(flat[0])
    names, counts = np.unique(flat, return_counts=True)
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
    #: the serving stack's front end inside `ttft_s` (a closed loop's; 0 for static batches)
    ttft_frontend_s: float = 0.0

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
    """Static batching: one prefill of B·S tokens (B·S·(1 − h) on top of S·h cached each
    with a prefix-cache hit rate h, `prompt_work`), then output_len − 1 decode steps at
    contexts S, S+1, ..., S+output_len−2 cached tokens (vectorised over the steps).

    Returns (prefill, decode, TTFT, TPOT, e2e). Seed 001 A22/A23: a full-HBM decode
    step of 19.5 ms over 512 tokens is 10 s.
    """
    S, n = workload.input_len, workload.output_len
    prefill = step_cost(deployment, "prefill", batch,
                        *prompt_work(S, workload.prefix_hit_rate))
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


def admitted_sequences(deployment: Deployment, workload: Workload) -> int:
    """Sequences an engine runs at once per replica, whatever the clients send: its
    `max_num_seqs`, and the KV cache's room. On-demand paging (vLLM, SGLang) holds each
    sequence's tokens so far, on average S̄ + n̄/2; reserving admission (TensorRT-LLM's
    GUARANTEED_NO_EVICT) holds the longest possible context, S + n, per sequence.

    Qwen3-32B bf16 on one H200 under vLLM, 1024/1024 at ratio 0.8: the cache holds the
    sequences' mean 1382 tokens, so the KV room, not max_num_seqs (1024), caps it.
    """
    sched = deployment.engine.scheduler
    if sched.kv_admission == "reserve_full":
        held = workload
    else:
        tokens = math.ceil(workload.mean_input_len + workload.mean_output_len / 2.0)
        held = replace(workload, input_len=max(tokens - 1, 1), output_len=1)
    return max(1, min(deployment.max_running_sequences, max_batch(deployment, held)))


def mean_ceil(step_share: npt.ArrayLike, count: npt.ArrayLike) -> FloatArray:
    """mean_{j=1..R} ⌈j·a⌉: the mean number of steps after which the j-th of R prompts
    queued at once has its first token, each step taking 1/a prompts (a = S/budget),
    as a·(R + 1)/2 + (1 − min(a, 1))/2, at least 1: exact when 1/a divides R or a is a
    whole number, within a step otherwise.

    a = 0.25 (4 prompts a step), R = 8: (1+1+1+1+2+2+2+2)/8 = 1.5 = 0.25·4.5 + 0.375.
    """
    a = np.asarray(step_share, dtype=np.float64)
    R = np.asarray(count, dtype=np.float64)
    return np.asarray(np.maximum(a * (R + 1.0) / 2.0 + (1.0 - np.minimum(a, 1.0)) / 2.0, 1.0),
                      dtype=np.float64)


def whole_prompts(room: npt.ArrayLike, prompt_tokens: float, chunked: bool) -> FloatArray:
    """Prompt tokens a step's free budget takes: all of it with chunked prefill; without,
    only whole prompts, at least one. Room 8190, 4096-token prompts: 4096 (one prompt)."""
    r = np.asarray(room, dtype=np.float64)
    if chunked:
        return r
    return np.asarray(np.maximum(np.floor(r / prompt_tokens), 1.0) * prompt_tokens,
                      dtype=np.float64)


def busy_step_share(rate: npt.ArrayLike) -> FloatArray:
    """Share of steps that receive at least one of `rate` arrivals per step, the arrivals
    independent (Poisson): 1 − e^(−rate). A busy step then holds rate/share of them on
    average (≥ 1). rate 0.14: 13.1% of the steps, 1.07 arrivals each; rate 3: 95%."""
    f = np.asarray(rate, dtype=np.float64)
    return np.asarray(-np.expm1(-f), dtype=np.float64)


def poll_wait_s(mean_step_s: npt.ArrayLike, decode_step_s: npt.ArrayLike,
                interval: float, overlap: bool = False) -> FloatArray:
    """Mean wait of a closed-loop client's next request until its scheduler takes it. The
    client sends it when its last request's final token comes back, which the engine
    answers at a step's end and then at once composes its next step; the request reaches
    the scheduler through the stack's inbound path after that (`sim.loop.resent_s`), so it
    waits that whole step τ (τ the mean step, a whole draft-and-verify cycle under
    speculative decoding; the inbound time itself is in `scheduler.frontend_s`). Plus
    (I − 1)/2 decode-only steps when the scheduler polls for new requests only every I
    decode steps (SGLang `--scheduler-recv-interval`: a decode forward counts 1, a
    prompt-carrying one triggers the next poll at once; SGLang `scheduler_recv_skipper.py`),
    plus one more whole step τ under an overlap scheduler (`overlap_scheduling`: the step
    after the running one was composed when that one began). τ = 35.7 ms, t(decode) =
    20 ms, I = 30: 35.7 + 290 = 326 ms; I = 1: 35.7 ms; I = 1 with overlap: 71.4 ms."""
    step = np.asarray(mean_step_s, dtype=np.float64)
    return np.asarray((1.0 + float(overlap)) * step
                      + 0.5 * (interval - 1.0) * np.asarray(decode_step_s, dtype=np.float64),
                      dtype=np.float64)


def train_wait_s(decode_step_s: npt.ArrayLike, group_step_s: npt.ArrayLike,
                 groups: npt.ArrayLike, steps_behind: float) -> tuple[FloatArray, FloatArray]:
    """Mean wait of a fixed-length closed loop's later request, and the prompt steps in it.
    Fixed lengths bring the prompts back in the first wave's G groups, one group's prompt
    step after another (a train), so the groups finish one step apart. A group's next
    requests reach the scheduler just after the step that finished it (`poll_wait_s`):
    they wait w steps (1; 2 under an overlap scheduler, whose next step was composed
    already) and run in the one after. Among the k-th group's w steps are the prompt steps
    of min(w, k − 1) groups ahead; the others decode. Over the G groups that is P =
    Σ min(w, k − 1) = G(G − 1)/2 prompt steps for G ≤ w + 1, else w·G − w(w + 1)/2:
    wait = (P·t(group step) + (w·G − P)·t(decode))/G, and P/G prompt steps a request waits
    through. Qwen3-32B, 4 × H100, TensorRT-LLM (overlap, w = 2), 8 clients of 4,096/256:
    G = 8, t(decode) 9.1 ms, a one-prompt step 123.1 ms: P = 13, wait = (13 · 123.1 +
    3 · 9.1)/8 = 203.4 ms, 1.625 prompt steps."""
    G = np.maximum(np.asarray(groups, dtype=np.float64), 1.0)
    w = float(steps_behind)
    P = np.where(w + 1.0 >= G, G * (G - 1.0) / 2.0, w * G - w * (w + 1.0) / 2.0)
    wait = (P * np.asarray(group_step_s, dtype=np.float64)
            + (w * G - P) * np.asarray(decode_step_s, dtype=np.float64)) / G
    return np.asarray(wait, dtype=np.float64), np.asarray(P / G, dtype=np.float64)


def adp_balance_window_steps(arrivals_per_step: npt.ArrayLike, ranks: int,
                             timeout: int) -> FloatArray:
    """Steps a balancing window lasts (see `adp_balance_wait_steps`): L = Σ_{t=0}^{T−1}
    [1 − (1 − e^(−λt))^(A−1)], λ = f/A; the window's 1 + f·L prompts are released
    together. A = 8, T = 60, f = 1 a step: L ≈ 21.2 (about 22 prompts at once)."""
    f = np.asarray(arrivals_per_step, dtype=np.float64)
    lam = f[..., None] / ranks
    t = np.arange(timeout, dtype=np.float64)
    return np.asarray((1.0 - (-np.expm1(-lam * t)) ** (ranks - 1)).sum(axis=-1),
                      dtype=np.float64)


def release_group(arrivals_per_step: npt.ArrayLike, ranks: int, timeout: int) -> FloatArray:
    """Prompts TensorRT-LLM's attention-DP balancing releases together: the first arrival
    of a window and the f·L that join it, 1 + f·`adp_balance_window_steps`. A = 8, T = 60,
    f = 1 a step: about 22."""
    f = np.asarray(arrivals_per_step, dtype=np.float64)
    return np.asarray(1.0 + f * adp_balance_window_steps(f, ranks, timeout), dtype=np.float64)


def adp_balance_wait_steps(arrivals_per_step: npt.ArrayLike, ranks: int, timeout: int,
                           batching: int) -> FloatArray:
    """Mean iterations a prompt waits under TensorRT-LLM's attention-DP context balancing
    (`py_executor._balance_adp_requests`): prompts are held until each of the A ranks holds
    one, or for at most T iterations; once all hold one, B iterations more. With f
    arrivals a step spread over the ranks (λ = f/A each, independent), the window a first
    arrival opens lasts L = Σ_{t=0}^{T−1} [1 − (1 − e^(−λt))^(A−1)] steps, covered before T
    with probability c = (1 − e^(−λT))^(A−1); its first prompt waits all of it, the m = f·L
    that join wait half on average: wait = (L + m·L/2)/(1 + m) + c·B. No ranks (A ≤ 1) or
    no timeout: 0.

    A = 8 ranks, T = 60, B = 0, f = 0.05 a step (λ = 0.00625): the window rarely closes
    early, L ≈ 59.9, m ≈ 3.0, wait ≈ 37.5 steps.
    """
    f = np.asarray(arrivals_per_step, dtype=np.float64)
    if ranks <= 1 or timeout <= 0:
        return np.zeros_like(f)
    window = adp_balance_window_steps(f, ranks, timeout)
    covered = (-np.expm1(-f / ranks * timeout)) ** (ranks - 1)
    joined = f * window
    return np.asarray((window + joined * window / 2.0) / (1.0 + joined) + covered * batching,
                      dtype=np.float64)


def closed_loop_steps(deployment: Deployment,
                      compositions: list[tuple[npt.ArrayLike, ...]]) -> list[StepCost]:
    """Several step compositions priced in one vectorised call: each is (decoding
    sequences, their context, prompt chunks, tokens per chunk, tokens a chunk attends to
    before it), arrays of one shape; the costs come back in the same order."""
    parts = [np.stack(np.broadcast_arrays(*column)) for column in zip(*compositions,
                                                                        strict=True)]
    decodes, contexts, chunks, tokens, cached = parts
    cost = mixed_step_cost(deployment, [Segment("decode", decodes, 1, contexts),
                                        Segment("chunk", chunks, tokens, cached)])
    return [cost.take(i) for i in range(len(compositions))]


@dataclass(frozen=True)
class ClosedLoop:
    """A closed loop of C clients on one replica, as a benchmark client drives it (the
    first C requests at once, each completion admitting the next, N requests in all).

    `running` sequences run at once (C, or fewer when KV or max_num_seqs caps them; the
    rest queue). Prompts enter steps as the engine's scheduler says: `mixed` engines put
    a prompt's chunk beside the decodes (`prompt_step`, a share `prompt_share` of the
    steps); `prefill_first` engines run prompt-only steps while the decodes wait.
    """

    concurrency: FloatArray
    running: FloatArray
    prompt_share: FloatArray          # prompt-carrying steps per decode step
    decode_step: StepCost             # the running sequences' decode-only step
    prompt_step: StepCost             # a step that carries prompt tokens
    tpot_s: FloatArray
    first_wave_ttft_s: FloatArray     # mean TTFT of the first C requests (sent at once)
    steady_ttft_s: FloatArray         # mean TTFT of a later request
    ttft_s: FloatArray                # mean over the N requests
    e2e_latency_s: FloatArray
    mixed: bool                       # prompt chunks share steps with decodes
    #: with speculative decoding: the time per token by term (cycles and prompt work)
    speculative_split_s: dict[str, FloatArray] | None = None

    def breakdown_s(self) -> dict[str, FloatArray]:
        """Exposed seconds per term of the time between two tokens of a request."""
        if self.speculative_split_s is not None:
            return self.speculative_split_s
        d, p, phi = self.decode_step.breakdown_s(), self.prompt_step.breakdown_s(), \
            self.prompt_share
        if self.mixed:
            return {k: np.asarray((1 - phi) * d[k] + phi * p[k], dtype=np.float64) for k in d}
        return {k: np.asarray(d[k] + phi * p[k], dtype=np.float64) for k in d}


#: Speculative decoding in a closed loop: for the running count R and the decode context,
#: (seconds of one draft-and-verify cycle, tokens it emits per sequence, the cycle's
#: seconds by term); see `speculative.cycle_for`.
SpeculativeCycle = Callable[[FloatArray, float],
                            tuple[FloatArray, FloatArray, dict[str, FloatArray]]]


def closed_loop(deployment: Deployment, workload: Workload, concurrency: npt.ArrayLike,
                cycle: SpeculativeCycle | None = None,
                draft: Deployment | None = None) -> ClosedLoop:
    """Steady state and first wave of a closed loop of C clients (vectorised over C).

    Means S̄, n̄ of the prompt and output lengths; budget b (the workload's
    `prefill_chunk_tokens`, else the engine's `max_num_batched_tokens`); R = min(C,
    `admitted_sequences`). A request lives k_p + n̄ − 1 steps, so f = R/(k_p + n̄ − 1)
    prompts arrive per step.
    Arrivals are independent: a share 1 − e^(−x) of the steps receives any of x per step
    (`busy_step_share`), and those hold x/share each.
    - mixed (vLLM, TensorRT-LLM): a prompt goes in k_p = ⌈S̄/(b − R)⌉ chunks (1 without
      chunked prefill) beside the decodes; a share φ = 1 − e^(−f·k_p) of the steps carries
      prompt tokens (f·S̄/φ each). With fixed lengths (ratio 1) the prompts come back
      as a train of the first wave's groups: each of its R·S̄/q steps carries q prompt
      tokens (q = the room b − R with chunked prefill, else g·S̄ for the g whole prompts of
      the room b − R/2, 1 ≤ g ≤ R), a group's k_p of them its own; a request decodes
      through the train's steps but its own and those it waited through (`train_wait_s`),
      a share φ of its n̄ − 1 steps.
      TPOT τ = φ·t(prompt step) + (1 − φ)·t(decode step).
    - prefill_first (SGLang, bucketed engines): prompt-only steps of g = min(x/(1 −
      e^(−x)), b/S̄) prompts (k_p = ⌈S̄/b⌉ chunks each; x = f·I the arrivals between two
      polls of the scheduler, which takes new requests every I decode steps, I = 1 but
      for SGLang's --scheduler-recv-interval), ψ = f·k_p/g of them per decode step, while
      the decodes wait: TPOT = t(decode) + ψ·t(prompt step).
    TTFT. The first C prompts arrive at once and go through the budget FCFS: the j-th
    has its first token after ⌈j·S̄/b'⌉ full prompt steps (b' = b − R/2 beside the
    decodes of mixed engines). A later request waits for the scheduler's next poll
    (`poll_wait_s`: the step composed as its predecessor finished, or with I > 1 also
    (I − 1)/2 decode steps), then its k_p prompt steps; with fixed lengths (ratio 1) a
    later request's group waits for the train's steps composed ahead of it
    (`train_wait_s`), then its own k_p. Clients beyond R wait in the queue for a
    completion: (C − R)/R request lifetimes (Little's law).
    Mean over N requests (default 10·C): (C·first + (N − C)·later)/N.
    With A attention data-parallel ranks (`Layout.attention_dp_ranks`) each rank schedules
    with its own budget: b above is A times the engine's (the engine's own b where it splits
    one setting over the ranks, `scheduler.attention_dp_limits`), and a prompt's chunk fits
    one rank's (k_p counts chunks of the rank's room). Under TensorRT-LLM's context
    balancing a later prompt also waits `adp_balance_wait_steps` decode steps for every rank
    to hold one, and the window's 1 + f·L prompts (`release_group`) are released together:
    the j-th has its first token after ⌈j·S̄/b'⌉ steps carrying min(that group, b') prompt
    tokens, and the prompt steps carry the releases (up to the ranks' budgets), a share φ =
    f·k_p/(prompts a step) of the steps.
    TTFT is never below one prompt's prefill. Every TTFT then carries the serving stack's
    time outside the steps (`scheduler.frontend_s`: HTTP, tokenisation, hand-off, output
    processing), which overlaps other requests' steps and loads no step.
    e2e = TTFT + (n̄ − 1)·TPOT.
    Speculative decoding (`cycle`, `draft`, or the deployment's `speculative:` draft,
    α and γ through `speculative.cycle_for`): a decode step becomes a draft-and-verify
    cycle emitting E tokens per sequence, so a request decodes in (n̄ − 1)/E cycles; a
    prompt step adds its prompt work to a cycle, and every prompt is also prefilled by the
    draft. TPOT = the mean cycle (with prompt work) / E.
    Prefix cache (`workload.prefix_hit_rate` h): a prompt's KV and its decodes' context
    hold all S̄ tokens, but its work is P̄ = S̄·(1 − h) new tokens on top of h·S̄ cached
    ones: every S̄ above that counts budget or prompt steps reads P̄, and each chunk
    attends to the h·S̄ cached tokens besides the chunks before it. 1,024-token prompts
    at h = 0.75 on vLLM's 8,192-token budget beside 32 decodes: k_p = ⌈256/8,160⌉ = 1
    chunk of 256 tokens attending to 768.
    Lengths that vary (a ratio below 1, a named distribution, a lengths file) are priced
    at their means, as uniform lengths are.

    Qwen3-32B on one H200, vLLM, 1024/1024 fixed, C = 8: k_p = 1, the room 8,184 tokens
    holds the 8 prompts' 8,192 but for 8, so the train is 1.001 steps; its prompts ride in
    no request's decoding (φ ≈ 5e-7). The first wave fits one step (758 ms), and every
    later request waits the 2 decode steps composed ahead of it (async scheduling) and
    then its group's step: 816 ms of TTFT with the front end.
    """
    sched = deployment.engine.scheduler
    spec = deployment.speculative
    if cycle is None and spec is not None:
        draft = draft_deployment(deployment, spec.draft)
        cycle = cycle_for(deployment, draft, spec.alpha, spec.gamma)
    overlap = overlap_scheduling(deployment, draft.model if draft is not None else None)
    C = np.asarray(concurrency, dtype=np.float64)
    S, n = workload.mean_input_len, workload.mean_output_len
    # a prompt's computed tokens and those found in the prefix cache (P = S, H = 0 without)
    P, H = workload.mean_computed_input_len, workload.mean_cached_input_len
    # A attention-DP ranks each schedule their own requests with their own token budget
    ranks = deployment.layout.attention_dp_ranks(deployment.model)
    rank_budget = deployment.rank_token_budget(workload.prefill_chunk_tokens)
    budget = ranks * rank_budget
    R = np.minimum(C, float(admitted_sequences(deployment, workload)))
    interval = float(sched.recv_interval_steps)
    context = S + n / 2.0
    mixed = sched.prompt_steps == "mixed"
    zero = np.zeros_like(R)
    balanced = ranks > 1 and sched.adp_balance_timeout_steps > 0
    if mixed:
        room = np.maximum(rank_budget - R / ranks, 1.0)
        k_p = np.ceil(P / room) if sched.chunked_prefill else np.ones_like(R)
        f = R / (k_p + n - 1.0)
        # released groups of `release_group` prompts under TensorRT-LLM's balancing
        release = release_group(f, ranks, sched.adp_balance_timeout_steps) if balanced \
            else np.ones_like(R)
        phi = busy_step_share(f * k_p / release)
        prompts = f * k_p / np.maximum(phi, 1e-12)          # chunks per prompt step
        if workload.fixed_lengths and not balanced:
            # fixed lengths: prompts come back in the first wave's groups of `whole`
            # (the whole prompts a step's room takes), a group's chunks in one step
            whole = np.clip(ranks * whole_prompts(np.maximum(rank_budget - R / (2.0 * ranks),
                                                             1.0), P, False) / P, 1.0, R)
            phi = np.minimum(f * k_p / whole, 1.0)
            prompts = f * k_p / np.maximum(phi, 1e-12)
        if balanced:   # a release goes through the ranks' budgets: at most that a step
            cap = ranks * (room * k_p / P if sched.chunked_prefill
                           else whole_prompts(room, P, False) / P)
            prompts = np.minimum(prompts, np.maximum(cap, 1.0))
            phi = np.minimum(f * k_p / prompts, 1.0)
        prompt_decodes = R * (n - 1.0) / (k_p + n - 1.0)
        first_room = ranks * whole_prompts(np.maximum(rank_budget - R / (2.0 * ranks), 1.0),
                                           P, sched.chunked_prefill)
        first_decodes = R / 2.0
    else:
        k_p = np.full_like(R, math.ceil(P / rank_budget))
        f = R / (k_p + n - 1.0)
        polled = f * interval                     # arrivals taken at one poll
        if balanced:
            polled = np.maximum(polled, release_group(f, ranks, sched.adp_balance_timeout_steps))
        prompts = np.minimum(np.maximum(polled / np.maximum(busy_step_share(polled), 1e-12),
                                        1.0), max(budget / P, 1.0))   # g per step
        phi = f * k_p / prompts
        prompt_decodes = zero
        first_room = ranks * whole_prompts(np.full_like(R, rank_budget), P,
                                           sched.chunked_prefill)
        first_decodes = zero
    chunk = P / k_p
    per_step = np.minimum(first_room, R * P)
    first_chunk = np.minimum(P, per_step)
    group = np.minimum(np.maximum(first_room / P, 1.0), R)
    # fixed lengths, mixed steps: the returning prompts go through the engine as a train
    # of steps, each carrying `train_tokens` of them beside the decodes, as the first
    # wave's steps did (the whole room with chunked prefill; else a group of whole prompts)
    if mixed and sched.chunked_prefill:
        train_tokens = np.clip(ranks * room, 1.0, R * P)
    else:
        train_tokens = group * P
    train_chunk = np.minimum(chunk, train_tokens)
    # The loop's step compositions, priced in one call along a leading axis: a decode
    # step; a prompt step; a first-wave step; one prompt alone; a step of the train of
    # returning prompts (fixed lengths, mixed steps).
    rows = closed_loop_steps(deployment, [
        (R, context, zero, zero, zero),
        (prompt_decodes, context, prompts, chunk, H + (P - chunk) / 2.0),
        (first_decodes, np.full_like(R, S), per_step / first_chunk, first_chunk,
         H + np.maximum(P - per_step, 0.0) / 2.0),
        (zero, zero, np.ones_like(R), np.full_like(R, P), np.full_like(R, H)),
        (np.maximum(R - train_tokens / P, 0.0) if mixed else zero, context,
         train_tokens / train_chunk, train_chunk, H + (P - train_chunk) / 2.0)])
    decode, prompt, first_step_cost, alone, grouped_cost = rows
    first_step = first_step_cost.latency_s
    one_prefill = alone.latency_s
    grouped = grouped_cost.latency_s
    prompt_s = prompt.latency_s
    decode_s = decode.latency_s
    tokens = np.ones_like(R)
    split: dict[str, FloatArray] | None = None
    if cycle is not None and draft is not None:
        # the draft prefills every prompt too: its prompt-only share of each composition
        d_rows = closed_loop_steps(draft, [
            (zero, context, prompts, chunk, H + (P - chunk) / 2.0),
            (zero, np.full_like(R, S), per_step / first_chunk, first_chunk,
             H + np.maximum(P - per_step, 0.0) / 2.0),
            (zero, zero, np.ones_like(R), np.full_like(R, P), np.full_like(R, H)),
            (zero, context, train_tokens / train_chunk, train_chunk,
             H + (P - train_chunk) / 2.0)])
        cycle_s, tokens, cycle_split = cycle(R, context)
        marginal = (prompt_s - decode_s) if mixed else prompt_s
        prompt_terms = prompt.breakdown_s()
        decode_terms = decode.breakdown_s()
        draft_terms = d_rows[0].breakdown_s()
        prompt_work = {k: (prompt_terms[k] - decode_terms[k] if mixed else prompt_terms[k])
                       + draft_terms[k] for k in prompt_terms}
        prompt_s = cycle_s + marginal + d_rows[0].latency_s if mixed \
            else marginal + d_rows[0].latency_s
        first_step = first_step + d_rows[1].latency_s
        one_prefill = one_prefill + d_rows[2].latency_s
        grouped = grouped - decode_s + cycle_s + d_rows[3].latency_s
        decode_s = cycle_s
        f = R / (k_p + (n - 1.0) / tokens)
        phi = (np.minimum(f * k_p / prompts, 1.0) if balanced else busy_step_share(f * k_p)) \
            if mixed else f * k_p / prompts
        split = {k: np.asarray((cycle_split[k] + phi * prompt_work[k]) / tokens,
                               dtype=np.float64) for k in cycle_split}
    if mixed:
        tpot = (phi * prompt_s + (1.0 - phi) * decode_s) / tokens
    else:
        tpot = (decode_s + phi * prompt_s) / tokens
    tpot = np.asarray(tpot, dtype=np.float64)
    first_steps = mean_ceil(P / first_room, R)
    first = np.maximum(first_step * first_steps, one_prefill)
    waves = workload.fixed_lengths and not mixed
    if waves:
        # fixed lengths, prefill first: the wave's prompts all prefill before any of them
        # decodes, so its requests finish together and the next wave comes back whole.
        # Every request sees the first wave's TTFT; its decoding starts after the wave's
        # last prompt step: TPOT = t(decode) + (k − mean steps to its first token)·t/(n − 1).
        k = np.ceil(R * P / budget)
        tpot = np.asarray(decode_s / tokens + (k - first_steps) * first_step
                          / max(n - 1.0, 1.0), dtype=np.float64)
        later = first
    elif not workload.fixed_lengths:
        later = (poll_wait_s(tpot * tokens, decode_s, interval, overlap)
                 + k_p * prompt_s)
    else:
        # fixed lengths, mixed steps: later requests come back as a train of the first
        # wave's groups and wait for the steps composed ahead of them (`train_wait_s`);
        # a group's prompts then take k_p steps of their own (the next group had not come
        # back when those were composed)
        train = R * P / train_tokens
        own = k_p
        wait, waited = train_wait_s(decode_s, grouped, train, 1.0 + float(overlap))
        later = 0.5 * (interval - 1.0) * decode_s + wait + grouped * own
        if cycle is None and not balanced:   # (balanced releases are priced below)
            # a request decodes through the train's prompt steps but its own and those
            # it waited through: the prompt share of its n̄ − 1 steps
            window = max(n - 1.0, 1.0)
            phi = np.clip(train - own - waited, 0.0, window) / window
            prompt, prompt_s = grouped_cost, grouped
            tpot = np.asarray(phi * grouped + (1.0 - phi) * decode_s, dtype=np.float64)
    if balanced:
        # held prompts wait, then are released together and go through the budget
        timeout = sched.adp_balance_timeout_steps
        wait = adp_balance_wait_steps(f, ranks, timeout, sched.adp_balance_batching_steps)
        group = release_group(f, ranks, timeout)
        room_b = np.maximum(budget - R, 1.0) if mixed else np.full_like(R, budget)
        carried = np.minimum(group * P, room_b)
        chunk_b = np.minimum(P, carried)
        (released,) = closed_loop_steps(deployment, [
            (prompt_decodes, context, carried / chunk_b, chunk_b, np.full_like(R, H))])
        later = (poll_wait_s(tpot * tokens, decode_s, interval, overlap)
                 + wait * decode_s
                 + mean_ceil(P / room_b, group) * released.latency_s)
    later = np.maximum(later, one_prefill)
    lifetime = later + (n - 1.0) * tpot
    queued = (C - R) / R * lifetime                 # Little's law, for clients beyond R
    later = later + queued
    first = first + queued * (C - R) / np.maximum(C, 1.0)
    first = first + sched.frontend_s
    later = later + sched.frontend_s
    N = float(workload.requests) if workload.requests else 10.0 * C
    N = np.maximum(N, C)
    ttft = np.asarray((C * first + (N - C) * later) / N, dtype=np.float64)
    return ClosedLoop(
        concurrency=C, running=R, prompt_share=np.asarray(phi, dtype=np.float64),
        decode_step=decode, prompt_step=prompt, tpot_s=tpot,
        first_wave_ttft_s=np.asarray(first, dtype=np.float64),
        steady_ttft_s=np.asarray(later, dtype=np.float64), ttft_s=ttft,
        e2e_latency_s=np.asarray(ttft + (n - 1.0) * tpot, dtype=np.float64), mixed=mixed,
        speculative_split_s=split)


def in_flight(deployment: Deployment, workload: Workload, concurrency: int) -> tuple[
        PhaseSummary, PhaseSummary, float, float, float]:
    """One closed loop of C clients (`closed_loop`): the prefill summary is one prompt's
    prefill (its uncached tokens on top of the cached, `prompt_work`); the decode summary
    the time between two tokens, term by term."""
    loop = closed_loop(deployment, workload, concurrency)
    breakdown = {k: float(v) for k, v in loop.breakdown_s().items()}
    decode = summarise(loop.decode_step)
    bound = max(breakdown, key=lambda k: breakdown[k])
    decode = PhaseSummary(latency_s=float(loop.tpot_s), bound=bound, mfu=decode.mfu,
                          breakdown_s=breakdown, layout=decode.layout)
    prefill_only = step_cost(deployment, "prefill", 1,
                             *prompt_work(workload.input_len, workload.prefix_hit_rate))
    return (summarise(prefill_only), decode, float(loop.ttft_s), float(loop.tpot_s),
            float(loop.e2e_latency_s))


def estimate(deployment: Deployment, workload: Workload) -> Estimate:
    """Memory, step costs and serving metrics for one scenario."""
    if workload.rate is not None or workload.arrival == "offline" or (
            workload.trace is not None and workload.concurrency is None):
        field, value = (("workload.rate", workload.rate) if workload.rate is not None
                        else ("workload.trace", workload.trace) if workload.trace is not None
                        else ("workload.arrival", workload.arrival))
        raise InferplanError(field, value,
                             "open-loop arrivals are simulated (inferplan simulate, "
                             "inferplan capacity); estimate takes batch or concurrency")
    mem = memory_result(deployment, workload, find_smallest=False)
    if workload.batch == "max":
        mode: Mode = "max"
        batch = max(mem.max_batch, 1)
        prefill, decode, ttft, tpot, e2e = in_flight(deployment, workload, batch)
    elif workload.concurrency is not None:
        mode, batch = "concurrency", workload.concurrency
        prefill, decode, ttft, tpot, e2e = in_flight(deployment, workload, batch)
    else:
        if deployment.speculative is not None:
            raise InferplanError("speculative", deployment.speculative.draft.name,
                                 "speculative decoding is priced in a closed loop: give "
                                 "workload.concurrency or batch: max (or use "
                                 "inferplan speculative for a static batch)")
        mode, batch = "static", int(workload.batch or 1)
        prefill, decode, ttft, tpot, e2e = static_batch(deployment, workload, batch)
    frontend = 0.0 if mode == "static" else deployment.engine.scheduler.frontend_s
    # every replica completes `batch` requests per end-to-end latency
    requests_per_s = deployment.layout.dp * batch / e2e if e2e > 0 else 0.0
    # each of output_len tokens: uniform lengths count the longest (as they always have);
    # a named distribution's or a lengths file's count their mean
    per_request = (workload.output_len if workload.length_distribution == "uniform"
                   and workload.file_mean_lengths is None else workload.mean_output_len)
    return Estimate(
        deployment=deployment, workload=workload, mode=mode, batch=batch, memory=mem,
        prefill=prefill, decode=decode, ttft_s=ttft, tpot_s=tpot, e2e_latency_s=e2e,
        output_tokens_per_s=requests_per_s * per_request,
        requests_per_s=requests_per_s, ttft_frontend_s=frontend)


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
        "engine": {"name": est.deployment.engine.name,
                   "version": est.deployment.engine.version},
        "mode": est.mode, "fits": est.fits, "batch": est.batch,
        "max_batch": est.memory.max_batch, "memory": mem["memory"],
        "ttft_s": est.ttft_s, "ttft_frontend_s": est.ttft_frontend_s, "tpot_s": est.tpot_s,
        "e2e_latency_s": est.e2e_latency_s,
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

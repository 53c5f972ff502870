"""Prefill/decode disaggregation: how many prefill servers keep the decode servers fed.

A disaggregated deployment runs prompts on a *prefill* pool and generation on a
*decode* pool (DistServe, Splitwise, the Scaling Book's part 8). It is a pipeline:
the prefill pool supplies requests at P · r_p (P servers, r_p prompts/s each), the
decode pool consumes them at G · r_d (G servers, r_d requests/s each). Both stay
saturated when P/G = r_d / r_p.

Conventions follow `serving`: the prefill step emits the first output token, so a
request of `output_len` tokens spends output_len − 1 steps on a decode server, at
contexts S, S+1, ..., S+output_len−2 cached tokens. Step times come from
`cost.step_cost` (so `efficiency: ideal` is the seed's textbook roofline). Moving
a prompt's KV cache from the prefill pool to the decode pool (`kv_transfer_s`) adds to
TTFT; it overlaps other requests' work, so it does not reduce throughput.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from inferplan.collectives import send_recv_time
from inferplan.deployment import Deployment
from inferplan.lengths import prompt_work
from inferplan.memory import (
    MemoryBreakdown,
    decode_working_bytes,
    devices_per_chip,
    kv_bytes_per_sequence_per_device,
    largest_true,
    prefill_working_bytes,
    sequences_per_device,
    weight_bytes_at,
)
from inferplan.models import ModelSpec
from inferplan.speculative import draft_bytes_per_chip, draft_deployment, speculative_cost
from inferplan.steptime import step_cost
from inferplan.units import InferplanError


def _positive(field: str, value: int) -> int:
    if value < 1:
        raise InferplanError(field, value, "must be a positive integer")
    return value


def _decode_steps(output_len: int) -> int:
    if output_len < 2:
        raise InferplanError("output_len", output_len,
                             "must be ≥ 2: the prefill step emits the first token, so a "
                             "decode server runs output_len − 1 steps")
    return output_len - 1


# ------------------------------------------------------------------ prefill pool
def prefill_steps_s(deployment: Deployment, input_len: int, batches: npt.ArrayLike,
                    mfu: float | None = None,
                    prefix_hit_rate: float = 0.0) -> npt.NDArray[np.float64]:
    """`prefill_step_s` for an array of batches at once."""
    _positive("input_len", input_len)
    if not 0.0 <= prefix_hit_rate < 1.0:
        raise InferplanError("prefix_hit_rate", prefix_hit_rate, "a fraction in [0, 1)")
    work = prompt_work(input_len, prefix_hit_rate)      # (computed, cached) tokens
    B = np.asarray(batches, dtype=np.float64)
    if np.any(B < 1):
        raise InferplanError("batch", np.ravel(B).tolist(), "must be positive integers")
    costs = [step_cost(deployment, "prefill", B, *work)]
    if deployment.speculative is not None:      # the draft prefills the prompts too
        costs.append(step_cost(draft_deployment(deployment, deployment.speculative.draft),
                               "prefill", B, *work))
    if mfu is None:
        return np.asarray(sum(c.latency_s for c in costs), dtype=np.float64)
    if not 0.0 < mfu <= 1.0:
        raise InferplanError("mfu", mfu, "a fraction of peak FLOP/s in (0, 1]")
    chip = deployment.chip
    peak = chip.flops_per_s(deployment.dtypes.compute) / chip.cores_per_chip   # per device
    flops = sum(np.asarray(c.flops, dtype=np.float64) for c in costs)
    return np.asarray(flops / (mfu * peak), dtype=np.float64)


def prefill_step_s(deployment: Deployment, input_len: int, batch: int = 1,
                   mfu: float | None = None, prefix_hit_rate: float = 0.0) -> float:
    """Time of one prefill step of `batch` prompts of `input_len` tokens.

    mfu None: the roofline step time (`cost.step_cost`). mfu given: the step's FLOPs per
    device over mfu · the device's peak, t = FLOPs / (mfu · C), the way the seed states
    prefill. With speculative decoding (`deployment.speculative`) the draft prefills the
    prompts as well (an MTP module's KV, which the decode pool's first cycle needs), and
    its step adds to the target's. With a prefix-cache hit rate h each prompt computes
    S·(1 − h) tokens on top of S·h cached ones (`lengths.prompt_work`). Seed 001 A31,
    LLaMA 3-70B bf16 on 16 book v5e chips, S = 8192, mfu = 0.4:
    (2·69.5e9·8192 + causal attention 8.8e13) / (16 · 0.4 · 1.97e14) = 0.98 s
    (the seed's 0.91 s leaves out attention and rounds P to 70e9).
    """
    _positive("batch", batch)
    return float(prefill_steps_s(deployment, input_len, batch, mfu, prefix_hit_rate))


def prefill_requests_per_s(deployment: Deployment, input_len: int, batch: int = 1,
                           mfu: float | None = None, prefix_hit_rate: float = 0.0) -> float:
    """Prompts one prefill server completes per second: r_p = B_p / t_prefill.

    Seed 001 A34: one 8192-token prompt per 0.98 s on 16 chips at 40% MFU: 1.02 prompts/s.
    """
    return batch / prefill_step_s(deployment, input_len, batch, mfu, prefix_hit_rate)


# ------------------------------------------------------------------- decode pool
def decode_step_s(deployment: Deployment, batch: int, input_len: int,
                  output_len: int) -> float:
    """Mean decode step of `batch` sequences over a request's life: the mean of the
    step times at contexts S, ..., S+output_len−2 (the TPOT of a full decode batch).

    Seed 001 A25, bf16 on a book v5e 4x4 at B = 41 (the caches that fit at 8k),
    S = 8192, 512 output tokens: weights 10.8 ms + KV 8.65 ms = 19.45 ms (seed: 19 ms).
    With speculative decoding (`deployment.speculative`) a step is a draft-and-verify
    cycle emitting E tokens a sequence: the mean of cycle/E (`speculative.speculative_cost`)
    at the same contexts.
    """
    _positive("batch", batch)
    _positive("input_len", input_len)
    contexts = input_len + np.arange(_decode_steps(output_len), dtype=np.float64)
    spec = deployment.speculative
    if spec is not None:    # draft-and-verify cycles: the time per token is cycle / E
        cost = speculative_cost(deployment, draft_deployment(deployment, spec.draft),
                                float(batch), contexts, spec.alpha, spec.gamma)
        return float(np.mean(np.asarray(cost.cycle_s) / np.asarray(cost.expected_tokens)))
    return float(np.mean(step_cost(deployment, "decode", batch, 1, contexts).latency_s))


def decode_tokens_per_s(deployment: Deployment, batch: int, input_len: int,
                        output_len: int) -> float:
    """Tokens one decode server generates per second, every slot busy: B / τ.

    Seed 001 A10, int8 on a book v5e 4x2, B = 32, S = 8192, 512 output tokens:
    32 / 17.35 ms = 1,845 tok/s, 231 per chip (the seed's 1,882 rounds the step to 17 ms).
    """
    return batch / decode_step_s(deployment, batch, input_len, output_len)


def decode_requests_per_s(deployment: Deployment, batch: int, input_len: int,
                          output_len: int) -> float:
    """Requests one decode server finishes per second, which is the rate it must be
    fed at: r_d = B / ((output_len − 1) · τ).

    Seed 001 A25, bf16 on 4x4, B = 41, 512 output tokens: 41 / (511 · 19.45 ms)
    = 4.12 requests/s, 0.258 per chip (the seed's 43 / (0.019 · 512) / 16 = 0.276).
    """
    steps = _decode_steps(output_len)
    return batch / (steps * decode_step_s(deployment, batch, input_len, output_len))


def sequences_finished_per_step(batch: int, output_len: int) -> float:
    """Sequences a full decode batch finishes per step at steady state: B / (output_len − 1).

    Seed 001 A32: B = 32, 4096 generated tokens: 32 / 4095 = 0.0078 (seed: 32/4096).
    """
    return _positive("batch", batch) / _decode_steps(output_len)


def kv_tokens_freed_per_step(batch: int, input_len: int, output_len: int) -> float:
    """KV-cache tokens freed per decode step at steady state: each finishing sequence
    frees its S + output_len positions, B·(S + n)/(n − 1).

    Seed 001 A33: B = 32, S = 8192, n = 4096: 32 · 12288 / 4095 = 96.0 (seed: 96).
    """
    finished = sequences_finished_per_step(batch, output_len)
    return finished * (_positive("input_len", input_len) + output_len)


# ------------------------------------------------------------------- the ratio
@dataclass(frozen=True)
class DisaggregationRatio:
    """Rates of one server of each pool and the ratio that saturates both."""

    prefill_requests_per_s: float      # r_p, one prefill server
    decode_requests_per_s: float       # r_d, one decode server
    prefill_chips: int
    decode_chips: int

    @property
    def prefill_servers_per_decode_server(self) -> float:
        """P/G = r_d / r_p."""
        return self.decode_requests_per_s / self.prefill_requests_per_s

    @property
    def prefill_chips_per_decode_chip(self) -> float:
        """P·chips_p / (G·chips_d): the ratio of the pools' chip counts."""
        return (self.prefill_servers_per_decode_server * self.prefill_chips
                / self.decode_chips)


def prefill_decode_ratio(prefill: Deployment, decode: Deployment, input_len: int,
                         output_len: int, decode_batch: int, prefill_batch: int = 1,
                         prefill_mfu: float | None = None,
                         prefix_hit_rate: float = 0.0) -> DisaggregationRatio:
    """Prefill servers per decode server that keep both pools saturated.

    P / t_prefill · B_p = G · B_d / ((output_len − 1) · τ)  ⇒
    P/G = B_d · t_prefill / (B_p · (output_len − 1) · τ).

    Seed 001 A34, LLaMA 3-70B bf16, both pools 16 book v5e chips, S = 8192, 512 output
    tokens, prefill at 40% MFU (0.98 s), decode B = 43 (τ = 19.9 ms):
    43 · 0.98 / (511 · 0.0199) = 4.1 prefill servers per decode server. The seed's
    "P = 3G" puts B = 32 against the 19 ms step of B = 43.
    """
    return DisaggregationRatio(
        prefill_requests_per_s=prefill_requests_per_s(prefill, input_len, prefill_batch,
                                                      prefill_mfu, prefix_hit_rate),
        decode_requests_per_s=decode_requests_per_s(decode, decode_batch, input_len,
                                                    output_len),
        prefill_chips=prefill.chips, decode_chips=decode.chips)


# ------------------------------------------------------------ KV hand-off and pools
def kv_transfer_s(prefill: Deployment, input_len: int, same_domain: bool = False,
                  prompts: npt.ArrayLike = 1) -> npt.NDArray[np.float64]:
    """Seconds to hand the KV caches of `prompts` prompts (one prefill step's batch) from
    a prefill server to a decode server: each prefill device sends its shard,
    V = prompts · kv_bytes_per_sequence_per_device, at once, over the scale-out NIC
    (pools in different hosts/slices) or the scale-up link (`same_domain`): t = V / W + α.

    LLaMA 3-70B int8 on 8 v5e, 8192 tokens, one prompt: 1.34e9 B / 8 = 1.68e8 B per chip
    over the catalog's 3.125e9 B/s of DCN per chip, + 10 µs: 53.7 ms.
    """
    _positive("input_len", input_len)
    dep = prefill
    shard = kv_bytes_per_sequence_per_device(dep.model, dep.layout, dep.dtypes.kv, input_len)
    n = np.asarray(prompts, dtype=np.float64)
    return np.asarray(send_recv_time(dep.topology, n * shard, crosses_domain=not same_domain)
                      .total_s, dtype=np.float64)


def _pool_memory(deployment: Deployment, kv_bytes_per_device: npt.ArrayLike,
                 working_bytes_per_device: npt.ArrayLike) -> MemoryBreakdown:
    model, layout, dt = deployment.model, deployment.layout, deployment.dtypes
    per_chip = devices_per_chip(deployment.chip)
    capacity = deployment.chip.memory_bytes
    return MemoryBreakdown(
        weights_bytes_per_chip=float(weight_bytes_at(model, layout, dt) * per_chip),
        kv_bytes_per_chip=np.asarray(kv_bytes_per_device, dtype=np.float64) * per_chip,
        activation_bytes_per_chip=np.asarray(working_bytes_per_device,
                                             dtype=np.float64) * per_chip,
        capacity_bytes_per_chip=capacity,
        usable_bytes_per_chip=capacity * deployment.usable_fraction)


def prefill_server_memory(deployment: Deployment, input_len: int,
                          batch: npt.ArrayLike) -> MemoryBreakdown:
    """Per chip on a prefill server: weights, the KV caches of the B prompts of one step
    (input_len tokens each, held until handed off) and the working memory of that step,
    B·S tokens of activations plus B last-token logits (`memory.prefill_working_bytes`).

    LLaMA 3-70B bf16 on 16 book v5e chips (tp=16), B = 1, S = 8192: weights 8.99e9 +
    KV 3.36e8 (8192 · 327,680 B / 8 head shards) + working 3.38e8 ≈ 9.66e9 B of 16e9.
    """
    model, layout, dt = deployment.model, deployment.layout, deployment.dtypes
    B = np.asarray(batch, dtype=np.float64)
    kv = (sequences_per_device(model, layout, B)
          * kv_bytes_per_sequence_per_device(model, layout, dt.kv, _positive("input_len",
                                                                              input_len)))
    working = prefill_working_bytes(model, layout, dt.compute, B * input_len, B)
    return _pool_memory(deployment, kv, working)


def decode_server_memory(deployment: Deployment, input_len: int, output_len: int,
                         batch: npt.ArrayLike) -> MemoryBreakdown:
    """Per chip on a decode server: weights, B caches at the full context S + n, and the
    working memory of a decode step alone (`memory.decode_working_bytes`): no prompt
    runs here, so no prefill chunk.

    LLaMA 3-70B bf16 on 16 book v5e chips (tp=16, batch-sharded attention), B = 43,
    S = 8192, n = 512: weights 8.99e9 + KV ⌈43/2⌉ · 3.57e8 = 7.84e9 + working 3.2e6
    ≈ 16.84e9 B, over the 16e9 (`max_decode_batch`: 38).
    """
    model, layout, dt = deployment.model, deployment.layout, deployment.dtypes
    B = np.asarray(batch, dtype=np.float64)
    context = _positive("input_len", input_len) + _positive("output_len", output_len)
    kv = (sequences_per_device(model, layout, B)
          * kv_bytes_per_sequence_per_device(model, layout, dt.kv, context))
    return _pool_memory(deployment, kv, decode_working_bytes(model, layout, dt.compute, B))


def with_draft_memory(memory: MemoryBreakdown, target: Deployment, draft: ModelSpec,
                      context_len: int, batch: npt.ArrayLike) -> MemoryBreakdown:
    """`memory` of a pool server plus a draft model beside the target: its weights and its
    B caches at `context_len` tokens (`speculative.draft_bytes_per_chip`, as
    `speculative.speculative_memory` adds them).

    Llama-3.1-8B bf16 on one H100 with a Llama-3.2-1B draft, B = 8 at 1,152 tokens:
    + 2.47 GB of weights and 8 · 37.7 MB = 0.30 GB of draft cache.
    """
    weights, kv = draft_bytes_per_chip(target, draft, context_len, batch)
    return replace(memory,
                   weights_bytes_per_chip=memory.weights_bytes_per_chip + weights,
                   kv_bytes_per_chip=np.asarray(memory.kv_bytes_per_chip + kv,
                                                dtype=np.float64))


def speculative_decode_server_memory(target: Deployment, draft: ModelSpec, input_len: int,
                                     output_len: int, batch: npt.ArrayLike,
                                     gamma: int) -> MemoryBreakdown:
    """Per chip on a decode server that drafts γ tokens a cycle: `decode_server_memory`
    at S + n + γ tokens with the verify step's working memory (B·(γ+1) tokens), plus the
    draft's weights and caches (`with_draft_memory`)."""
    model, layout, dt = target.model, target.layout, target.dtypes
    B = np.asarray(batch, dtype=np.float64)
    context = (_positive("input_len", input_len) + _positive("output_len", output_len)
               + int(gamma))
    kv = (sequences_per_device(model, layout, B)
          * kv_bytes_per_sequence_per_device(model, layout, dt.kv, context))
    plain = _pool_memory(target, kv, decode_working_bytes(model, layout, dt.compute,
                                                          B * (int(gamma) + 1)))
    return with_draft_memory(plain, target, draft, context, B)


def max_decode_batch(deployment: Deployment, input_len: int, output_len: int,
                     draft: ModelSpec | None = None, gamma: int = 0) -> int:
    """The largest batch a decode server holds (`decode_server_memory`; one that drafts γ
    tokens a cycle with `draft`: `speculative_decode_server_memory`); 0 if none."""
    if draft is not None:
        return largest_true(lambda b: speculative_decode_server_memory(
            deployment, draft, input_len, output_len, b, gamma).fits)
    return largest_true(lambda b: decode_server_memory(deployment, input_len, output_len,
                                                       b).fits)


@dataclass(frozen=True)
class DisaggregatedServing:
    """Both pools sized to stay saturated, per decode server."""

    ratio: DisaggregationRatio
    ttft_s: float                      # prefill step + KV hand-off + the stack's front end
    tpot_s: float                      # the decode server's mean step
    kv_transfer_s: float
    output_tokens_per_s_per_chip: float

    def to_dict(self) -> dict[str, float]:
        return {"prefill_servers_per_decode_server":
                self.ratio.prefill_servers_per_decode_server,
                "prefill_chips_per_decode_chip": self.ratio.prefill_chips_per_decode_chip,
                "ttft_s": self.ttft_s, "tpot_s": self.tpot_s,
                "kv_transfer_s": self.kv_transfer_s,
                "output_tokens_per_s_per_chip": self.output_tokens_per_s_per_chip}


def disaggregated_serving(prefill: Deployment, decode: Deployment, input_len: int,
                          output_len: int, decode_batch: int, prefill_batch: int = 1,
                          same_domain: bool = False,
                          prefix_hit_rate: float = 0.0) -> DisaggregatedServing:
    """TTFT, TPOT and output tokens/s per chip of a prefill pool feeding a decode pool at
    the saturating ratio P/G: one decode server emits B_d·output_len tokens per
    request lifetime, and the chips per decode server are chips_d + (P/G)·chips_p.

    tokens/s/chip = r_d · output_len / (chips_d + (P/G) · chips_p). TTFT = the prefill
    step + the KV hand-off + the prefill server's `scheduler.frontend_s`. A prefix-cache
    hit rate h shortens the prefill (S·(1 − h) computed tokens); the whole prompt's KV is
    still handed off.
    """
    ratio = prefill_decode_ratio(prefill, decode, input_len, output_len, decode_batch,
                                 prefill_batch, prefix_hit_rate=prefix_hit_rate)
    transfer = float(kv_transfer_s(prefill, input_len, same_domain, prefill_batch))
    ttft = (prefill_step_s(prefill, input_len, prefill_batch,
                           prefix_hit_rate=prefix_hit_rate) + transfer
            + prefill.engine.scheduler.frontend_s)
    tpot = decode_step_s(decode, decode_batch, input_len, output_len)
    chips = decode.chips + ratio.prefill_servers_per_decode_server * prefill.chips
    per_chip = ratio.decode_requests_per_s * output_len / chips
    return DisaggregatedServing(ratio=ratio, ttft_s=ttft, tpot_s=tpot,
                                kv_transfer_s=transfer,
                                output_tokens_per_s_per_chip=per_chip)

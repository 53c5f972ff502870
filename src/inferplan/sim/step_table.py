"""Step times on a grid, so that a simulation asks the `StepTimeModel` once, vectorised,
rather than once per step.

A step carries `decoding` sequences (one new token each, at a mean context) and
`prompt` tokens of prompts (whole or in chunks). The grid: every decoding count from 0
to the most the engine runs, 17 mean contexts (log-spaced), 38 prompt-token counts up to
the budget (0, five log-spaced below the first even step, then 32 even steps:
`prompt_axis`); a step's time is interpolated linearly in context and prompt tokens.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment
from inferplan.speculative import draft_deployment, speculative_cost
from inferplan.steptime import Segment, mixed_step_cost

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class StepTable:
    """Step times `rows[decoding][context index][prompt index]` on the grid axes, as plain
    Python lists: the loop asks one step at a time, and numpy per step would cost more
    than the lookup."""

    contexts: list[float]
    prompt_tokens: list[float]
    rows: list[list[list[float]]]

    def step_s(self, decoding: int, mean_context: float, prompt_tokens: float) -> float:
        """Bilinear interpolation in (context, prompt tokens) at `decoding` sequences."""
        cs, ps = self.contexts, self.prompt_tokens
        row = self.rows[min(decoding, len(self.rows) - 1)]
        c = min(max(mean_context, cs[0]), cs[-1])
        p = min(max(prompt_tokens, 0.0), ps[-1])
        i = min(max(bisect_left(cs, c) - 1, 0), len(cs) - 2)
        j = min(max(bisect_left(ps, p) - 1, 0), len(ps) - 2)
        fc = (c - cs[i]) / (cs[i + 1] - cs[i])
        fp = (p - ps[j]) / (ps[j + 1] - ps[j])
        low = row[i][j] * (1 - fp) + row[i][j + 1] * fp
        high = row[i + 1][j] * (1 - fp) + row[i + 1][j + 1] * fp
        return low * (1 - fc) + high * fc


def prompt_chunks(prompt_tokens: npt.ArrayLike, prompt_len: float) -> FloatArray:
    """Prompts a step's prompt tokens stand for: P/S̄ prompts of the mean prompt length
    S̄ (at least one when P > 0; a step of fewer tokens than S̄ holds one chunk). Its
    attention is priced per prompt, not as one sequence of P tokens (quadratic in P).
    S̄ = 7373: P = 32768 → 4.44 prompts of 7373 tokens; P = 2048 → one chunk of 2048."""
    P = np.asarray(prompt_tokens, dtype=np.float64)
    return np.asarray(np.where(P > 0, np.maximum(P / max(prompt_len, 1.0), 1.0), 0.0),
                      dtype=np.float64)


def speculative_extra_s(deployment: Deployment, decoding: FloatArray, context: FloatArray,
                        prompt: Segment) -> FloatArray:
    """What speculative decoding adds to a step of `decoding` sequences and a prompt part:
    the draft-and-verify cycle in place of the decode step (γ·t_draft + t_verify − t_decode,
    0 without decoding sequences), and the draft's prefill of the prompt tokens, as
    `serving.closed_loop` prices them. DeepSeek-R1 MTP (γ 3) on 8 B200, 4 sequences at 1.5k:
    a cycle of 3·0.2 + 16 ms in place of a 14 ms step, +2.6 ms."""
    spec = deployment.speculative
    assert spec is not None
    draft = draft_deployment(deployment, spec.draft)
    B = np.maximum(decoding, 1.0)
    cycle = speculative_cost(deployment, draft, B, context, spec.alpha, spec.gamma)
    swap = np.where(decoding > 0, cycle.cycle_s - cycle.decode_step_s, 0.0)
    prefill = mixed_step_cost(draft, [prompt]).latency_s
    has_prompt = np.asarray(prompt.new_tokens, dtype=np.float64) > 0
    return np.asarray(swap + np.where(has_prompt, prefill, 0.0), dtype=np.float64)


def prompt_axis(max_prompt_tokens: float) -> FloatArray:
    """The grid's prompt-token counts: 0, then 1 up to the first of 32 even steps in 5
    log-spaced points, then the even steps up to the budget. A prompt's presence alone
    switches costs on (a step that carries one runs outside CUDA graphs where the engine
    captures none with prompts, and pays the eager dispatch whatever its size), and a
    few tokens already read most of an MoE layer's experts: interpolating from 0 to the
    first even step would spread both over it. Budget 16384: 0, 1, 3.5, 12, 42, 147,
    512, 1024 ... 16384."""
    top = max(float(max_prompt_tokens), 2.0)
    even = np.linspace(0.0, top, 33)[1:]
    low = np.geomspace(1.0, even[0], 6)[:-1] if even[0] > 1.0 else np.array([1.0])
    return np.asarray(np.unique(np.concatenate(([0.0], low, even))), dtype=np.float64)


def step_table(deployment: Deployment, max_decoding: int, max_context: float,
               max_prompt_tokens: float, prompt_len: float | None = None,
               cached_len: float = 0.0) -> StepTable:
    """The grid for one deployment: decoding 0..max_decoding, contexts 1..max_context,
    prompt tokens 0..max_prompt_tokens (as `prompt_chunks` of the mean prompt length
    `prompt_len`, each starting its prompt; None: one chunk of all of them; the decodes
    at the mean context; a mixed engine's step of B decodes carries at most the budget's
    other max_prompt_tokens − B prompt tokens). Each prompt chunk attends to `cached_len`
    tokens before it: the prompt's tokens found in the prefix cache, which it does not
    compute (`prompt_len` is then the computed part). With speculative decoding a step
    with decodes is a draft-and-verify cycle, and the draft prefills the prompt tokens
    too (`speculative_extra_s`)."""
    B = np.arange(max_decoding + 1, dtype=np.float64)[:, None, None]
    contexts = np.geomspace(1.0, max(float(max_context), 2.0), 17)
    prompts = prompt_axis(max_prompt_tokens)
    P = prompts[None, None, :]
    if deployment.engine.scheduler.prompt_steps == "mixed":
        # the decodes take their tokens from the same budget: a step of B decodes carries
        # at most budget − B prompt tokens, so a grid point beyond that is priced at it
        # (else a point of B + P tokens over the CUDA-graph size would be priced eagerly
        # and the steps just under the budget interpolated towards it)
        P = np.minimum(P, np.maximum(float(max_prompt_tokens) - B, 0.0))
    chunks = prompt_chunks(P, float(max_prompt_tokens) if prompt_len is None else prompt_len)
    prompt = Segment("chunk", chunks, P / np.maximum(chunks, 1.0), float(cached_len))
    cost = mixed_step_cost(deployment, [Segment("decode", B, 1, contexts[None, :, None]),
                                        prompt])
    shape = (B.shape[0], contexts.size, prompts.size)
    latency = np.broadcast_to(cost.latency_s, shape)
    spec = deployment.speculative
    if spec is not None:
        latency = latency + speculative_extra_s(deployment, B, contexts[None, :, None], prompt)
    latency = np.broadcast_to(latency, shape)
    return StepTable(contexts=contexts.tolist(), prompt_tokens=prompts.tolist(),
                     rows=np.asarray(latency, dtype=np.float64).tolist())

"""Step times on a grid, so that a simulation asks the `StepTimeModel` once, vectorised,
rather than once per step.

A step carries `decoding` sequences (one new token each, at a mean context) and
`prompt` tokens of prompts (whole or in chunks). The grid: every decoding count from 0
to the most the engine runs, 17 mean contexts (log-spaced), 33 prompt-token counts up to
the budget; a step's time is interpolated linearly in context and prompt tokens.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment
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


def step_table(deployment: Deployment, max_decoding: int, max_context: float,
               max_prompt_tokens: float, prompt_len: float | None = None) -> StepTable:
    """The grid for one deployment: decoding 0..max_decoding, contexts 1..max_context,
    prompt tokens 0..max_prompt_tokens (as `prompt_chunks` of the mean prompt length
    `prompt_len`, each starting its prompt; None: one chunk of all of them; the decodes
    at the mean context)."""
    B = np.arange(max_decoding + 1, dtype=np.float64)[:, None, None]
    contexts = np.geomspace(1.0, max(float(max_context), 2.0), 17)
    prompts = np.linspace(0.0, max(float(max_prompt_tokens), 1.0), 33)
    P = prompts[None, None, :]
    chunks = prompt_chunks(P, float(max_prompt_tokens) if prompt_len is None else prompt_len)
    cost = mixed_step_cost(deployment, [
        Segment("decode", B, 1, contexts[None, :, None]),
        Segment("chunk", chunks, P / np.maximum(chunks, 1.0), 0.0)])
    latency = np.broadcast_to(cost.latency_s, (B.shape[0], contexts.size, prompts.size))
    return StepTable(contexts=contexts.tolist(), prompt_tokens=prompts.tolist(),
                     rows=np.asarray(latency, dtype=np.float64).tolist())

"""The decode step's time by term over a grid of batch and context length: seed 001's
interactive roofline figure, as data.

One call of the deployment's step-time model (`steptime.step_cost`, vectorised over
batch × context) prices every point; `memory.max_batch` at each context says which
batches fit, and the engine's running-sequence cap bounds the batch axis. A point that
does not fit is NaN in every term. `inferplan report` draws the grid (`report/html/
roofline_section.py`); nothing here formats.

LLaMA 3-70B int8 on a book TPU v5e 4x2 (ideal), B=32 at T=8192: the same 17.2 ms
decode step as `steptime.step_cost` (seed 001 A9), since it is that call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from inferplan.cost import TERMS
from inferplan.deployment import Deployment, Workload
from inferplan.memory import max_batch
from inferplan.steptime import step_cost

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The shortest context on the slider (tokens), as in seed 001's figure.
MIN_CONTEXT_TOKENS = 512
#: Context lengths on the slider, the scenario's own included (at most one more).
CONTEXT_STEPS = 7
#: A slider step this close (relative) to the scenario's context gives way to it.
NEAR_SCENARIO = 0.1
#: Batch sizes sampled on the x axis: every batch up to this many, else this many
#: spaced geometrically from 1 to the largest that fits (both ends kept).
BATCH_POINTS = 128


@dataclass(frozen=True)
class StepGrid:
    """Decode step time (s) by term over `batch` × `context_tokens`; NaN where that
    batch does not fit in memory at that context (or exceeds the engine's cap)."""

    batch: IntArray                      # shape (nb,), ascending from 1
    context_tokens: IntArray             # shape (nc,), ascending
    terms_s: dict[str, FloatArray]       # term -> (nb, nc) seconds, TERMS order
    max_batch: IntArray                  # (nc,) largest batch that fits and runs
    scenario_context_tokens: int         # the context the scenario's estimate uses

    @property
    def step_s(self) -> FloatArray:
        """The whole step: the sum of the terms, (nb, nc)."""
        return np.asarray(sum(self.terms_s.values()), dtype=np.float64)

    @property
    def scenario_index(self) -> int:
        """The slider position of the scenario's own context."""
        return int(np.searchsorted(self.context_tokens, self.scenario_context_tokens))


def context_steps(scenario_tokens: int, max_tokens: int | None,
                  steps: int = CONTEXT_STEPS) -> IntArray:
    """`steps` context lengths from 512 to the model's longest (geometric, rounded to
    tokens), and the scenario's own in place of any within 10% of it. 512 .. 131,072 in
    7 steps: 512, 1,290, 3,251, 8,192, 20,643, 52,016, 131,072 (each 2^(8/6) = 2.52
    times the last); with a scenario at 1,280 tokens, 1,280 replaces 1,290."""
    top = max(max_tokens or scenario_tokens, scenario_tokens)
    low = min(MIN_CONTEXT_TOKENS, top)
    grid = np.rint(np.geomspace(low, top, num=steps)).astype(np.int64)
    grid = grid[np.abs(grid - scenario_tokens) > NEAR_SCENARIO * scenario_tokens]
    return np.unique(np.append(grid, scenario_tokens)).astype(np.int64)


def batch_axis(largest: int, points: int = BATCH_POINTS) -> IntArray:
    """1..largest, all of them when there are at most `points`, else `points` batches
    spaced geometrically (rounded, distinct, 1 and `largest` kept)."""
    if largest <= points:
        return np.arange(1, largest + 1, dtype=np.int64)
    return np.unique(np.rint(np.geomspace(1, largest, num=points))).astype(np.int64)


def decode_step_grid(deployment: Deployment, workload: Workload,
                     contexts: IntArray | None = None) -> StepGrid | None:
    """The decode step's terms over batch × context for `deployment` (None when not one
    sequence fits at any context; a context where none fits is left out). `workload`
    gives the scenario's context length and the working memory (its prompt chunking);
    each context T is priced as a decode of one new token onto T − 1 cached ones, with
    the KV of T tokens per sequence in memory."""
    scenario_tokens = workload.context_len
    if contexts is None:
        contexts = context_steps(scenario_tokens, deployment.model.max_position_embeddings)
    cap = deployment.max_running_sequences
    fits = np.asarray([min(cap, max_batch(deployment, replace(
        workload, input_len=max(int(t) - 1, 1), output_len=1, batch=None,
        concurrency=None))) for t in contexts], dtype=np.int64)
    if fits.max(initial=0) < 1:
        return None
    contexts, fits = contexts[fits > 0], fits[fits > 0]      # where one sequence fits
    B = batch_axis(int(fits.max()))
    cost = step_cost(deployment, "decode", B[:, None], 1, contexts[None, :] - 1)
    outside = B[:, None] > fits[None, :]
    terms = {term: np.where(outside, np.nan, np.broadcast_to(
        cost.breakdown_s()[term], outside.shape)).astype(np.float64) for term in TERMS}
    return StepGrid(B, contexts.astype(np.int64), terms, fits, scenario_tokens)

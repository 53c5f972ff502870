"""The mean decode step of static batching over a whole batch axis at once.

A static batch of B sequences decodes at contexts S, S+1, ..., S+n−2; its TPOT is the
mean of those n−1 step times (`serving.static_batch`). Over a batch axis that is a
(batches × contexts) grid, costly for long outputs (512 × 511 steps per deployment).

The roofline's step time separates: with q = 1, attention FLOPs and KV bytes are
(micro-batch) × (a function of the context), and the matmul, weight, communication
and overhead terms depend on the batch alone, so L(B, c) = a(B) + b(B)·g(c). Then

    mean_c L(B, c) = L(B, c₀) + b(B)·mean_c g(c),  g(c) = R(c) − R(c₀),
    b(B) = (L(B, c_last) − L(B, c₀)) / (R(c_last) − R(c₀)),

with R one full reference row. Each batch's fit is checked against `cost.step_cost` at
seven probe contexts (relative error ≤ 1e-12); a row that does not fit the form (the
ideal roofline's max(pass, communication) switching within the row) is evaluated in
full. So the result is always `cost.step_cost`'s, whatever cost.py becomes: the fast
path is an exactly checked shortcut, not a second model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment
from inferplan.steptime import step_cost

FloatArray = npt.NDArray[np.float64]
#: Grids at most this large (batches × contexts) are evaluated in full.
DIRECT_CELLS = 8192
#: Cells per full-grid call (bounds memory: 2**18 float64 = 2 MiB per array).
CHUNK_CELLS = 1 << 18
#: Largest relative error a probe may show for the separable form to be accepted.
PROBE_RTOL = 1e-12


def decode_contexts(input_len: int, output_len: int) -> FloatArray:
    """Cached tokens at each decode step: S, S+1, ..., S+n−2 (the prefill emits token 1).

    S = 8192, n = 4: [8192, 8193, 8194].
    """
    return np.asarray(input_len + np.arange(max(output_len - 1, 0), dtype=np.float64),
                      dtype=np.float64)


def full_rows_mean_s(deployment: Deployment, contexts: FloatArray,
                     batches: FloatArray) -> FloatArray:
    """Mean step time over `contexts` for each batch, every cell evaluated:
    mean_j step_cost(B_i, 1, c_j). The reference the fast path is checked against."""
    out = np.empty(batches.shape, dtype=np.float64)
    rows = max(1, CHUNK_CELLS // max(contexts.size, 1))
    for start in range(0, batches.size, rows):
        chunk = batches[start:start + rows]
        lat = step_cost(deployment, "decode", chunk[:, None], 1, contexts[None, :]).latency_s
        out[start:start + rows] = np.mean(lat, axis=1)
    return out


def probe_indices(steps: int) -> npt.NDArray[np.int64]:
    """Probe positions along the context axis: both ends, their neighbours, quarters.

    511 steps: [0, 1, 127, 255, 382, 509, 510].
    """
    idx = [0, 1, steps // 4, steps // 2, (3 * steps) // 4, steps - 2, steps - 1]
    # clipped to [0, steps − 1], sorted and distinct (as np.unique(np.clip(...)), in Python)
    return np.asarray(sorted({min(max(i, 0), steps - 1) for i in idx}), dtype=np.int64)


def _separable_fit(probe: FloatArray, row: FloatArray, idx: npt.NDArray[np.int64]
                   ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Means predicted from one reference row, and which batches the probes confirm."""
    g = row - row[0]
    span = g[-1]
    start = probe[:, 0]
    # a flat reference row: only flat rows fit it
    scale = (probe[:, -1] - start) / span if span != 0.0 else np.zeros_like(start)
    predicted = start[:, None] + scale[:, None] * g[idx][None, :]
    error = np.abs(predicted - probe)
    good = np.all(error <= PROBE_RTOL * np.abs(probe), axis=1)
    return np.asarray(start + scale * np.mean(g), dtype=np.float64), good


@dataclass(frozen=True)
class DecodeCells:
    """The (batch, context) cells one `step_cost` call evaluates for a static batch's
    decode steps, and how their latencies become each batch's mean step.

    Small grids are evaluated in full; larger ones at the probe contexts of every batch
    plus two reference rows (the largest and the smallest batch) over every context.
    """

    batches: FloatArray
    contexts: FloatArray
    batch: FloatArray                  # per cell
    cached_tokens: FloatArray          # per cell
    full: bool

    @property
    def probes(self) -> npt.NDArray[np.int64]:
        return probe_indices(self.contexts.size)

    def mean_s(self, deployment: Deployment, latency_s: FloatArray) -> FloatArray:
        """Each batch's mean decode step from the cells' latencies (rows the separable
        form does not fit are evaluated in full)."""
        B, m = self.batches, self.contexts.size
        if m == 0 or B.size == 0:
            return np.zeros(B.shape, dtype=np.float64)
        if self.full:
            return np.asarray(np.mean(latency_s.reshape(B.size, m), axis=1), dtype=np.float64)
        idx = self.probes
        p = idx.size
        probe = latency_s[:B.size * p].reshape(B.size, p)
        mean = np.full(B.shape, np.nan, dtype=np.float64)
        done = np.zeros(B.shape, dtype=bool)
        for r in range(2):
            row = latency_s[B.size * p + r * m: B.size * p + (r + 1) * m]
            predicted, good = _separable_fit(probe, row, idx)
            take = good & ~done
            mean[take] = predicted[take]
            done |= good
            if done.all():
                break
        if not done.all():
            mean[~done] = full_rows_mean_s(deployment, self.contexts, B[~done])
        return mean


def full_grid(batches: int, steps: int) -> bool:
    """Whether a static batch's decode grid of `batches` × `steps` is evaluated in full
    (small grids, or few steps) rather than through the separable form. 16 batches × 15
    steps: yes; 512 × 511: no; 4096 × 8: yes."""
    return batches * steps <= DIRECT_CELLS or steps <= 8


def decode_cells(input_len: int, output_len: int, batches: npt.ArrayLike) -> DecodeCells:
    """The cells to evaluate for the mean decode step of each batch (see `DecodeCells`):
    7·len(batches) + 2·(n−1) of them instead of len(batches)·(n−1) once the grid exceeds
    `DIRECT_CELLS`. 512 batches × 511 steps: 4,606 cells instead of 261,632."""
    B = np.asarray(batches, dtype=np.float64).ravel()
    contexts = decode_contexts(input_len, output_len)
    m = contexts.size
    if m == 0 or B.size == 0:
        empty = np.zeros(0, dtype=np.float64)
        return DecodeCells(B, contexts, empty, empty, True)
    if full_grid(B.size, m):
        return DecodeCells(B, contexts, np.repeat(B, m), np.tile(contexts, B.size), True)
    idx = probe_indices(m)
    refs = np.asarray([B.max(), B.min()], dtype=np.float64)
    batch = np.concatenate([np.repeat(B, idx.size), np.repeat(refs, m)])
    cached = np.concatenate([np.tile(contexts[idx], B.size), np.tile(contexts, refs.size)])
    return DecodeCells(B, contexts, batch, cached, False)


def mean_decode_step_s(deployment: Deployment, input_len: int, output_len: int,
                       batches: npt.ArrayLike) -> FloatArray:
    """TPOT of static batching for every batch: the mean decode step over contexts
    S..S+n−2, equal to `serving.static_batch`'s (0 when output_len is 1).

    LLaMA 3-70B int8, book v5e 4x2, ideal, S = 8192, n = 512, B = 32: 17.35 ms (seed 001
    A9: 17.3 ms at the first step).
    """
    cells = decode_cells(input_len, output_len, batches)
    if cells.batch.size == 0:
        return cells.mean_s(deployment, cells.batch)
    latency = step_cost(deployment, "decode", cells.batch, 1, cells.cached_tokens).latency_s
    return cells.mean_s(deployment, np.asarray(latency, dtype=np.float64))

"""vLLM CUDA-graph capture sizes: the decode batch is padded up to a captured size.

Defaults, from vLLM's own source:
* v0.8 - v0.10 (`VllmConfig`, `cuda_graph_sizes` = [min(max_num_seqs*2, 512)]):
  [1, 2, 4] + range(8, max + 1, 8); max_num_seqs 256 -> [1, 2, 4, 8, ..., 512], 67 sizes.
* v0.11+ (`vllm/config/vllm.py`, `_set_cudagraph_sizes`): max = min(max_num_seqs *
  (1 + num_speculative_tokens) * 2, 512) capped by max_num_batched_tokens;
  [1, 2, 4] + range(8, min(max + 1, 256), 8) + range(256, max + 1, 16), 51 sizes at 512.
A batch above the largest size runs eagerly (no graph, no padding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from inferplan.buckets.dp import optimal_boundaries
from inferplan.units import InferplanError

VllmScheme = Literal["v0.8", "v0.11"]
#: The largest default capture size in both schemes (vLLM's 512 cap).
VLLM_MAX_DEFAULT_CAPTURE = 512
VLLM_SMALL_SIZES = (1, 2, 4)


@dataclass(frozen=True)
class CaptureReport:
    """Padding of a capture-size list for a distribution of decode batch sizes."""

    sizes: tuple[int, ...]
    padded_slots_per_step: float
    mean_batch: float
    eager_share: float

    @property
    def padded_share(self) -> float:
        return self.padded_slots_per_step / self.mean_batch


def vllm_default_capture_sizes(max_num_seqs: int = 256, scheme: VllmScheme = "v0.11",
                               num_speculative_tokens: int = 0,
                               max_num_batched_tokens: int | None = None) -> tuple[int, ...]:
    """vLLM's default cudagraph_capture_sizes; v0.11, max_num_seqs 256 -> 51 sizes to 512."""
    if max_num_seqs < 1:
        raise InferplanError("max_num_seqs", max_num_seqs, "must be positive")
    top = min(max_num_seqs * (1 + num_speculative_tokens) * 2, VLLM_MAX_DEFAULT_CAPTURE)
    if max_num_batched_tokens is not None:
        top = min(top, max_num_batched_tokens)
    sizes = [s for s in VLLM_SMALL_SIZES if s <= top]
    if scheme == "v0.8":
        sizes += list(range(8, top + 1, 8))
    else:
        sizes += list(range(8, min(top + 1, 256), 8)) + list(range(256, top + 1, 16))
    return tuple(sizes)


def padded_batch(sizes: tuple[int, ...], batch: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """The captured size a batch runs at (itself when above the largest: eager).

    sizes (1, 2, 4, 8), batch [3, 5, 9] -> [4, 8, 9].
    """
    s = np.asarray(sorted(sizes), dtype=np.int64)
    B = np.asarray(batch, dtype=np.int64)
    pos = np.searchsorted(s, B, side="left")
    return np.asarray(np.where(pos < s.size, s[np.minimum(pos, s.size - 1)], B), dtype=np.int64)


def evaluate_capture_sizes(sizes: tuple[int, ...], batches: npt.ArrayLike) -> CaptureReport:
    """Mean padded batch slots per decode step, and the share of eager steps."""
    b = np.asarray(batches, dtype=np.int64)
    padded = padded_batch(sizes, b)
    return CaptureReport(tuple(sorted(sizes)), float((padded - b).mean()), float(b.mean()),
                         float((b > max(sizes)).mean()))


def optimise_capture_sizes(batches: npt.ArrayLike, count: int, top: int) -> tuple[int, ...]:
    """`count` capture sizes (the largest = `top`) with the fewest padded slots."""
    b = np.asarray(batches, dtype=np.int64)
    b = b[b <= top]
    cand = np.arange(1, top + 1, dtype=np.int64)
    h = np.bincount(b, minlength=top + 1).astype(np.float64) / max(1, b.size)
    choice = optimal_boundaries(np.cumsum(h)[cand], cand.astype(np.float64), min(count, top))
    return tuple(int(cand[i]) for i in choice.sets[min(count, top)])


@dataclass(frozen=True)
class VllmResult:
    """Padding of the given (or default) capture list and of a better one of equal size."""

    given: CaptureReport
    suggested: CaptureReport


def plan_vllm(max_num_seqs: int, scheme: VllmScheme, num_speculative_tokens: int,
              max_num_batched_tokens: int | None, sizes: tuple[int, ...] | None,
              batches: tuple[int, ...] | None) -> VllmResult:
    """Batches default to every size 1..max_num_seqs equally often (stated assumption)."""
    given = tuple(sorted(sizes)) if sizes else vllm_default_capture_sizes(
        max_num_seqs, scheme, num_speculative_tokens, max_num_batched_tokens)
    b = np.asarray(batches if batches else range(1, max_num_seqs + 1), dtype=np.int64)
    top = min(given[-1], int(b.max()))
    return VllmResult(evaluate_capture_sizes(given, b),
                      evaluate_capture_sizes(optimise_capture_sizes(b, len(given), top), b))

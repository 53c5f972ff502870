"""XLA/TPU serving (JetStream-style): prompts padded up to a prefill length bucket.

JetStream's `jetstream/engine/token_utils.py` (AI-Hypercomputer/JetStream) pads a
prompt (+1 BOS token when is_bos) to the smallest bucket >= its length
(`take_nearest_length`, bisect_left) and keeps only the last `max` tokens of a
longer prompt. One XLA program is compiled per bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.buckets.costs import CostModel
from inferplan.buckets.dp import optimal_boundaries
from inferplan.buckets.lengths import LengthDistribution
from inferplan.units import InferplanError

IntArray = npt.NDArray[np.int64]

#: JetStream's DEFAULT_PREFILL_BUCKETS (token_utils.py): 16 .. 32768, powers of two.
JETSTREAM_DEFAULT_PREFILL_BUCKETS: tuple[int, ...] = tuple(2**i for i in range(4, 16))


@dataclass(frozen=True)
class PrefillBucketReport:
    """Padding of one prefill-length bucket list for a prompt distribution."""

    buckets: tuple[int, ...]
    padded_tokens_per_request: float
    mean_prompt_tokens: float
    wasted_cost_per_request: float
    truncated_share: float
    unit: str

    @property
    def padded_share(self) -> float:
        return self.padded_tokens_per_request / self.mean_prompt_tokens


def take_nearest_length(buckets: tuple[int, ...], lengths: npt.ArrayLike) -> IntArray:
    """Smallest bucket >= length, or the largest bucket (the prompt is truncated).

    buckets (16, 32, 64), lengths [1, 17, 64, 100] -> [16, 32, 64, 64].
    """
    b = np.asarray(sorted(buckets), dtype=np.int64)
    pos = np.searchsorted(b, np.asarray(lengths), side="left")
    return np.asarray(b[np.minimum(pos, b.size - 1)], dtype=np.int64)


def evaluate_prefill_buckets(buckets: tuple[int, ...], dist: LengthDistribution,
                             cost: CostModel, add_bos: bool = True) -> PrefillBucketReport:
    """Mean padded tokens and wasted prefill cost per request (truncated prompts apart)."""
    S = dist.prompt + (1 if add_bos else 0)
    padded = take_nearest_length(buckets, S)
    ok = padded >= S
    useful = cost.fn("prefill", 1, S[ok], S[ok])
    spent = cost.fn("prefill", 1, padded[ok], padded[ok])
    return PrefillBucketReport(
        buckets=tuple(sorted(buckets)),
        padded_tokens_per_request=float((padded[ok] - S[ok]).mean()),
        mean_prompt_tokens=float(S[ok].mean()),
        wasted_cost_per_request=float((spent - useful).mean()),
        truncated_share=float(1.0 - ok.mean()), unit=cost.unit)


def optimise_prefill_buckets(dist: LengthDistribution, count: int, cost: CostModel,
                             max_length: int, power_of_two: bool = True, multiple: int = 16,
                             add_bos: bool = True) -> tuple[int, ...]:
    """`count` prefill lengths (the largest = `max_length`) with least expected waste.

    Candidates: powers of two (XLA-friendly), or multiples of `multiple`.
    """
    if power_of_two and max_length & (max_length - 1):
        raise InferplanError("max_prefill_length", max_length, "must be a power of two")
    if power_of_two:
        cand = np.array([2**i for i in range(int(np.log2(max_length)) + 1)], dtype=np.int64)
    else:
        cand = np.array(sorted({*range(multiple, max_length + 1, multiple), max_length}),
                        dtype=np.int64)
    S = np.minimum(dist.prompt + (1 if add_bos else 0), max_length)
    h = np.bincount(S, minlength=max_length + 1).astype(np.float64) / S.size
    choice = optimal_boundaries(np.cumsum(h)[cand], cost.fn("prefill", 1, cand, cand),
                                min(count, cand.size))
    return tuple(int(cand[i]) for i in choice.sets[min(count, cand.size)])


@dataclass(frozen=True)
class JetStreamResult:
    """The configured (or default) prefill lengths and better ones at the same count."""

    given: PrefillBucketReport
    power_of_two: PrefillBucketReport
    free: PrefillBucketReport


def plan_jetstream(prefill_lengths: tuple[int, ...] | None, max_prefill_length: int | None,
                   dist: LengthDistribution, cost: CostModel, multiple: int = 16,
                   add_bos: bool = True) -> JetStreamResult:
    """Padding of the given lengths; the best power-of-two and multiple-of-16 lists."""
    given = tuple(sorted(prefill_lengths or JETSTREAM_DEFAULT_PREFILL_BUCKETS))
    if max_prefill_length is not None:
        given = (*(b for b in given if b < max_prefill_length), max_prefill_length)
    top = given[-1]
    count = len(given)
    pow2_top = 1 << (top - 1).bit_length()
    pow2 = optimise_prefill_buckets(dist, count, cost, pow2_top, True, add_bos=add_bos)
    free = optimise_prefill_buckets(dist, count, cost, top, False, multiple, add_bos)
    return JetStreamResult(evaluate_prefill_buckets(given, dist, cost, add_bos),
                           evaluate_prefill_buckets(pow2, dist, cost, add_bos),
                           evaluate_prefill_buckets(free, dist, cost, add_bos))

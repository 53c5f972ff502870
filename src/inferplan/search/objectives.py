"""Why a point is dropped, and how the kept ones are ranked.

Drop reasons, in the order they are checked (a point counts under the first):
`topology` (no such slice), `layout` (tp/pp/dp/ep cannot split this model on these
chips), `compute_dtype` (the chip has no rate for it), `draft` (the speculative draft
model cannot run with the target's layout), `memory` (weights, KV at full
context and working memory exceed the usable memory), `slo_ttft`, `slo_tpot`,
`slo_e2e` (the modelled p50 misses the limit), `no_price` (a cost objective and no
price for the chip).

Objectives give a score, higher is better; ties go to more output tokens/s per chip,
then lower TPOT, then fewer chips, then the first point of the space.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from inferplan.search.space import SLO
from inferplan.units import S_PER_HOUR

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

REASONS: tuple[str, ...] = ("topology", "layout", "compute_dtype", "draft", "memory",
                            "slo_ttft", "slo_tpot", "slo_e2e", "no_price")
OK = -1


@dataclass(frozen=True)
class Columns:
    """The numbers objectives look at, one entry per point."""

    chips: FloatArray
    usd_per_hour: FloatArray            # NaN where the chip has no price
    ttft_s: FloatArray
    tpot_s: FloatArray
    e2e_latency_s: FloatArray
    output_tokens_per_s: FloatArray

    @cached_property
    def tokens_per_s_per_chip(self) -> FloatArray:
        """Output tokens/s over all chips, once per columns (the ranking's score and
        tie-break, reports). 1851 tok/s on 8 chips: 231 (seed 001 A10)."""
        return np.asarray(self.output_tokens_per_s / self.chips, dtype=np.float64)

    @property
    def tokens_per_usd(self) -> FloatArray:
        """Output tokens per dollar: tok/s · 3600 / (chips · $/chip-hour).
        1851 tok/s on 8 v5e at $1.2/h: 694,125 tokens per USD ($1.44 per Mtok)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(self.output_tokens_per_s * S_PER_HOUR / self.usd_per_hour,
                              dtype=np.float64)

    @property
    def usd_per_million_tokens(self) -> FloatArray:
        """USD per million output tokens: $/hour / (tok/s · 3600) · 1e6.
        8 v5e at $1.2/h serving 1851 tok/s: $1.44."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(self.usd_per_hour / (self.output_tokens_per_s * S_PER_HOUR)
                              * 1e6, dtype=np.float64)


@dataclass(frozen=True)
class ObjectiveSpec:
    """An objective: its score (higher is better), what it is called, its unit."""

    score: Callable[[Columns], FloatArray]
    label: str
    unit: str
    needs_price: bool = False


OBJECTIVES: dict[str, ObjectiveSpec] = {
    "throughput_per_chip": ObjectiveSpec(lambda c: c.tokens_per_s_per_chip,
                                         "output tokens/s per chip", "tok/s/chip"),
    "throughput_per_usd": ObjectiveSpec(lambda c: c.tokens_per_usd,
                                        "output tokens per USD", "tok/$", needs_price=True),
    "min_tpot": ObjectiveSpec(lambda c: -c.tpot_s, "lowest TPOT", "s"),
    "min_ttft": ObjectiveSpec(lambda c: -c.ttft_s, "lowest TTFT", "s"),
    "min_chips": ObjectiveSpec(lambda c: -c.chips, "fewest chips", "chips"),
}


def objective_value(name: str, score: float) -> float:
    """The score in the objective's own unit (min_* scores are negated)."""
    return -score if name.startswith("min_") else score


def classify(fits: BoolArray, cols: Columns, slo: SLO, objective: str) -> IntArray:
    """Per point: OK (−1) or the index in REASONS of the first reason it is dropped."""
    status = np.full(fits.shape, OK, dtype=np.int64)
    checks: list[tuple[str, BoolArray]] = [("memory", ~fits)]
    for reason, values, limit in (("slo_ttft", cols.ttft_s, slo.ttft_s),
                                  ("slo_tpot", cols.tpot_s, slo.tpot_s),
                                  ("slo_e2e", cols.e2e_latency_s, slo.e2e_latency_s)):
        if limit is not None:
            checks.append((reason, ~(values <= limit)))
    if OBJECTIVES[objective].needs_price:
        checks.append(("no_price", np.isnan(cols.usd_per_hour)))
    for reason, failed in checks:
        status = np.where((status == OK) & failed, REASONS.index(reason), status)
    return status


def rank(objective: str, cols: Columns, candidates: IntArray) -> IntArray:
    """`candidates` (point indices) best first by the objective, ties broken as above."""
    if candidates.size == 0:
        return candidates
    # the keys of every point, read at the candidates: the columns no key reads are not
    # gathered, and a score that is the tie-break (throughput per chip) is one key
    per_chip = cols.tokens_per_s_per_chip
    score = OBJECTIVES[objective].score(cols)
    tie_break = -per_chip[candidates]
    keys = (candidates, cols.chips[candidates], cols.tpot_s[candidates], tie_break,
            tie_break if score is per_chip else -score[candidates])
    return candidates[lexsort_by_last(keys)]


def lexsort_by_last(keys: tuple[npt.NDArray[np.generic], ...]) -> IntArray:
    """`np.lexsort(keys)` (the last key primary), sorting by one key at a time and each
    key after the primary only over the points still tied: an argsort of the primary
    key, then per key a sort of the tied runs (`_sort_ties`); a key constant over every
    run, or equal to the next more significant key (throughput per chip is both the
    score and its first tie-break), is skipped. np.lexsort sorts the whole array once per
    key; a million points of few distinct scores: one full sort and a few small ones.
    NaN anywhere (NaN never ties under ==): np.lexsort itself."""
    if any(np.isnan(k).any() for k in keys if np.issubdtype(k.dtype, np.floating)):
        return np.asarray(np.lexsort(keys), dtype=np.int64)
    primary = keys[-1]
    order = np.argsort(primary)
    ranked = primary[order]
    tie = ranked[1:] == ranked[:-1]          # position i ties with i + 1
    for i in range(len(keys) - 2, -1, -1):
        if not tie.any():
            break
        if keys[i] is keys[i + 1] or np.array_equal(keys[i], keys[i + 1]):
            continue                         # breaks no tie the next key left
        tie = _sort_ties(order, tie, keys[i])
    return np.asarray(order, dtype=np.int64)


#: Compare-and-swap passes that sort a run of 2 or 3 positions stably (a bubble sort:
#: a pair swaps only when its second value is strictly less).
_SMALL_RUNS: tuple[tuple[int, tuple[tuple[int, int], ...]], ...] = (
    (2, ((0, 1),)), (3, ((0, 1), (1, 2), (0, 1))))


def _sort_ties(order: IntArray, tie: BoolArray, key: npt.NDArray[np.generic]) -> BoolArray:
    """Sort each run of tied positions of `order` (in place) by `key`, stably; the ties
    left (a run's neighbours with equal `key`). Runs of two and three positions (most of
    a search's: the replica counts of one design tie) by compare-and-swap passes over
    all such runs at once, longer ones by one np.lexsort. Runs [3, 1] and [2, 2, 1] by
    key: [1, 3] and [1, 2, 2]."""
    tied = np.zeros(order.size, dtype=bool)
    tied[1:] |= tie
    tied[:-1] |= tie
    at = np.nonzero(tied)[0]
    members = order[at]
    values = key[members]
    same_run = tie[at[:-1]]                  # at[j] and at[j + 1] in one run
    if not np.any((values[1:] != values[:-1]) & same_run):
        return tie                           # equal within every run: nothing to sort
    starts = np.flatnonzero(np.concatenate(([True], ~same_run)))
    lengths = np.diff(np.append(starts, at.size))
    for size, passes in _SMALL_RUNS:
        first = starts[lengths == size]
        for a, b in passes:
            i, j = first + a, first + b
            swap = values[j] < values[i]
            i, j = i[swap], j[swap]
            members[i], members[j] = members[j], members[i]
            values[i], values[j] = values[j], values[i]
    longer = np.repeat(lengths > _SMALL_RUNS[-1][0], lengths)
    if longer.any():
        run = np.repeat(np.arange(starts.size), lengths)
        where = np.flatnonzero(longer)
        inner = where[np.lexsort((values[where], run[where]))]
        members[where], values[where] = members[inner], values[inner]
    order[at] = members
    left = np.zeros_like(tie)
    left[at[:-1]] = same_run & (values[1:] == values[:-1])
    return left

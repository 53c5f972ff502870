"""Optimal bucket boundaries by dynamic programming over sorted candidate values.

Samples fall into intervals between sorted candidates c_0 < ... < c_{m-1}; a sample
in (c_i, c_j] served by bucket c_j costs g_j per unit weight. Choosing at most k
buckets to minimise Σ weight·g(next chosen bucket ≥ sample) is solved exactly in
O(k·m²) with numpy, one k at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BoundaryChoice:
    """best[k] = least cost with at most k buckets (inf where infeasible); sets[k] = indices."""

    best: FloatArray
    sets: tuple[tuple[int, ...], ...]


def optimal_boundaries(cum_weight: FloatArray, unit_cost: FloatArray, k_max: int,
                       tail: FloatArray | None = None, forced: int | None = None
                       ) -> BoundaryChoice:
    """Least-cost subsets of candidates, for every size 1..k_max.

    cum_weight[j]: sample weight at or below candidate j (non-decreasing);
    unit_cost[j]: cost per unit weight served by candidate j;
    tail[j]: cost of the samples above candidate j when j is the largest chosen
    (inf: those samples would be uncovered; default: 0 at the last candidate, inf before);
    forced: a candidate that must be chosen.
    Example: weights 1 at lengths 1, 2, 4 with candidates [1, 2, 4] and cost = length:
    k=1 -> {4}: 12; k=2 -> {2, 4}: 8; k=3 -> {1, 2, 4}: 7.
    """
    W = np.asarray(cum_weight, dtype=np.float64)
    g = np.asarray(unit_cost, dtype=np.float64)
    m = W.size
    if tail is None:
        tail = np.full(m, np.inf)
        tail[-1] = 0.0
    idx = np.arange(m)
    # transition i -> j (i < j), not skipping the forced candidate
    allowed = idx[:, None] < idx[None, :]
    if forced is not None:
        allowed &= ~((idx[:, None] < forced) & (forced < idx[None, :]))
    first_ok = np.ones(m, dtype=bool) if forced is None else idx <= forced
    last_ok = np.ones(m, dtype=bool) if forced is None else idx >= forced
    dp = np.where(first_ok, W * g, np.inf)
    parents: list[npt.NDArray[np.int64]] = []
    best = np.full(k_max + 1, np.inf)
    sets: list[tuple[int, ...]] = [()]
    # step[j, i]: what moving the top bucket from i to j adds besides dp[i] (row j holds
    # every i, so each step's minimum runs along contiguous rows); inf where not allowed
    step = np.where(allowed.T, -(g[:, None] * W[None, :]), np.inf)
    for k in range(1, k_max + 1):
        if k > 1:
            cand = step + dp[None, :]
            arg = np.argmin(cand, axis=1)
            dp = cand[idx, arg] + W * g
            parents.append(arg)
        total = np.where(last_ok, dp + tail, np.inf)
        j = int(np.argmin(total))
        best[k] = total[j]
        chosen = [j]
        for par in reversed(parents):
            j = int(par[j])
            chosen.append(j)
        sets.append(tuple(sorted(chosen)) if np.isfinite(best[k]) else ())
    # at most k: keep the best smaller set where adding buckets does not help
    for k in range(1, k_max + 1):
        if best[k - 1] <= best[k] and k > 1:
            best[k], sets[k] = best[k - 1], sets[k - 1]
    return BoundaryChoice(best, tuple(sets))

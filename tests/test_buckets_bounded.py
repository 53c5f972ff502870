"""The bucket optimiser's work stays bounded at the largest contexts a config may name
(2^20 tokens): the candidate grid is capped, the prompt-path lookup is linear in the
lengths, and the dynamic programme gives the answer of its plain O(k·m²) statement.
(The whole 2^20-token suggestion takes ~15 s here, run in `benchmarks/fuzz_long.py`'s
spirit by hand: `inferplan buckets CONFIG --ignore-evidence`; too slow for `make test`.)
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from inferplan.buckets.costs import CostModel
from inferplan.buckets.dp import optimal_boundaries
from inferplan.buckets.optimise import MAX_CANDIDATES, candidate_lengths
from inferplan.buckets.padding import prefill_cost_by_length


def test_candidate_grid_is_capped_on_whole_multiples() -> None:
    fine = candidate_lengths(131_072, 128)
    assert fine.size == MAX_CANDIDATES and np.all(fine % 128 == 0)   # every multiple kept
    coarse = candidate_lengths(2**20, 128)
    assert coarse.size <= MAX_CANDIDATES + 1 and coarse[-1] == 2**20
    assert np.all(np.diff(coarse) == 1024)
    assert list(candidate_lengths(1000, 256)) == [256, 512, 768, 1000]
    assert 5000 in candidate_lengths(2**20, 128, extra=(5000,))


def _tokens(kind: str, batch: object, q: object, attn: object) -> np.ndarray:
    return np.asarray(np.asarray(batch, dtype=np.float64) * np.asarray(q), dtype=np.float64)


def test_prefill_paths_match_the_plain_scan() -> None:
    """The run-by-run lookup against the scan of every path over every length it
    replaced (same winner on ties: the first path in sorted order)."""
    rng = np.random.default_rng(7)
    cost = CostModel(_tokens, "token")
    for _ in range(20):
        edges = sorted({int(x) for x in rng.integers(1, 64, size=8)} | {64})
        paths = [(0, edges[0])] + [(a, b) for a, b in pairwise(edges)]
        paths += [(0, int(x)) for x in rng.integers(1, 70, size=3)]
        lengths = rng.integers(0, 80, size=50)
        best, top = prefill_cost_by_length(paths, lengths, cost)
        reach: dict[int, float] = {0: 0.0}
        for kv, attn in sorted(paths):
            if kv in reach:
                reach[attn] = min(reach.get(attn, np.inf), reach[kv] + (attn - kv))
        want = np.full(lengths.shape, np.inf)
        want_top = np.zeros(lengths.shape)
        for kv, attn in sorted(paths):
            if kv not in reach:
                continue
            total = reach[kv] + (attn - kv)
            ok = (lengths > kv) & (lengths <= attn) & (total < want)
            want = np.where(ok, total, want)
            want_top = np.where(ok, attn, want_top)
        assert np.array_equal(best, want) and np.array_equal(top, want_top)


def test_boundaries_match_brute_force() -> None:
    """Every subset of 6 candidates against the DP's best at each size."""
    from itertools import combinations
    rng = np.random.default_rng(3)
    weights = rng.random(6)
    W = np.cumsum(weights)
    g = np.sort(rng.random(6)) + 0.1
    choice = optimal_boundaries(W, g, 6)
    for k in range(1, 7):
        best = np.inf
        for r in range(1, k + 1):
            for subset in combinations(range(6), r):
                if subset[-1] != 5:
                    continue
                total, below = 0.0, 0.0
                for j in subset:
                    total += (W[j] - below) * g[j]
                    below = W[j]
                best = min(best, total)
        assert choice.best[k] == np.float64(best) or abs(choice.best[k] - best) < 1e-12

"""`objectives.lexsort_by_last` orders points exactly as `np.lexsort`: one key at a time,
each key after the primary over the tied runs only (short runs by compare-and-swap)."""

from __future__ import annotations

import numpy as np

from inferplan.search.objectives import lexsort_by_last


def test_lexsort_by_last_equals_numpy_lexsort() -> None:
    rng = np.random.default_rng(12)
    for trial in range(2000):
        n = int(rng.integers(0, 60))
        keys = [rng.permutation(1000)[:n].astype(np.int64)]   # distinct, as candidates
        keys += [rng.integers(0, rng.integers(1, 4), n).astype(float) for _ in range(4)]
        if trial % 7 == 0:
            keys[2] = keys[4].copy()        # a tie-break equal to the score (skipped)
        if trial % 50 == 0 and n:
            keys[3][rng.integers(0, n)] = np.nan
        assert np.array_equal(lexsort_by_last(tuple(keys)), np.lexsort(tuple(keys))), trial


def test_lexsort_by_last_sorts_runs_of_every_length() -> None:
    """Runs of two and three tied points (compare-and-swap) and longer ones (np.lexsort)
    in one array, keys of few and of many distinct values, a key equal to the primary."""
    rng = np.random.default_rng(13)
    for trial in range(40):
        n = int(rng.integers(100, 3000))
        keys = [rng.permutation(10 * n)[:n].astype(np.int64)]
        keys += [rng.integers(0, int(rng.integers(1, 12)), n).astype(float) for _ in range(3)]
        keys.append(rng.integers(0, n // int(rng.integers(2, 5)), n).astype(float))
        if trial % 3 == 0:
            keys[3] = keys[4].copy()
        assert np.array_equal(lexsort_by_last(tuple(keys)), np.lexsort(tuple(keys))), trial

"""`objectives.lexsort_by_last` orders points exactly as `np.lexsort`: one key at a time,
each key after the primary over the tied runs only."""

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

"""Tables read between their points: a per-size figure (a collective's latency per group
size, a link's efficiency, the expert-parallel imbalance) interpolated in log2 of the
size, the one rule every such table in the engine profiles follows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def log2_interp(size: float | FloatArray, points: Sequence[tuple[float, float]]
                ) -> float | FloatArray:
    """The value at `size` of a table of (size, value) points, sizes ascending: linear in
    log2(size) between points, the first or last value beyond them. A number for a number,
    an array for an array.

    vLLM's link efficiency on H200 ((2, 0.75), (4, 0.79), (8, 1.1)): p = 6 → 0.79 +
    log2(1.5)·0.31 = 0.9713; p = 1 → 0.75; p = 16 → 1.1.
    """
    sizes = np.asarray([p for p, _ in points], dtype=np.float64)
    values = np.asarray([v for _, v in points], dtype=np.float64)
    at = np.log2(np.maximum(np.asarray(size, dtype=np.float64), sizes[0]))
    out = np.interp(at, np.log2(sizes), values)
    return float(out) if np.ndim(out) == 0 else np.asarray(out, dtype=np.float64)

"""The latency/throughput Pareto frontier: points no other point beats on both axes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def pareto_front(latency: npt.ArrayLike, throughput: npt.ArrayLike) -> IntArray:
    """Indices of the non-dominated points, lowest latency first: no other point has
    latency ≤ and throughput ≥ with one of them strict. Of identical points, the first.

    Sort by latency (then throughput, highest first) and keep each point that beats the
    best throughput seen so far. latency [1, 2, 2, 3], throughput [1, 3, 2, 2] → [0, 1].
    """
    lat = np.asarray(latency, dtype=np.float64)
    thr = np.asarray(throughput, dtype=np.float64)
    if lat.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.arange(lat.size), -thr, lat))
    t = thr[order]
    best_before = np.concatenate([[-np.inf], np.maximum.accumulate(t)[:-1]])
    return np.asarray(order[t > best_before], dtype=np.int64)


def dominated_by(latency: npt.ArrayLike, throughput: npt.ArrayLike, i: int) -> IntArray:
    """Points that dominate point i (empty for a frontier point)."""
    lat = np.asarray(latency, dtype=np.float64)
    thr = np.asarray(throughput, dtype=np.float64)
    better = (lat <= lat[i]) & (thr >= thr[i]) & ((lat < lat[i]) | (thr > thr[i]))
    return np.asarray(np.nonzero(better)[0], dtype=np.int64)

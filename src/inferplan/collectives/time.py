"""The result of every collective formula: `CollectiveTime`, its α–β parts, and the
checks on the arguments all of them share (message sizes, link efficiency).

Imports only `inferplan.units`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.units import InferplanError

Seconds = npt.NDArray[np.float64]
Bytes = npt.ArrayLike


@dataclass(frozen=True, eq=False)
class CollectiveTime:
    """Time of one collective, split into its α–β parts (arrays over message sizes).

    `steps` counts the latency terms summed into `latency_s` (ring steps or torus
    hops). Adding two times (`a + b`) runs them one after the other.
    """

    bandwidth_s: Seconds
    latency_s: Seconds
    algorithm: str
    steps: int = 0

    @property
    def total_s(self) -> Seconds:
        """bandwidth_s + latency_s."""
        return self.bandwidth_s + self.latency_s

    def __add__(self, other: CollectiveTime) -> CollectiveTime:
        """Run `self` then `other`."""
        if self.algorithm == "none":
            return other
        if other.algorithm == "none":
            return self
        return CollectiveTime(self.bandwidth_s + other.bandwidth_s,
                              self.latency_s + other.latency_s,
                              f"{self.algorithm} + {other.algorithm}",
                              self.steps + other.steps)

    def repeated(self, times: int, algorithm: str) -> CollectiveTime:
        """The same collective run `times` times in a row (RS + AG = 2× AG), renamed."""
        return CollectiveTime(self.bandwidth_s * times, self.latency_s * times, algorithm,
                              self.steps * times)


def no_collective(bytes_: Bytes) -> CollectiveTime:
    """A group of one device communicates nothing: zero time, algorithm "none"."""
    zeros = np.zeros_like(as_bytes(bytes_))
    return CollectiveTime(zeros, zeros.copy(), "none", 0)


def as_bytes(bytes_: Bytes, what: str = "bytes") -> Seconds:
    """Message sizes as a float array; an error names `what` when one is negative or not
    finite."""
    arr = np.asarray(bytes_, dtype=np.float64)
    if arr.size <= _SMALL:
        # a plan's probe (2 sizes) or one size: a comparison per value in Python beats
        # two numpy reductions (NaN and ±inf fail 0 <= v < inf as they fail below)
        if not all(0.0 <= v < math.inf for v in arr.ravel().tolist()):
            raise InferplanError(what, bytes_, "message sizes must be finite and ≥ 0 bytes")
        return arr
    # min is NaN or < 0 when any size is NaN or negative, max is inf when one is +inf: two
    # reductions in place of four array passes (called ~200 times per estimate)
    if not (arr.min() >= 0 and np.isfinite(arr.max())):
        raise InferplanError(what, bytes_, "message sizes must be finite and ≥ 0 bytes")
    return arr


#: Sizes up to which `as_bytes` checks value by value.
_SMALL = 8


def check_efficiency(link_efficiency: float) -> float:
    """`link_efficiency` as a float, or an error when it is outside (0, 1]."""
    if not (0.0 < link_efficiency <= 1.0):
        raise InferplanError("link_efficiency", link_efficiency,
                             "a fraction of the link's peak in (0, 1]")
    return float(link_efficiency)


def alpha_beta_time(bandwidth_s: Seconds, steps: int, alpha_s: float,
                    algorithm: str) -> CollectiveTime:
    """A `CollectiveTime` of `bandwidth_s` plus `steps` latencies of `alpha_s` each."""
    latency = np.full_like(bandwidth_s, steps * alpha_s)
    return CollectiveTime(bandwidth_s, latency, algorithm, steps)

"""Microbenchmarks of the device's ceilings: the matmul FLOP/s it achieves in a dtype
(square matmuls, the best of a few sizes) and the memory bandwidth of a reduction over
an array larger than its caches, each from its best run (a ceiling is the most the
device reaches). They make the device's `ChipSpec` (`host`), so the
roofline terms are priced against what the device reaches, not a datasheet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from inferplan.calibrate.timing import Timing, time_call

#: Square matmul sizes tried (the best median counts).
MATMUL_SIZES = (512, 1024, 2048)


@dataclass(frozen=True)
class Ceiling:
    """A measured rate and how it was measured."""

    rate: float
    timing: Timing
    how: str


def matmul_flops(n: int) -> float:
    """FLOPs of an n×n by n×n matmul: 2n³. n = 1024: 2.147e9."""
    return 2.0 * n**3


def matmul_ceiling(dtype: str, sizes: Sequence[int] = MATMUL_SIZES,
                   repeats: int = 5) -> Ceiling:
    """The best FLOP/s of jitted n×n matmuls in `dtype` over `sizes`."""
    best: Ceiling | None = None
    mm = jax.jit(jnp.matmul)
    for n in sizes:
        a = jnp.full((n, n), 0.5, jnp.dtype(dtype))
        b = jnp.full((n, n), 0.25, jnp.dtype(dtype))

        def run(a: jax.Array = a, b: jax.Array = b) -> object:
            return mm(a, b).block_until_ready()
        timing = time_call(run, repeats)
        rate = matmul_flops(n) / timing.best_s
        if best is None or rate > best.rate:
            best = Ceiling(rate, timing, f"{n}x{n} {dtype} matmul, best of {timing.repeats}")
    assert best is not None
    return best


def bandwidth_ceiling(array_bytes: int, repeats: int = 5) -> Ceiling:
    """Bytes/s of a jitted sum over an fp32 array of `array_bytes` (each byte read once)."""
    x = jnp.full((array_bytes // 4,), 1.0, jnp.float32)
    total = jax.jit(jnp.sum)
    timing = time_call(lambda: total(x).block_until_ready(), repeats)
    return Ceiling(x.nbytes / timing.best_s, timing,
                   f"sum over {x.nbytes / 2**20:,.0f} MiB fp32, best of {timing.repeats}")

"""The paper's closed forms (Pope et al. 2022, Section 3.2 and Appendix A.2): elements
per chip per layer that each feed-forward partitioning moves, the optimal splits, the
crossover from 2D weight-stationary to weight-gathered, and the bytes of the attention
all-to-all; with the token-count check the whole package shares.

Imports only `inferplan.units`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from inferplan.units import InferplanError

FloatArray = npt.NDArray[np.float64]


def ws1d_ffn_volume_elements(tokens: npt.ArrayLike, E: int) -> FloatArray:
    """1D weight-stationary feed-forward layer (Section 3.2.1): each chip all-gathers
    the B·L·E input and reduce-scatters the B·L·E output over all n chips:
        volume = 2·T·E elements per chip per layer, flat in n.

    PaLM 540B (E = 18432), T = 64 decode tokens: 2·64·18432 = 2,359,296 elements.
    """
    T = as_tokens(tokens)
    return np.asarray(2.0 * T * E, dtype=np.float64)


def ws2d_ffn_volume_elements(tokens: npt.ArrayLike, E: int, F: int, X: int,
                             n: int) -> FloatArray:
    """2D weight-stationary feed-forward layer (Section 3.2.2, Appendix A.2.1), weights
    E_x F_yz with X·YZ = n: all-gather(yz) of T·E/X in and reduce-scatter(yz) of T·E/X
    out, reduce-scatter(x) of the T·F/YZ hidden and all-gather(x) of it back:
        volume = 2·T·(E/X + F·X/n) elements per chip per layer.

    E = 16384, F = 65536, n = 64, X = 4 (the paper's Figure 3 case), T = 1:
    2·(4096 + 4096) = 16,384 = 8·E/√n.
    """
    _positive("X", X)
    _positive("n", n)
    T = as_tokens(tokens)
    return np.asarray(2.0 * T * (E / X + F * X / n), dtype=np.float64)


def ws2d_optimal_x(E: int, F: int, n: int) -> float:
    """The X minimising `ws2d_ffn_volume_elements` (Appendix A.2.1): X = √(n·E/F).

    F = 4E, n = 64: X = √16 = 4, YZ = 16 (the paper's 4x4x4 split: X = ½√n).
    """
    _positive("n", n)
    return math.sqrt(n * E / F)


def ws2d_min_ffn_volume_elements(tokens: npt.ArrayLike, E: int, F: int,
                                 n: int) -> FloatArray:
    """2D weight-stationary volume at the best X (Section 3.2.2):
        volume = 4·T·√(E·F/n) elements per chip per layer (= 8·T·E/√n at F = 4E).

    It falls as 1/√n; it beats the 1D layout's 2·T·E when n > 4·F/E (n > 16 at F = 4E).
    PaLM 540B (E = 18432, F = 73728), n = 64, T = 1: 4·√(18432·73728/64) = 18,432.
    """
    _positive("n", n)
    T = as_tokens(tokens)
    return np.asarray(4.0 * T * math.sqrt(E * F / n), dtype=np.float64)


def weight_gathered_ffn_volume_elements(tokens: npt.ArrayLike, E: int, F: int, N: int,
                                        n: int) -> FloatArray:
    """Weight-gathered feed-forward layer (Section 3.2.3, Appendix A.2.2): the two E·F
    matrices stored E_x F_yz are all-gathered over N of the n chips (N = X, XY or
    XYZ), each chip ending with E·F·N/n of each; the activations, batch-sharded N ways,
    are all-gathered and reduce-scattered over the other n/N chips:
        volume = 2·E·F·N/n + 2·T·E/N elements per chip per layer.

    The weight term does not grow with the batch. E = 16384, F = 65536, n = 64, N = 4
    (X-weight-gathered), T = 16384: 2·16384·65536·4/64 + 2·16384·16384/4
    = 134,217,728 + 134,217,728 = 268,435,456 (= the 2D layout's at T = E).
    """
    _positive("N", N)
    _positive("n", n)
    T = as_tokens(tokens)
    return np.asarray(2.0 * E * F * N / n + 2.0 * T * E / N, dtype=np.float64)


def weight_gathered_optimal_n(tokens: npt.ArrayLike, F: int, n: int) -> FloatArray:
    """The N minimising `weight_gathered_ffn_volume_elements` (Appendix A.2.2):
    N = √(T·n/F).

    n = 64, F = 65536: T = 65,536 → N = 8; T = 1,048,576 (512 × 2048) → N = 32.
    """
    _positive("n", n)
    T = as_tokens(tokens)
    return np.asarray(np.sqrt(T * n / F), dtype=np.float64)


def weight_gathered_min_ffn_volume_elements(tokens: npt.ArrayLike, E: int, F: int,
                                            n: int) -> FloatArray:
    """Weight-gathered volume at the best N (Appendix A.2.2):
        volume = 4·E·√(T·F/n) elements per chip per layer, growing only as √T.

    E = 16384, F = 65536, n = 64, T = 65,536: 4·16384·√(65536·65536/64) = 536,870,912.
    """
    _positive("n", n)
    T = as_tokens(tokens)
    return np.asarray(4.0 * E * np.sqrt(T * F / n), dtype=np.float64)


def ws2d_weight_gathered_crossover_tokens(E: int, weight_bytes: float = 2.0,
                                          activation_bytes: float = 2.0) -> float:
    """Tokens at which X-weight-gathering ties 2D weight-stationary with the same X.

    With the same split, both move T·E/X over yz-sized groups, so the tie is between
    the hidden 2·T·F·X/n (activations) and the weights 2·E·F·X/n: in bytes
    T·b_act = E·b_w, T* = E·b_w/b_act, independent of n and F. Beyond it the weights
    are cheaper to move than the activations; at the continuous optima too
    (4·T·√(EF/n) = 4·E·√(TF/n) ⇔ T = E).

    PaLM 540B bf16: T* = 18,432 tokens (9 sequences of 2048); int8 weights: 9,216.
    """
    _positive("E", E)
    return E * weight_bytes / activation_bytes


def attention_all_to_all_bytes(tokens: npt.ArrayLike, num_heads: int, head_dim: int,
                               shards: int, activation_bytes: float) -> FloatArray:
    """Bytes per chip of one all-to-all that moves the queries (or the attention
    outputs) between head-sharding and batch-sharding (Section 3.3, Figure 5b):
        V = T·N·H·b / shards.

    PaLM 540B (N = 48, H = 256), 64 chips, bf16, T = 64: 64·48·256·2/64 = 24,576 B.
    """
    _positive("shards", shards)
    T = as_tokens(tokens)
    return np.asarray(T * num_heads * head_dim * activation_bytes / shards, dtype=np.float64)


def as_tokens(tokens: npt.ArrayLike) -> FloatArray:
    """Token counts as a float array; an error when one is negative, not finite or not a
    number."""
    try:
        T = np.asarray(tokens, dtype=np.float64)
    except (TypeError, ValueError):
        raise InferplanError("tokens", tokens, "a number or array of token counts") from None
    if np.any(~np.isfinite(T)) or np.any(T < 0):
        raise InferplanError("tokens", tokens, "token counts must be finite and ≥ 0")
    return T


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise InferplanError(name, value, "must be > 0")

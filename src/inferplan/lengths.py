"""Request lengths: the named distributions a workload draws its prompt and output token
counts from, and the exact mean of each as drawn (clipped), so the closed form and the
simulator read the same numbers.

- `uniform`: integers uniform in [⌈ratio·L⌉, L] (vLLM's --random-range-ratio; ratio 1:
  every request L). L is the longest length, the mean L·(1 + ratio)/2.
- `normal`, `lognormal`, `exponential`: L is the mean before clipping, `cv` the
  coefficient of variation σ/L (exponential: 1 by definition). A draw is rounded to the
  nearest integer and clipped to [1, cap]: at least one token, at most what the model and
  the scenario allow (`length_caps`).

The mean of a clipped draw, E[min(max(X, 1), cap)], is exact for the continuous X
(`clipped_mean`); rounding to the nearest integer moves it by far less than a token (the
density is smooth, so the rounding errors cancel): lognormal 1,024 at cv 1 capped at
4,096 has the exact mean 992.19; 10⁶ seeded draws give 992.28 ± 0.85.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

Distribution = Literal["uniform", "normal", "lognormal", "exponential"]
#: the distributions a workload's `length_distribution` names
DISTRIBUTIONS: tuple[str, ...] = ("uniform", "normal", "lognormal", "exponential")
#: the distributions `length_cv` sets (exponential's cv is 1; uniform's spread is its ratio)
WITH_CV: tuple[str, ...] = ("normal", "lognormal")

#: Longest output a scenario may ask for: a static batch prices its decode steps one by one
#: (a second and 250 MB per million tokens), and no model generates more in one request.
MAX_OUTPUT_TOKENS = 2**20
#: Longest prompt (the longest context any model has is 10M tokens).
MAX_INPUT_TOKENS = 2**27


def _phi(z: float) -> float:
    """Standard normal density."""
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _Phi(z: float) -> float:
    """Standard normal distribution function."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def lognormal_parameters(mean: float, cv: float) -> tuple[float, float]:
    """(μ, σ) of the log of a lognormal with this mean and coefficient of variation:
    σ² = ln(1 + cv²), μ = ln(mean) − σ²/2. Mean 1024, cv 1: σ = 0.833, μ = 6.585."""
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


def clipped_mean(distribution: str, mean: float, cv: float, cap: float) -> float:
    """E[min(max(X, 1), cap)] of a normal, lognormal or exponential X of this mean and
    coefficient of variation (exponential: cv 1, the argument unread):
    1·F(1) + ∫₁^cap x f(x) dx + cap·(1 − F(cap)), each in closed form.

    Normal 100 at cv 1 (σ 100): 15.9% of draws clip up to 1 and the mean rises to 108.49;
    exponential 100: 100.005 (1% of draws fall below 1); lognormal 1024 at cv 1 with a
    4,096 cap: 992.19 (the 1.9% of draws above the cap lose their excess).
    """
    a, b = 1.0, float(cap)
    if distribution == "normal":
        s = cv * mean
        if s <= 0:
            return min(max(mean, a), b)
        alpha, beta = (a - mean) / s, (b - mean) / s
        inside = mean * (_Phi(beta) - _Phi(alpha)) + s * (_phi(alpha) - _phi(beta))
        return a * _Phi(alpha) + inside + b * (1.0 - _Phi(beta))
    if distribution == "lognormal":
        mu, sigma = lognormal_parameters(mean, cv)
        za, zb = (math.log(a) - mu) / sigma, (math.log(b) - mu) / sigma
        inside = mean * (_Phi(zb - sigma) - _Phi(za - sigma))
        return a * _Phi(za) + inside + b * (1.0 - _Phi(zb))
    if distribution == "exponential":
        # ∫ₐᵇ x e^(−x/m)/m dx = (a + m)e^(−a/m) − (b + m)e^(−b/m)
        inside = (a + mean) * math.exp(-a / mean) - (b + mean) * math.exp(-b / mean)
        return a * -math.expm1(-a / mean) + inside + b * math.exp(-b / mean)
    raise ValueError(f"no clipped mean for {distribution!r}")


def mean_length(distribution: str, length: int, ratio: float, cv: float | None,
                cap: int) -> float:
    """The mean tokens of a workload's lengths: uniform L·(1 + ratio)/2 (1024 at 0.8:
    921.6); else the clipped mean of `clipped_mean` (cv 1 for exponential)."""
    if distribution == "uniform":
        return length * (1.0 + ratio) / 2.0
    return clipped_mean(distribution, float(length), 1.0 if cv is None else cv, cap)


def uniform_lengths(length: int, ratio: float, count: int,
                    rng: np.random.Generator) -> IntArray:
    """`count` integers uniform in [⌈ratio·L⌉, L]; all L when ratio is 1.

    L = 1024, ratio 0.8: in [820, 1024], mean ≈ 922.
    """
    low = max(1, int(np.ceil(ratio * length)))
    if low >= length:
        return np.full(count, length, dtype=np.int64)
    return rng.integers(low, length + 1, size=count, dtype=np.int64)


def draw_lengths(distribution: str, length: int, ratio: float, cv: float | None,
                 cap: npt.ArrayLike, count: int, rng: np.random.Generator) -> IntArray:
    """`count` lengths from the named distribution (see the module docstring): uniform
    as `uniform_lengths` (the cap unread: L is already the longest); else draws rounded
    to the nearest integer and clipped to [1, cap] (`cap` a number or one per draw).

    Normal 100 at cv 0.5, seed 0: 10,000 draws of mean 100.8 (the exact mean 100.02),
    none below 1."""
    if distribution == "uniform":
        return uniform_lengths(length, ratio, count, rng)
    m = float(length)
    if distribution == "normal":
        x = rng.normal(m, (1.0 if cv is None else cv) * m, size=count)
    elif distribution == "lognormal":
        mu, sigma = lognormal_parameters(m, 1.0 if cv is None else cv)
        x = rng.lognormal(mu, sigma, size=count)
    elif distribution == "exponential":
        x = rng.exponential(m, size=count)
    else:
        raise ValueError(f"unknown length distribution {distribution!r}")
    top = np.asarray(cap, dtype=np.float64)
    return np.asarray(np.clip(np.rint(np.minimum(x, top)), 1.0, top), dtype=np.int64)


def length_caps(context_tokens: int | None) -> tuple[int, int]:
    """The longest prompt and output a named distribution draws: the scenario's limits
    (MAX_INPUT_TOKENS, MAX_OUTPUT_TOKENS), and within a model's context of C tokens a
    prompt of at most C − 1 (one token left to generate) and an output of at most
    C − 1; a request's output is further held to what its prompt leaves, C − S
    (`draw_requests`). Qwen3-32B (40,960): (40,959, 40,959); no context known: (2²⁷, 2²⁰)."""
    if not context_tokens:
        return MAX_INPUT_TOKENS, MAX_OUTPUT_TOKENS
    return (min(MAX_INPUT_TOKENS, max(context_tokens - 1, 1)),
            min(MAX_OUTPUT_TOKENS, max(context_tokens - 1, 1)))


def draw_requests(distribution: str, input_len: int, output_len: int, ratio: float,
                  cv: float | None, context_tokens: int | None, count: int,
                  rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """`count` (prompt, output) lengths, prompts drawn first (one stream: the same seed
    gives the same lengths); a named distribution's output is held to the context its
    prompt leaves (an engine's max_tokens default: vLLM's max_model_len − prompt). Uniform
    draws are today's: two `uniform_lengths` calls, nothing clipped."""
    in_cap, out_cap = length_caps(context_tokens)
    inputs = draw_lengths(distribution, input_len, ratio, cv, in_cap, count, rng)
    left: npt.ArrayLike = out_cap
    if distribution != "uniform" and context_tokens:
        left = np.minimum(out_cap, np.maximum(context_tokens - inputs, 1))
    outputs = draw_lengths(distribution, output_len, ratio, cv, left, count, rng)
    return inputs, outputs


def prompt_work(tokens: int, hit_rate: float) -> tuple[float, float]:
    """A prompt's (computed, cached) tokens under a prefix-cache hit rate h: S·(1 − h) new
    tokens on top of S·h found in the cache (they are attended to, not computed); h = 0:
    (S, 0) exactly. 1,024 at h = 0.75: (256, 768)."""
    if hit_rate <= 0.0:
        return tokens, 0
    return tokens * (1.0 - hit_rate), tokens * hit_rate


def cached_tokens(input_tokens: IntArray, hit_rate: float) -> IntArray:
    """Prompt tokens found in the prefix cache at hit rate h: round(h·S), leaving at least
    one token to compute (an engine always computes the last prompt token for its logits:
    vLLM's prefix cache never hits a whole prompt). S = 1000, h = 0.75: 750; S = 3,
    h = 0.9: 2."""
    S = np.asarray(input_tokens, dtype=np.int64)
    if hit_rate <= 0.0:
        return np.zeros_like(S)
    return np.asarray(np.minimum(np.rint(hit_rate * S).astype(np.int64),
                                 np.maximum(S - 1, 0)), dtype=np.int64)

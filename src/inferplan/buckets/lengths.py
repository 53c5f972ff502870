"""Request length distributions: prompt and output tokens per request.

From data (`lengths_from_records`: rows of a CSV/JSONL the CLI read) or named
parametric shapes (`named_distribution`): deterministic samples from a seeded
generator, so every run and test sees the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from inferplan.units import InferplanError

IntArray = npt.NDArray[np.int64]

PROMPT_COLUMNS = ("prompt_len", "prompt_tokens", "input_len", "input_tokens", "prompt_length",
                  "input_length", "num_prompt_tokens")
OUTPUT_COLUMNS = ("output_len", "output_tokens", "completion_tokens", "output_length",
                  "generated_tokens", "num_output_tokens")


@dataclass(frozen=True)
class LengthDistribution:
    """Per-request prompt and output lengths (tokens), equal weight per request."""

    name: str
    prompt: IntArray
    output: IntArray

    @property
    def requests(self) -> int:
        return int(self.prompt.size)

    def prompt_histogram(self) -> npt.NDArray[np.float64]:
        """h[S] = share of requests with prompt length S (index 0 unused)."""
        h = np.bincount(self.prompt, minlength=int(self.prompt.max()) + 1).astype(np.float64)
        share: npt.NDArray[np.float64] = h / h.sum()
        return share

    def context_histogram(self) -> npt.NDArray[np.float64]:
        """h[t] = decode steps per request that attend to t keys (t = S+1 .. S+O).

        One request with S=3, O=2 adds 1 at t=4 and t=5. Sums to mean output length.
        """
        top = int((self.prompt + self.output).max())
        diff = np.zeros(top + 2, dtype=np.float64)
        np.add.at(diff, self.prompt + 1, 1.0)
        np.add.at(diff, self.prompt + self.output + 1, -1.0)
        hist: npt.NDArray[np.float64] = np.cumsum(diff)[: top + 1] / self.requests
        return hist


@dataclass(frozen=True)
class LognormalSpec:
    """Lognormal prompt and output lengths: median and sigma of log-length, clipped."""

    prompt_median: float
    prompt_sigma: float
    output_median: float
    output_sigma: float
    max_tokens: int
    note: str


#: Named shapes with stated parameters; none is fitted to a published trace.
NAMED: dict[str, LognormalSpec] = {
    "chat": LognormalSpec(512, 1.0, 256, 0.8, 32768,
                          "short chat: prompts median 512, outputs median 256"),
    "long-context": LognormalSpec(4096, 1.0, 512, 0.7, 32768,
                                  "RAG/summarisation: prompts median 4096, outputs median 512"),
}
DEFAULT_SAMPLES = 20000
DEFAULT_SEED = 0


def lognormal_lengths(spec: LognormalSpec, name: str, samples: int = DEFAULT_SAMPLES,
                      seed: int = DEFAULT_SEED) -> LengthDistribution:
    """Draw `samples` requests: length = round(median · exp(sigma · z)), clipped to [1, max].

    Prompt and output are independent; prompt + output <= max_tokens (output clipped).
    """
    rng = np.random.default_rng(seed)
    p = np.rint(spec.prompt_median * np.exp(spec.prompt_sigma * rng.standard_normal(samples)))
    o = np.rint(spec.output_median * np.exp(spec.output_sigma * rng.standard_normal(samples)))
    prompt = np.clip(p, 1, spec.max_tokens - 1).astype(np.int64)
    output = np.clip(o, 1, spec.max_tokens - prompt).astype(np.int64)
    return LengthDistribution(name, prompt, output)


def named_distribution(text: str) -> LengthDistribution:
    """'chat', 'long-context', or 'lognormal:prompt_median=..,prompt_sigma=..,...'.

    Any LognormalSpec field may be overridden after a colon: 'chat:max_tokens=8192'.
    """
    base, _, params = text.partition(":")
    if base == "lognormal":
        spec = LognormalSpec(1024, 1.0, 256, 0.8, 32768, "user lognormal")
    elif base in NAMED:
        spec = NAMED[base]
    else:
        raise InferplanError("distribution", text,
                             f"known: {', '.join([*NAMED, 'lognormal:key=value,...'])}")
    values = {k: getattr(spec, k) for k in ("prompt_median", "prompt_sigma", "output_median",
                                            "output_sigma", "max_tokens")}
    for item in filter(None, params.split(",")):
        key, _, raw = item.partition("=")
        if key not in values:
            raise InferplanError("distribution", item, f"parameters: {', '.join(values)}")
        try:
            number = float(raw)
        except ValueError:
            raise InferplanError("distribution", item, "value must be a number") from None
        if not 0 < number < math.inf:
            raise InferplanError("distribution", item, "must be a positive, finite number")
        values[key] = int(number) if key == "max_tokens" else number
    spec = LognormalSpec(note=spec.note, **values)
    return lognormal_lengths(spec, text)


def _column(row: Mapping[str, Any], names: Sequence[str]) -> str | None:
    return next((n for n in names if n in row), None)


def lengths_from_records(rows: Sequence[Mapping[str, Any]], name: str = "data"
                         ) -> LengthDistribution:
    """Rows with a prompt-length and an output-length column (names in PROMPT/OUTPUT_COLUMNS)."""
    if not rows:
        raise InferplanError("lengths", name, "has no rows")
    pcol, ocol = _column(rows[0], PROMPT_COLUMNS), _column(rows[0], OUTPUT_COLUMNS)
    if pcol is None or ocol is None:
        raise InferplanError("lengths", sorted(rows[0]), "needs a prompt column "
                             f"({', '.join(PROMPT_COLUMNS)}) and an output column "
                             f"({', '.join(OUTPUT_COLUMNS)})")
    try:
        prompt = np.array([int(float(r[pcol])) for r in rows], dtype=np.int64)
        output = np.array([int(float(r[ocol])) for r in rows], dtype=np.int64)
    except (KeyError, TypeError, ValueError):
        raise InferplanError("lengths", name, f"every row needs integer {pcol} and {ocol}"
                             ) from None
    if prompt.min() < 1 or output.min() < 1:
        raise InferplanError("lengths", name, "lengths must be at least 1 token")
    return LengthDistribution(name, prompt, output)


def lengths_from_arrays(prompt: Sequence[int] | IntArray, output: Sequence[int] | IntArray,
                        name: str = "arrays") -> LengthDistribution:
    """From two equal-length integer sequences (each >= 1)."""
    p, o = np.asarray(prompt, dtype=np.int64), np.asarray(output, dtype=np.int64)
    if p.shape != o.shape or p.ndim != 1 or p.size == 0:
        raise InferplanError("lengths", name, "prompt and output must be equal, non-empty lists")
    if p.min() < 1 or o.min() < 1:
        raise InferplanError("lengths", name, "lengths must be at least 1 token")
    return LengthDistribution(name, p, o)

"""The records of a padding evaluation: what each bucket set costs, wasted and useful.

Costs are in the report's `unit` (FLOP, or s with a step-time model); "useful" is the
cost of the same requests at their own shapes, "padded" what the bucket shapes cost,
waste the difference (see `padding.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Grouping = Literal["batch_max", "per_sequence"]


@dataclass(frozen=True)
class DecodeModel:
    """Decode batch sizes the engine runs (weights sum to 1), grouping and memory cap."""

    levels: tuple[int, ...]
    weights: tuple[float, ...]
    grouping: Grouping
    max_batch_context: int


def waste_fraction(wasted: float, padded: float) -> float:
    """Share of the cost spent at bucket shapes that is waste: wasted / padded (0 if none).

    Seed 000 'chat' prefill in FLOPs: 2.79e13 wasted of 2.79e13 + 1.31e13 spent -> 0.68.
    """
    return wasted / padded if padded > 0 else 0.0


@dataclass(frozen=True)
class PrefillPadding:
    mean_prompt_tokens: float
    padded_tokens_per_request: float
    wasted_cost_per_request: float
    useful_cost_per_request: float
    uncovered_share: float

    @property
    def padded_share(self) -> float:
        """Padded tokens as a share of real prompt tokens."""
        return self.padded_tokens_per_request / self.mean_prompt_tokens

    @property
    def padded_cost_per_request(self) -> float:
        """Cost of the prefill steps at the bucket shapes: useful + wasted."""
        return self.useful_cost_per_request + self.wasted_cost_per_request

    @property
    def wasted_fraction(self) -> float:
        return waste_fraction(self.wasted_cost_per_request, self.padded_cost_per_request)


@dataclass(frozen=True)
class DecodeLevelPadding:
    batch: int
    weight: float
    padded_keys_per_token: float
    padded_slots_per_token: float
    wasted_cost_per_token: float
    useful_cost_per_token: float
    uncovered_share: float
    over_memory_cap_share: float

    @property
    def padded_cost_per_token(self) -> float:
        return self.useful_cost_per_token + self.wasted_cost_per_token


@dataclass(frozen=True)
class DecodePadding:
    grouping: Grouping
    levels: tuple[DecodeLevelPadding, ...]

    def _mean(self, field: str) -> float:
        return float(sum(lv.weight * getattr(lv, field) for lv in self.levels))

    @property
    def padded_keys_per_token(self) -> float:
        return self._mean("padded_keys_per_token")

    @property
    def wasted_cost_per_token(self) -> float:
        return self._mean("wasted_cost_per_token")

    @property
    def useful_cost_per_token(self) -> float:
        return self._mean("useful_cost_per_token")

    @property
    def padded_cost_per_token(self) -> float:
        """Cost per generated token at the bucket shapes: useful + wasted."""
        return self.useful_cost_per_token + self.wasted_cost_per_token

    @property
    def wasted_fraction(self) -> float:
        return waste_fraction(self.wasted_cost_per_token, self.padded_cost_per_token)

    @property
    def uncovered_share(self) -> float:
        return self._mean("uncovered_share")


@dataclass(frozen=True)
class PaddingReport:
    """Padding of one bucket set; costs in `unit` (FLOP, or s with a step-time model)."""

    distribution: str
    unit: str
    mean_output_tokens: float
    prefill: PrefillPadding
    decode: DecodePadding

    @property
    def wasted_cost_per_request(self) -> float:
        """Prefill waste + mean output tokens x decode waste per token."""
        return (self.prefill.wasted_cost_per_request
                + self.mean_output_tokens * self.decode.wasted_cost_per_token)

    @property
    def useful_cost_per_request(self) -> float:
        return (self.prefill.useful_cost_per_request
                + self.mean_output_tokens * self.decode.useful_cost_per_token)

    @property
    def padded_cost_per_request(self) -> float:
        """Cost per request at the bucket shapes: useful + wasted."""
        return self.useful_cost_per_request + self.wasted_cost_per_request

    @property
    def wasted_share(self) -> float:
        """Wasted / useful compute per request."""
        return self.wasted_cost_per_request / self.useful_cost_per_request

    @property
    def wasted_fraction(self) -> float:
        """Wasted / padded (spent) cost per request."""
        return waste_fraction(self.wasted_cost_per_request, self.padded_cost_per_request)

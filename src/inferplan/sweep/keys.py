"""A point's stable key: the hash of its canonical scenario and job.

The key is what resume and exactly-once writing compare: the same scenario and job give
the same key in any run, on any machine, whatever order or defaults the spec wrote them
in; a different one (another value, another seed for a simulation) a different key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from inferplan.scenario import ScenarioIn

#: Hex digits of SHA-256 a key keeps: 64 bits, so that among a million points the chance
#: of two sharing a key is about 1e12 / 2**65 ≈ 3e-8.
KEY_HEX_DIGITS = 16


def _pruned(value: Any) -> Any:
    """`value` with empty mappings dropped, at every level (`parallelism: {}` after its
    defaults are dropped is the same scenario as no `parallelism`)."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v != {}}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def canonical_scenario(scenario: ScenarioIn) -> dict[str, Any]:
    """The fields of a validated scenario that differ from their defaults, as JSON values:
    `{chips: 1, parallelism: {tp: 1}}` and `{chips: 1}` give the same mapping."""
    return dict(_pruned(scenario.model_dump(mode="json", exclude_defaults=True)))


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: one text for one value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def point_key(canonical: dict[str, Any], job: str, seed: int | None) -> str:
    """The first KEY_HEX_DIGITS hex digits of SHA-256 over the canonical JSON of
    {job, scenario, seed}; `seed` is None for a job that draws nothing (estimate)."""
    text = canonical_json({"job": job, "scenario": canonical, "seed": seed})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_HEX_DIGITS]

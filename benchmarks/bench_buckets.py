"""Speed target of the bucket optimiser at the largest context a config may name (run:
`python benchmarks/bench_buckets.py`).

Seed 000's furiosa-llm config (38 graphs, Llama-3.1-8B on RNGD) with its top decode
bucket raised to one sequence of 2^20 tokens and `max_seq_len_to_capture` with it,
suggested with `--ignore-evidence` (so the suggestion may exceed the graph sizes known to
compile): ≤ 30 s. Before the candidate grid was capped (`buckets.optimise.MAX_CANDIDATES`)
this ran for more than 10 minutes.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from inferplan.buckets.config import parse_bucket_config
from inferplan.buckets.plan import plan_buckets
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "buckets" / "seed000.yaml"
TOP = 2**20


def million_token_config() -> dict[str, object]:
    """Seed 000's config with its last decode bucket at (1, 2^20)."""
    raw = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    raw["decode_buckets"] = [*raw["decode_buckets"][:-1], [1, TOP]]
    raw["max_seq_len_to_capture"] = TOP
    return raw


def bench_bucket_suggestion_at_2_20() -> tuple[str, float, float]:
    cfg = parse_bucket_config(million_token_config())
    start = time.perf_counter()
    plan = plan_buckets(cfg, catalog_model(cfg.model), catalog_chip(cfg.hardware),
                        respect_evidence=False)
    seconds = time.perf_counter() - start
    assert plan.suggestion is not None
    return "bucket suggestion, a 2^20-token decode bucket", seconds, 30.0


if __name__ == "__main__":
    name, seconds, target = bench_bucket_suggestion_at_2_20()
    print(f"{name:58} {seconds:9.4f} {target:8.2f}  {'yes' if seconds <= target else 'NO'}")

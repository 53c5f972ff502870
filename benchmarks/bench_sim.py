"""Speed of the request-level simulator (`inferplan.sim`) against issue 11's target:
1,000,000 requests through 64 replicas in ≤ 60 s on this 2-core machine, peak memory
≤ 2 GB. The fleet: Qwen3-32B in fp8 on 64 H100s, one GPU per replica (dp = 64) under
vLLM, Poisson arrivals at 4 requests/s per replica dealt round robin, 1024/256 tokens at
ratio 0.8 (15,625 requests per replica)."""

from __future__ import annotations

import resource
import time

from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.scenario import build_deployment, parse_scenario
from inferplan.sim.fleet import simulate_fleet

REQUESTS = 1_000_000
REPLICAS = 64


def bench_simulator_fleet() -> tuple[str, float, float]:
    raw = {"model": "qwen3-32b", "hardware": "h100-sxm", "chips": REPLICAS,
           "parallelism": {"tp": 1, "dp": REPLICAS}, "engine": "vllm",
           "dtypes": {"weights": "fp8", "kv": "fp8", "compute": "fp8"},
           "workload": {"input_len": 1024, "output_len": 256, "rate": 4.0,
                        "length_ratio": 0.8, "requests": REQUESTS // REPLICAS}}
    dep, wl = build_deployment(parse_scenario(raw), catalog_model, catalog_chip)
    start = time.perf_counter()
    run = simulate_fleet(dep, wl, None, seed=0)
    elapsed = time.perf_counter() - start
    assert run.requests.count == REQUESTS
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30
    return (f"simulate 1M requests, 64 replicas (peak {peak_gib:.2f} GiB)", elapsed, 60.0)


if __name__ == "__main__":
    name, seconds, target = bench_simulator_fleet()
    print(f"{name:55} {seconds:9.1f} {target:8.1f}")

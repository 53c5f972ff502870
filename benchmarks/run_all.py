"""Speed targets of inferplan, printed as a table. Run: `make bench`.

Targets (this 2-core machine):
- memory breakdown of one deployment over 100,000 batch sizes: under 50 ms;
- largest batch for every catalog model on every catalog chip (8 chips, tp=8 where
  legal): under 5 s in all.
- search: ≥100,000 candidate deployments in ≤ 1 s; a fleet space of 1.18 M points (4 models
  x 3 chips, per-deployment cost dominating) in ≤ 1.5 s; 100,000+ deployments x 16 batch
  sizes (issue 12) in ≤ 3 s; an aiconfigurator-style dense-model
  question (11–15 s there) in ≤ 0.5 s, the same as disaggregated pools in ≤ 0.5 s, and
  with speculative decoding as a dimension in ≤ 1 s (benchmarks/bench_search.py).
- simulator: 1,000,000 requests through 64 replicas in ≤ 60 s, peak memory reported
  (benchmarks/bench_sim.py).
- start-up: `inferplan --help` ≤ 0.25 s and `inferplan estimate` ≤ 0.4 s end to end (best
  of 5 subprocesses), one in-process estimate ≤ 1 ms (benchmarks/bench_startup.py).
- sweep: 128 points (64 simulations, 64 estimates) with one local worker in ≤ 10 s, and
  two workers reaching ≥ 80% of the speed-up the machine's measured cores allow
  (benchmarks/bench_sweep.py; it also runs Ray clusters of 1 and 2 worker nodes).
- buckets: the bucket suggestion for seed 000's config with a 2^20-token decode bucket
  in ≤ 30 s (benchmarks/bench_buckets.py).
Then the accuracy targets: median APE ≤ 15% on the static-batch throughput and TTFT rows
of every hardware kind in the dev measurements (benchmarks/validation_accuracy.py), and
`inferplan calibrate --device cpu`'s median held-out error ≤ 10% on this machine's CPU
(benchmarks/bench_calibrate.py; skipped without the jax extra).
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np
from bench_buckets import bench_bucket_suggestion_at_2_20
from bench_search import (
    bench_aiconfigurator_question,
    bench_aiconfigurator_static,
    bench_disaggregated_question,
    bench_fleet_frontier,
    bench_fleet_space,
    bench_many_deployments,
    bench_search_100k,
    bench_search_100k_in_flight,
    bench_speculative_search,
)
from bench_sim import bench_simulator_fleet
from bench_startup import (
    bench_estimate_in_process,
    bench_estimate_start_up,
    bench_help_start_up,
)
from bench_sweep import bench_sweep_local
from validation_accuracy import accuracy_report

from inferplan.deployment import Deployment, Dtypes, Workload
from inferplan.hardware import default_topology, hardware_catalog
from inferplan.memory import max_batch, memory_breakdown
from inferplan.models import catalog_model, model_catalog
from inferplan.parallel import Layout, check_layout
from inferplan.units import InferplanError


def bench_memory_vectorised() -> tuple[str, float, float]:
    chip = hardware_catalog()["h100-sxm"]
    dep = Deployment(catalog_model("llama-3.1-70b"), chip, default_topology(chip, 8),
                     Layout(tp=8), Dtypes("fp8", "fp8"))
    wl = Workload(input_len=2048, output_len=512, batch=1)
    batches = np.arange(1, 100_001)
    start = time.perf_counter()
    fits = memory_breakdown(dep, wl, batches).fits
    elapsed = time.perf_counter() - start
    assert fits.shape == batches.shape
    return "memory over 100,000 batch sizes", elapsed, 0.05


def bench_max_batch_catalog() -> tuple[str, float, float]:
    wl = Workload(input_len=4096, output_len=1024, batch=1)
    start = time.perf_counter()
    count = 0
    for chip in hardware_catalog().values():
        chips = 1 if chip.cores_per_chip > 1 else 8
        try:
            topo = default_topology(chip, chips)
        except InferplanError:
            topo = default_topology(chip, 4)
            chips = 4
        for name in model_catalog():
            model = catalog_model(name)
            layout = Layout(tp=chips * chip.cores_per_chip)
            try:
                check_layout(model, chip, layout, chips)
            except InferplanError:
                continue
            max_batch(Deployment(model, chip, topo, layout, Dtypes("bf16", "bf16")), wl)
            count += 1
    elapsed = time.perf_counter() - start
    return f"max batch, {count} model x chip pairs", elapsed, 5.0


def main() -> None:
    rows = [bench_memory_vectorised(), bench_max_batch_catalog(), bench_search_100k(),
            bench_search_100k_in_flight(), bench_fleet_space(), bench_many_deployments(),
            bench_fleet_frontier(),
            bench_aiconfigurator_question(),
            bench_aiconfigurator_static(), bench_disaggregated_question(),
            bench_speculative_search(), bench_simulator_fleet(), bench_help_start_up(),
            bench_estimate_start_up(), bench_estimate_in_process(), *bench_sweep_local(),
            bench_bucket_suggestion_at_2_20()]
    print(f"{'benchmark':58} {'seconds':>9} {'target':>8}  ok")
    failed = False
    for name, seconds, target in rows:
        ok = seconds <= target
        failed |= not ok
        print(f"{name:58} {seconds:9.4f} {target:8.2f}  {'yes' if ok else 'NO'}")
    print()
    failed |= not accuracy_report()
    print()
    if importlib.util.find_spec("jax") is None:
        print("calibration: skipped (needs the jax extra: pip install 'inferplan[jax]')")
    else:
        from bench_calibrate import calibration_report

        failed |= not calibration_report()
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

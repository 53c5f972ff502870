"""Throughput of `inferplan sweep` (issue 16): points per second with 1 and 2 workers on
the local backend, and on Ray (a head and 1 or 2 one-CPU worker nodes on this machine)
where the `ray` extra is installed; and what the driver's result sink costs per shard,
the number docs/sweep-scaling.md uses to say where a cluster of N nodes stops scaling.

The sweep: 64 simulations (Llama-3.1-8B on one H100 under vLLM, 4,000 requests each at
concurrency 16–64, prompts of 512–4,096 tokens) and their 64 closed-form estimates, 128
points; every run writes to a fresh folder, so nothing is resumed. Times are wall-clock
from reading the spec to the folded `results.parquet`, pool or Ray start-up included
(cluster start-up is not: a cluster is up before a sweep is sent to it).

Run: `python benchmarks/bench_sweep.py` (run_all.py runs the local rows).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

from inferplan.cli.actions.sweep import run_sweep  # noqa: E402
from inferplan.sweep.columns import empty_row  # noqa: E402
from inferplan.sweep.results import ResultSink  # noqa: E402

SPEC = {
    "name": "bench",
    "jobs": ["estimate", "simulate"],
    "scenario": {"model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": 1,
                 "engine": "vllm",
                 "workload": {"input_len": 1024, "output_len": 128, "concurrency": 16,
                              "requests": 4000}},
    "grid": {"workload.input_len": [512, 1024, 1536, 2048, 2560, 3072, 3584, 4096],
             "workload.concurrency": [16, 24, 32, 40, 48, 56, 64, 72]},
}
POINTS = 128
#: The slowest acceptable sweep of these 128 points with one local worker (seconds; it
#: takes ~3.5 s here).
ONE_WORKER_TARGET_S = 10.0
#: Share of the machine's parallel speed-up two workers must reach: two workers take at
#: most t1 / min(2, cores) / 0.8, where `cores` is what `effective_cores` measures (this
#: 2-vCPU machine computes as one core: two CPU-bound processes run at half speed each,
#: so there the target is 1.25 t1; on two real cores it is 0.625 t1).
TWO_WORKER_EFFICIENCY = 0.8


def _spin(_: int) -> float:
    """Seconds a fixed CPU-bound Python loop takes in this process."""
    start = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i
    return time.perf_counter() - start


def effective_cores() -> float:
    """How many CPU-bound processes this machine runs at full speed, up to 2: 2 x (one
    process's time) / (the time of two at once). `nproc` says 2 here; this says ~1.0."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_spin, [0, 0]))                     # start both workers
        one = min(pool.submit(_spin, 0).result() for _ in range(2))
        start = time.perf_counter()
        list(pool.map(_spin, [0, 0]))
        both = time.perf_counter() - start
    return max(1.0, min(2.0, 2 * one / both))


def _sweep(folder: Path, backend: str, workers: int | None, address: str | None = None
           ) -> float:
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    out = folder / f"out-{backend}-{workers}-{time.monotonic_ns()}"
    run = run_sweep(str(spec), str(out), backend, address, workers, None, 3,
                    show_progress=False)
    assert run.written == POINTS and run.rows == POINTS and run.invalid == 0, run
    return run.elapsed_s


def bench_sweep_local() -> list[tuple[str, float, float]]:
    """Rows for run_all: the 128-point sweep with 1 and with 2 local workers."""
    cores = effective_cores()
    with tempfile.TemporaryDirectory() as tmp:
        one = _sweep(Path(tmp), "local", 1)
        two = _sweep(Path(tmp), "local", 2)
    return [(f"sweep {POINTS} points, local, 1 worker ({POINTS / one:.1f} points/s)", one,
             ONE_WORKER_TARGET_S),
            (f"sweep {POINTS} points, local, 2 workers ({POINTS / two:.1f} points/s; "
             f"{cores:.2f} cores)", two, one / min(2.0, cores) / TWO_WORKER_EFFICIENCY)]


def bench_sweep_ray() -> list[tuple[str, float, float]]:
    """The same sweep on a Ray cluster of 1 and of 2 one-CPU worker nodes (no target:
    reported beside the local rows); [] without the ray extra."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return []
    sys.path.insert(0, str(ROOT))
    from tools.ray_cluster import LocalRayCluster

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            logs = Path(tmp) / f"ray-{workers}"
            logs.mkdir()
            with LocalRayCluster(logs).start(workers) as cluster:
                seconds = _sweep(Path(tmp), "ray", None, cluster.address)
            rows.append((f"sweep {POINTS} points, ray, {workers} worker node(s) "
                         f"({POINTS / seconds:.1f} points/s)", seconds, float("inf")))
    return rows


def bench_sink(shards: int = 400, rows_per_shard: int = 16) -> tuple[float, float]:
    """(seconds per shard the driver spends writing a landed shard: one Parquet part and
    a CSV append; seconds per row to fold all parts into results.parquet at the end)."""
    rows = [{**empty_row(), "index": i, "key": f"{i:016x}", "job": "simulate",
             "scenario": '{"model": "llama-3.1-8b"}', "ttft_s_mean": 0.1}
            for i in range(shards * rows_per_shard)]
    with tempfile.TemporaryDirectory() as tmp:
        sink = ResultSink.open(Path(tmp) / "out")
        start = time.perf_counter()
        for n in range(shards):
            sink.write(rows[n * rows_per_shard:(n + 1) * rows_per_shard])
        per_shard = (time.perf_counter() - start) / shards
        start = time.perf_counter()
        sink.finish()
        per_row = (time.perf_counter() - start) / len(rows)
    return per_shard, per_row


def main() -> None:
    rows = bench_sweep_local() + bench_sweep_ray()
    print(f"{'benchmark':62} {'seconds':>9} {'target':>8}")
    for name, seconds, target in rows:
        print(f"{name:62} {seconds:9.2f} {target:8.2f}")
    per_shard, per_row = bench_sink()
    print(f"result sink: {per_shard * 1e3:.2f} ms per landed shard of 16 rows "
          f"({1 / per_shard:,.0f} shards/s); folding: {per_row * 1e6:.1f} us per row")


if __name__ == "__main__":
    main()

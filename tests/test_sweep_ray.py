"""`inferplan sweep --backend ray` on a Ray cluster this test starts on the machine (a
head and two one-CPU worker nodes, `tools/ray_cluster.py`): a worker node killed after
the first shard lands, and still every point's row arrives exactly once; an address
nothing listens on is one line, at once. Skipped where the `ray` extra is not installed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from inferplan.sweep import read_results
from inferplan.sweep.expand import expand
from inferplan.sweep.spec import parse_spec

pytest.importorskip("ray", reason="the ray extra (pip install 'inferplan[ray]') is not installed")

from tools.ray_cluster import LocalRayCluster, free_port, node_env

#: 24 simulations of 16,000 requests (~0.15 s each here), one per task: a few seconds of
#: work on two one-CPU workers, long enough to kill one in the middle.
SPEC = {
    "name": "ray-kill",
    "jobs": ["simulate"],
    "scenario": {"model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": 1,
                 "engine": "vllm",
                 "workload": {"input_len": 2048, "output_len": 128, "concurrency": 64,
                              "requests": 16000}},
    "grid": {"workload.input_len": [1024, 1536, 2048, 2560, 3072, 3584],
             "workload.concurrency": [16, 32, 48, 64]},
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRayCluster]:
    try:
        started = LocalRayCluster(tmp_path_factory.mktemp("ray")).start(workers=2)
    except RuntimeError as exc:      # the machine cannot run Ray nodes (not our code)
        pytest.skip(f"a local Ray cluster does not start here: {str(exc)[-300:]}")
    with started as running:
        yield running


def sweep_process(spec: Path, out: Path, address: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "inferplan", "sweep", str(spec), "--out", str(out),
         "--backend", "ray", "--address", address, "--shard-size", "1", "--retries", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=node_env())


def test_a_killed_worker_loses_and_duplicates_no_row(cluster: LocalRayCluster,
                                                     tmp_path: Path) -> None:
    spec, out = tmp_path / "spec.yaml", tmp_path / "out"
    spec.write_text(yaml.safe_dump(SPEC))
    expected = [p.key for p in expand(parse_spec(SPEC))]
    assert len(expected) == 24
    driver = sweep_process(spec, out, cluster.address)
    deadline = time.monotonic() + 120
    while not any((out / "parts").glob("part-*.parquet")):
        assert driver.poll() is None, driver.communicate()
        assert time.monotonic() < deadline, "no shard landed in 120 s"
        time.sleep(0.05)
    assert driver.poll() is None, "the sweep ended before the worker could be killed"
    cluster.kill_worker(1)
    landed = len(read_results(out))
    assert 1 <= landed < 24 and driver.poll() is None     # killed mid-sweep
    stdout, stderr = driver.communicate(timeout=180)
    assert driver.returncode == 0, stderr[-3000:]
    rows = read_results(out)
    keys = Counter(r["key"] for r in rows)
    assert sorted(keys) == sorted(expected) and set(keys.values()) == {1}
    assert all(r["error"] is None and r["simulated_requests"] == 16000 for r in rows)
    assert "24 run now" in stdout
    # a second run finds every row there and runs nothing
    again = sweep_process(spec, out, cluster.address)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr[-3000:]
    assert "0 run now" in stdout and "24 already in" in stdout
    assert len(read_results(out)) == 24


def test_an_address_nothing_listens_on_is_one_line_at_once(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    address = f"127.0.0.2:{free_port()}"
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "inferplan", "sweep", str(spec), "--out",
                           str(tmp_path / "out"), "--backend", "ray", "--address", address],
                          capture_output=True, text=True, timeout=60, env=node_env())
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: --address: '{address}' is not valid; unreachable")
    assert time.monotonic() - start < 20
    assert not (tmp_path / "out").exists()

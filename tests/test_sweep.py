"""`inferplan sweep` (issue 16): a spec's grid expanded to keyed points (worked counts and
a key derived by hand), bad specs and options as one line, resume and exactly-once
writing, the local backend end to end (each row the same figures `inferplan.estimate`
and `inferplan.simulate` give for its scenario), and a missing `ray` extra. The Ray
cluster with a killed worker: tests/test_sweep_ray.py."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

import inferplan
from conftest import cli, one_line_error
from inferplan.sweep import read_results
from inferplan.sweep.columns import COLUMNS, empty_row
from inferplan.sweep.expand import expand, merged
from inferplan.sweep.results import ResultSink
from inferplan.sweep.spec import parse_spec
from inferplan.units import InferplanError

BASE: dict[str, Any] = {
    "model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": 1,
    "workload": {"input_len": 1024, "output_len": 256, "concurrency": 8},
}


def spec_of(**fields: Any) -> dict[str, Any]:
    return {"scenario": json.loads(json.dumps(BASE)), **fields}


def write_spec(folder: Path, spec: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


# ---------------------------------------------------------------- expansion


def test_the_grid_is_a_cross_product_times_the_jobs() -> None:
    spec = parse_spec(spec_of(jobs=["estimate", "simulate"], grid={
        "model": ["llama-3.1-8b", "qwen3-32b"], "dtypes.weights": ["bf16", "fp8", "int4"]}))
    points = expand(spec)
    assert len(points) == 2 * 3 * 2
    assert [p.index for p in points] == list(range(12))
    # the grid's order, the last entry fastest, the jobs innermost
    assert [(p.axes["model"], p.axes["dtypes.weights"], p.job) for p in points[:4]] == [
        ("llama-3.1-8b", "bf16", "estimate"), ("llama-3.1-8b", "bf16", "simulate"),
        ("llama-3.1-8b", "fp8", "estimate"), ("llama-3.1-8b", "fp8", "simulate")]
    assert points[-1].scenario["model"] == "qwen3-32b"
    assert points[-1].scenario["dtypes"]["weights"] == "int4"
    assert len({p.key for p in points}) == 12


def test_a_value_listed_twice_and_a_default_written_out_give_one_point() -> None:
    spec = parse_spec(spec_of(grid={"parallelism.tp": [1, 1], "chips": [1]}))
    assert len(expand(spec)) == 1
    # `parallelism: {tp: 1}` is the default: the same scenario, so the same key
    plain = expand(parse_spec(spec_of()))[0].key
    written = expand(parse_spec(spec_of(grid={"parallelism": [{"tp": 1, "pp": 1}]})))[0].key
    assert plain == written


def test_the_key_is_the_hash_of_the_canonical_scenario() -> None:
    # derived by hand: the fields that differ from their defaults, keys sorted, no spaces
    text = ('{"job":"estimate","scenario":{"chips":1,"hardware":"h100-sxm",'
            '"model":"llama-3.1-8b","workload":{"concurrency":8,"input_len":1024,'
            '"output_len":256}},"seed":null}')
    assert expand(parse_spec(spec_of()))[0].key == hashlib.sha256(
        text.encode()).hexdigest()[:16]
    # a simulation's key holds its seed: another seed, another point
    one, two = (expand(parse_spec(spec_of(jobs=["simulate"], seed=s)))[0].key for s in (0, 1))
    assert one != two


def test_zipped_fields_and_a_traffic_mix_merge_into_the_scenario() -> None:
    spec = parse_spec(spec_of(grid={
        "chips, parallelism.tp": [[1, 1], [2, 2]],
        "workload": [{"input_len": 4096}, {"rate": 2.0, "concurrency": None,
                                           "requests": 50}]}))
    points = expand(spec)
    assert [(p.scenario["chips"], p.scenario["parallelism"]["tp"]) for p in points] == [
        (1, 1), (1, 1), (2, 2), (2, 2)]
    first, second = points[0].scenario["workload"], points[1].scenario["workload"]
    assert (first["input_len"], first["output_len"], first["concurrency"]) == (4096, 256, 8)
    assert "concurrency" not in second and second["rate"] == 2.0
    assert merged({"a": 1, "b": {"c": 2}}, {"b": {"d": 3}, "a": None}) == {"b": {"c": 2, "d": 3}}


BAD_SPECS: list[tuple[dict[str, Any], str]] = [
    (spec_of(gird={"model": ["a"]}), "error: spec.gird: "),
    (spec_of(jobs=["estimate", "benchmark"]), "error: spec.jobs.1: 'benchmark'"),
    (spec_of(jobs=[]), "error: spec.jobs: [] is not valid; an empty list"),
    (spec_of(grid={"modle": ["qwen3-32b"]}),
     "error: grid.modle: 'modle' is not valid; not a scenario field; did you mean model?"),
    (spec_of(grid={"parallelism.tpp": [1]}), "error: grid.parallelism.tpp: "),
    (spec_of(grid={"chips.count": [1]}), "'chips' is a value, not a block of fields"),
    (spec_of(grid={"chips": 4}), "error: spec.grid.chips: 4 is not valid"),
    (spec_of(grid={"chips": []}), "has an empty list"),
    (spec_of(grid={"chips, parallelism.tp": [[1, 1], [2]]}),
     "error: grid.chips, parallelism.tp: [2] is not valid; a list of 2 values"),
    (spec_of(grid={"dtypes.weights": ["bf16", "fp9"]}),
     "error: grid.dtypes.weights: 'fp9' is not valid; allowed: fp32"),
    (spec_of(grid={"model": ["llama-3.1-8b", "qwen3-23b"]}),
     "error: grid.model: 'qwen3-23b' is not valid; not in the catalog; did you mean"),
    (spec_of(grid={"engine": ["vllm", "tensorrt"]}), "error: grid.engine: 'tensorrt'"),
    (spec_of(grid={"workload.batch": [4]}),
     "error: grid.workload.batch: 4 is not valid; give exactly one of batch, concurrency"),
    ({"scenario": {"model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": 1}},
     "error: scenario.workload: "),
    (spec_of(grid={"chips": list(range(1, 1002)), "workload.input_len": list(range(1, 1001))}),
     "error: grid: '1,001,000 points' is not valid; at most 1,000,000"),
]


@pytest.mark.parametrize(("spec", "expected"), BAD_SPECS)
def test_a_bad_spec_is_one_line(spec: dict[str, Any], expected: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(tmp_path, spec)
    line = one_line_error(capsys, "sweep", str(path), "--out", str(tmp_path / "out"))
    assert expected in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("options", "expected"), [
    (["--backend", "spark"], "error: --backend: 'spark' is not valid; allowed: local, ray"),
    (["--workers", "0"], "error: --workers: 0 is not valid; a positive integer"),
    (["--shard-size", "0"], "error: --shard-size: 0 is not valid"),
    (["--retries", "-1"], "error: --retries: -1 is not valid"),
    (["--address", "10.0.0.1:6379"], "error: --address: '10.0.0.1:6379' is not valid; only "
                                     "with --backend ray"),
    (["--backend", "ray", "--address", "head"], "error: --address: 'head' is not valid; "
                                                "HOST:PORT of a Ray head"),
])
def test_bad_options_are_one_line(options: list[str], expected: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(tmp_path, spec_of())
    line = one_line_error(capsys, "sweep", str(path), "--out", str(tmp_path / "out"), *options)
    assert line.startswith(expected)
    assert not (tmp_path / "out").exists()


def test_missing_spec_and_an_out_that_is_a_file(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert "error: spec: " in one_line_error(capsys, "sweep", str(tmp_path / "no.yaml"))
    path = write_spec(tmp_path, spec_of())
    (tmp_path / "taken").write_text("x")
    assert one_line_error(capsys, "sweep", str(path), "--out", str(tmp_path / "taken")
                          ).endswith("is a file; give a folder")


def test_without_the_ray_extra_the_ray_backend_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)     # `import ray` raises ImportError
    path = write_spec(tmp_path, spec_of())
    line = one_line_error(capsys, "sweep", str(path), "--out", str(tmp_path / "out"),
                          "--backend", "ray")
    assert line == ("error: backend: 'ray' is not valid; needs the ray extra: "
                    "pip install 'inferplan[ray]'")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- writing and resuming


def row(key: str, index: int, **values: Any) -> dict[str, Any]:
    return {**empty_row(), "key": key, "index": index, "job": "estimate", **values}


def test_the_sink_writes_each_key_once_and_a_reopened_folder_knows_them(
        tmp_path: Path) -> None:
    sink = ResultSink.open(tmp_path / "out")
    assert sink.write([row("a", 1), row("b", 0)]) == 2
    assert sink.write([row("b", 0, error="again"), row("c", 2)]) == 1   # a retried shard
    # a driver killed here: parts on disk, a CSV ending in half a line
    with (tmp_path / "out" / "results.csv").open("a") as csv:
        csv.write('7,"d","estim')
    again = ResultSink.open(tmp_path / "out")
    assert again.keys == {"a", "b", "c"}
    assert [r["key"] for r in read_results(tmp_path / "out" / "results.csv")] == ["b", "a", "c"]
    assert again.write([row("a", 1), row("d", 3, fits=True, ttft_s_mean=0.25)]) == 1
    assert again.finish() == 4
    rows = read_results(tmp_path / "out")
    assert [r["key"] for r in rows] == ["b", "a", "c", "d"]     # point order
    assert rows[1]["error"] is None and rows[3]["fits"] is True
    assert rows[3]["ttft_s_mean"] == 0.25 and list(rows[0]) == list(COLUMNS)
    assert read_results(tmp_path / "out" / "results.csv") == rows
    assert not list((tmp_path / "out" / "parts").iterdir())


def test_read_results_of_something_else_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InferplanError, match="not a sweep's --out"):
        read_results(tmp_path)
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(InferplanError, match="cannot be read as sweep results"):
        read_results(tmp_path / "x.parquet")


# ---------------------------------------------------------------- end to end (local)


def test_a_local_sweep_answers_as_the_commands_do_and_resumes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid: dict[str, Any] = {"model": ["llama-3.1-8b", "qwen3-32b"],
                            "parallelism.tp": [1, 2]}       # tp 2 on one chip: invalid
    spec = spec_of(jobs=["estimate", "simulate"], seed=3, grid=grid)
    spec["scenario"]["workload"]["requests"] = 40
    path = write_spec(tmp_path, spec)
    out = tmp_path / "out"
    code, stdout, _ = cli(capsys, "sweep", str(path), "--out", str(out), "--workers", "2",
                          "--timings")
    assert code == 0 and "8 points (4 estimate, 4 simulate); 8 run now (4 invalid" in stdout
    rows = read_results(out)
    assert len(rows) == 8 and len({r["key"] for r in rows}) == 8
    for r in rows:
        scenario = json.loads(r["scenario"])
        if r["tp"] == 2:
            assert r["error"].startswith("parallelism: ") and r["ttft_s_mean"] is None
        elif r["job"] == "estimate":
            est = inferplan.estimate(scenario).estimate
            assert (r["ttft_s_mean"], r["tpot_s_mean"], r["output_tokens_per_s"]) == (
                est.ttft_s, est.tpot_s, est.output_tokens_per_s)
            assert r["fits"] is True and r["ttft_s_p90"] is None
        else:
            s = inferplan.simulate(scenario, seed=3).simulation.summary
            assert (r["ttft_s_p90"], r["tpot_s_p50"], r["e2e_s_p99"], r["simulated_requests"]
                    ) == (s.ttft_s.p90, s.tpot_s.p50, s.e2e_s.p99, 40)
    first = {r["key"]: r["elapsed_s"] for r in rows}
    # a rerun of a grown spec runs only the new points; the old rows stay as they were
    grid["model"].append("llama-3.1-70b")
    write_spec(tmp_path, spec)
    code, stdout, _ = cli(capsys, "sweep", str(path), "--out", str(out), "--workers", "1",
                          "--shard-size", "2")
    assert code == 0 and "12 points" in stdout and "4 run now" in stdout
    assert "8 already in" in stdout
    rows = read_results(out)
    assert len(rows) == 12 and len({r["key"] for r in rows}) == 12
    assert {r["key"]: r["elapsed_s"] for r in rows if r["key"] in first} == first
    assert all(r["elapsed_s"] > 0 and ":" in r["worker"] for r in rows if r["key"] in first)
    assert all(r["elapsed_s"] is None and r["worker"] is None      # no --timings this time
               for r in rows if r["key"] not in first)
    seventy = [r for r in rows if r["model"] == "llama-3.1-70b" and r["tp"] == 1]
    assert all(r["fits"] is False and "does not fit" in r["error"] for r in seventy)


def test_one_spec_gives_byte_identical_results(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = spec_of(jobs=["estimate", "simulate"], seed=5, grid={"parallelism.tp": [1, 2]})
    spec["scenario"]["workload"]["requests"] = 20
    path = write_spec(tmp_path, spec)
    outputs = []
    for name, workers in (("a", "2"), ("b", "1")):
        out = tmp_path / name
        assert cli(capsys, "sweep", str(path), "--out", str(out), "--workers", workers)[0] == 0
        outputs.append(((out / "results.csv").read_bytes(),
                        (out / "results.parquet").read_bytes()))
    assert outputs[0] == outputs[1]


def test_dry_run_lists_the_points_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(tmp_path, spec_of(grid={"parallelism.tp": [1, 2]}))
    code, stdout, _ = cli(capsys, "sweep", str(path), "--dry-run")
    assert code == 0 and stdout.startswith("2 points (2 estimate) from 1 grid entries")
    assert not (tmp_path / "spec-sweep").exists() and not Path("spec-sweep").exists()


# ---------------------------------------------------------------- the ray backend's logic


class FakeRayError(Exception):
    pass


class FakeRay(types.ModuleType):
    """The few calls of `ray` the backend makes, run in-process: a task runs when
    submitted, and the shards in `failing` fail as a task that used up its retries."""

    def __init__(self, failing: set[int]) -> None:
        super().__init__("ray")
        self.exceptions = types.SimpleNamespace(RayError=FakeRayError)
        self.failing = failing
        self.inits: list[dict[str, Any]] = []
        self.options: list[dict[str, Any]] = []
        self.in_flight_max = 0
        self._pending = 0

    def is_initialized(self) -> bool:
        return bool(self.inits)

    def init(self, **kwargs: Any) -> None:
        self.inits.append(kwargs)
        self.started = kwargs

    def shutdown(self) -> None:
        self.inits.clear()

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 2.0}

    def remote(self, **options: Any) -> Any:
        self.options.append(options)
        fake = self

        class Task:
            def __init__(self, fn: Any) -> None:
                self.fn = fn

            def remote(self, shard: Any) -> Any:
                fake._pending += 1
                fake.in_flight_max = max(fake.in_flight_max, fake._pending)
                if shard.index in fake.failing:
                    return Ref(FakeRayError("WorkerCrashedError: the worker died"))
                return Ref(self.fn(shard))

        return Task

    def wait(self, refs: list[Any], num_returns: int) -> tuple[list[Any], list[Any]]:
        self._pending -= 1
        return refs[:1], refs[1:]

    def get(self, ref: Ref) -> Any:
        if isinstance(ref.value, FakeRayError):
            raise ref.value
        return ref.value


class Ref:
    """An object reference: what a task returned (or how it failed)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def test_the_ray_backend_writes_what_landed_and_names_a_shard_that_failed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRay(failing={2})
    monkeypatch.setitem(sys.modules, "ray", fake)
    path = write_spec(tmp_path, spec_of(grid={"workload.input_len": [256, 512, 1024, 2048,
                                                                     4096, 8192]}))
    out = tmp_path / "out"
    line = one_line_error(capsys, "sweep", str(path), "--out", str(out), "--backend", "ray",
                          "--workers", "2", "--shard-size", "1")
    assert line.startswith("error: backend: 'ray' is not valid; 1 of 6 shards failed after 3 "
                           "retries (first: WorkerCrashedError: the worker died); the rows")
    assert fake.options == [{"num_cpus": 1, "max_retries": 3}]
    assert fake.started["num_cpus"] == 2 and "address" not in fake.started
    assert fake.in_flight_max == 4                  # two shards per cluster CPU
    assert len(read_results(out)) == 5 and not fake.inits   # written, and shut down
    fake.failing.clear()
    code, stdout, _ = cli(capsys, "sweep", str(path), "--out", str(out), "--backend", "ray")
    assert code == 0 and "1 run now" in stdout and "5 already in" in stdout
    assert len(read_results(out)) == 6


def test_a_ray_that_cannot_connect_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRay(failing=set())

    def refuse(**kwargs: Any) -> None:
        raise ConnectionError("Could not find any running Ray instance.\nmore")

    fake.init = refuse     # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "ray", fake)
    path = write_spec(tmp_path, spec_of())
    line = one_line_error(capsys, "sweep", str(path), "--out", str(tmp_path / "out"),
                          "--backend", "ray", "--address", "auto")
    assert line == ("error: --address: 'auto' is not valid; Ray could not connect: Could "
                    "not find any running Ray instance.")


def test_the_report_reads_a_sweeps_results(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`inferplan report --sweep DIR` shows every point of a sweep's results (its figures
    as the sweep wrote them, ms in the table) and charts the answered ones; a folder that
    is not a sweep's results is one line naming --sweep."""
    spec = spec_of(jobs=["estimate"], grid={"model": ["llama-3.1-8b", "qwen3-32b"],
                                             "parallelism.tp": [1, 2]})
    out = tmp_path / "out"
    assert cli(capsys, "sweep", str(write_spec(tmp_path, spec)), "--out", str(out),
               "--workers", "1")[0] == 0
    rows = read_results(out)
    page = tmp_path / "r.html"
    code, stdout, _ = cli(capsys, "report", "--sweep", str(out), "--out", str(page))
    assert code == 0 and "1 sweep(s)" in stdout
    html = page.read_text()
    assert "Sweep: " in html and "4 points read from" in html and "2 could not be answered" in html
    answered = next(r for r in rows if r["error"] is None)
    assert f"{answered['tpot_s_mean'] * 1e3:,.1f}" in html
    assert "parallelism: " in html                                  # an error row's reason
    assert one_line_error(capsys, "report", "--sweep", str(tmp_path), "--out",
                          str(page)).startswith("error: --sweep")

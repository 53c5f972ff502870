"""Each pool of a disaggregated scenario may carry its own `engine:` block (the scenario's
schema), which replaces the scenario's engine for that pool: the builder, the simulator's
use of each pool's scheduler, and the one-line errors naming the pool's field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import cli, one_line_error

from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.scenario import build_pools, parse_scenario
from inferplan.sim.disagg import simulate_disaggregated
from inferplan.units import InferplanError


def raw(prefill: dict[str, Any], decode: dict[str, Any], engine: Any = "trtllm",
        input_len: int = 2048) -> dict[str, Any]:
    return {"model": "qwen3-32b", "hardware": "h100-sxm", "chips": 2,
            "parallelism": {"tp": 2}, "engine": engine,
            "dtypes": {"weights": "fp8", "kv": "fp8", "compute": "fp8"},
            "workload": {"input_len": input_len, "output_len": 16, "concurrency": 1,
                         "requests": 2},
            "disaggregated": {"prefill": prefill, "decode": decode}}


def build(prefill: dict[str, Any], decode: dict[str, Any], **kw: Any) -> tuple:
    return build_pools(parse_scenario(raw(prefill, decode, **kw)), catalog_model,
                       catalog_chip)


def test_a_pool_engine_replaces_the_scenario_engine_for_that_pool_only() -> None:
    prefill, decode, _ = build(
        {"engine": {"name": "trtllm", "max_num_batched_tokens": 32768}},
        {"engine": {"name": "trtllm", "cuda_graph_max_batch": 1024, "max_num_seqs": 1024}})
    assert prefill.engine.scheduler.max_num_batched_tokens == 32768
    assert prefill.engine.scheduler.cuda_graph_max_batch == 512       # trtllm profile's
    assert decode.engine.scheduler.max_num_batched_tokens == 8192     # trtllm profile's
    assert decode.engine.scheduler.cuda_graph_max_batch == 1024
    assert decode.engine.scheduler.max_num_seqs == 1024
    # a name alone, another engine than the scenario's; `engine: null` keeps the scenario's
    prefill, decode, _ = build({"engine": "sglang"}, {"engine": None})
    assert (prefill.engine.name, decode.engine.name) == ("sglang", "trtllm")
    # no pool engine: both pools run the scenario's
    prefill, decode, _ = build({}, {}, engine={"name": "sglang", "max_num_seqs": 64})
    assert prefill.engine == decode.engine
    assert prefill.engine.scheduler.max_num_seqs == 64


def test_the_simulator_prefills_through_the_prefill_pool_budget() -> None:
    """One client, a 16,384-token prompt: SGLang's 8,192-token chunk prefills it in 2
    steps; the prefill pool's own 32,768-token chunk in 1."""
    steps = []
    for budget in (None, 32768):
        prefill_pool = {} if budget is None else {
            "engine": {"name": "sglang", "max_num_batched_tokens": budget}}
        prefill, decode, wl = build(prefill_pool, {}, engine="sglang", input_len=16384)
        run = simulate_disaggregated(prefill, decode, wl, concurrency=1)
        steps.append(run.prefill_steps / wl.requests)
    assert steps == [2, 1]


@pytest.mark.parametrize(("pool", "field", "value", "allowed"), [
    ("prefill: {engine: {name: trtllm, max_num_batched_tokens: 0}}",
     "disaggregated.prefill.engine.max_num_batched_tokens", "0", "greater than or equal to 1"),
    ("decode: {engine: {name: trtllm, cuda_graph_max_batch: -1}}",
     "disaggregated.decode.engine.cuda_graph_max_batch", "-1", "greater than or equal to 0"),
    ("decode: {engine: {name: trtllm, max_num_seqs: true}}",
     "disaggregated.decode.engine.max_num_seqs", "True", "valid integer"),
    ("prefill: {engine: {name: trtllm, chunk: 4}}",
     "disaggregated.prefill.engine.chunk", "4", "overridable fields: cuda_graphs"),
    ("prefill: {engine: {name: vllm, version: '0.1'}}",
     "disaggregated.prefill.engine.version", "0.1", "bundled vllm profile is version"),
    ("prefill: {engine: {name: vlm}}", "disaggregated.prefill.engine", "vlm", "vllm"),
    ("prefill: {engine: trtlm}", "disaggregated.prefill.engine", "trtlm", "trtllm"),
    ("prefill: {engine: 5}", "disaggregated.prefill.engine", "5", "valid"),
])
def test_bad_pool_engines_exit_2_naming_the_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], pool: str, field: str,
        value: str, allowed: str) -> None:
    other = "decode: {}" if pool.startswith("prefill") else "prefill: {}"
    path = tmp_path / "pools.yaml"
    path.write_text("model: qwen3-32b\nhardware: h100-sxm\nchips: 2\nparallelism: {tp: 2}\n"
                    "engine: trtllm\nworkload: {input_len: 1024, output_len: 16, "
                    f"concurrency: 2}}\ndisaggregated:\n  {pool}\n  {other}\n")
    line = one_line_error(capsys, "simulate", str(path))
    assert field in line and value in line and allowed in line, line


def test_the_scenario_engine_error_is_not_a_pool_error() -> None:
    """Where a pool keeps the scenario's engine, a bad scenario engine names `engine`."""
    with pytest.raises(InferplanError) as err:
        build({}, {}, engine={"name": "trtllm", "max_num_seqs": 0})
    assert err.value.field == "engine.max_num_seqs"
    with pytest.raises(InferplanError) as err:
        build({}, {"engine": {"name": "trtllm", "max_num_seqs": 0}})
    assert err.value.field == "disaggregated.decode.engine.max_num_seqs"


def test_simulate_json_reports_each_pool_engine(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pools.yaml"
    path.write_text("model: qwen3-32b\nhardware: h100-sxm\nchips: 2\nparallelism: {tp: 2}\n"
                    "engine: trtllm\nworkload: {input_len: 1024, output_len: 16, "
                    "concurrency: 2}\ndisaggregated:\n  prefill: {engine: {name: trtllm, "
                    "max_num_batched_tokens: 32768}}\n  decode: {}\n")
    code, out, _ = cli(capsys, "simulate", str(path), "--json")
    assert code == 0
    import json
    record = json.loads(out)["disaggregated"]
    assert record["prefill"]["engine"]["max_num_batched_tokens"] == 32768
    assert record["decode"]["engine"]["max_num_batched_tokens"] == 8192
    code, out, _ = cli(capsys, "simulate", str(path))
    assert code == 0 and "32768 tok/step" in out


def test_every_disagg_recipe_entry_is_sourced_and_resolves() -> None:
    import re

    from inferplan.engines import resolve_engine
    from inferplan.validate_serving import inferencex_disagg_recipes
    entries = inferencex_disagg_recipes()
    assert entries
    for entry in entries:
        assert re.fullmatch(r"benchmarks/multi_node/srt-slurm-recipes/\S+\.yaml@[0-9a-f]{9}",
                            entry["source"]), entry["source"]
        for pool in ("prefill", "decode"):
            layout = entry[pool]
            assert layout["tp"] % layout["attention_dp"] == 0
            assert resolve_engine(entry[f"{pool}_engine"]).name == entry["engine"]


def test_a_disagg_row_gets_its_recipe_pool_engines() -> None:
    """DeepSeek-R1 FP8 on GB200, SGLang 0.5.8.post1, 1k/1k, 2 prefill workers of DEP8 and
    one decode worker of DEP32: the max-tpt recipe's --chunked-prefill-size 131072 (16,384
    a DP rank, SGLang splitting it over 8) and --cuda-graph-max-bs 768 on decode. Layout
    columns only are read."""
    from inferplan.validate_serving import (
        ServingCase,
        bundled_serving_text,
        map_serving_row,
        read_serving_rows,
    )
    rows = [r for r in read_serving_rows(bundled_serving_text())
            if r["mode"] == "disagg" and "llama" not in r["model_path"].lower()
            and r["backend"] == "sglang" and r["system"] == "gb200"]
    layout = ("prefill_num_workers", "prefill_attention_dp_size", "decode_num_workers",
              "decode_attention_dp_size")
    row = next(r for r in rows if r["isl"] == "1024" and r["gemm_quant_mode"] == "fp8"
               and r["backend_version"] == "0.5.8.post1"
               and tuple(r[k] for k in layout) == ("2", "8", "1", "32"))
    case = map_serving_row(row)
    assert isinstance(case, ServingCase)
    pools = case.scenario["disaggregated"]
    assert pools["prefill"]["engine"]["max_num_batched_tokens"] == 131072
    assert pools["prefill"]["engine"]["cuda_graphs"] is False
    assert pools["decode"]["engine"]["cuda_graph_max_batch"] == 768
    prefill, decode, _ = build_pools(parse_scenario(case.scenario), catalog_model,
                                     catalog_chip)
    assert prefill.rank_token_budget() == 16384
    assert decode.engine.scheduler.max_num_seqs == 45000
    # the December runs (SGLang 0.5.5.post2) ran other recipes: no pool engines
    old = next(r for r in rows if r["backend_version"] == "0.5.5.post2"
               and r["prefill_num_workers"].strip())
    case = map_serving_row(old)
    assert isinstance(case, ServingCase)
    assert "engine" not in case.scenario["disaggregated"]["prefill"]


def test_the_documented_pool_engines_build() -> None:
    """docs/simulate.md's per-pool engine example builds: 16,384 tokens a prefill rank."""
    import re

    from inferplan.units import parse_bundled_yaml
    text = (Path(__file__).parent.parent / "docs" / "simulate.md").read_text("utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S)
                 if "max_num_batched_tokens: 131072" in b)
    doc = parse_bundled_yaml(block)
    scenario = {"model": "deepseek-r1", "hardware": "gb200", "chips": 32,
                "parallelism": {"tp": 32, "attention_dp": 32},
                "dtypes": {"weights": "fp8", "kv": "fp8", "compute": "fp8"},
                "workload": {"input_len": 1024, "output_len": 1024, "concurrency": 1024},
                **doc}
    prefill, decode, _ = build_pools(parse_scenario(scenario), catalog_model, catalog_chip)
    assert prefill.rank_token_budget() == 16384
    assert not prefill.engine.scheduler.cuda_graphs
    assert decode.engine.scheduler.cuda_graph_max_batch == 768

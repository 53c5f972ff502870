"""Search spaces: lists, ranges, dp: auto, compute: auto; bad input is one clear line."""

from __future__ import annotations

from typing import Any

import pytest

from inferplan.engines import resolve_engine
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.report.search_report import label
from inferplan.search import parse_space, run_search
from inferplan.search.expand import expand, resolve_compute
from inferplan.search.space import count_points, int_values
from inferplan.units import InferplanError

BASE: dict[str, Any] = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": 1,
                        "workload": {"input_len": 512, "output_len": 64, "batch": 4}}


def space(**fields: Any) -> dict[str, Any]:
    return {**BASE, **fields}


def test_scalars_lists_and_ranges() -> None:
    s = parse_space(space(chips=[8, 16, 8], parallelism={"tp": [1, 2], "pp": 1, "dp": "auto"},
                          dtypes={"weights": ["bf16", "fp8"], "kv": "fp8"},
                          workload={"input_len": [512, 2048], "output_len": 64,
                                    "batch": {"min": 1, "max": 512}},
                          slo={"ttft_s": 2.0, "tpot_s": 0.05}, objective="min_chips"))
    assert s.chips == [8, 16]                                 # duplicates dropped
    assert s.parallelism.tp == [1, 2] and s.parallelism.dp == ["auto"]
    assert s.dtypes.weights == ["bf16", "fp8"] and s.dtypes.compute == ["bf16"]
    assert s.workload.batch == list(range(1, 513))
    assert s.slo.ttft_s == 2.0 and s.objective == "min_chips"
    assert count_points(s) == 2 * 2 * 2 * 2 * 512
    assert int_values({"min": 8, "max": 32, "step": 8}) == [8, 16, 24, 32]
    assert int_values([1, "max"], ("max",)) == [1, "max"]


def test_a_plain_scenario_is_a_space_of_one_point() -> None:
    result = run_search(parse_space(BASE), catalog_model, catalog_chip)
    assert result.evaluated == 1 and result.feasible == 1
    assert result.scenario(0) == {**BASE, "parallelism": {
        "tp": 1, "pp": 1, "dp": 1, "ep": 1, "layout": "auto", "attention": "auto",
        "attention_dp": 1},
        "dtypes": {"weights": "bf16", "kv": "bf16", "compute": "bf16"},
        "efficiency": "realistic"}


@pytest.mark.parametrize(("fields", "where", "says"), [
    ({"chips": "eight"}, "space.chips", "positive integer"),
    ({"chips": []}, "space.chips", "empty list"),
    ({"chips": [8, 0]}, "space.chips", "positive integer"),
    ({"workload": {"input_len": 1, "output_len": 1, "batch": {"min": 9, "max": 2}}},
     "space.workload.batch", "min 9 is above max 2"),
    ({"workload": {"input_len": 1, "output_len": 1, "batch": {"low": 1}}},
     "space.workload.batch", "a range is"),
    ({"workload": {"input_len": 1, "output_len": 1, "batch": 1, "concurrency": 2}},
     "space.workload", "exactly one of batch or concurrency"),
    ({"dtypes": {"weights": ["bf16", "fp7"]}}, "space.dtypes.weights", "allowed"),
    ({"parallelism": {"dp": "some"}}, "space.parallelism.dp", "auto"),
    ({"objective": "fastest"}, "space.objective", "throughput_per_chip"),
    ({"slo": {"tpot_s": -1}}, "space.slo.tpot_s", "greater than 0"),
    ({"efficiency": ["ideal", "magic"]}, "space.efficiency", "allowed"),
    ({"chip": 8}, "space.chip", "Extra inputs"),
    ({"workload": {"input_len": 1, "output_len": 1,
                   "batch": {"min": 1, "max": 30_000_000}}}, "space", "too many points"),
    ({"engine": ["vllm", "vllm", "vlm"]}, "space.engine[2]", "did you mean vllm"),
    ({"engine": "sglng"}, "space.engine:", "did you mean sglang"),
    ({"engine": []}, "space.engine", "empty list"),
    ({"engine": ["vllm", 3]}, "space.engine", "3 in the list"),
    ({"engine": {"name": "vllm", "max_num_seqs": 0}}, "space.engine.max_num_seqs",
     "greater than or equal to 1"),
    ({"engine": ["vllm", {"name": "sglang", "kv_admission": "lazy"}]},
     "space.engine[1].kv_admission", "on_demand"),
    ({"engine": ["vllm", {"name": "sglang", "page_size": 16}]}, "space.engine[1].page_size",
     "overridable fields"),
    ({"engine": ["vllm", {"name": "trtllm", "version": "0.1"}]}, "space.engine[1].version",
     "the bundled trtllm profile is version"),
    ({"engine": ["vllm", {"max_num_seqs": 4}]}, "space.engine[1].name", "allowed: generic"),
])
def test_bad_input_is_one_line(fields: dict[str, Any], where: str, says: str) -> None:
    with pytest.raises(InferplanError) as err:
        parse_space(space(**fields))
    message = str(err.value)
    assert message.startswith(where) and says in message and "\n" not in message


def test_unknown_names_and_unused_topologies_are_errors() -> None:
    with pytest.raises(InferplanError, match="hardware"):
        run_search(parse_space(space(hardware=["h100-sxm", "h1000"])), catalog_model,
                   catalog_chip)
    with pytest.raises(InferplanError, match=r"space\.topology"):
        run_search(parse_space(space(hardware="tpu-v5e", chips=8, topology="4x4")),
                   catalog_model, catalog_chip)


def test_dp_auto_fills_chips_and_topologies_pair_with_chips() -> None:
    s = parse_space({**BASE, "hardware": "tpu-v5e", "chips": [4, 8, 12],
                     "topology": ["2x2", "2x4", "4x2"], "parallelism": {"tp": [2, 4, 3]}})
    groups = expand(s, catalog_model, catalog_chip)
    built = [(g.scenario["chips"], g.scenario.get("topology"), g.scenario["parallelism"]["tp"],
              g.scenario["parallelism"]["dp"]) for g in groups if g.deployment is not None]
    assert (4, "2x2", 2, 2) in built and (8, "2x4", 4, 2) in built and (8, "4x2", 2, 4) in built
    reasons = {(g.scenario["chips"], g.scenario["parallelism"]["tp"]): g.drop_reason
               for g in groups if g.deployment is None}
    assert reasons[(12, 2)] == "topology"       # v5e has no 12-chip slice
    assert reasons[(4, 3)] == "layout"          # tp*pp must divide the chips


def test_compute_auto() -> None:
    h100, v5e = catalog_chip("h100-sxm"), catalog_chip("tpu-v5e")
    assert resolve_compute("auto", "fp8", h100) == "fp8"
    assert resolve_compute("auto", "int4", h100) == "bf16"
    assert resolve_compute("auto", "int8", v5e) == "int8"
    assert resolve_compute("fp16", "int8", v5e) == "fp16"


def test_a_cost_objective_drops_chips_without_a_price() -> None:
    raw = space(model="llama-3.2-1b", hardware=["h100-sxm", "l4"],
                objective="throughput_per_usd")
    result = run_search(parse_space(raw), catalog_model, catalog_chip)
    assert result.dropped == {"no_price": 1} and result.feasible == 1
    assert result.scenario(result.best(1)[0])["hardware"] == "h100-sxm"
    priced = run_search(parse_space({**raw, "price_per_chip_hour": 0.8}), catalog_model,
                        catalog_chip)
    assert priced.feasible == 2 and not priced.dropped


def test_the_engine_is_a_dimension_resolved_once_per_spec() -> None:
    block = {"name": "vllm", "max_num_batched_tokens": 2048}
    s = parse_space(space(engine=["vllm", block, "sglang", "vllm", {"name": "sglang"}],
                          parallelism={"tp": [1, 2]}, chips=2))
    assert count_points(s) == 2 * 5     # an upper bound: repeats fall away at expansion
    groups = expand(s, catalog_model, catalog_chip)
    built = [g for g in groups if g.deployment is not None]
    assert [g.scenario["engine"] for g in built] == ["vllm", block, "sglang"] * 2
    profiles = [g.deployment.engine for g in built if g.deployment is not None]
    assert profiles[:3] == [resolve_engine("vllm"), resolve_engine(block),
                            resolve_engine("sglang")]
    assert profiles[1].scheduler.max_num_batched_tokens == 2048
    assert profiles[0] is profiles[3]               # one profile per spec, not per point


def test_labels_name_the_engine_only_when_the_space_does() -> None:
    plain = run_search(parse_space(BASE), catalog_model, catalog_chip)
    assert "engine" not in plain.scenario(0) and "vllm" not in label(plain, 0)
    assert plain.deployment(0).engine.name == "generic"
    one = run_search(parse_space(space(engine={"name": "vllm", "cuda_graphs": False})),
                     catalog_model, catalog_chip)
    assert one.scenario(0)["engine"] == {"name": "vllm", "cuda_graphs": False}
    assert label(one, 0) == ("1x h100-sxm, vllm cuda_graphs=False, tp1 pp1 dp1, "
                             "w bf16 kv bf16 c bf16, B=4")
    two = run_search(parse_space(space(engine=["vllm", "trtllm"])), catalog_model,
                     catalog_chip)
    assert {label(two, i).split(", ")[1] for i in range(2)} == {"vllm", "trtllm"}
    assert label(two, 0, replica=True).startswith("1x h100-sxm, ")


def test_group_scenarios_are_built_when_read_in_the_space_order() -> None:
    """`expand` keeps each group's scenario as parts (`ScenarioParts`) and builds the dict
    when first read: the same dict every time, its keys in the order a scenario lists
    them, its containers its own."""
    groups = expand(parse_space(space(
        chips=[1, 2], parallelism={"tp": [1, 2], "dp": "auto"}, engine=["vllm", "sglang"],
        speculative={"draft": "llama-3.2-1b", "alpha": 0.7},
        workload={"input_len": [512, 1024], "output_len": 64, "batch": 4})),
        catalog_model, catalog_chip)
    g = next(g for g in groups if g.speculative is not None and g.deployment is not None)
    assert g.scenario is g.scenario
    assert list(g.scenario) == ["model", "hardware", "chips", "parallelism", "dtypes",
                                "efficiency", "engine", "speculative", "workload"]
    assert g.scenario["speculative"] == {"draft": "llama-3.2-1b", "alpha": 0.7,
                                         "gamma": "auto"}
    assert g.scenario == g.parts.scenario() and g.scenario is not g.parts.scenario()
    sibling = next(h for h in groups if h is not g and h.parts.parallelism
                   is g.parts.parallelism)
    assert sibling.scenario["parallelism"] is not g.scenario["parallelism"]
    assert g.point_scenario(4)["workload"]["batch"] == 4 and "batch" not in g.scenario[
        "workload"]

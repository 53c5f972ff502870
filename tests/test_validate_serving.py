"""`inferplan validate --serving`: rows of serving_dev.csv mapped to scenarios, scored per
group beside aiconfigurator's predictions of the same rows."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from inferplan import validate_serving
from inferplan.engines import ENGINE_NAMES
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.sim.run import simulated_means
from inferplan.units import InferplanError
from inferplan.validate_serving import (
    ServingCase,
    ServingSkip,
    _mape,
    bundled_serving_text,
    inferencex_recipe,
    inferencex_recipes,
    map_serving_row,
    predict_serving,
    read_serving_rows,
    recipe_value,
    run_serving_validation,
    serving_table,
)

ROWS = read_serving_rows(bundled_serving_text())


def test_mape_worked_number() -> None:
    assert _mape([11.0, 9.0], [10.0, 10.0]) == pytest.approx(0.1)


def test_a_row_becomes_a_closed_loop_scenario() -> None:
    row = next(r for r in ROWS if r["model_path"] == "Qwen/Qwen3-32B" and r["mode"] == "agg"
               and r["backend"] == "sglang" and r["client_protocol"] == "aiperf-fixed?")
    case = map_serving_row(row)
    assert isinstance(case, ServingCase)
    s = case.scenario
    assert s["engine"] == "sglang" and s["model"] == "qwen3-32b"
    assert s["workload"]["concurrency"] == int(row["batch_size"])
    assert s["workload"]["length_ratio"] == 1.0
    assert s["chips"] == int(row["tp_size"]) * int(row["pp_size"])
    assert case.tpot_s == pytest.approx(float(row["silicon_tpot_ms"]) / 1e3)


def test_disaggregated_rows_map_to_pools() -> None:
    """The prefill_*/decode_* columns give each pool's workers (dp) and layout (tp·adp,
    batch-sharded attention, ep); decode batch × attention DP × workers is the clients,
    which each row's source states as silicon_concurrency."""
    import re
    rows = [r for r in ROWS if r["mode"] == "disagg" and r["decode_num_workers"].strip()
            and "silicon_concurrency=" in r["silicon_data_source"]]
    assert len(rows) > 200
    for row in rows[::25]:
        case = map_serving_row(row)
        assert isinstance(case, ServingCase) and case.disaggregated
        assert case.group.endswith("(disagg)")
        stated = re.search(r"silicon_concurrency=(\d+)", row["silicon_data_source"])
        assert stated is not None
        assert case.scenario["workload"]["concurrency"] == int(stated.group(1))
        for pool in ("prefill", "decode"):
            block = case.scenario["disaggregated"][pool]
            adp = int(row[f"{pool}_attention_dp_size"] or 1) or 1
            assert block["parallelism"]["dp"] == int(row[f"{pool}_num_workers"])
            assert block["parallelism"]["tp"] == int(row[f"{pool}_tp_size"]) * adp
            assert block["chips"] == (block["parallelism"]["dp"] * block["parallelism"]["tp"]
                                      * block["parallelism"]["pp"])
    blank = next(r for r in ROWS if r["mode"] == "disagg" and not r["decode_num_workers"])
    skip = map_serving_row(blank)
    assert isinstance(skip, ServingSkip) and "num_workers" in skip.reason


def test_disaggregated_rows_simulated_or_skipped() -> None:
    """The closed form skips the disaggregated rows; the simulator scores them, in their
    own groups and an "all disagg rows" line apart from the agg rows."""
    from inferplan.sim.run import simulated_pool_means
    rows = [r for r in ROWS if r["mode"] == "disagg" and r["decode_num_workers"].strip()
            and int(float(r["decode_batch_size"])) <= 2][:6]
    assert rows
    closed, skipped = run_serving_validation(rows, catalog_model, catalog_chip)
    assert not closed and all(s.reason.startswith("disaggregated") for s in skipped)
    simulated, _ = run_serving_validation(rows, catalog_model, catalog_chip, simulated_means,
                                          simulated_pool_means)
    assert simulated and all(c.pred_ttft_s > 0 and c.pred_tpot_s > 0 for c in simulated)
    table = serving_table(simulated)
    assert table[-1].group == "all disagg rows" and table[-1].rows == len(simulated)
    assert all(s.group != "all agg rows" for s in table)


def test_dense_groups_carry_the_peer_on_the_same_rows() -> None:
    rows = [r for r in ROWS if r["model_path"] == "Qwen/Qwen3-32B"]
    cases, _ = run_serving_validation(rows, catalog_model, catalog_chip)
    table = {s.group: s for s in serving_table(cases)}
    dense = table["dense rows"]
    assert dense.rows == len(cases) and dense.peer_rows > 50
    assert dense.peer_tpot_mape is not None and dense.ours_tpot_mape_on_peer is not None
    assert all(c.pred_ttft_s > 0 and c.pred_tpot_s > 0 for c in cases)


def test_cli_json_and_bad_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from inferplan.cli import main
    text = bundled_serving_text().splitlines()
    small = tmp_path / "runs.csv"
    small.write_text("\n".join([text[0], *[t for t in text[1:] if "Qwen/Qwen3-32B" in t
                                            and "silicon_concurrency=" in t][:20]]))
    monkeypatch.setattr(sys, "argv", ["inferplan", "validate", str(small), "--json"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    data = json.loads(capsys.readouterr().out)
    names = [g["group"] for g in data["groups"]]
    assert data["evaluated"] == 20 and "all agg rows" in names
    assert names[names.index("all agg rows") - 1].startswith("dense rows")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,silicon_tpot_ms\nx,1\n")
    monkeypatch.setattr(sys, "argv", ["inferplan", "validate", str(bad)])
    with pytest.raises(SystemExit) as code:
        main()
    assert code.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing columns" in err[0]


def test_rows_through_the_simulator_stay_near_the_closed_form() -> None:
    rows = [r for r in ROWS if r["model_path"] == "Qwen/Qwen3-32B" and r["mode"] == "agg"
            and r["backend"] == "sglang" and int(r["batch_size"]) <= 16][:6]
    closed, _ = run_serving_validation(rows, catalog_model, catalog_chip)
    simulated, _ = run_serving_validation(rows, catalog_model, catalog_chip, simulated_means)
    assert len(closed) == len(simulated) == len(rows)
    for a, b in zip(closed, simulated, strict=True):
        assert b.pred_tpot_s == pytest.approx(a.pred_tpot_s, rel=0.05)
        assert b.pred_ttft_s == pytest.approx(a.pred_ttft_s, rel=0.15)


#: the agg rows measured by the InferenceX scripts (the held-out Llama rows left out first)
#: (with their recipes; `test_every_recipe_is_the_first_fit_of_a_dev_row` maps them without)
INFERENCEX_ALL = [r for r in ROWS if "llama" not in r["model_path"].lower()
                  and r["mode"] == "agg" and r["client_protocol"] == "inferencemax"]
INFERENCEX_ROWS = [r for r in INFERENCEX_ALL if isinstance(map_serving_row(r), ServingCase)]


def _scenario(row: dict[str, str]) -> dict[str, object]:
    case = map_serving_row(row)
    assert isinstance(case, ServingCase)
    return case.scenario


def test_inferencemax_rows_take_their_launch_script_flags() -> None:
    """dsr1_fp8_b200.sh (TP8): --scheduler-recv-interval 30 from CONC 16 (10 below),
    --chunked-prefill-size 32768, --max-running-requests / --cuda-graph-max-bs 128,
    fp8_e4m3 KV; a TRT-LLM script's max_num_tokens worked out from CONC and ISL."""
    def pick(model: str, backend: str, precision: str, conc: int, **more: str) -> dict[str, str]:
        return next(r for r in INFERENCEX_ROWS if r["model_path"] == model
                    and r["system"] == "b200_sxm" and r["backend"] == backend
                    and r["precision"] == precision and f"silicon_concurrency={conc};"
                    in r["silicon_data_source"] and all(r[k] == v for k, v in more.items()))

    busy = _scenario(pick("deepseek-ai/DeepSeek-R1", "sglang", "fp8", 64, tp_size="8"))
    assert busy["engine"] == {"name": "sglang", "recv_interval_steps": 30,
                              "max_num_seqs": 128, "cuda_graph_max_batch": 128,
                              "max_num_batched_tokens": 32768}
    assert busy["dtypes"]["kv"] == "fp8"  # type: ignore[index]
    quiet = _scenario(pick("deepseek-ai/DeepSeek-R1", "sglang", "fp8", 4, tp_size="8"))
    assert quiet["engine"]["recv_interval_steps"] == 10  # type: ignore[index]
    trt = next(r for r in INFERENCEX_ROWS if r["backend"] == "trtllm" and r["isl"] == "1024"
               and r["system"] == "b200_sxm" and r["precision"] == "fp4"
               and "measured=2025-11-02" in r["silicon_data_source"]
               and "silicon_concurrency=32;" in r["silicon_data_source"])
    # MAX_NUM_TOKENS=$(( ($CONC+$ISL+64+63)/64*64 )) = (32 + 1024 + 127) // 64 * 64
    assert _scenario(trt)["engine"]["max_num_batched_tokens"] == 1152  # type: ignore[index]
    other = next(r for r in ROWS if r["client_protocol"] != "inferencemax")
    assert inferencex_recipe(other, _scenario(other)) == {}


def test_recipes_are_sourced_and_use_only_scheduler_overrides() -> None:
    conditions = {"model", "hardware", "precision", "tp", "attention_dp", "isl", "osl",
                  "conc_min", "conc_max", "measured_from", "measured_to"}
    overrides = {"max_num_batched_tokens", "max_num_seqs", "cuda_graph_max_batch",
                 "recv_interval_steps", "chunked_prefill", "cuda_graphs",
                 "adp_balance_timeout_steps", "adp_balance_batching_steps",
                 "mxfp4_activations"}
    env = {"conc": 64, "isl": 8192, "osl": 1024, "tp": 8}
    assert inferencex_recipes()
    for entry in inferencex_recipes():
        assert set(entry) <= conditions | {"engine", "kv", "source", "notes",
                                           "mtp_draft_tokens", "skip"}, entry
        if "mtp_draft_tokens" in entry:                  # an MTP script, and said so
            assert entry["mtp_draft_tokens"] in (1, 2, 3) and "MTP ON" in entry["notes"]
        assert re.fullmatch(r"(benchmarks|runners)/\S+\.sh@[0-9a-f]{7,12}", entry["source"]), entry
        assert entry["engine"]["name"] in ENGINE_NAMES
        assert set(entry["engine"]) - {"name"} <= overrides, entry
        assert entry.get("kv", "fp8") in ("fp8", "bf16")
        for key, value in entry["engine"].items():
            if key == "mxfp4_activations":             # a word flag, as written
                assert recipe_value(value, env) == value == "mxfp8"
            elif key != "name":
                assert isinstance(recipe_value(value, env), (int, bool)), (key, value)
    assert recipe_value("max((conc + isl + 64 + 63) // 64 * 64, 8192)", env) == 8320
    assert recipe_value("conc", env) == 64 and recipe_value("mxfp8", env) == "mxfp8"
    with pytest.raises(InferplanError, match="integer arithmetic"):
        recipe_value("__import__('os').getcwd()", env)


def test_every_recipe_is_the_first_fit_of_a_dev_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each entry fits at least one agg inferencemax row that no earlier entry takes."""
    entries = inferencex_recipes()
    monkeypatch.setattr(validate_serving, "inferencex_recipes", lambda: [])
    plain = [(row, case.scenario) for row in INFERENCEX_ALL
             if isinstance(case := map_serving_row(row), ServingCase)]
    used = set()
    for row, scenario in plain:
        for i, entry in enumerate(entries):
            monkeypatch.setattr(validate_serving, "inferencex_recipes", lambda e=entry: [e])
            if inferencex_recipe(row, scenario):
                used.add(i)
                break
    unused = [(i, entries[i]["source"]) for i in range(len(entries)) if i not in used]
    assert not unused


def test_a_row_whose_layout_outnumbers_its_run_is_skipped_with_the_reason() -> None:
    """Row 1537 records batch 32 x attention DP 64 = 2048 clients on a run of
    silicon_concurrency=32: the layout is inflated, so it is skipped, not queued."""
    row = next(r for r in ROWS if r["id"].endswith("_c32_tp8_ep8_1537"))
    skip = map_serving_row(row)
    assert isinstance(skip, ServingSkip) and "silicon_concurrency" in skip.reason


def test_mtp_scripts_decode_with_the_checkpoints_mtp_module() -> None:
    """An entry of an MTP script (mtp_draft_tokens) gives the row a speculative block: the
    MTP module, the script's draft tokens, the mapping's sourced acceptance (0.81-0.90)."""
    mtp = [r for r in INFERENCEX_ROWS if "speculative" in _scenario(r)]
    assert len(mtp) > 100
    spec = _scenario(mtp[0])["speculative"]
    assert spec["draft"] == "mtp" and spec["gamma"] in (1, 2, 3)  # type: ignore[index]
    assert 0.81 <= spec["alpha"] <= 0.90  # type: ignore[index]


def test_a_checkpoint_that_quantises_only_its_experts_keeps_bf16_dense_gemms() -> None:
    """openai/gpt-oss-120b's config keeps self_attn, the router, embeddings and lm_head
    unconverted (modules_to_not_convert): only the experts are MXFP4, whatever the row's
    nvfp4 label, and the checkpoint quantises no KV of its own."""
    from inferplan.validate_serving import experts_only_quantised
    assert experts_only_quantised("gpt-oss-120b")
    assert not experts_only_quantised("deepseek-r1") and not experts_only_quantised("x")
    row = next(r for r in ROWS if r["model_path"] == "openai/gpt-oss-120b"
               and r["system"] == "h200_sxm" and r["backend"] == "vllm")
    dtypes = _scenario(row)["dtypes"]
    assert dtypes == {"weights": "bf16", "compute": "bf16", "experts": "fp4", "kv": "bf16"}


def test_a_run_whose_running_cap_is_unknown_is_skipped_with_its_script() -> None:
    """gpt-oss-120b on H100, 2025-12-05/08, CONC 512: the client sent 512 requests to a
    server whose --max-num-seqs was its config's CONC, not in the row: skipped, naming the
    script."""
    rows = [r for r in ROWS if r["model_path"] == "openai/gpt-oss-120b"
            and r["system"] == "h100_sxm" and "silicon_concurrency=512;" in
            r["silicon_data_source"]]
    assert len(rows) == 9
    for row in rows:
        skip = map_serving_row(row)
        assert isinstance(skip, ServingSkip) and "gptoss_fp4_h100_docker.sh" in skip.reason


def test_single_node_layouts_recorded_as_tp_times_ep_are_deflated() -> None:
    """The source counted tp·ep GPUs per replica for single-node MoE runs: on an 8-GPU
    node a recorded tp 64 with ep 8 is TP 8 EP 8, tp 16 with ep 4 is TP 4 EP 4; a layout
    within the node, or with attention DP, is kept."""
    from inferplan.validate_serving import deflated
    assert deflated({"tp": 64, "ep": 8}, 8) == {"tp": 8, "ep": 8}
    assert deflated({"tp": 16, "ep": 4}, 8) == {"tp": 4, "ep": 4}
    assert deflated({"tp": 8, "ep": 8}, 8) == {"tp": 8, "ep": 8}
    kept = {"tp": 16, "ep": 16, "attention_dp": 16}
    assert deflated(kept, 8) == kept and deflated({"tp": 72, "ep": 1}, None)["tp"] == 72
    row = next(r for r in ROWS if r["system"] == "b200_sxm" and r["tp_size"] == "64"
               and r["moe_ep_size"] == "8" and r["mode"] == "agg")
    case = map_serving_row(row)
    assert isinstance(case, ServingCase)
    assert case.scenario["parallelism"]["tp"] == 8 and case.scenario["chips"] == 8


def test_attention_dp_rows_map_to_attention_dp_ranks() -> None:
    """An agg row with attention_dp_size A runs A DP-attention ranks over tp_size·A GPUs
    (`parallelism.attention_dp`), not batch-sharded tensor parallelism: gpt-oss-120b
    (8 KV heads) with tp_size 1 and A = 4 has 4 schedulers."""
    rows = [r for r in ROWS if r["mode"] == "agg" and r["attention_dp_size"] == "4"
            and r["tp_size"] == "1" and "gpt-oss" in r["model_path"]]
    assert rows
    case = map_serving_row(rows[0])
    assert isinstance(case, ServingCase)
    par = case.scenario["parallelism"]
    assert par["attention_dp"] == 4 and par["tp"] == 4 and "attention" not in par


def test_rows_of_older_engine_releases_run_with_their_defaults() -> None:
    """vLLM turned async scheduling on by default in 0.14 (release notes, PR #27614): a
    0.12 row's engine block turns the profile's overlap scheduling off; newer, blank and
    nightly releases keep the profile's."""
    from inferplan.validate_serving import engine_version_defaults, release_tuple
    assert release_tuple("1.2.0rc6.post1") == (1, 2, 0)
    assert release_tuple("nightly-dev") is None
    assert engine_version_defaults("vllm", "0.12.0") == {"overlap_scheduling": False}
    assert engine_version_defaults("vllm", "0.15.1") == {}
    assert engine_version_defaults("vllm", "") == {}
    assert engine_version_defaults("trtllm", "1.0.0rc3") == {}
    # SGLang 0.5.9 builds a Gated DeltaNet layer's projections as 5 GEMMs, 0.5.10 as 3
    hybrid = "qwen3.5-397b-a17b"
    assert engine_version_defaults("sglang", "0.5.9", hybrid) == {"linear_attention_gemms": 5}
    assert engine_version_defaults("sglang", "0.5.9", "qwen3-32b") == {}
    assert engine_version_defaults("sglang", "0.5.10.post1", hybrid) == {}
    assert engine_version_defaults("sglang", "nightly-dev", hybrid) == {}
    # ... and a mapped row carries it: a vLLM 0.12.0 row's engine block, a 0.15.1 row's name
    old = next(r for r in ROWS if r["backend"] == "vllm" and r["backend_version"] == "0.12.0"
               and r["mode"] == "agg")
    new = next(r for r in ROWS if r["backend"] == "vllm" and r["backend_version"] == "0.15.1"
               and r["mode"] == "agg" and r["client_protocol"] == "aiperf-fixed?")
    old_case, new_case = map_serving_row(old), map_serving_row(new)
    assert isinstance(old_case, ServingCase) and isinstance(new_case, ServingCase)
    # (the 0.12.0 row is a gap-analysis run: its generator's token budget too)
    assert old_case.scenario["engine"]["overlap_scheduling"] is False
    assert new_case.scenario["engine"] == "vllm"


def test_question_marked_rows_that_repeat_an_inferencemax_run_take_its_protocol() -> None:
    """The gap-analysis files re-export InferenceMAX runs under `aiperf-fixed?`: a row whose
    TTFT and TPOT agree with an InferenceMAX row of the same engine, model, system and
    lengths within 0.1% is that run, and takes its client and its provenance (which picks
    the run's script). A row 1% away is a separate run and keeps its protocol."""
    from inferplan.validate_serving import restated_protocols
    restated = restated_protocols(ROWS)
    changed = [(a, b) for a, b in zip(ROWS, restated, strict=True)
               if a["client_protocol"] != b["client_protocol"]]
    by_model: dict[str, int] = {}
    for a, b in changed:
        assert a["client_protocol"] == "aiperf-fixed?" and b["client_protocol"] == "inferencemax"
        assert "measured=" in b["silicon_data_source"] and b["id"] == a["id"]
        assert b["tp_size"] == a["tp_size"] and b["batch_size"] == a["batch_size"]
        by_model[a["model_path"]] = by_model.get(a["model_path"], 0) + 1
    assert by_model == {"moonshotai/Kimi-K2.5": 47, "Qwen/Qwen3.5-397B-A17B": 76}
    twin = next(r for r in ROWS if r["client_protocol"] == "inferencemax"
                and r["mode"] == "agg")
    near = {**twin, "id": "near", "client_protocol": "aiperf-fixed?",
            "silicon_ttft_ms": str(float(twin["silicon_ttft_ms"]) * 1.0005)}
    far = {**near, "id": "far", "silicon_ttft_ms": str(float(twin["silicon_ttft_ms"]) * 1.01)}
    out = {r["id"]: r["client_protocol"] for r in restated_protocols([twin, near, far])}
    assert out == {twin["id"]: "inferencemax", "near": "inferencemax", "far": "aiperf-fixed?"}
    # a CSV without the provenance column (not a required one) restates all the same
    bare = [{k: v for k, v in r.items() if k != "silicon_data_source"} for r in (twin, near)]
    assert restated_protocols(bare)[1]["client_protocol"] == "inferencemax"
    # mapped through the validation: InferenceMAX lengths and the run's own script (the
    # 2026-03 Qwen3.5 fp8 script ran CONC requests at once, max_num_seqs = CONC)
    row = next(b for a, b in changed if a["id"].endswith("1024x1024_c256_tp4_ep1_22"))
    case = map_serving_row(row)
    assert isinstance(case, ServingCase)
    assert case.scenario["workload"]["length_ratio"] == 0.8
    assert case.scenario["engine"]["max_num_seqs"] == 256


def test_gap_analysis_runs_take_the_limits_of_aiconfigurators_generator() -> None:
    """aiconfigurator's generator deployed its gap-analysis runs: an agg worker's token
    budget is max_batch_size + ISL + 1500 (TensorRT-LLM 1.0.0rc3 and vLLM 0.12.0 rows
    without a Dynamo image), not the engine's 8192. Dynamo-image runs, SGLang and
    InferenceMAX rows keep the profile's defaults."""
    from inferplan.validate_serving import generated_engine
    trt = next(r for r in ROWS if r["id"] == "qwen_qwen3_32b_qwen_qwen3_32b_h100_sxm_trtllm_agg"
               "_1024x128_c8_tp1_epnone_1")
    assert generated_engine(trt, "trtllm", 8) == {"max_num_batched_tokens": 2532,
                                                  "max_num_seqs": 8}
    case = map_serving_row(trt)
    assert isinstance(case, ServingCase)
    assert case.scenario["engine"] == {"name": "trtllm", "max_num_batched_tokens": 2532,
                                       "max_num_seqs": 8}
    counts: dict[tuple[str, str], int] = {}
    for row in ROWS:
        clients = int(row["batch_size"] or 1)
        if generated_engine(row, row["backend"], clients):
            key = (row["backend"], row["backend_version"])
            counts[key] = counts.get(key, 0) + 1
    assert counts == {("trtllm", "1.0.0rc3"): 302, ("vllm", "0.12.0"): 141}
    imaged = next(r for r in ROWS if r["client_protocol"] == "aiperf-fixed?"
                  and "image=" in r["silicon_data_source"] and r["backend"] == "trtllm")
    assert generated_engine(imaged, "trtllm", 8) == {}
    sglang = next(r for r in ROWS if r["client_protocol"] == "aiperf-fixed?"
                  and r["backend"] == "sglang" and r["mode"] == "agg")
    assert generated_engine(sglang, "sglang", 8) == {}


def test_gap_analysis_rows_without_a_stated_concurrency_are_not_scored() -> None:
    """A gap-analysis run whose source does not state its client concurrency (a blank
    concurrency in the id) is skipped with the reason, agg and disaggregated alike: its
    batch_size is the configuration's max batch size. Its own figures say so: at tp 2 the
    48 sequences it would hold need 21 ms a decode step, and it measured 11.6 ms."""
    unstated = [r for r in ROWS if validate_serving.unknown_concurrency(r)]
    assert len([r for r in unstated if r["mode"] == "agg"]) == 12
    assert len([r for r in unstated if r["mode"] == "disagg"]) == 7
    assert all("_c_" in r["id"] and "silicon_concurrency=" not in r["silicon_data_source"]
               for r in unstated)
    cases, skipped = run_serving_validation(unstated, catalog_model, catalog_chip)
    assert not cases
    assert {s.reason for s in skipped} == {
        validate_serving.UNKNOWN_CONCURRENCY,
        "disaggregated row: " + validate_serving.UNKNOWN_CONCURRENCY}
    row = next(r for r in unstated if r["id"].endswith("vllm_agg_4000x1000_c_tp2_0_epnone_3"))
    case = map_serving_row({**row, "silicon_data_source": "silicon_concurrency=48"})
    assert isinstance(case, ServingCase)
    predicted = predict_serving(case, catalog_model, catalog_chip)
    assert isinstance(predicted, ServingCase)
    assert predicted.pred_tpot_s > 1.8 * float(row["silicon_tpot_ms"]) / 1e3
    stated = [r for r in ROWS if "aic-auto-gap-analysis/" in r["silicon_data_source"]
              and "silicon_concurrency=" in r["silicon_data_source"]]
    inferencemax = [r for r in ROWS if r["client_protocol"] == "inferencemax"]
    assert stated and inferencemax
    assert not any(validate_serving.unknown_concurrency(r) for r in stated + inferencemax)

"""`inferplan export`: launch commands from the deployment, flags from the sourced table,
refusals with exit 2, files with --out, and `--version`."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from inferplan.cli import app
from inferplan.cli.loader import load_scenario
from inferplan.engines import engine_profile
from inferplan.export import (
    EXPORT_ENGINES,
    cuda_graph_capture_size,
    flag_table,
    max_running_sequences,
    symmetric_range,
)
from inferplan.memory import max_batch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = str(ROOT / "examples" / "export" / "llama-3.1-70b-h100-vllm.yaml")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return 2, str(result.exception)
    return result.exit_code, result.output


def plan_json(*args: str) -> dict[str, object]:
    code, out = invoke("export", *args, "--json")
    assert code == 0, out
    data: dict[str, object] = json.loads(out)
    return data


def flag_value(argv: list[str], flag: str) -> str:
    assert argv.count(flag) == 1, (flag, argv)
    return argv[argv.index(flag) + 1]


def test_vllm_command_carries_the_deployment() -> None:
    deployment, workload = load_scenario(EXAMPLE)
    table = flag_table()["vllm"]
    serve = plan_json(EXAMPLE)["serve"]
    assert isinstance(serve, list)
    sched = deployment.engine.scheduler
    assert flag_value(serve, "--tensor-parallel-size") == str(deployment.layout.tp)
    seqs = min(sched.max_num_seqs, max_batch(deployment, workload))
    assert flag_value(serve, "--max-num-seqs") == str(seqs)
    assert flag_value(serve, "--max-num-batched-tokens") == str(sched.max_num_batched_tokens)
    assert flag_value(serve, "--kv-cache-dtype") == table.values["kv_dtype"][deployment.dtypes.kv]
    assert flag_value(serve, "--max-model-len") == str(workload.input_len + workload.output_len)
    assert serve[:3] == ["vllm", "serve", "meta-llama/Llama-3.1-70B"]


def test_the_memory_cap_wins_when_smaller(tmp_path: Path) -> None:
    text = Path(EXAMPLE).read_text().replace("concurrency: 64", "batch: max") \
        .replace("input_len: 2048", "input_len: 32768")
    path = tmp_path / "long.yaml"
    path.write_text(text)
    deployment, workload = load_scenario(str(path))
    best = max_batch(deployment, workload)
    assert 0 < best < deployment.engine.scheduler.max_num_seqs
    data = plan_json(str(path))
    assert data["settings"]["max_num_seqs"] == best     # type: ignore[index]
    bench = data["bench"]
    assert isinstance(bench, list)
    assert flag_value(bench, "--max-concurrency") == str(best)
    assert flag_value(bench, "--num-prompts") == str(10 * best)


def test_every_flag_used_is_in_the_table_with_a_source(tmp_path: Path) -> None:
    for engine in EXPORT_ENGINES:
        table = flag_table()[engine]
        known = {s.flag for s in [*table.flags.values(), *table.bench.flags.values()]
                 if s.flag} | ({table.model_flag.flag} if table.model_flag else set())
        sources = {s.flag: s.source for s in [*table.flags.values(),
                                              *table.bench.flags.values()] if s.flag}
        data = plan_json(EXAMPLE, "--engine", engine)
        used = [w for argv in (data["serve"], data["bench"]) for w in argv  # type: ignore[attr-defined]
                if w.startswith("--")]
        fixed = {w for w in (*table.serve, *table.bench.command) if w.startswith("--")}
        assert used, engine
        for flag in used:
            assert flag in known or flag in fixed, (engine, flag)
            if flag in sources:
                assert sources[flag].strip(), (engine, flag)
        for spec in table.flags.values():
            assert spec.source.strip()


def test_trtllm_writes_its_extra_options(tmp_path: Path) -> None:
    deployment, _ = load_scenario(EXAMPLE)
    code, out = invoke("export", EXAMPLE, "--engine", "trtllm", "--out", str(tmp_path))
    assert code == 0, out
    assert {p.name for p in tmp_path.iterdir()} == {
        "serve.sh", "bench.sh", "plan.json", "extra_llm_api_options.yaml"}
    extra = yaml.safe_load((tmp_path / "extra_llm_api_options.yaml").read_text())
    assert extra["kv_cache_config"]["dtype"] == \
        flag_table()["trtllm"].values["kv_dtype"][deployment.dtypes.kv]
    assert extra["enable_chunked_prefill"] is engine_profile("trtllm").scheduler.chunked_prefill
    serve = (tmp_path / "serve.sh").read_text()
    assert "--extra_llm_api_options extra_llm_api_options.yaml" in serve
    assert f"--tp_size {deployment.layout.tp}" in serve


def test_out_writes_vllm_files(tmp_path: Path) -> None:
    code, out = invoke("export", EXAMPLE, "--out", str(tmp_path / "o"))
    assert code == 0, out
    plan = json.loads((tmp_path / "o" / "plan.json").read_text())
    assert (tmp_path / "o" / "serve.sh").read_text().startswith("#!/bin/sh")
    assert "vllm bench serve" in (tmp_path / "o" / "bench.sh").read_text()
    assert not (tmp_path / "o" / "extra_llm_api_options.yaml").exists()
    assert plan["engine"] == "vllm"


REFUSALS = {
    "does not fit": ("model: llama-3.1-70b\nhardware: h100-sxm\nchips: 1\nengine: vllm\n"
                     "workload: {input_len: 1024, output_len: 128, concurrency: 8}\n", [],
                     "does not fit"),
    "unknown engine": (None, ["--engine", "tgi"], "allowed: vllm, sglang, trtllm"),
    "vllm on rngd": ((ROOT / "docs" / "rngd" / "tp8.yaml").read_text(), ["--engine", "vllm"],
                     "does not run on rngd"),
    "trtllm on tpu": (None, ["--engine", "trtllm"], "does not run on tpu-v5e"),
    "int8 kv on vllm": ("model: llama-3.1-8b\nhardware: h100-sxm\nchips: 1\nengine: vllm\n"
                        "dtypes: {kv: int8}\n"
                        "workload: {input_len: 1024, output_len: 128, concurrency: 8}\n", [],
                        "dtypes.kv"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_exit_2_with_one_line(tmp_path: Path, case: str) -> None:
    text, extra, expect = REFUSALS[case]
    args = ["export"]
    if text is not None:
        path = tmp_path / "s.yaml"
        path.write_text(text)
        args.append(str(path))
    code, out = invoke(*args, *extra)
    assert code == 2, (case, out)
    assert expect in out and len(out.strip().splitlines()) == 1, out


def test_version_prints_the_package_version() -> None:
    code, out = invoke("--version")
    assert code == 0 and out.strip() == f"inferplan {version('inferplan')}"


def test_formulas_worked_numbers() -> None:
    assert max_running_sequences(1024, 287) == 287
    assert cuda_graph_capture_size(256, 64, 8192, by_tokens=False) == 64
    assert cuda_graph_capture_size(512, 64, 8192, by_tokens=True) == 512
    mid, q = symmetric_range(1024, 0.8)
    assert mid == 922 and q == pytest.approx(0.1111, abs=1e-4)
    # the symmetric range [mid(1-q), mid(1+q)] reproduces [rL, L]
    assert mid * (1 - q) == pytest.approx(0.8 * 1024, rel=1e-3)
    assert mid * (1 + q) == pytest.approx(1024, rel=1e-3)


MTP = ("model: deepseek-r1\nhardware: b200\nchips: 8\nparallelism: {tp: 8}\n"
       "dtypes: {weights: fp8, kv: fp8, compute: fp8}\nengine: trtllm\n"
       "workload: {input_len: 1024, output_len: 1024, concurrency: 4}\n"
       "speculative: {draft: mtp, gamma: 3, alpha: 0.875}\n")
SPECULATIVE_FLAGS = {
    "vllm": ['--speculative-config', '{"method": "deepseek_mtp", "num_speculative_tokens": 3}'],
    "sglang": ["--speculative-algorithm", "EAGLE", "--speculative-num-steps", "3",
               "--speculative-eagle-topk", "1", "--speculative-num-draft-tokens", "4"],
}


@pytest.mark.parametrize("engine", ["vllm", "sglang", "trtllm"])
def test_mtp_exports_each_engines_speculative_flags(engine: str, tmp_path: Path) -> None:
    """DeepSeek-R1 with its MTP module, gamma 3: the flags the engines' docs give
    (data/engine_flags.yaml `speculative`, each with its source)."""
    path = tmp_path / "mtp.yaml"
    path.write_text(MTP)
    data = plan_json(str(path), "--engine", engine)
    serve = list(data["serve"])  # type: ignore[call-overload]
    if engine == "trtllm":
        assert data["extra_options"]["speculative_config"] == {  # type: ignore[index]
            "decoding_type": "MTP", "num_nextn_predict_layers": 3}
        assert "--extra_llm_api_options" in serve
    else:
        want = SPECULATIVE_FLAGS[engine]
        at = serve.index(want[0])
        assert serve[at:at + len(want)] == want
    assert data["speculative"] == {"draft": "mtp", "kind": "mtp", "gamma": 3, "alpha": 0.875}
    assert flag_table()[engine].speculative["mtp"].source.strip()


DRAFT = ("model: llama-3.1-70b\nhardware: h100-sxm\nchips: 4\nparallelism: {tp: 4}\n"
         "engine: vllm\nworkload: {input_len: 1024, output_len: 128, concurrency: 8}\n"
         "speculative: {draft: llama-3.1-8b, gamma: 4, alpha: 0.7}\n")


def test_a_draft_model_exports_on_vllm_and_sglang_and_is_refused_by_trtllm(
        tmp_path: Path) -> None:
    path = tmp_path / "draft.yaml"
    path.write_text(DRAFT)
    vllm = list(plan_json(str(path))["serve"])  # type: ignore[call-overload]
    config = json.loads(vllm[vllm.index("--speculative-config") + 1])
    assert config == {"model": "meta-llama/Llama-3.1-8B", "num_speculative_tokens": 4}
    sglang = list(plan_json(str(path), "--engine", "sglang")["serve"])  # type: ignore[call-overload]
    assert sglang[sglang.index("--speculative-algorithm") + 1] == "STANDALONE"
    assert sglang[sglang.index("--speculative-draft-model-path") + 1] == \
        "meta-llama/Llama-3.1-8B"
    code, out = invoke("export", str(path), "--engine", "trtllm")
    assert code == 2 and len(out.strip().splitlines()) == 1, out
    assert "speculative.draft" in out and "no draft-model speculative decoding" in out


ADP = ("model: deepseek-r1\nhardware: b200\nchips: 8\n"
       "parallelism: {{tp: 8, attention_dp: {ranks}, ep: 8, layout: megatron}}\n"
       "dtypes: {{weights: fp8, kv: fp8, compute: fp8}}\n"
       "workload: {{input_len: 1024, output_len: 256, concurrency: 64}}\n")


@pytest.mark.parametrize("engine, tp_flag, tp, want", [
    ("sglang", "--tp-size", "8", ["--dp-size", "8", "--enable-dp-attention"]),
    ("vllm", "--tensor-parallel-size", "1", ["--data-parallel-size", "8"]),
])
def test_attention_dp_exports_each_engines_flags(engine: str, tp_flag: str, tp: str,
                                                 want: list[str], tmp_path: Path) -> None:
    """DeepSeek-R1, tp 8 with 8 DP-attention ranks: SGLang counts all 8 GPUs in --tp-size
    and adds --dp-size/--enable-dp-attention; vLLM's --tensor-parallel-size is one rank's
    GPUs and --data-parallel-size the ranks (data/engine_flags.yaml `attention_dp`)."""
    path = tmp_path / "adp.yaml"
    path.write_text(ADP.format(ranks=8))
    serve = list(plan_json(str(path), "--engine", engine)["serve"])  # type: ignore[call-overload]
    assert flag_value(serve, tp_flag) == tp
    at = serve.index(want[0])
    assert serve[at:at + len(want)] == want
    assert flag_table()[engine].attention_dp is not None


def test_attention_dp_on_trtllm_is_an_option_over_every_tp_rank(tmp_path: Path) -> None:
    path = tmp_path / "adp.yaml"
    path.write_text(ADP.format(ranks=8))
    data = plan_json(str(path), "--engine", "trtllm")
    assert data["extra_options"]["enable_attention_dp"] is True  # type: ignore[index]
    path.write_text(ADP.format(ranks=4))
    code, out = invoke("export", str(path), "--engine", "trtllm")
    assert code == 2 and "parallelism.attention_dp" in out and "tp=8" in out

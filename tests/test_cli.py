"""The `inferplan` command: outputs and bad input (exit 2, one clear line, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inferplan", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def scenario(tmp_path: Path, text: str, name: str = "s.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BASE = """
model: llama-3.1-8b
hardware: h100-sxm
chips: 1
parallelism: {tp: 1}
workload: {input_len: 1024, output_len: 128, batch: 8}
"""


def test_default_memory_runs() -> None:
    out = run("memory")
    assert out.returncode == 0, out.stderr
    assert "llama-3.1-70b" in out.stdout and "fits" in out.stdout


def test_memory_json_contract() -> None:
    out = run("memory", "--json")
    data = json.loads(out.stdout)
    assert isinstance(data["fits"], bool) and isinstance(data["max_batch"], int)
    for key in ("weights_bytes_per_chip", "kv_bytes_per_chip", "activation_bytes_per_chip",
                "total_bytes_per_chip", "capacity_bytes_per_chip"):
        assert data["memory"][key] > 0
    assert data["memory"]["total_bytes_per_chip"] == pytest.approx(
        data["memory"]["weights_bytes_per_chip"] + data["memory"]["kv_bytes_per_chip"]
        + data["memory"]["activation_bytes_per_chip"])


def test_catalog_listings_json() -> None:
    models = json.loads(run("models", "--json").stdout)
    assert len(models) >= 25
    assert {"name", "parameters", "active_parameters"} <= set(models[0])
    chips = json.loads(run("hardware", "--json").stdout)
    assert len(chips) >= 20 and all("sources" in c for c in chips)


def test_hf_config_path_and_user_chip(tmp_path: Path) -> None:
    cfg = tmp_path / "my-model" / "config.json"
    cfg.parent.mkdir()
    cfg.write_text(json.dumps({
        "model_type": "llama", "hidden_size": 1024, "intermediate_size": 4096,
        "num_hidden_layers": 4, "num_attention_heads": 16, "num_key_value_heads": 4,
        "vocab_size": 32000}))
    chip = tmp_path / "chip.yaml"
    chip.write_text("""
name: my-chip
display_name: My chip
vendor: me
kind: npu
memory_bytes: 32e9
memory_bandwidth_bytes_per_s: 1e12
peak_flops_per_s: {bf16: 1.0e14}
scale_up: {topology: pcie, max_chips: 8}
sources: {memory_bytes: datasheet, memory_bandwidth_bytes_per_s: datasheet,
          peak_flops_per_s: datasheet}
""")
    path = scenario(tmp_path, """
model: my-model/config.json
hardware: chip.yaml
chips: 2
parallelism: {tp: 2}
workload: {input_len: 512, output_len: 64, batch: 4}
""")
    out = run("memory", path, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["hardware"] == "my-chip"


BAD_CASES = {
    "unknown model": (BASE.replace("llama-3.1-8b", "llama-3.1-8bb"), "did you mean"),
    "unknown chip": (BASE.replace("h100-sxm", "h1000"), "hardware"),
    "tp not dividing heads": (BASE.replace("chips: 1", "chips: 3").replace("tp: 1", "tp: 3"),
                              "parallelism.tp"),
    "pp deeper than layers": (
        BASE.replace("chips: 1", "chips: 64").replace("{tp: 1}", "{tp: 1, pp: 64}"),
        "parallelism.pp"),
    "tp*pp*dp != chips": (BASE.replace("{tp: 1}", "{tp: 2, dp: 1}"), "must equal"),
    "bad dtype": (BASE + "dtypes: {weights: int3}\n", "dtypes.weights"),
    "bad expert dtype": (BASE + "dtypes: {experts: int3}\n", "dtypes.experts"),
    "batch and concurrency": (BASE.replace("batch: 8", "batch: 8, concurrency: 4"),
                              "exactly one"),
    "negative batch": (BASE.replace("batch: 8", "batch: -1"), "workload.batch"),
    "unknown field": (BASE + "chipz: 3\n", "chipz"),
    "illegal slice": (BASE.replace("h100-sxm", "tpu-v5e").replace("chips: 1", "chips: 8")
                      .replace("tp: 1", "tp: 8") + "topology: 8x1\n", "topology"),
    "ep without experts": (BASE.replace("{tp: 1}", "{tp: 1, ep: 2}"), "parallelism.ep"),
    "not yaml": ("model: [unclosed", "not valid"),
    "not a mapping": ("- a\n- b\n", "mapping"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_exits_2_with_one_line(tmp_path: Path, case: str) -> None:
    text, expect = BAD_CASES[case]
    out = run("memory", scenario(tmp_path, text))
    assert out.returncode == 2, (case, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error:") and expect in lines[0], lines[0]


def test_malformed_hf_config_names_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "llama", "hidden_size": "big",
                               "num_hidden_layers": 2, "num_attention_heads": 4,
                               "vocab_size": 10, "intermediate_size": 8}))
    out = run("memory", scenario(tmp_path, BASE.replace("llama-3.1-8b", str(cfg))))
    assert out.returncode == 2 and "config.hidden_size" in out.stderr


def test_estimate_several_files_keeps_order_and_errors(tmp_path: Path) -> None:
    good = scenario(tmp_path, BASE, "good.yaml")
    bad = scenario(tmp_path, BASE.replace("llama-3.1-8b", "nope"), "bad.yaml")
    out = run("estimate", good, bad, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert "ttft_s" in data[0] and "error" in data[1] and "nope" in data[1]["error"]
    only_bad = run("estimate", bad, bad, "--json")
    assert only_bad.returncode == 2


def test_estimate_bad_input_one_line(tmp_path: Path) -> None:
    out = run("estimate", scenario(tmp_path, BASE.replace("batch: 8", "batch: 0")))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("error:") and len(out.stderr.strip().splitlines()) == 1

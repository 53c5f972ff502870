"""`inferplan buckets`: outputs, --emit, and bad input (exit 2, one line, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "buckets" / "seed000.yaml"
# commands_buckets registers itself on import; main() turns InferplanError into exit 2
ENTRY = "import inferplan.cli.commands_buckets; from inferplan.cli import main; main()"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", ENTRY, "buckets", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, env={"COLUMNS": "160",
                                                                "PYTHONPATH": str(ROOT / "src"),
                                                                "PATH": "/usr/bin:/bin"})


def test_json_for_seed000() -> None:
    out = run(str(SEED), "--json", "--no-suggest")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["count"] == 38 and len(data["graphs"]) == 38
    assert [a["name"] for a in data["added"]] == [
        "kv0-b1-attn8192", "kv8192-b1-attn16384", "kv16384-b1-attn24576",
        "kv24576-b1-attn32768"]
    g = next(g for g in data["graphs"] if g["name"] == "kv16384-b1-attn24576")
    assert {k: g[k] for k in ("kind", "batch", "kv", "attn", "q")} == {
        "kind": "chunk", "batch": 1, "kv": 16384, "attn": 24576, "q": 8192}
    assert g["attention_input_bytes"] == 369_098_752 and g["risk"] == "high"
    assert g["tensors"][3] == {"name": "mask", "shape": [8192, 24576], "dtype": "bool",
                               "bytes": 201_326_592}
    assert data["deployment"]["fits"] is False
    assert data["suggestion"] is None
    # priced in step time on the config's chip, next to the FLOP figures
    assert data["padding"]["unit"] == "FLOP" and data["time_padding"]["unit"] == "s"
    assert data["step_time_source"] == "cost.step_cost on rngd, TP=1, realistic"
    t = data["time_padding"]
    assert t["prefill"]["padded_cost_per_request"] == pytest.approx(
        t["prefill"]["useful_cost_per_request"] + t["prefill"]["wasted_cost_per_request"])
    assert 0 < t["decode"]["wasted_fraction"] < 1 and 0 < t["wasted_fraction"] < 1
    assert data["objective"] == "flops"


def test_table_and_emit(tmp_path: Path) -> None:
    out = run(str(SEED))
    assert out.returncode == 0, out.stderr
    assert "38 graphs = 34 configured buckets + 4 added" in out.stdout
    assert "Suggestion" in out.stdout and "kv16384-b1-attn24576" in out.stdout
    assert "Padding in step time (cost.step_cost on rngd, TP=1, realistic" in out.stdout
    assert "decode: wasted time / token (share)" in out.stdout
    assert "wasted step time -" in out.stdout
    script = tmp_path / "build.py"
    # at TP=1 the 8B weights exceed one PE's window: the script is for TP=8
    emitted = run(str(SEED), "--tp", "8", "--emit", "furiosa-llm", "--out", str(script))
    assert emitted.returncode == 0, emitted.stderr
    text = script.read_text()
    assert "ArtifactBuilder(" in text and "tensor_parallel_size=8" in text
    assert '"meta-llama/Llama-3.1-8B-Instruct"' in text
    compile(text, "build.py", "exec")                       # valid Python


def test_objective_time() -> None:
    out = run(str(SEED), "--json", "--objective", "time", "--split", "free")
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)["suggestion"]
    assert s["objective"] == "time" and s["split"] == "free" and s["count"] <= 38
    assert s["time_padding"]["unit"] == "s" and s["time_waste_reduction"] > 0.5
    bad = run(str(SEED), "--objective", "speed")
    assert bad.returncode == 2


def test_lengths_file_and_other_targets(tmp_path: Path) -> None:
    lengths = tmp_path / "lengths.csv"
    lengths.write_text("prompt_len,output_len\n300,50\n5000,200\n20000,10\n")
    out = run(str(SEED), "--lengths", str(lengths), "--json", "--max-graphs", "30")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["padding"]["prefill"]["padded_tokens_per_request"] == pytest.approx(
        (20 + 3192 + 4576) / 3)
    assert data["suggestion"]["count"] <= 30
    for example in ("jetstream.yaml", "vllm.yaml"):
        res = run(str(ROOT / "examples" / "buckets" / example), "--json")
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["count"] > 0


@pytest.mark.parametrize(("edit", "needle"), [
    ({"decode_buckets": [[0, 1024]]}, "decode_buckets.0.0"),
    ({"furiosa_llm_version": "2023.1"}, "furiosa_llm_version"),
    ({"model": "llama-9"}, "model"),
    ({"tensor_parallel_size": 3}, "tensor_parallel_size"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, edit: dict[str, object],
                                          needle: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**yaml.safe_load(SEED.read_text()), **edit}))
    out = run(str(bad), "--no-suggest")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_emit_refuses_a_model_that_does_not_fit(tmp_path: Path) -> None:
    """Llama-3.1-70B on one RNGD core group (TP=1): no build script for a model whose
    weights exceed the memory window, whatever the buckets; one line, exit 2."""
    cfg = yaml.safe_load(SEED.read_text())
    cfg["model"] = "llama-3.1-70b"
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(cfg))
    script = tmp_path / "build.py"
    out = run(str(path), "--emit", "furiosa-llm", "--out", str(script))
    assert out.returncode == 2 and not script.exists()
    line = out.stderr.strip()
    assert "\n" not in line and "--emit" in line and "does not fit" in line

"""Hostile input (issue 13): every case a user can type becomes exit 2 and one line naming
the field, the shortened value and what is allowed; a bounded run; or a correct answer.
Commands run in-process through `inferplan.cli.main(argv)`; a deadline turns a hang into
a failure instead of a stuck suite."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from tests.conftest import cli, one_line_error

ROOT = Path(__file__).resolve().parents[1]
SEED_BUCKETS = str(ROOT / "examples" / "buckets" / "seed000.yaml")

BASE = """model: llama-3.1-8b
hardware: h100-sxm
chips: 1
parallelism: {tp: 1}
workload: {input_len: 1024, output_len: 128, batch: 8}
"""
LLAMA_CFG = {"model_type": "llama", "hidden_size": 1024, "intermediate_size": 4096,
             "num_hidden_layers": 4, "num_attention_heads": 16, "num_key_value_heads": 4,
             "vocab_size": 32000}
CHIP = """name: my-chip
display_name: My chip
vendor: me
kind: npu
memory_bytes: 32.0e9
memory_bandwidth_bytes_per_s: 1.0e12
peak_flops_per_s: {bf16: 1.0e14}
interconnect: {name: x, bandwidth_bytes_per_s_per_direction: 1.0e11, links_per_chip: 1,
               latency_s: 1.0e-6}
scale_up: {topology: pcie, max_chips: 8}
sources: {memory_bytes: d, memory_bandwidth_bytes_per_s: d, peak_flops_per_s: d,
          interconnect: d}
"""
#: "Billion laughs": nine anchors of nine aliases each, 9⁹ strings once expanded.
BOMB_ITEMS = ", ".join(
    f"&{c} [{', '.join(['lol'] * 9 if c == 'a' else [f'*{chr(ord(c) - 1)}'] * 9)}]"
    for c in "abcdefghi")


class Hang(Exception):
    pass


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail (rather than hang) a test that runs past 20 s."""
    def stop(signum: int, frame: FrameType | None) -> None:
        raise Hang("ran past the 20 s deadline")
    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, 20.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def write(folder: Path, name: str, content: str | bytes) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def hf_scenario(folder: Path, **fields: object) -> str:
    """A scenario whose model is an HF config.json: the small llama above, with `fields`."""
    cfg = write(folder, "m/config.json", json.dumps({**LLAMA_CFG, **fields}))
    return write(folder, "s.yaml", BASE.replace("llama-3.1-8b", cfg))


# ------------------------------------------------------------------ reading files
BAD_BYTES = b"\n# caf\xe9 \xff\n"


def _bad_bytes_inputs(tmp: Path) -> dict[str, tuple[list[str], str, Path]]:
    """Each input file kind holding a byte that is not UTF-8: (argv, field named, the file)."""
    cfg = write(tmp, "cfg/config.json", json.dumps(LLAMA_CFG).encode() + BAD_BYTES)
    chip = write(tmp, "chip.yaml", CHIP.encode() + BAD_BYTES)
    trace = write(tmp, "t.csv", b"timestamp,input_tokens,output_tokens" + BAD_BYTES)
    cal = write(tmp, "cal.yaml", b"x: 1" + BAD_BYTES)
    cases: dict[str, tuple[list[str], str, str]] = {
        "scenario": (["memory", write(tmp, "s.yaml", BASE.encode() + BAD_BYTES)], "scenario",
                     str(tmp / "s.yaml")),
        "space": (["search", write(tmp, "space.yaml", BASE.encode() + BAD_BYTES)], "space",
                  str(tmp / "space.yaml")),
        "hf config": (["memory", write(tmp, "s2.yaml", BASE.replace("llama-3.1-8b", cfg))],
                      "model", cfg),
        "hardware": (["memory", write(tmp, "s3.yaml", BASE.replace("h100-sxm", chip))],
                     "hardware", chip),
        "bucket config": (["buckets", write(tmp, "b.yaml", Path(SEED_BUCKETS).read_bytes()
                                            + BAD_BYTES)], "config", str(tmp / "b.yaml")),
        "lengths csv": (["buckets", SEED_BUCKETS, "--no-suggest", "--lengths",
                         write(tmp, "l.csv", b"prompt_len,output_len\n10,\xff\n")],
                        "--lengths", str(tmp / "l.csv")),
        "lengths jsonl": (["buckets", SEED_BUCKETS, "--no-suggest", "--lengths",
                           write(tmp, "l.jsonl", b'{"prompt_len": 10, "output_len": 5}\n\xff\n')],
                          "--lengths", str(tmp / "l.jsonl")),
        "trace": (["simulate", write(tmp, "s4.yaml", BASE.replace("batch: 8", f"trace: {trace}"))],
                  "workload.trace", trace),
        "validate csv": (["validate", write(tmp, "v.csv", b"a,b\n\xff,1\n")], "measurements",
                         str(tmp / "v.csv")),
        "calibration": (["memory", write(tmp, "s5.yaml", BASE + f"calibration: {cal}\n")],
                        "calibration", cal),
    }
    return {k: (args, field, Path(bad)) for k, (args, field, bad) in cases.items()}


INPUT_KINDS = ["scenario", "space", "hf config", "hardware", "bucket config", "lengths csv",
               "lengths jsonl", "trace", "validate csv", "calibration"]


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_non_utf8_bytes_in_every_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            kind: str) -> None:
    args, field, _ = _bad_bytes_inputs(tmp_path)[kind]
    line = one_line_error(capsys, *args)
    assert line.startswith(f"error: {field}: ") and "is not UTF-8 text (byte 0x" in line, line


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_unreadable_file_names_path_and_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """No permission (simulated: tests may run as root, who reads anything)."""
    args, field, bad = _bad_bytes_inputs(tmp_path)[kind]
    real = Path.read_bytes

    def refuse(self: Path) -> bytes:
        if self.resolve() == bad.resolve():
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)
    monkeypatch.setattr(Path, "read_bytes", refuse)
    line = one_line_error(capsys, *args)
    assert line.startswith(f"error: {field}: ") and bad.name in line
    assert "cannot be read: Permission denied" in line, line


def test_a_folder_is_not_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "memory", str(tmp_path))
    assert "is a folder" in line


@pytest.mark.parametrize("name, text", [
    ("deep.yaml", "a: " + "[" * 50_000 + "]" * 50_000 + "\n"),
    ("deep.json", '{"a": ' + "[" * 50_000 + "]" * 50_000 + "}"),
    ("deep100.yaml", "a: " + "[" * 100 + "]" * 100 + "\n"),   # parses, but past the limit
    ("deep100.json", '{"a": ' + "[" * 100 + "]" * 100 + "}"),
])
def test_deep_nesting_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 name: str, text: str) -> None:
    line = one_line_error(capsys, "memory", write(tmp_path, name, text))
    assert "nests deeper than 64 levels" in line


@pytest.mark.parametrize("tagged", ["output_len: !!float eight", "output_len: !!int x",
                                    "batch: !!bool maybe", "batch: !!timestamp 2024-13-45",
                                    "batch: !!python/object/apply:os.system [ls]"])
def test_yaml_tags_that_do_not_parse(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     tagged: str) -> None:
    key = tagged.split(":")[0]
    text = BASE.replace(f"{key}: {'128' if key == 'output_len' else '8'}", tagged)
    assert text != BASE
    line = one_line_error(capsys, "memory", write(tmp_path, "s.yaml", text))
    assert "is not valid YAML: " in line
    assert ("does not match its tag" in line) != ("python" in tagged)  # safe: no constructor


@pytest.mark.parametrize("where", ["model", "description", "chips", "engine"])
def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            deadline: None, where: str) -> None:
    text = BASE.replace("chips: 1", "chips: 1\n") if where != "chips" else BASE
    if where == "model":
        text = text.replace("model: llama-3.1-8b", f"model: [{BOMB_ITEMS}]")
    elif where == "chips":
        text = text.replace("chips: 1", f"chips: [{BOMB_ITEMS}]")
    else:
        text += f"{where}: [{BOMB_ITEMS}]\n"
    for command in ("memory", "search"):
        line = one_line_error(capsys, command, write(tmp_path, "s.yaml", text))
        assert "expands to more than 1,000,000 values through aliases" in line


def test_a_few_aliases_still_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = BASE.replace("model: llama-3.1-8b", "model: &m llama-3.1-8b") + "name: *m\n"
    code, out, err = cli(capsys, "memory", write(tmp_path, "s.yaml", text), "--json")
    assert code == 0, err
    assert json.loads(out)["model"] == "llama-3.1-8b"


def test_recursive_alias_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "memory", write(tmp_path, "s.yaml",
                                                  BASE + "description: &r [1, *r]\n"))
    assert "alias refers to a node that contains it" in line


@pytest.mark.parametrize("key, shown", [("a\nb", "a\\nb"), ("\x1e", "\\x1e"),
                                        ("x\u2028y", "x\\u2028y"), ("\r", "\\r")])
def test_a_key_that_breaks_lines_is_shown_escaped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, shown: str) -> None:
    """A key holding a line break (or a separator `str.splitlines` breaks at, found by
    benchmarks/fuzz_long.py: '\x1e') prints escaped: the error stays one line."""
    text = BASE.replace("parallelism: {tp: 1}", f"parallelism: {json.dumps({key: 1})}")
    line = one_line_error(capsys, "estimate", write(tmp_path, "s.yaml", text))
    assert line.startswith(f"error: scenario.parallelism.{shown}: "), line


def test_huge_values_are_shortened_in_the_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "memory", write(
        tmp_path, "s.yaml", BASE.replace("llama-3.1-8b", "x" * 100_000)))
    assert "..." in line and "x" * 200 not in line


# ------------------------------------------------------------------ writing files
@pytest.mark.parametrize("where, cause", [("missing/out.txt", "a file in an existing folder"),
                                         (".", "is a folder"),
                                         ("/dev/full", "No space left on device")])
def test_output_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch, where: str, cause: str) -> None:
    if where == "/dev/full" and not Path(where).exists():
        pytest.skip("no /dev/full here")
    monkeypatch.chdir(tmp_path)
    space = write(tmp_path, "space.yaml", BASE)
    conc = write(tmp_path, "c.yaml", BASE.replace("batch: 8", "concurrency: 2"))
    for args, field in (
            (["buckets", SEED_BUCKETS, "--tp", "8", "--emit", "furiosa-llm", "--out", where],
             "--out"),
            (["frontier", space, "--html", where], "--html"),
            (["simulate", conc, "--trace", where], "--trace"),
            (["report", conc, "--out", where], "--out")):
        line = one_line_error(capsys, *args)
        assert line.startswith(f"error: {field}: ") and cause in line, line


def test_export_out_must_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = write(tmp_path, "plan.txt", "x")
    line = one_line_error(capsys, "export", write(tmp_path, "s.yaml", BASE), "--engine", "vllm",
                          "--out", file)
    assert line.startswith("error: --out: ") and "give a folder" in line


# ------------------------------------------------------------------ HF configs
@pytest.mark.parametrize("fields, field, allowed", [
    ({"num_hidden_layers": 10**9}, "config.num_hidden_layers", "from 1 to 4,096"),
    ({"model_type": "gemma3_text", "sliding_window": 512, "sliding_window_pattern": 0},
     "config.sliding_window_pattern", "from 1 to"),
    ({"model_type": "qwen2_moe", "num_experts": 8, "num_experts_per_tok": 2,
      "moe_intermediate_size": 512, "decoder_sparse_step": 0}, "config.decoder_sparse_step",
     "from 1 to"),
    ({"model_type": "deepseek_v3", "n_routed_experts": 8, "num_experts_per_tok": 2,
      "moe_intermediate_size": 512, "kv_lora_rank": 64, "qk_nope_head_dim": 32,
      "qk_rope_head_dim": 16, "v_head_dim": 32, "q_lora_rank": 64, "moe_layer_freq": 0},
     "config.moe_layer_freq", "from 1 to"),
    ({"model_type": "qwen2_moe", "num_experts": 8, "num_experts_per_tok": 2,
      "moe_intermediate_size": 512, "mlp_only_layers": 5}, "config.mlp_only_layers",
     "a list of layer indices 0..3"),
    ({"model_type": "qwen3_next", "num_experts": 8, "num_experts_per_tok": 2,
      "moe_intermediate_size": 512, "full_attention_interval": 0},
     "config.full_attention_interval", "from 1 to"),
    ({"model_type": "minimax_m2", "num_local_experts": 8, "num_experts_per_tok": 2,
      "attn_type_list": 1}, "config.attn_type_list", "only full"),
    ({"intermediate_size": -4096}, "config.intermediate_size", "from 1 to"),
    ({"model_type": "mistral", "sliding_window": -5}, "config.sliding_window", "from 1 to"),
    ({"head_dim": 0}, "config.head_dim", "from 1 to"),
    ({"vocab_size": 2**40}, "config.vocab_size", "from 1 to 2,147,483,647"),
    ({"tie_word_embeddings": "false"}, "config.tie_word_embeddings", "true or false"),
    ({"attention_bias": "no"}, "config.attention_bias", "true or false"),
])
def test_hf_config_fields_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      deadline: None, fields: dict[str, object], field: str,
                                      allowed: str) -> None:
    line = one_line_error(capsys, "memory", hf_scenario(tmp_path, **fields))
    assert line.startswith(f"error: {field}: ") and allowed in line, line


def test_hf_config_tie_flag_is_read_not_truthy() -> None:
    """`false` unties the LM head: one more V·D = 32,000·1,024 = 32,768,000 parameters."""
    from inferplan.models import model_from_hf_config

    def params(tie: bool) -> int:
        return model_from_hf_config({**LLAMA_CFG, "tie_word_embeddings": tie}).parameters
    assert params(False) - params(True) == 32_000 * 1_024


# ------------------------------------------------------------------ hardware
@pytest.mark.parametrize("old, new, field", [
    ("bf16: 1.0e14", "bf16: -1.0e14", "peak_flops_per_s.bf16"),
    ("bf16: 1.0e14", "bf16: 0", "peak_flops_per_s.bf16"),
    ("bf16: 1.0e14", "bf16: .nan", "peak_flops_per_s.bf16"),
    ("bf16: 1.0e14", "bf16: .inf", "peak_flops_per_s.bf16"),
    ("memory_bytes: 32.0e9", "memory_bytes: -32.0e9", "memory_bytes"),
    ("memory_bytes: 32.0e9", "memory_bytes: .inf", "memory_bytes"),
    ("memory_bandwidth_bytes_per_s: 1.0e12", "memory_bandwidth_bytes_per_s: 0",
     "memory_bandwidth_bytes_per_s"),
    ("memory_bandwidth_bytes_per_s: 1.0e12", "memory_bandwidth_bytes_per_s: .inf",
     "memory_bandwidth_bytes_per_s"),
    ("bandwidth_bytes_per_s_per_direction: 1.0e11", "bandwidth_bytes_per_s_per_direction: .inf",
     "interconnect.bandwidth_bytes_per_s_per_direction"),
    ("latency_s: 1.0e-6", "latency_s: -1.0e-6", "interconnect.latency_s"),
    ("latency_s: 1.0e-6", "latency_s: .nan", "interconnect.latency_s"),
    ("latency_s: 1.0e-6", "latency_s: .inf", "interconnect.latency_s"),
    ("max_chips: 8", "max_chips: true", "scale_up.max_chips"),
])
def test_hardware_numbers_must_be_positive_and_finite(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str,
        field: str) -> None:
    assert old in CHIP
    chip = write(tmp_path, "chip.yaml", CHIP.replace(old, new))
    line = one_line_error(capsys, "estimate", write(tmp_path, "s.yaml",
                                                    BASE.replace("h100-sxm", chip)))
    assert line.startswith(f"error: chip.yaml.{field}: "), line


def test_valid_user_chip_still_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chip = write(tmp_path, "chip.yaml", CHIP)
    code, out, err = cli(capsys, "estimate", write(tmp_path, "s.yaml",
                                                   BASE.replace("h100-sxm", chip)), "--json")
    assert code == 0, err
    assert json.loads(out)["decode"]["mfu"] <= 1.0


# ------------------------------------------------------------------ scenarios
@pytest.mark.parametrize("old, new, field", [
    ("chips: 1", "chips: true", "scenario.chips"),
    ("{tp: 1}", "{tp: 1.0}", "scenario.parallelism.tp"),
    ("batch: 8", "batch: true", "scenario.workload.batch"),
    ("output_len: 128", f"output_len: {10**12}", "scenario.workload.output_len"),
    ("output_len: 128", f"output_len: {2**70}", "scenario.workload.output_len"),
    ("output_len: 128", "output_len: 100000000", "scenario.workload.output_len"),
    ("input_len: 1024", f"input_len: {2**70}", "scenario.workload.input_len"),
])
def test_scenario_ints_are_strict_and_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              deadline: None, old: str, new: str,
                                              field: str) -> None:
    text = BASE.replace(old, new)
    assert text != BASE
    for command in ("memory", "estimate"):
        line = one_line_error(capsys, command, write(tmp_path, "s.yaml", text))
        assert line.startswith(f"error: {field}"), line   # batch: int | max → batch.int


def test_scenario_price_must_be_finite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "estimate", write(tmp_path, "s.yaml",
                                                    BASE + "price_per_chip_hour: .inf\n"))
    assert line.startswith("error: scenario.price_per_chip_hour: ")


def test_longest_output_still_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   deadline: None) -> None:
    text = BASE.replace("output_len: 128", "output_len: 1048576").replace(
        "batch: 8", "batch: 1").replace("llama-3.1-8b", "llama-3.2-1b")
    code, out, err = cli(capsys, "estimate", write(tmp_path, "s.yaml", text), "--json")
    assert code == 0, err
    assert json.loads(out)["tpot_s"] > 0


def test_estimate_refuses_a_batch_that_does_not_fit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Llama 3.1 8B on one H100 holds a few hundred sequences of 1,152 tokens, not 100,000."""
    path = write(tmp_path, "s.yaml", BASE.replace("batch: 8", "batch: 100000"))
    line = one_line_error(capsys, "estimate", path)
    assert line.startswith("error: workload.batch: 100000 is not valid; does not fit: ")
    assert "largest batch" in line
    good = write(tmp_path, "good.yaml", BASE)
    code, out, _ = cli(capsys, "estimate", good, path, "--json")
    rows = json.loads(out)
    assert code == 0 and "ttft_s" in rows[0] and "does not fit" in rows[1]["error"]


# ------------------------------------------------------------------ flags
def test_speculative_gamma_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      deadline: None) -> None:
    base = write(tmp_path, "s.yaml", BASE)
    for flag, value in (("--gamma", "1000000000"), ("--gamma-max", "100000")):
        line = one_line_error(capsys, "speculative", base, "--draft", "llama-3.2-1b",
                              "--alpha", "0.7", flag, value)
        assert line.startswith(f"error: {flag}: ") and "from 1 to 64" in line
    assert cli(capsys, "speculative", base, "--draft", "llama-3.2-1b", "--alpha", "0.7",
               "--gamma-max", "64", "--json")[0] == 0


def test_speculative_draft_needs_the_targets_vocabulary(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write(tmp_path, "s.yaml", BASE)
    line = one_line_error(capsys, "speculative", base, "--draft", "llama-2-7b", "--alpha", "0.7")
    assert line.startswith("error: --draft: ") and "32,000" in line and "128,256" in line
    space = write(tmp_path, "space.yaml",
                  BASE + "speculative: {draft: llama-2-7b, alpha: 0.7, plain: false}\n")
    code, out, _ = cli(capsys, "search", space, "--json")
    record = json.loads(out)     # the search drops the point, with the reason
    assert code == 0 and record["best"] == [] and record["dropped"] == {"draft": 1}
    assert "128,256" in json.dumps(record["drop_examples"])


def test_speculative_draft_with_padded_vocabulary_is_accepted() -> None:
    """Qwen2.5-72B pads its table to 152,064; a Qwen2.5-0.5B-like draft has 151,936."""
    from inferplan.hardware import catalog_chip
    from inferplan.models import catalog_model, model_catalog, model_from_hf_config
    from inferplan.scenario import build_deployment, parse_scenario
    from inferplan.speculative import draft_deployment
    raw = {"model": "qwen2.5-72b", "hardware": "h100-sxm", "chips": 4,
           "parallelism": {"tp": 4}, "workload": {"input_len": 128, "output_len": 8, "batch": 1}}
    target, _ = build_deployment(parse_scenario(raw), catalog_model, catalog_chip)
    draft = model_from_hf_config({**model_catalog()["qwen3-8b"].config, "vocab_size": 151_936})
    assert draft_deployment(target, draft).model.vocab_size == 151_936


@pytest.mark.parametrize("value", ["inf", "nan", "-5", "0"])
def test_recommend_target_must_be_positive_and_finite(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    line = one_line_error(capsys, "recommend", write(tmp_path, "space.yaml", BASE),
                          "--target-tokens-per-s", value)
    assert line.startswith("error: target: ") and "positive rate" in line


def test_search_huge_range_is_refused_before_it_is_built(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], deadline: None) -> None:
    space = write(tmp_path, "space.yaml", BASE.replace("batch: 8", "batch: {min: 1, max: "
                                                       f"{10**9}}}"))
    line = one_line_error(capsys, "search", space)
    assert line.startswith("error: space.workload.batch: ") and "1,000,000,000 values" in line


def test_search_long_batch_list_is_deduplicated_quickly(deadline: None) -> None:
    from inferplan.search.space import parse_space
    batches = [*range(1, 50_001), *range(1, 50_001)]
    raw = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": 1,
           "workload": {"input_len": 1024, "output_len": 128, "batch": batches}}
    assert parse_space(raw).workload.batch == list(range(1, 50_001))


# ------------------------------------------------------------------ buckets
@pytest.mark.parametrize("text, field", [
    ("target: [vllm]\nmodel: llama-3.1-8b\n", "config.target"),
    ("target: vllm\nmax_num_seqs: 1000000000\n", "config.max_num_seqs"),
    ("target: vllm\ncudagraph_capture_sizes: [8, 1000000000]\n",
     "config.cudagraph_capture_sizes.1"),
    ("target: jetstream\nmodel: llama-3.1-8b\nprefill_lengths: [128, 1000000000]\n",
     "config.prefill_lengths.1"),
    ("model: llama-3.1-8b\ndecode_buckets: [[1, 1024], [1, 1073741824]]\n",
     "config.decode_buckets.1.1"),
    ("model: llama-3.1-8b\ntensor_parallel_size: true\n", "config.tensor_parallel_size"),
])
def test_bucket_config_values_are_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          deadline: None, text: str, field: str) -> None:
    line = one_line_error(capsys, "buckets", write(tmp_path, "b.yaml", text))
    assert line.startswith(f"error: {field}: "), line


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_distribution_parameters_must_be_finite(capsys: pytest.CaptureFixture[str],
                                                value: str) -> None:
    line = one_line_error(capsys, "buckets", SEED_BUCKETS, "--no-suggest", "--distribution",
                          f"lognormal:prompt_median={value}")
    assert line.startswith("error: distribution: ") and "positive, finite" in line


def test_listed_twice_is_one_graph_or_bucket() -> None:
    """A capture size or prefill length listed twice is one compiled graph: the parsed
    configs hold each once, sorted (vLLM de-duplicates its capture sizes too)."""
    from inferplan.buckets.config import JetStreamConfig, VllmCaptureConfig, parse_any_config
    v = parse_any_config({"target": "vllm", "cudagraph_capture_sizes": [8, 1, 8, 4, 1]})
    assert isinstance(v, VllmCaptureConfig) and v.cudagraph_capture_sizes == (1, 4, 8)
    j = parse_any_config({"target": "jetstream", "model": "llama-3.1-8b",
                          "prefill_lengths": [256, 128, 256]})
    assert isinstance(j, JetStreamConfig) and j.prefill_lengths == (128, 256)


@pytest.mark.parametrize("override, field", [
    ("max_num_seqs: true", "engine.max_num_seqs"),
    ("frontend_s: true", "engine.frontend_s"),
    ("frontend_s: '0.1'", "engine.frontend_s"),
    ("chunked_prefill: 1", "engine.chunked_prefill"),
    ("adp_balance_timeout_steps: 1.5", "engine.adp_balance_timeout_steps"),
])
def test_engine_overrides_are_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     override: str, field: str) -> None:
    """An engine block's `true` is not a count of 1, nor "0.1" a number of seconds."""
    text = BASE + f"engine: {{name: vllm, {override}}}\n"
    line = one_line_error(capsys, "estimate", write(tmp_path, "s.yaml", text))
    assert line.startswith(f"error: {field}: "), line

"""Property tests (issue 13): whatever a scenario, an HF config or a YAML text holds, the
parsers return a result or raise one `InferplanError` line, never another exception.
Bounded (derandomised, a few seconds in all); the mutations replace or add one field
anywhere in a valid input with a hostile value (huge, negative, NaN, wrong type, nested)."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferplan.cli.files import parse_yaml
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model, model_from_hf_config
from inferplan.scenario import build_deployment, parse_scenario
from inferplan.units import InferplanError

FUZZ = settings(max_examples=300, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

SCENARIO: dict[str, Any] = {
    "model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": 2,
    "parallelism": {"tp": 2, "pp": 1}, "dtypes": {"weights": "bf16", "kv": "fp8"},
    "workload": {"input_len": 1024, "output_len": 128, "batch": 8},
}
HF_CONFIGS: list[dict[str, Any]] = [
    {"model_type": "llama", "hidden_size": 1024, "intermediate_size": 4096,
     "num_hidden_layers": 4, "num_attention_heads": 16, "num_key_value_heads": 4,
     "vocab_size": 32000, "tie_word_embeddings": False},
    {"model_type": "qwen2_moe", "hidden_size": 512, "intermediate_size": 1024,
     "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 2,
     "vocab_size": 1000, "num_experts": 8, "num_experts_per_tok": 2,
     "moe_intermediate_size": 256, "shared_expert_intermediate_size": 512,
     "decoder_sparse_step": 1, "mlp_only_layers": [0], "use_sliding_window": False},
    {"model_type": "gemma3_text", "hidden_size": 512, "intermediate_size": 1024,
     "num_hidden_layers": 6, "num_attention_heads": 8, "num_key_value_heads": 4,
     "head_dim": 64, "sliding_window": 128, "sliding_window_pattern": 6},
    {"model_type": "deepseek_v3", "hidden_size": 512, "intermediate_size": 1024,
     "num_hidden_layers": 4, "num_attention_heads": 8, "vocab_size": 1000,
     "n_routed_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 128,
     "n_shared_experts": 1, "first_k_dense_replace": 1, "moe_layer_freq": 1,
     "kv_lora_rank": 64, "q_lora_rank": 96, "qk_nope_head_dim": 32, "qk_rope_head_dim": 16,
     "v_head_dim": 32},
]

#: Values that broke parsers before (issue 13), drawn as often as all the rest together.
SPECIAL: list[Any] = [0, -1, 5, 10**9, 2**70, -(10**12), True, "false", "", [], {}, [5],
                      float("nan"), float("inf"), -0.5, 1e308, "llama-3.1-8b", "max"]
_leaves = st.one_of(
    st.sampled_from(SPECIAL),
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20)),
)
HOSTILE = st.recursive(_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a nested mapping (the places a mutation may land)."""
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """`base` with one to three fields replaced (or new keys added) by hostile values."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if not isinstance(parent, dict):
            continue
        key = path[-1] if draw(st.booleans()) else draw(st.sampled_from(
            [path[-1], "extra", "head_dim", "sliding_window", "layer_types", "text_config"]))
        parent[key] = draw(HOSTILE)
    return data


#: The inputs of the three properties (benchmarks/fuzz_long.py draws many more of them).
SCENARIOS = mutated(SCENARIO)
HF_CONFIG_INPUTS = st.integers(0, len(HF_CONFIGS) - 1).flatmap(
    lambda i: mutated(HF_CONFIGS[i]))
YAML_TEXTS = st.text(alphabet=list("ab:&*[]{}-,!?|>'\"\n #%@`.0123456789\xff\u2028"),
                     max_size=80) | st.text(max_size=80)


def _one_line(exc: InferplanError) -> None:
    text = str(exc)
    assert len(text.splitlines()) == 1 and len(text) < 2000, text[:300]


@FUZZ
@given(SCENARIOS)
def test_scenario_parser_never_crashes(raw: dict[str, Any]) -> None:
    try:
        deployment, workload = build_deployment(parse_scenario(raw), catalog_model,
                                                catalog_chip)
    except InferplanError as exc:
        _one_line(exc)
        return
    assert deployment.chips >= 1 and workload.output_len >= 1


@FUZZ
@given(HF_CONFIG_INPUTS)
def test_hf_config_parser_never_crashes(cfg: dict[str, Any]) -> None:
    try:
        model = model_from_hf_config(cfg)
        params, kv = model.parameters, model.kv_bytes_per_token("bf16")
    except InferplanError as exc:
        _one_line(exc)
        return
    assert params > 0 and kv >= 0


@FUZZ
@given(YAML_TEXTS)
def test_yaml_text_never_crashes(text: str) -> None:
    try:
        parse_yaml(text)
    except yaml.YAMLError as exc:
        assert str(exc)

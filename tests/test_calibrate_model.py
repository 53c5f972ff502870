"""`inferplan.calibrate`: the scaled model keeps its catalog model's shape ratios, and the
JAX model built from it holds exactly `ModelSpec.parameters` weights and returns the
shapes each step promises (in a child interpreter; skipped without jax)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from inferplan.calibrate import FULL, at_depth, scaled_model
from inferplan.calibrate.scaling import is_llama_shaped, round_width, scaled_heads
from inferplan.models import catalog_model, model_catalog
from inferplan.units import InferplanError

LLAMA_SHAPED = [n for n in model_catalog() if is_llama_shaped(catalog_model(n))]
CHECKS = Path(__file__).with_name("jax_checks_calibrate.py")


def test_the_docstring_numbers() -> None:
    spec = catalog_model("llama-3.1-8b")
    assert scaled_heads(spec, 512) == (4, 1, 128, 512)
    assert scaled_heads(spec, 256) == (4, 1, 64, 256)
    assert round_width(1792.4) == 1792


@pytest.mark.parametrize("name", LLAMA_SHAPED)
def test_scaling_keeps_the_ratios(name: str) -> None:
    """N/K exact; D/(N·H) exact up to rounding D; F/D within a rounding step; MoE top-k
    share within one expert; head width kept unless halved to fit."""
    spec = catalog_model(name)
    tiny, scaling = scaled_model(spec, FULL.hidden, FULL.layers, FULL.vocab)
    assert tiny.num_heads // tiny.num_kv_heads == spec.num_heads // spec.num_kv_heads
    assert tiny.num_heads % tiny.num_kv_heads == 0
    ratio = spec.hidden_size / (spec.num_heads * spec.head_dim)
    assert tiny.hidden_size == round(tiny.num_heads * tiny.head_dim * ratio)
    assert tiny.head_dim in (spec.head_dim, spec.head_dim // 2, spec.head_dim // 4)
    assert tiny.hidden_size <= 2 * FULL.hidden
    factor = spec.hidden_size / tiny.hidden_size
    assert abs(tiny.intermediate_size - spec.intermediate_size / factor) <= 8
    assert scaling.width_factor == pytest.approx(factor, rel=1e-3)
    assert tiny.num_layers == FULL.layers and tiny.vocab_size <= FULL.vocab
    if spec.moe is not None:
        assert tiny.moe is not None and tiny.moe.num_experts <= 8
        share = spec.moe.experts_per_token / spec.moe.num_experts
        assert abs(tiny.moe.experts_per_token - share * tiny.moe.num_experts) <= 0.5


@pytest.mark.parametrize("name", ["deepseek-v3", "falcon-7b", "gemma-2-9b", "qwen2-57b-a14b"])
def test_models_the_timed_forward_cannot_build_are_refused(name: str) -> None:
    with pytest.raises(InferplanError) as err:
        scaled_model(catalog_model(name), 512, 4, 2048)
    assert err.value.field == "--model" and "Llama-shaped" in err.value.allowed


def test_at_depth_cuts_the_layers() -> None:
    tiny, _ = scaled_model(catalog_model("mixtral-8x7b"), 256, 4, 1024)
    half = at_depth(tiny, 2)
    assert half.num_layers == 2 and half.layer_moe == (True, True)
    assert half.parameters < tiny.parameters


def test_the_jax_model_in_a_child_process() -> None:
    """tests/jax_checks_calibrate.py: the built model holds `ModelSpec.parameters`
    weights (Llama, Mixtral, Qwen3-MoE scaled), its decode, prefill and mixed steps
    return the promised shapes and finite logits, the docstring numbers hold. In a child
    interpreter: jax's threads must not be in this process when a later test forks."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("needs the jax extra")
    done = subprocess.run([sys.executable, str(CHECKS)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-4000:]

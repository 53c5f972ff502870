"""`inferplan.calibrate`: the scaled model keeps its catalog model's shape ratios, and the
JAX model built from it holds exactly `ModelSpec.parameters` weights and returns the
shapes each step promises (skipped without jax)."""

from __future__ import annotations

import math

import pytest

from inferplan.calibrate import FULL, QUICK, at_depth, scaled_model
from inferplan.calibrate.scaling import is_llama_shaped, round_width, scaled_heads
from inferplan.models import catalog_model, model_catalog
from inferplan.units import InferplanError

LLAMA_SHAPED = [n for n in model_catalog() if is_llama_shaped(catalog_model(n))]


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


@pytest.mark.parametrize("name", ["llama-3.1-8b", "mixtral-8x7b", "qwen3-30b-a3b"])
def test_built_model_holds_the_specs_parameters(name: str) -> None:
    pytest.importorskip("jax")
    from inferplan.calibrate.forward import Dims, init_params, param_shapes

    tiny, _ = scaled_model(catalog_model(name), QUICK.hidden, QUICK.layers, QUICK.vocab)
    d = Dims.of(tiny)
    shapes = param_shapes(d)
    per_layer = sum(math.prod(s) for k, s in shapes.items() if k.startswith("layer."))
    rest = sum(math.prod(s) for k, s in shapes.items() if not k.startswith("layer."))
    assert d.L * per_layer + rest == tiny.parameters
    params = init_params(d, "float32")
    assert len(params["layers"]) == d.L
    assert params["layers"][0]["wqkv"].shape == (d.D, (d.N + 2 * d.K) * d.H)


@pytest.mark.parametrize("name", ["llama-3.1-8b", "mixtral-8x7b"])
def test_steps_return_logits_and_new_keys(name: str) -> None:
    """Decode (B=3 at C=5), prefill (B=2 of S=7) and mixed (both): the shapes (traced,
    not compiled), and the mixed step run once, finite."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    from inferplan.calibrate.forward import Dims, init_params, step

    tiny, _ = scaled_model(catalog_model(name), QUICK.hidden, 2, QUICK.vocab)
    d = Dims.of(tiny)
    params = init_params(d, "float32")
    cache = (jnp.zeros((d.L, 3, 5, d.K, d.H)), jnp.zeros((d.L, 3, 5, d.K, d.H)))
    decode, prompts = jnp.arange(3), jnp.arange(14).reshape(2, 7)
    for tokens, kv, prompt, sequences, new in ((decode, cache, None, 3, 3),
                                               (None, None, prompts, 2, 14),
                                               (decode, cache, prompts, 5, 17)):
        logits, k, v = jax.eval_shape(lambda t, c, s: step(params, d, t, c, s),
                                      tokens, kv, prompt)
        assert logits.shape == (sequences, d.V)
        assert k.shape == v.shape == (d.L, new, d.K, d.H)
    logits = jax.jit(lambda p, t, c, s: step(p, d, t, c, s)[0])(params, decode, cache, prompts)
    assert bool(jnp.all(jnp.isfinite(logits)))


def test_expert_capacity_docstring() -> None:
    pytest.importorskip("jax")
    from inferplan.calibrate.forward import Dims, expert_capacity, prefill_block

    d = Dims(L=1, D=8, F=8, N=1, K=1, H=8, V=8, experts=8, top_k=2, expert_ffn=8)
    assert expert_capacity(64, d) == 20
    assert (prefill_block(1024), prefill_block(8192)) == (128, 1024)

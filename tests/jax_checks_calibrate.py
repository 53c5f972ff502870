"""Checks of the JAX model of `inferplan.calibrate.forward`, run by
tests/test_calibrate_model.py in a child interpreter: jax starts threads when imported,
and a later test in the same process forks a worker pool (the sweep's), which would risk
a deadlock. `python tests/jax_checks_calibrate.py` runs them all; a failure is a
traceback and exit 1."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from inferplan.calibrate import QUICK, scaled_model
from inferplan.calibrate.forward import (
    Dims,
    expert_capacity,
    init_params,
    param_shapes,
    prefill_block,
    step,
)
from inferplan.models import catalog_model


def built_model_holds_the_specs_parameters(name: str) -> None:
    tiny, _ = scaled_model(catalog_model(name), QUICK.hidden, QUICK.layers, QUICK.vocab)
    d = Dims.of(tiny)
    shapes = param_shapes(d)
    per_layer = sum(math.prod(s) for k, s in shapes.items() if k.startswith("layer."))
    rest = sum(math.prod(s) for k, s in shapes.items() if not k.startswith("layer."))
    assert d.L * per_layer + rest == tiny.parameters, name
    params = init_params(d, "float32")
    assert len(params["layers"]) == d.L
    assert params["layers"][0]["wqkv"].shape == (d.D, (d.N + 2 * d.K) * d.H)


def steps_return_logits_and_new_keys(name: str) -> None:
    """Decode (B=3 at C=5), prefill (B=2 of S=7) and mixed (both): the shapes (traced,
    not compiled), and the mixed step run once, finite."""
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
        assert logits.shape == (sequences, d.V), name
        assert k.shape == v.shape == (d.L, new, d.K, d.H), name
    logits = jax.jit(lambda p, t, c, s: step(p, d, t, c, s)[0])(params, decode, cache, prompts)
    assert bool(jnp.all(jnp.isfinite(logits))), name


def docstring_numbers() -> None:
    d = Dims(L=1, D=8, F=8, N=1, K=1, H=8, V=8, experts=8, top_k=2, expert_ffn=8)
    assert expert_capacity(64, d) == 20
    assert (prefill_block(1024), prefill_block(8192)) == (128, 1024)


def main() -> None:
    for name in ("llama-3.1-8b", "mixtral-8x7b", "qwen3-30b-a3b"):
        built_model_holds_the_specs_parameters(name)
    for name in ("llama-3.1-8b", "mixtral-8x7b"):
        steps_return_logits_and_new_keys(name)
    docstring_numbers()
    print("ok")


if __name__ == "__main__":
    main()

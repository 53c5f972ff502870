"""One transformer layer in JAX, sharded with `jax.jit` and `NamedSharding` the way
each layout of `inferplan.partitioning` stores its weights and activations, compiled
to HLO text. JAX is imported inside `compile_layer` only; run it in a process whose
`XLA_FLAGS` asked for enough host devices before jax was imported (`worker`).

The layer (Llama-shaped, pre-norm, sequential blocks): x [B, S, D];
RMSNorm → fused QKV projection W_qkv [D, K, N/K + 2, H] (each KV head with its N/K
query heads, as engines fuse it) → softmax attention within each sequence → W_o
[K, N/K, H, D] → residual; RMSNorm → fused gate/up W_gu [D, 2, F] → SiLU(gate)·up →
W_down [F, D] → residual; MoE layers (`experts` > 0) replace the FFN with GShard-style
top-k experts of width F.

The mesh has axes x, y, z (the `Split` of the model; megatron and ws1d use all of them
as one). Shardings per layout (`_specs`), PartitionSpec over [B, S, D] etc.:

- megatron: residual replicated; QKV/gate-up column-parallel over xyz (KV heads, F),
  O/down row-parallel; the block output constrained replicated → XLA all-reduces.
- ws1d: residual D over xyz; the block input constrained replicated (all-gather), the
  block output back to D over xyz (reduce-scatter); weights as megatron.
- ws2d: residual D over (x, y, z); weights E_x F_yz (QKV: D over x, KV heads over yz);
  block input gathered to D over x; projections' partial sums over x scattered to KV
  heads (F) over (y, z, x); hidden gathered back to yz; out-projection partial sums
  over yz scattered to D over (x, y, z).
- wg_x, wg_xy, wg_xyz: weights stored as ws2d and constrained, inside the layer, to the
  stored sharding without the gathered axes (all-gather); batch over the gathered
  axes, D over the rest between blocks, 1D weight-stationary over the rest.
- ep (MoE, tp = 1): tokens in ep groups over xyz; the dispatched [E, G, C, D] and
  combined tensors constrained to experts over xyz → two all-to-alls.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

#: Layouts `compile_layer` builds: the tensor-parallel ones of `partitioning` and ep.
PROGRAM_LAYOUTS: tuple[str, ...] = ("megatron", "ws1d", "ws2d", "wg_x", "wg_xy", "wg_xyz",
                                    "ep")
#: Axes gathered by each weight-gathered layout.
GATHERED: dict[str, str] = {"wg_x": "x", "wg_xy": "xy", "wg_xyz": "xyz"}


@dataclass(frozen=True)
class Shape:
    """A small Llama-shaped layer: B sequences of S tokens, D, F, N heads, K KV heads of
    H; `experts` > 0 (top-`top_k`) for the MoE layer the ep check uses."""

    B: int
    S: int
    D: int
    F: int
    N: int
    K: int
    H: int
    experts: int = 8
    top_k: int = 2

    def label(self) -> str:
        return f"B={self.B} S={self.S} D={self.D} F={self.F} N={self.N} K={self.K} H={self.H}"


@dataclass(frozen=True)
class LayerProgram:
    """What to compile: one layer of `shape` (its experts only under ep) under `layout`
    on a mesh of x·y·z host devices, in `dtype` (a jax.numpy dtype name)."""

    layout: str
    mesh: tuple[int, int, int]
    shape: Shape
    dtype: str = "bfloat16"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LayerProgram:
        """The inverse of `as_dict` (JSON turns the mesh into a list)."""
        return cls(raw["layout"], tuple(raw["mesh"]), Shape(**raw["shape"]), raw["dtype"])


def compile_layer(program: LayerProgram) -> tuple[str, float]:
    """The compiled HLO text of `program`'s layer and the seconds the compile took."""
    import importlib

    import numpy as np

    # jax's own annotations are partial: hold it as Any so strict mypy checks ours only
    jax: Any = importlib.import_module("jax")
    jnp: Any = importlib.import_module("jax.numpy")
    Mesh, NamedSharding, P = (jax.sharding.Mesh, jax.sharding.NamedSharding,
                              jax.sharding.PartitionSpec)

    p = program.shape
    n = program.mesh[0] * program.mesh[1] * program.mesh[2]
    devices = jax.devices("cpu")
    if len(devices) < n:
        raise RuntimeError(f"{n} host devices needed, {len(devices)} present: set "
                           f"XLA_FLAGS=--xla_force_host_platform_device_count={n} "
                           "before jax is imported")
    mesh = Mesh(np.array(devices[:n]).reshape(program.mesh), ("x", "y", "z"))
    dt = getattr(jnp, program.dtype)
    specs = _specs(program.layout)

    def ns(name: str) -> Any:
        return NamedSharding(mesh, P(*specs[name]))

    def constrain(value: Any, name: str) -> Any:
        return jax.lax.with_sharding_constraint(value, ns(name))

    G = p.N // p.K

    def rms(x: Any) -> Any:
        x32 = x.astype(jnp.float32)
        scale = jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + 1e-6)
        return (x32 * scale).astype(dt)

    def attention(x: Any, w_qkv: Any, w_o: Any) -> Any:
        h = rms(constrain(x, "block_in"))
        if program.layout in GATHERED:
            w_qkv, w_o = constrain(w_qkv, "w_qkv_gathered"), constrain(w_o, "w_o_gathered")
        qkv = constrain(jnp.einsum("bsd,dkgh->bskgh", h, w_qkv), "qkv")
        q, k, v = qkv[:, :, :, :G], qkv[:, :, :, G], qkv[:, :, :, G + 1]
        logits = jnp.einsum("bskgh,btkh->bkgst", q, k).astype(jnp.float32) / p.H ** 0.5
        probs = jax.nn.softmax(logits, axis=-1).astype(dt)
        out = constrain(jnp.einsum("bkgst,btkh->bskgh", probs, v), "attn_out")
        out = constrain(out, "attn_gathered")
        return constrain(x + jnp.einsum("bskgh,kghd->bsd", out, w_o), "resid")

    def ffn(x: Any, w_gu: Any, w_down: Any) -> Any:
        h = rms(constrain(x, "block_in"))
        if program.layout in GATHERED:
            w_gu, w_down = constrain(w_gu, "w_gu_gathered"), constrain(w_down,
                                                                      "w_down_gathered")
        gu = constrain(jnp.einsum("bsd,dmf->bsmf", h, w_gu), "gate_up")
        hidden = constrain(jax.nn.silu(gu[:, :, 0]) * gu[:, :, 1], "hidden")
        hidden = constrain(hidden, "hidden_gathered")
        return constrain(x + jnp.einsum("bsf,fd->bsd", hidden, w_down), "resid")

    def moe(x: Any, w_router: Any, w_gu: Any, w_down: Any) -> Any:
        # GShard: tokens in n groups of B·S/n (one per device), capacity C = (B·S/n)·k/E
        E, k = p.experts, p.top_k
        T = p.B * p.S
        tokens = constrain(x.reshape(n, T // n, p.D), "groups")
        h = rms(tokens)
        gates = jax.nn.softmax(jnp.einsum("gsd,de->gse", h, w_router).astype(jnp.float32))
        top, index = jax.lax.top_k(gates, k)
        C = T // n * k // E
        choice = jax.nn.one_hot(index, E, dtype=jnp.int32)              # g s k e
        position = (jnp.cumsum(choice.reshape(n, -1, E), axis=1).reshape(choice.shape)
                    - 1) * choice
        slot = jax.nn.one_hot(position, C, dtype=dt) * choice[..., None].astype(dt)
        dispatch = slot.sum(axis=2)
        combine = jnp.einsum("gsk,gskec->gsec", top.astype(dt), slot)
        routed = constrain(jnp.einsum("gsec,gsd->egcd", dispatch, h), "dispatched")
        gu = jnp.einsum("egcd,edmf->egcmf", routed, w_gu)
        out = jnp.einsum("egcf,efd->egcd", jax.nn.silu(gu[..., 0, :]) * gu[..., 1, :],
                         w_down)
        back = constrain(out, "returned")
        y = jnp.einsum("gsec,egcd->gsd", combine, back)
        return constrain(x + y.reshape(p.B, p.S, p.D), "resid")

    start = time.perf_counter()
    x = jax.ShapeDtypeStruct((p.B, p.S, p.D), dt, sharding=ns("resid"))
    w_qkv = jax.ShapeDtypeStruct((p.D, p.K, G + 2, p.H), dt, sharding=ns("w_qkv"))
    w_o = jax.ShapeDtypeStruct((p.K, G, p.H, p.D), dt, sharding=ns("w_o"))
    if program.layout == "ep":
        E = p.experts
        w_router = jax.ShapeDtypeStruct((p.D, E), dt, sharding=ns("w_router"))
        w_egu = jax.ShapeDtypeStruct((E, p.D, 2, p.F), dt, sharding=ns("w_experts"))
        w_edown = jax.ShapeDtypeStruct((E, p.F, p.D), dt, sharding=ns("w_experts_down"))

        def layer_moe(x: Any, w_qkv: Any, w_o: Any, w_router: Any, w_gu: Any,
                      w_down: Any) -> Any:
            return moe(attention(x, w_qkv, w_o), w_router, w_gu, w_down)

        lowered = jax.jit(layer_moe).lower(x, w_qkv, w_o, w_router, w_egu, w_edown)
    else:
        w_gu = jax.ShapeDtypeStruct((p.D, 2, p.F), dt, sharding=ns("w_gu"))
        w_down = jax.ShapeDtypeStruct((p.F, p.D), dt, sharding=ns("w_down"))

        def layer(x: Any, w_qkv: Any, w_o: Any, w_gu: Any, w_down: Any) -> Any:
            return ffn(attention(x, w_qkv, w_o), w_gu, w_down)

        lowered = jax.jit(layer).lower(x, w_qkv, w_o, w_gu, w_down)
    text = str(lowered.compile().as_text())
    return text, time.perf_counter() - start


Spec = tuple[Any, ...]


def _specs(layout: str) -> dict[str, Spec]:
    """PartitionSpec entries of every array and constraint of the layer under `layout`
    (see the module docstring)."""
    xyz, yz = ("x", "y", "z"), ("y", "z")
    if layout in ("megatron", "ws1d", "ep"):
        resid: Spec = (None, None, xyz) if layout == "ws1d" else (None, None, None)
        return {
            "resid": resid, "block_in": (None, None, None),
            "w_qkv": (None, xyz, None, None), "w_o": (xyz, None, None, None),
            "qkv": (None, None, xyz, None, None), "attn_out": (None, None, xyz, None, None),
            "attn_gathered": (None, None, xyz, None, None),
            "w_gu": (None, None, xyz), "w_down": (xyz, None),
            "gate_up": (None, None, None, xyz), "hidden": (None, None, xyz),
            "hidden_gathered": (None, None, xyz),
            # ep: attention replicated over the ep group (tp = 1), tokens in groups
            "groups": (xyz, None, None), "w_router": (None, None),
            "w_experts": (xyz, None, None, None), "w_experts_down": (xyz, None, None),
            "dispatched": (xyz, None, None, None),
            "returned": (xyz, None, None, None),
            **({"resid": (xyz, None, None), "block_in": (xyz, None, None),
                "w_qkv": (None, None, None, None),
                "w_o": (None, None, None, None), "qkv": (xyz, None, None, None, None),
                "attn_out": (xyz, None, None, None, None),
                "attn_gathered": (xyz, None, None, None, None)} if layout == "ep" else {}),
        }
    if layout == "ws2d":
        return {
            "resid": (None, None, xyz), "block_in": (None, None, "x"),
            "w_qkv": ("x", yz, None, None), "w_o": (yz, None, None, "x"),
            "qkv": (None, None, ("y", "z", "x"), None, None),
            "attn_out": (None, None, ("y", "z", "x"), None, None),
            "attn_gathered": (None, None, yz, None, None),
            "w_gu": ("x", None, yz), "w_down": (yz, "x"),
            "gate_up": (None, None, None, ("y", "z", "x")), "hidden": (None, None,
                                                                        ("y", "z", "x")),
            "hidden_gathered": (None, None, yz),
        }
    gathered = tuple(GATHERED[layout])
    rest = tuple(a for a in xyz if a not in gathered) or None
    f_rest = tuple(a for a in yz if a not in gathered) or None
    d_rest = None if "x" in gathered else "x"
    return {
        "resid": (gathered, None, rest), "block_in": (gathered, None, None),
        "w_qkv": ("x", yz, None, None), "w_o": (yz, None, None, "x"),
        "w_qkv_gathered": (d_rest, f_rest, None, None),
        "w_o_gathered": (f_rest, None, None, d_rest),
        "qkv": (gathered, None, rest, None, None), "attn_out": (gathered, None, rest, None,
                                                                None),
        "attn_gathered": (gathered, None, rest, None, None),
        "w_gu": ("x", None, yz), "w_down": (yz, "x"),
        "w_gu_gathered": (d_rest, None, f_rest), "w_down_gathered": (f_rest, d_rest),
        "gate_up": (gathered, None, None, rest), "hidden": (gathered, None, rest),
        "hidden_gathered": (gathered, None, rest),
    }

"""The collectives each layout runs per layer on a deployment: Megatron and 1D
weight-stationary, 2D weight-stationary over a split, and weight-gathered over X, XY
or XYZ, with the batch-sharded attention all-to-alls (Sections 3.2, 3.3, 3.5).

Imports units, collectives and deployment only (through `plan` and `volumes`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from inferplan.collectives import place_group
from inferplan.deployment import Deployment
from inferplan.partitioning.plan import Split, Transfer, model_parallel_chips
from inferplan.partitioning.volumes import FloatArray, attention_all_to_all_bytes
from inferplan.units import activation_bytes, dtype_bytes


def ws1d_transfers(dep: Deployment, name: str, T: FloatArray) -> tuple[Transfer, ...]:
    """megatron: per block one all-reduce(xyz) of T·E; ws1d: all-gather(xyz) of the
    T·E input and reduce-scatter(xyz) of the T·E output (the same time). Plus the
    batch-sharded attention all-to-alls exactly as `cost.communication_time_s` has them."""
    model, layout = dep.model, dep.layout
    act = activation_bytes(dep.dtypes.compute)
    group = place_group(dep.topology, model_parallel_chips(dep))
    blocks = 1 if model.parallel_block else 2
    hidden = np.asarray(T * model.hidden_size * act, dtype=np.float64)
    out: list[Transfer] = []
    if layout.attention_dp > 1:
        return dp_attention_transfers(dep, T)
    if name == "megatron":
        out.append(Transfer("block output all-reduce (T·E)", "all_reduce", "xyz", group,
                            hidden, blocks, 0))
    else:
        out.append(Transfer("block input all-gather (T·E)", "all_gather", "xyz", group,
                            hidden, blocks, 0))
        out.append(Transfer("block output reduce-scatter (T·E)", "reduce_scatter", "xyz",
                            group, hidden, blocks, 1))
    if layout.attention_mode(model) == "batch" and layout.kv_batch_shards(model) > 1:
        q = attention_all_to_all_bytes(T, model.num_heads, model.head_dim, layout.tp, act)
        out.append(Transfer("attention Q and output all-to-all (heads <-> batch)",
                            "all_to_all", "xyz", group, q, 2, 2))
    return tuple(out)


def dp_attention_transfers(dep: Deployment, T: FloatArray) -> tuple[Transfer, ...]:
    """Megatron with A data-parallel attention ranks (SGLang/vLLM/TensorRT-LLM DP attention):
    each rank reduces its attention output over its own tp/A devices, an all-reduce of
    its T/A tokens (none when tp/A is 1); then the ranks gather every token for the MLP or
    MoE over all tp devices and scatter the sum back, an all-gather and a reduce-scatter of
    T·E (the bytes and time of one all-reduce of T·E). No heads <-> batch all-to-all:
    attention never leaves the rank. DeepSeek-R1 at tp 8, A = 8, T = 256 bf16 tokens:
    one all-reduce of 256·7168·2 = 3.67 MB per layer over the 8 GPUs. An expert model
    whose engine exchanges by all-to-all (`moe_exchange`) gathers nothing: its ranks run
    the dense MLP and shared experts on their own tokens and the experts' all-to-alls
    (`communication.expert_all_to_all_share`) carry the routed ones."""
    model, layout = dep.model, dep.layout
    act = activation_bytes(dep.dtypes.compute)
    group = place_group(dep.topology, model_parallel_chips(dep))
    hidden = np.asarray(T * model.hidden_size * act, dtype=np.float64)
    out = []
    if model.moe is None or dep.engine.scheduler.moe_exchange == "gather":
        out.append(Transfer("MLP/MoE token all-gather and reduce-scatter over the "
                            "DP-attention ranks (T·E)", "all_reduce", "xyz", group, hidden,
                            1, 0))
    if layout.attention_tp > 1:
        rank = place_group(dep.topology, max(1, layout.attention_tp // dep.chip.cores_per_chip))
        out.append(Transfer("attention output all-reduce inside a rank (T·E/A)",
                            "all_reduce", "xyz", rank,
                            np.asarray(hidden / layout.attention_dp, dtype=np.float64), 1, 0))
    return tuple(out)


def ws2d_transfers(dep: Deployment, split: Split, T: FloatArray) -> tuple[Transfer, ...]:
    """2D weight-stationary (Appendix A.2.1) with attention (Section 3.3):

    - all-gather(yz) of the T·E/X block input and reduce-scatter(yz) of the T·E/X
      partialsum-yz block output, once per block;
    - reduce-scatter(x) of the partialsum-x projections: T·(m·F + N·H)/YZ + T·2KH/k,
      with m = 2 matrices for a gated FFN (gate and up), k = min(K, YZ) KV-head shards;
    - all-gather(x) of the hidden feeding the out-projections: T·(F + N·H)/YZ;
    - batch-sharded attention with more yz chips than KV heads: two all-to-alls of
      T·N·H/n over yz.
    Parallel blocks fuse attention and FFN into one of each (PaLM). Stages: the in-
    projection einsum (AG yz with RS x), the attention all-to-alls, the out-projection
    einsum (AG x with RS yz).
    """
    model, layout = dep.model, dep.layout
    act = activation_bytes(dep.dtypes.compute)
    n, X = split.n, split.x
    YZ = n // X
    E, F, N, K, H = (model.hidden_size, model.intermediate_size, model.num_heads,
                     model.num_kv_heads, model.head_dim)
    x, yz = split.group(dep.topology, "x"), split.group(dep.topology, "yz")
    m = 2 if model.gated_mlp else 1
    edge = np.asarray(T * E / X * act, dtype=np.float64)
    attn_in = _f(T * (N * H / YZ + 2 * K * H / min(K, YZ)) * act)
    attn_out = _f(T * N * H / YZ * act)
    ffn_in = _f(T * m * F / YZ * act)
    ffn_out = _f(T * F / YZ * act)
    a2a: list[Transfer] = []
    if layout.attention_mode(model) == "batch" and YZ > K:
        q = attention_all_to_all_bytes(T, N, H, n, act)
        a2a.append(Transfer("attention Q and output all-to-all (heads <-> batch)",
                            "all_to_all", "yz", yz, q, 2, 1))
    if model.parallel_block:
        return (
            Transfer("block input all-gather (T·E/X)", "all_gather", "yz", yz, edge, 1, 0),
            Transfer("Q/K/V and FFN-in partial sums reduce-scatter (T·(mF+NH)/YZ + T·2KH/k)",
                     "reduce_scatter", "x", x, _f(attn_in + ffn_in), 1, 0),
            *a2a,
            Transfer("attention output and FFN hidden all-gather (T·(F+NH)/YZ)",
                     "all_gather", "x", x, _f(attn_out + ffn_out), 1, 2),
            Transfer("block output reduce-scatter (T·E/X)", "reduce_scatter", "yz", yz,
                     edge, 1, 2),
        )
    return (
        Transfer("attention input all-gather (T·E/X)", "all_gather", "yz", yz, edge, 1, 0),
        Transfer("Q/K/V partial sums reduce-scatter (T·NH/YZ + T·2KH/k)", "reduce_scatter",
                 "x", x, attn_in, 1, 0),
        *a2a,
        Transfer("attention output all-gather (T·NH/YZ)", "all_gather", "x", x, attn_out,
                 1, 2),
        Transfer("attention block reduce-scatter (T·E/X)", "reduce_scatter", "yz", yz, edge,
                 1, 2),
        Transfer("FFN input all-gather (T·E/X)", "all_gather", "yz", yz, edge, 1, 3),
        Transfer("FFN-in partial sums reduce-scatter (T·mF/YZ)", "reduce_scatter", "x", x,
                 ffn_in, 1, 3),
        Transfer("FFN hidden all-gather (T·F/YZ)", "all_gather", "x", x, ffn_out, 1, 4),
        Transfer("FFN block reduce-scatter (T·E/X)", "reduce_scatter", "yz", yz, edge, 1, 4),
    )


def wg_transfers(dep: Deployment, split: Split, gathered: str,
                  T: FloatArray) -> tuple[Transfer, ...]:
    """Weight-gathered over the N chips of `gathered` (Appendix A.2.2): per block an
    all-gather of its weights, W·b_w·N/n per chip; the activations are batch-sharded
    N ways and 1D weight-stationary over the g = n/N chips left: all-gather and
    reduce-scatter of T·E/N per block, and the batch-sharded attention all-to-alls of
    T·N_heads·H/n when those chips outnumber the KV heads. XYZ-weight-gathered moves
    weights only. Stages per block: the weight gather with the input gather, then the
    output reduce-scatter (the attention all-to-alls between, in the attention block)."""
    model, layout = dep.model, dep.layout
    act = activation_bytes(dep.dtypes.compute)
    wb = dtype_bytes(dep.dtypes.weights, "dtypes.weights")
    n = split.n
    N = split.size(gathered)
    rest = "".join(a for a in "xyz" if a not in gathered)
    g = n // N
    wgroup = split.group(dep.topology, gathered)
    rgroup = split.group(dep.topology, rest) if g > 1 else None
    ones = np.ones_like(T)
    attn_w = _f(model.attention_params_per_layer * wb * N / n * ones)
    ffn_w = _f(model.dense_ffn_params * wb * N / n * ones)
    edge = np.asarray(T / N * model.hidden_size * act, dtype=np.float64)
    blocks: list[tuple[str, FloatArray, bool]] = (
        [("layer", _f(attn_w + ffn_w), True)] if model.parallel_block
        else [("attention", attn_w, True), ("FFN", ffn_w, False)])
    out: list[Transfer] = []
    stage = 0
    for name, weights, has_attention in blocks:
        out.append(Transfer(f"{name} weights all-gather over {gathered} (W·N/n)",
                            "all_gather", gathered, wgroup, weights, 1, stage))
        if rgroup is None:
            stage += 1
            continue
        out.append(Transfer(f"{name} input all-gather (T·E/N)", "all_gather", rest, rgroup,
                            edge, 1, stage))
        if (has_attention and layout.attention_mode(model) == "batch"
                and g > model.num_kv_heads):
            q = attention_all_to_all_bytes(T, model.num_heads, model.head_dim, n, act)
            out.append(Transfer("attention Q and output all-to-all (heads <-> batch)",
                                "all_to_all", rest, rgroup, q, 2, stage + 1))
        out.append(Transfer(f"{name} output reduce-scatter (T·E/N)", "reduce_scatter", rest,
                            rgroup, edge, 1, stage + 2))
        stage += 3
    return tuple(out)


def _f(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)

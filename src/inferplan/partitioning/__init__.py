"""Per-step communication of the partitionings of Pope et al. (2022), "Efficiently
Scaling Transformer Inference" (MLSys 2023), so that `cost` can charge the layout a
deployment names (`parallelism.layout`).

Notation (the paper's, Section 3.1): T = B·L tokens in the step (per replica, per
pipeline micro-batch, as `cost` counts them), E = D the model dimension, F the FFN
width, N query heads, K KV heads, H head dim, n the chips of one model-parallel
group (tp chips). A tensor BLE_xyz has E split over the chips of axes x, y, z;
partialsum-x means "summed locally, still to be reduced over x".

The layouts, per layer (Section 3.2, Appendix A.2):

- megatron (Shoeybi et al.): weights E F_xyz; per block an all-reduce(xyz) of T·E.
- ws1d: weights E F_xyz; per block all-gather(xyz) of the T·E input and
  reduce-scatter(xyz) of the T·E output: Megatron's time.
- ws2d: weights E_x F_yz; per block all-gather(yz) of T·E/X in, reduce-scatter(x) of
  the partialsum-x hidden (T·F/YZ per matrix), all-gather(x) of the hidden for the
  out-projection, reduce-scatter(yz) of T·E/X out.
- wg_x, wg_xy, wg_xyz: weights stored E_x F_yz, all-gathered over the N chips of x,
  xy or xyz (W·N/n per chip); activations batch-sharded N ways and 1D
  weight-stationary over the other n/N chips: all-gather + reduce-scatter of T·E/N.

Attention (Section 3.3): query heads are split like the FFN's F (over all n, over yz,
or over the n/N chips left by a weight gather). Where the layout's head group is
larger than K and the deployment shards attention by batch (`Layout.attention_mode`
'batch', the paper's multi-query layout), the queries go from head- to batch-sharding
and the outputs back: two all-to-alls of T·N·H/n per chip per layer.

The paper's closed forms (FFN only, two matrices, (p−1)/p dropped) are the `*_ffn_*`
functions in `volumes`; the deployment-level plan generalises them to gated FFNs (three
matrices: the gate and up partial sums are both reduced), the attention projections
(Q and K/V widths join the partialsum-x hidden, O's input joins the gathered hidden),
sequential vs parallel blocks, dtypes, and exact group sizes, and times each
collective with `inferplan.collectives` on the deployment's topology.

Mapping onto the topology (`Split`): n = X·Y·Z, the factors laid on the slice axes in
order (x first, or z first), so that x, yz, xy and z are groups `place_group` can
place; on a 4x4x4 TPU v4 the paper's X = 4 is one axis and YZ = 16 the other two. The
two collectives of one looped collective einsum (Section 3.5: the in-projection's
all-gather over yz with its reduce-scatter over x; the out-projection's all-gather over
x with its reduce-scatter over yz) run at once when their groups use disjoint torus
links, so that stage costs the longer of the two; on a switch, or where the groups
share an axis, they add up. This is what lets 2D beat 1D on a torus, where a 1D
collective over all three axes already gets three axes' bandwidth.

What is left out: the KV cache's resharding between a prefill layout and a decode
layout, the transient memory of gathered weights, and overlap with compute (`cost`
decides what is exposed).

The modules, each importing only those above it: `volumes` (the paper's closed
forms), `plan` (`Transfer`, `Split`, `LayoutPlan`), `transfers` (each layout's
collectives), `ws2d` (the 2D split search), `layouts` (feasibility, `layout_plan`),
`choice` (the choice per phase and its reason), `linear` (a layout's collectives as
linear functions of the step's tokens, read once per deployment for `cost`). This
module re-exports their public names.

Imports units, models, hardware, collectives, parallel and deployment only.
"""

from inferplan.partitioning.choice import (
    PHASES,
    LayoutChoice,
    choose_layout,
    layout_communication_time_s,
    layout_reason,
)
from inferplan.partitioning.layouts import (
    CANDIDATES,
    GATHER_AXES,
    feasible_layouts,
    layout_plan,
    layout_problem,
)
from inferplan.partitioning.linear import LinearPlan, LinearTransfer, linear_plan
from inferplan.partitioning.plan import (
    Collective,
    LayoutPlan,
    Split,
    Transfer,
    model_parallel_chips,
)
from inferplan.partitioning.volumes import (
    FloatArray,
    attention_all_to_all_bytes,
    weight_gathered_ffn_volume_elements,
    weight_gathered_min_ffn_volume_elements,
    weight_gathered_optimal_n,
    ws1d_ffn_volume_elements,
    ws2d_ffn_volume_elements,
    ws2d_min_ffn_volume_elements,
    ws2d_optimal_x,
    ws2d_weight_gathered_crossover_tokens,
)
from inferplan.partitioning.ws2d import ws2d_split

__all__ = [
    "CANDIDATES", "GATHER_AXES", "PHASES", "Collective", "FloatArray", "LayoutChoice",
    "LayoutPlan", "LinearPlan", "LinearTransfer", "Split", "Transfer",
    "attention_all_to_all_bytes", "choose_layout", "feasible_layouts",
    "layout_communication_time_s", "layout_plan", "layout_problem", "layout_reason",
    "linear_plan", "model_parallel_chips", "weight_gathered_ffn_volume_elements",
    "weight_gathered_min_ffn_volume_elements", "weight_gathered_optimal_n",
    "ws1d_ffn_volume_elements", "ws2d_ffn_volume_elements", "ws2d_min_ffn_volume_elements",
    "ws2d_optimal_x", "ws2d_split", "ws2d_weight_gathered_crossover_tokens",
]

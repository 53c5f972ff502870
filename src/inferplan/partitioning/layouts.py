"""Which layouts can run on a deployment (`layout_problem`, `feasible_layouts`, the
`CANDIDATES` that `auto` chooses among) and the plan of one of them (`layout_plan`).

Imports units, parallel and deployment only (and the package's lower modules).
"""

from __future__ import annotations

import numpy.typing as npt

from inferplan.deployment import Deployment
from inferplan.parallel import LAYOUTS
from inferplan.partitioning.plan import LayoutPlan, disjoint_links, model_parallel_chips
from inferplan.partitioning.transfers import wg_transfers, ws1d_transfers, ws2d_transfers
from inferplan.partitioning.volumes import as_tokens
from inferplan.partitioning.ws2d import wg_split, ws2d_split
from inferplan.units import InferplanError

#: Layouts `auto` chooses among, in order of preference on a tie. Megatron moves the same
#: volume as ws1d in half the calls (2 all-reduces per layer, not 2 all-gathers and 2
#: reduce-scatters), so it wins wherever a call has a fixed cost (every engine on NVLink).
CANDIDATES: tuple[str, ...] = ("ws1d", "ws2d", "wg_x", "wg_xy", "wg_xyz", "megatron")
#: The axes whose chips gather the weights in each weight-gathered layout.
GATHER_AXES: dict[str, str] = {"wg_x": "x", "wg_xy": "xy", "wg_xyz": "xyz"}


def layout_problem(deployment: Deployment, layout: str) -> str | None:
    """Why `layout` cannot run on `deployment`, or None when it can.

    megatron and ws1d run wherever the deployment does. ws2d and the weight-gathered
    layouts need no DP attention, a dense, non-MLA model (their volumes are written for Q/K/V/O and
    dense FFN matrices), one device per chip, and for ws2d a split X·YZ = n with
    1 < X < n, N divisible by YZ, that the topology can place.
    """
    check_layout_name(layout)
    if layout in ("auto", "megatron", "ws1d"):
        return None
    if deployment.layout.attention_dp > 1:
        return ("DP attention (attention_dp > 1) gathers the ranks' tokens for the MLP as "
                "megatron does; only megatron and ws1d are modelled with it")
    model, n = deployment.model, model_parallel_chips(deployment)
    if model.moe is not None or any(model.layer_moe):
        return f"{model.name} has expert layers; only megatron and ws1d are modelled for MoE"
    if model.mla is not None:
        return f"{model.name} uses MLA attention; only megatron and ws1d are modelled for it"
    if deployment.chip.cores_per_chip > 1:
        return (f"{deployment.chip.name} is built of cores; only megatron and ws1d are "
                "modelled on it")
    if n == 1:
        return None
    if layout == "ws2d" and ws2d_split(deployment) is None:
        return (f"no 2D split X·YZ = {n} with 1 < X < {n}, YZ dividing the {model.num_heads} "
                "heads, fits the topology")
    if layout.startswith("wg_"):
        split = wg_split(deployment)
        rest = n // split.size(GATHER_AXES[layout])
        if model.num_heads % rest:
            return (f"the {rest} chips left after gathering over {GATHER_AXES[layout]} must "
                    f"divide the {model.num_heads} heads")
    return None


def feasible_layouts(deployment: Deployment) -> tuple[str, ...]:
    """The `CANDIDATES` that can run on `deployment` (ws1d always)."""
    return tuple(name for name in CANDIDATES if layout_problem(deployment, name) is None)


def layout_plan(deployment: Deployment, layout: str, tokens: npt.ArrayLike) -> LayoutPlan:
    """The per-layer collectives of `layout` ('megatron', 'ws1d', 'ws2d', 'wg_x',
    'wg_xy', 'wg_xyz') on `deployment` for a step of `tokens` (B·q per replica).

    LLaMA 3-70B bf16 on a TPU v5e 4x4 (tp = 16), ws1d, T = 32: per layer 2 all-gathers
    and 2 reduce-scatters of 32·8192·2 = 524,288 B, and (16 shards > 8 KV heads, batch-
    sharded attention) 2 all-to-alls of 32·64·128·2/16 = 32,768 B: volume 2,162,688 B.
    """
    check_layout_name(layout)
    if layout == "auto":
        raise InferplanError("layout", layout, "resolve 'auto' with choose_layout first")
    problem = layout_problem(deployment, layout)
    if problem is not None:
        raise InferplanError("parallelism.layout", layout, problem)
    T = as_tokens(tokens)
    n = model_parallel_chips(deployment)
    layers = deployment.model.num_layers
    if n == 1:
        return LayoutPlan(layout, 1, layers, (), T)
    if layout in ("megatron", "ws1d"):
        return LayoutPlan(layout, n, layers, ws1d_transfers(deployment, layout, T), T)
    if layout == "ws2d":
        split = ws2d_split(deployment)
        assert split is not None   # layout_problem checked it
        return LayoutPlan(layout, n, layers, ws2d_transfers(deployment, split, T), T, split,
                          disjoint_links(deployment, split, "x"))
    split = wg_split(deployment)
    gathered = GATHER_AXES[layout]
    return LayoutPlan(layout, n, layers, wg_transfers(deployment, split, gathered, T), T,
                      split, disjoint_links(deployment, split, gathered))


def check_layout_name(layout: str) -> None:
    """An error listing the layouts when `layout` is none of them."""
    if layout not in LAYOUTS:
        raise InferplanError("parallelism.layout", layout, f"allowed: {', '.join(LAYOUTS)}")

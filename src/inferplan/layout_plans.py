"""The tensor-parallel group's candidate layouts and their linear plans, each cached on
what it reads, so deployments that differ in anything else share them.

Which layouts can run (`partitioning.feasible_layouts`) reads the model, tp, the
attention choice and DP-attention ranks, the compute dtype, the chip and where its
groups sit (`collectives.placement_key`); a layout's collectives
(`partitioning.linear_plan`) read the same, the link efficiency, the engine's
`moe_exchange` (DP-attention MoE transfers), and the weight dtype only where the layout
gathers weights (`wg_*`). A fleet search's tp groups in
three weight dtypes share their megatron, ws1d and ws2d plans between bf16 and int4
(both compute in bf16), and their feasible layouts between every weight dtype and
engine. `communication` builds a deployment's `CommunicationPlan` from these.

Keys hold the model and chip by identity (a `ModelSpec` hashes every field; a
`ChipSpec` holds dicts): each key carries its deployment, so the objects outlive the
cached entry and their ids are not reused meanwhile.
"""

from __future__ import annotations

from functools import lru_cache

from inferplan.collectives import placement_key
from inferplan.deployment import Deployment
from inferplan.efficiency import CacheKey
from inferplan.partitioning import feasible_layouts
from inferplan.partitioning.layouts import GATHER_AXES
from inferplan.partitioning.linear import LinearPlan, linear_plan


def _group_key(deployment: Deployment) -> tuple[object, ...]:
    """What the tp group's layouts read of a deployment, whatever the layout: the model
    and chip (by identity), tp, the attention choice, DP-attention ranks, the compute
    dtype and where the group sits."""
    lay = deployment.layout
    return (id(deployment.model), id(deployment.chip), lay.tp, lay.attention,
            lay.attention_dp, deployment.dtypes.compute, placement_key(deployment.topology))


class _LayoutsKey(CacheKey):
    """A deployment's key for its feasible layouts (`_group_key`)."""

    __slots__ = ("_hash", "deployment", "key")

    def __init__(self, deployment: Deployment) -> None:
        self.deployment, self.key = deployment, _group_key(deployment)
        self._hash = hash(self.key)


class _LinearKey(CacheKey):
    """A deployment's key for one layout's linear plan at one link efficiency:
    `_group_key`, the layout, the link efficiency, the engine's `moe_exchange` (a
    DP-attention MoE deployment's transfers read it: `dp_attention_transfers`) and, for a
    weight-gathered layout, the weight dtype."""

    __slots__ = ("_hash", "deployment", "key", "layout", "link_efficiency")

    def __init__(self, deployment: Deployment, layout: str, link_efficiency: float) -> None:
        self.deployment, self.layout, self.link_efficiency = (deployment, layout,
                                                              link_efficiency)
        weights = deployment.dtypes.weights if layout in GATHER_AXES else None
        self.key = (_group_key(deployment), layout, link_efficiency,
                    deployment.engine.scheduler.moe_exchange, weights)
        self._hash = hash(self.key)


@lru_cache(maxsize=1024)
def _feasible(key: _LayoutsKey) -> tuple[str, ...]:
    """`feasible_layouts` of the key's deployment."""
    return feasible_layouts(key.deployment)


@lru_cache(maxsize=16384)   # a fleet search's linear plans (communication._communication_plan)
def _linear(key: _LinearKey) -> LinearPlan:
    """`linear_plan` of the key's deployment, layout and link efficiency."""
    return linear_plan(key.deployment, key.layout, key.link_efficiency)


def candidate_layouts(deployment: Deployment) -> tuple[str, ...]:
    """The layouts the deployment's tp group may run: the named one, or under 'auto'
    every feasible one (`partitioning.feasible_layouts`, cached)."""
    layout = deployment.layout.layout
    return _feasible(_LayoutsKey(deployment)) if layout == "auto" else (layout,)


def layout_linear_plan(deployment: Deployment, layout: str,
                       link_efficiency: float) -> LinearPlan:
    """`partitioning.linear_plan(deployment, layout, link_efficiency)`, shared by every
    deployment with the same `_LinearKey`."""
    return _linear(_LinearKey(deployment, layout, link_efficiency))

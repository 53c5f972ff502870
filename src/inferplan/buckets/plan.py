"""`plan_buckets`: graphs, footprints and risk, padding, and a suggestion for one config.

Padding is priced in FLOPs always, and in seconds where a step-time model is there: the
caller's `step_time`, else `cost.step_cost` on `chip` (see `step_time.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from inferplan.buckets.config import BucketConfig
from inferplan.buckets.costs import StepTimeFn, flops_cost, time_cost
from inferplan.buckets.footprint import (
    CoreBudget,
    DeploymentFit,
    GraphFootprint,
    core_budget,
    deployment_fit,
    graph_footprint,
    rank_by_risk,
    risk_limit,
)
from inferplan.buckets.furiosa_rules import GraphPlan, enumerate_graphs
from inferplan.buckets.lengths import LengthDistribution, named_distribution
from inferplan.buckets.optimise import Objective, Split, Suggestion, optimise_furiosa
from inferplan.buckets.padding import DecodeModel, PaddingReport, evaluate_padding
from inferplan.buckets.rules import FuriosaRules, furiosa_rules
from inferplan.buckets.step_time import bucket_deployment, deployment_step_time
from inferplan.hardware import ChipSpec
from inferplan.models import ModelSpec
from inferplan.units import InferplanError

DEFAULT_DISTRIBUTION = "chat"


@dataclass(frozen=True)
class BucketsResult:
    """Everything `inferplan buckets` reports for one config."""

    config: BucketConfig
    model: ModelSpec
    plan: GraphPlan
    budget: CoreBudget
    footprints: tuple[GraphFootprint, ...]
    deployment: DeploymentFit
    distribution: LengthDistribution
    decode_model: DecodeModel
    padding: PaddingReport | None
    suggestion: Suggestion | None
    risk_limit: int | None
    time_padding: PaddingReport | None = None
    step_time_source: str | None = None
    objective: Objective = "flops"


def decode_model_for(cfg: BucketConfig, plan: GraphPlan) -> DecodeModel:
    """Batch sizes (config weights, else every decode batch equally), grouping and cap.

    Seed 000: batches 1, 4, 8, 16, 32, 64 at 1/6 each; cap max b·L = 131,072.
    """
    decode = [g for g in plan.graphs if g.kind == "decode"]
    if cfg.decode_batch_weights:
        raw = dict(sorted(cfg.decode_batch_weights.items()))
    else:
        raw = {b: 1.0 for b in sorted({g.batch for g in decode})}
    if not raw:
        raise InferplanError("decode_buckets", [], "padding needs decode buckets")
    total = sum(raw.values())
    cap = cfg.max_batch_context or max(g.batch * g.attn for g in decode)
    return DecodeModel(tuple(raw), tuple(w / total for w in raw.values()),
                       cfg.decode_grouping or plan.version.decode_grouping, cap)


def plan_buckets(cfg: BucketConfig, model: ModelSpec, chip: ChipSpec | None = None,
                 dist: LengthDistribution | None = None, step_time: StepTimeFn | None = None,
                 max_graphs: int | None = None, tp: int | None = None, optimise: bool = True,
                 respect_evidence: bool = True, split: Split = "keep",
                 rules: FuriosaRules | None = None, objective: Objective | None = None
                 ) -> BucketsResult:
    """Enumerate, size and rank the graphs; price padding; suggest a better set.

    With `step_time` (or, without it, a `chip` to run `cost.step_cost` on) padding is also
    priced in seconds; `objective` ("flops" or "time", default the config's) is what the
    suggestion minimises.
    """
    rules = rules or furiosa_rules()
    plan = enumerate_graphs(cfg, model, rules, tp)
    budget = core_budget(plan.tp, rules, cfg.hardware, chip)
    extra = plan.version.compile_kv_extra_blocks
    prints = [graph_footprint(model, g, budget, rules, extra, cfg.activation_dtype,
                              cfg.kv_dtype, cfg.weight_dtype) for g in plan.graphs]
    dist = dist or named_distribution(DEFAULT_DISTRIBUTION)
    cost = flops_cost(model)
    source = None if step_time is None else "caller's step-time model"
    if step_time is None and chip is not None and plan.preset is None:
        step_time = deployment_step_time(bucket_deployment(
            model, chip, plan.tp, cfg.weight_dtype, cfg.kv_dtype, cfg.activation_dtype,
            cfg.efficiency))
        source = f"cost.step_cost on {chip.name}, TP={plan.tp}, {cfg.efficiency}"
    time = None if step_time is None else time_cost(step_time)
    objective = objective or cfg.objective
    limit = risk_limit(rules, budget.fused_pes) if respect_evidence else None
    padding = time_padding = suggestion = None
    dm = DecodeModel((1,), (1.0,), plan.version.decode_grouping, 1)
    if plan.preset is None:
        dm = decode_model_for(cfg, plan)
        padding = evaluate_padding(plan.graphs, dist, dm, cost)
        time_padding = None if time is None else evaluate_padding(plan.graphs, dist, dm, time)
        if optimise:
            suggestion = optimise_furiosa(cfg, model, rules, dist, dm, cost, max_graphs, limit,
                                          plan, plan.tp, split, time, objective)
    return BucketsResult(cfg, model, plan, budget, tuple(rank_by_risk(prints)),
                         deployment_fit(model, budget, cfg.weight_dtype), dist, dm, padding,
                         suggestion, limit, time_padding, source, objective)

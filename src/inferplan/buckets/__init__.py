"""Static-shape bucket planning: the graphs a compiler builds, their risk, padding, and
a better bucket set (furiosa-llm on RNGD; JetStream prefill lengths; vLLM CUDA graphs)."""

from inferplan.buckets.config import BucketConfig, parse_bucket_config
from inferplan.buckets.costs import StepTimeFn
from inferplan.buckets.furiosa_rules import GraphPlan, enumerate_graphs
from inferplan.buckets.graphs import Graph
from inferplan.buckets.lengths import (
    LengthDistribution,
    lengths_from_arrays,
    lengths_from_records,
    named_distribution,
)
from inferplan.buckets.plan import BucketsResult, plan_buckets
from inferplan.buckets.rules import furiosa_rules
from inferplan.buckets.step_time import bucket_deployment, deployment_step_time

__all__ = [
    "BucketConfig", "BucketsResult", "Graph", "GraphPlan", "LengthDistribution", "StepTimeFn",
    "bucket_deployment", "deployment_step_time", "enumerate_graphs", "furiosa_rules",
    "lengths_from_arrays", "lengths_from_records", "named_distribution", "parse_bucket_config",
    "plan_buckets",
]

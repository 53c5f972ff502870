"""The bucket plan of a scenario whose engine compiles static shapes, for the report:
what `inferplan buckets` computes, from a bucket config built off the scenario.

- furiosa-llm: ArtifactBuilder's buckets for the scenario (prefill (1, context), decode
  (running sequences, context), the scenario's tp and dtypes, its chip), their graphs,
  compile risk and padding on the scenario's lengths, and the optimiser's set of at
  most `FURIOSA_MAX_GRAPHS` graphs (`buckets.plan.plan_buckets`).
- JetStream: its default prefill lengths up to the power of two that holds the prompt.
- vLLM on TPU: token-count paddings, powers of two from 16 to the step's token budget.
Both XLA cases are `buckets.xla.plan_jetstream`, priced in FLOPs.

The lengths: uniform in [length_ratio·L, L] for the prompt and the output, as the
scenario's workload states them (`LENGTH_SAMPLES` requests, seeded)."""

from __future__ import annotations

import numpy as np

from inferplan.buckets.config import BucketConfig
from inferplan.buckets.costs import flops_cost
from inferplan.buckets.lengths import LengthDistribution
from inferplan.buckets.plan import plan_buckets
from inferplan.buckets.xla import plan_jetstream
from inferplan.deployment import Deployment, Workload
from inferplan.report.html.buckets_section import BucketPlan

#: Engines whose profiles compile static shapes (scheduler.prompt_steps `buckets`, or XLA).
BUCKETED_ENGINES = ("furiosa-llm", "jetstream", "vllm-tpu")
#: Graphs the furiosa-llm suggestion may use (prefill and decode together).
FURIOSA_MAX_GRAPHS = 8
#: Requests drawn for the length distribution (seed 0).
LENGTH_SAMPLES = 4096
#: The shortest token padding of vLLM on TPU.
TPU_MIN_TOKENS = 16


def scenario_lengths(workload: Workload, samples: int = LENGTH_SAMPLES) -> LengthDistribution:
    """Prompt and output lengths uniform in [ratio·L, L] (vLLM's --random-range-ratio),
    seeded; fixed lengths when the ratio is 1."""
    rng = np.random.default_rng(0)

    def draw(top: int) -> np.ndarray:
        low = max(1, int(np.ceil(workload.length_ratio * top)))
        return rng.integers(low, top + 1, size=samples, dtype=np.int64)

    return LengthDistribution("the scenario's lengths", draw(workload.input_len),
                              draw(workload.output_len))


def powers_of_two(low: int, high: int) -> tuple[int, ...]:
    """low, 2·low, ... up to the first power of two >= high. (16, 100): 16, 32, 64, 128."""
    out = [low]
    while out[-1] < high:
        out.append(out[-1] * 2)
    return tuple(out)


def bucket_plan(deployment: Deployment, workload: Workload, batch: int) -> BucketPlan | None:
    """The scenario's bucket plan, or None when its engine does not compile buckets."""
    engine = deployment.engine.name
    if engine not in BUCKETED_ENGINES:
        return None
    lengths = scenario_lengths(workload)
    model = deployment.model
    if engine == "furiosa-llm":
        context = workload.context_len
        cfg = BucketConfig(
            model=model.name, hardware=deployment.chip.name,
            tensor_parallel_size=deployment.layout.tp,
            prefill_buckets=((1, context),), decode_buckets=((max(batch, 1), context),),
            weight_dtype=deployment.dtypes.weights, kv_dtype=deployment.dtypes.kv,
            activation_dtype=deployment.dtypes.compute, efficiency=deployment.efficiency)
        result = plan_buckets(cfg, model, deployment.chip, lengths,
                              max_graphs=FURIOSA_MAX_GRAPHS, split="free")
        basis = (f"configured: one prefill and one decode bucket at the scenario's "
                 f"{context:,}-token context and {batch} sequences; suggested: the best "
                 f"{FURIOSA_MAX_GRAPHS} graphs for the scenario's lengths "
                 "(`inferplan buckets` on this config).")
        return BucketPlan(deployment.engine.display_name, basis, result)
    prompt_top = int(workload.input_len)
    if engine == "jetstream":
        top = powers_of_two(TPU_MIN_TOKENS, prompt_top + 1)[-1]   # and its BOS token
        xla = plan_jetstream(None, top, lengths, flops_cost(model))
        basis = (f"JetStream's default prefill lengths up to {top:,} tokens (the power of "
                 f"two that holds the scenario's {prompt_top:,}-token prompts and a BOS "
                 "token).")
    else:
        budget = deployment.token_budget
        given = powers_of_two(TPU_MIN_TOKENS, budget)
        xla = plan_jetstream(given, None, lengths, flops_cost(model))
        basis = (f"token-count paddings, powers of two from {TPU_MIN_TOKENS} to the "
                 f"step's {budget:,}-token budget (an assumption of this report), "
                 "priced on the scenario's prompts.")
    return BucketPlan(deployment.engine.display_name, basis, xla)

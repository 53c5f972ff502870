"""Serving-engine profiles as data (`data/engines/*.yaml`): how an engine schedules steps
and what each operation of a step costs on each chip.

A profile has two parts.
- `scheduler`: how prompts enter steps (`mixed`: chunks beside the decodes, vLLM and
  TensorRT-LLM; `prefill_first`: prompt-only steps while decodes wait, SGLang; `buckets`:
  static shapes, furiosa-llm and XLA), the per-step token budget, the running-sequence
  cap, KV admission, CUDA graphs and the all-reduce implementation.
- `ops`: per-chip operation costs (a `default` block, and per-chip blocks laid over it):
  collective latency per call by implementation and group size, GEMM rates and fixed
  costs by dtype, attention floors and rates, elementwise kernels, per-layer and
  per-step host costs. Each block carries `sources` naming the table, doc or code line.

A scenario names a profile (`engine: vllm`) or gives a block with `name`, `version` and
overrides of the scheduler fields (`engine: {name: vllm, max_num_batched_tokens: 2048}`).
Profiles are immutable; an override builds a new one. Nothing here is mutable state.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveInt, ValidationError

from inferplan.units import InferplanError, parse_bundled_yaml, unknown_name_error
from inferplan.validation import first_error

#: The profiles bundled in data/engines (file stem = name).
ENGINE_NAMES = ("generic", "vllm", "sglang", "trtllm", "furiosa-llm", "jetstream", "vllm-tpu")
#: Scheduler fields a scenario's `engine:` block may override.
OVERRIDABLE = ("cuda_graphs", "allreduce", "max_num_batched_tokens", "max_num_seqs",
               "chunked_prefill", "kv_admission", "cuda_graph_max_batch",
               "recv_interval_steps", "frontend_s", "adp_balance_timeout_steps",
               "adp_balance_batching_steps", "moe_exchange", "overlap_scheduling",
               "overlap_speculative", "step_host_s", "step_host_per_sequence_s")
#: Op-cost fields a scenario's `engine:` block may override (on every chip): how the
#: engine builds a model's layers, which differs between an engine's releases.
OVERRIDABLE_OPS = ("linear_attention_gemms", "mxfp4_activations")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __hash__(self) -> int:
        """Hash of the fields that are not dicts (equal profiles have equal such fields,
        hence equal hashes), without serialising the op tables: vLLM's profile hashes
        (name, display_name, version, scheduler, ops_from); a `Scheduler`, its scalars."""
        return hash(tuple(v for v in self.__dict__.values() if not isinstance(v, dict)))


class Scheduler(_Frozen):
    """How the engine forms steps (defaults of the version the profile names). Strict: a
    scenario's override `max_num_seqs: true` or `frontend_s: "0.1"` is refused, not read
    as 1 or 0.1."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    prompt_steps: Literal["mixed", "prefill_first", "buckets", "static"]
    chunked_prefill: bool
    max_num_batched_tokens: int = Field(ge=1)      # per-step token budget
    #: the budget by chip memory where the engine picks it so: {K: V} gives V tokens on
    #: chips of less than K GiB (the smallest K that applies), else max_num_batched_tokens
    #: (`Deployment.token_budget`); an explicit max_num_batched_tokens clears it
    max_num_batched_tokens_by_memory_gib: dict[int, int] = Field(default_factory=dict)
    max_num_seqs: int = Field(ge=1)                # running sequences per replica
    kv_admission: Literal["on_demand", "reserve_full"]
    cuda_graphs: bool
    cuda_graph_max_batch: int = Field(ge=0)        # largest step (tokens) captured in graphs
    #: where the engine sizes its largest capture from max_num_seqs when not told: a
    #: stated max_num_seqs caps cuda_graph_max_batch at this many tokens a sequence (vLLM:
    #: 2, min(2·max_num_seqs, 512); 0: no such rule); a stated cuda_graph_max_batch wins
    cuda_graph_tokens_per_sequence: int = Field(default=0, ge=0)
    #: steps carrying prompt tokens replay graphs too (vLLM's piecewise graphs, by token
    #: count up to cuda_graph_max_batch); False: any prompt-carrying step runs eagerly
    prompt_graphs: bool = False
    #: what cuda_graph_max_batch counts: `tokens` (vLLM's capture sizes) or `sequences`
    #: (SGLang --cuda-graph-max-bs, TensorRT-LLM cuda_graph_config.max_batch_size: a
    #: speculative verify step of B sequences × (γ + 1) tokens replays the graph of B)
    cuda_graph_unit: Literal["tokens", "sequences"] = "tokens"
    #: the scheduler takes new requests only every this many decode-only steps
    #: (SGLang --scheduler-recv-interval; 1: every step, the default of every engine)
    recv_interval_steps: int = Field(default=1, ge=1)
    #: seconds a request spends outside the engine's steps on its way to its first token
    #: at the client (HTTP and JSON, tokenisation, hand-off to the engine core, output
    #: processing, detokenisation, the stream write): added to every TTFT and e2e; it
    #: overlaps the engine's work on other requests, so it does not load the steps
    frontend_s: float = Field(default=0.0, ge=0, le=10)
    #: attention data parallelism with TensorRT-LLM's context balancing
    #: (`attention_dp_config.enable_balance`): a new prompt waits until every attention-DP
    #: rank holds one, at most this many iterations (`timeout_iters`); 0: no balancing
    adp_balance_timeout_steps: int = Field(default=0, ge=0, le=100_000)
    #: ... and once every rank holds one, this many iterations more (`batching_wait_iters`)
    adp_balance_batching_steps: int = Field(default=0, ge=0, le=100_000)
    #: with attention data parallelism, what max_num_seqs and max_num_batched_tokens count:
    #: `per_rank` (each rank's scheduler has its own: vLLM's DP engine cores, TensorRT-LLM's
    #: max_batch_size/max_num_tokens) or `replica` (one setting split over the ranks:
    #: SGLang divides --max-running-requests and --chunked-prefill-size by dp_size)
    attention_dp_limits: Literal["per_rank", "replica"] = "per_rank"
    #: how an expert layer's tokens reach experts spread over attention-DP ranks: `gather`
    #: (every rank gathers all tokens before the MoE and reduce-scatters after: vLLM's
    #: allgather_reducescatter backend, SGLang's dp gather, TensorRT-LLM's all-gather +
    #: reduce-scatter) or `all_to_all` (each rank dispatches its own tokens' top-k copies
    #: and combines them back: DeepEP, pplx, TensorRT-LLM's MNNVL all-to-all); dense MLP
    #: and shared experts then run on each rank's own tokens
    moe_exchange: Literal["gather", "all_to_all"] = "gather"
    #: the host schedules step j + 1 while step j runs on the device (TensorRT-LLM's
    #: overlap scheduler, SGLang's overlap schedule, vLLM's async scheduling): a request
    #: that arrives while step j runs misses step j + 1, already composed, and starts in
    #: step j + 2, one step later than without it; an idle engine takes it at once
    overlap_scheduling: bool = False
    #: ... under speculative decoding: kept with any draft (`any`), only with the target's
    #: own MTP module (`mtp`: vLLM turns async scheduling off for other methods), or
    #: never (`none`: SGLang turns its overlap schedule off for speculative decoding);
    #: `deployment.overlap_scheduling` reads both
    overlap_speculative: Literal["any", "mtp", "none"] = "any"
    #: host seconds of one engine step outside the forward pass (scheduling, input
    #: preparation, sampling and output processing): step_host_s + step_host_per_sequence_s
    #: · running sequences; a step waits for it where the engine does not overlap it
    #: (`overlap_scheduling` false, `cost.synchronous_host_s`), else it hides behind the
    #: previous step
    step_host_s: float = Field(default=0.0, ge=0)
    step_host_per_sequence_s: float = Field(default=0.0, ge=0)
    allreduce: Literal["custom", "nccl", "xla"]
    sources: dict[str, str]


class OpCosts(_Frozen):
    """What one operation costs on one chip (seconds, fractions of the datasheet peak).

    Rates: a GEMM runs at max(FLOPs / (peak · compute fraction), weight bytes /
    (HBM peak · memory fraction)) + `gemm_overlap_loss` · the smaller + a fixed cost
    per GEMM. `gemm_compute_fraction` is of the dense peak; a profile without it runs
    GEMMs at the MAMF ceiling of data/efficiency.yaml times `gemm_fraction_of_ceiling`.
    """

    allreduce_latency_s: dict[str, dict[int, float]] = Field(default_factory=dict)
    #: measured seconds of one all-reduce call by implementation, group size and message
    #: bytes (a per-op table's curve; between its sizes interpolated, see Efficiency)
    allreduce_curve_s: dict[str, dict[int, dict[int, float]]] = Field(default_factory=dict)
    link_efficiency: float | None = Field(default=None, gt=0, le=1)
    #: large-message efficiency per group size (above 1 where the switch reduces in place)
    link_efficiency_by_p: dict[int, float] = Field(default_factory=dict)
    gemm_compute_fraction: dict[str, float] = Field(default_factory=dict)
    #: by GEMM dtype, {n: ..., k: ...}: the compute fraction at an N x K weight is
    #: gemm_compute_fraction · N/(N + n) · K/(K + k) (`cost.gemm_shape_factor`); none
    #: stated: the fraction whatever the shape
    gemm_half_width: dict[str, dict[Literal["n", "k"], NonNegativeFloat]] = Field(
        default_factory=dict)
    gemm_fraction_of_ceiling: dict[str, float] = Field(default_factory=dict)
    gemm_memory_fraction: dict[str, float] = Field(default_factory=dict)
    gemm_fixed_s: dict[str, float] = Field(default_factory=dict)
    gemm_overlap_loss: float = Field(default=0.0, ge=0, le=1)
    #: a fused MoE layer (routed experts' gate-up, activation, down) by expert dtype: a fixed
    #: cost and the expert weights' streaming rate; none stated: two grouped GEMMs
    moe_fixed_s: dict[str, float] = Field(default_factory=dict)
    moe_memory_fraction: dict[str, float] = Field(default_factory=dict)
    #: the fused MoE op at many tokens, by expert dtype: FLOP/s per device at full width,
    #: reached as F·n/(n + n_half) for an expert split to n local columns; none stated:
    #: the routed experts' FLOPs run at the GEMMs' rate
    moe_flops_per_s: dict[str, float] = Field(default_factory=dict)
    moe_half_width: dict[str, float] = Field(default_factory=dict)
    #: by expert-parallel size ep > 1: how much slower that fused MoE op runs when its
    #: experts are split over ep ranks and routing is uneven (the fullest rank sets the
    #: step; `cost.expert_ep_imbalance`); none stated: 1
    moe_ep_imbalance: dict[PositiveInt, Annotated[float, Field(ge=1)]] = Field(
        default_factory=dict)
    attention_dtype_bits: int = 16
    attention_fixed_s: float = Field(default=0.0, ge=0)
    #: a linear-attention (Gated DeltaNet) layer's prefill kernels: a fixed time per step
    #: that carries prompt tokens, plus seconds per prompt token and value head on the
    #: rank (`cost.linear_attention_prefill_s`); 0: priced by their FLOPs
    linear_attention_fixed_s: float = Field(default=0.0, ge=0)
    linear_attention_s_per_token_head: float = Field(default=0.0, ge=0)
    #: kernels a linear-attention layer's attention launches when a prefill runs eagerly
    #: (the chunked gated-delta-rule chain with its convolution, gating and norms), each a
    #: host dispatch (`cost.eager_ops_per_layer`); 1 where unstated (one attention kernel)
    linear_attention_eager_kernels: int = Field(default=1, ge=1)
    #: GEMM launches of a linear-attention layer's projections, its output's included, as
    #: the engine builds the layer (separate or merged input projections); 2 where unstated
    #: (counted as QKV and O)
    linear_attention_gemms: int = Field(default=2, ge=2)
    #: operations a sparse (DeepSeek sparse attention) layer's attention dispatches when a
    #: prefill runs eagerly: its attention kernel and its indexer's (`cost.eager_ops_per_layer`);
    #: 1 where unstated
    sparse_attention_eager_kernels: int = Field(default=1, ge=1)
    #: the activations an MXFP4 checkpoint's experts multiply with (`efficiency.expert_kernel`):
    #: "mxfp8" picks the MoE constants keyed "mxfp4_mxfp8" where the chip has them, "bf16"
    #: (or none such) those keyed "mxfp4"
    mxfp4_activations: Literal["bf16", "mxfp8"] = "bf16"
    attention_memory_fraction: float | None = Field(default=None, gt=0, le=1)
    attention_compute_fraction: float | None = Field(default=None, gt=0, le=1)
    elementwise_ops_per_layer: int = Field(default=0, ge=0)
    elementwise_fixed_s: float = Field(default=0.0, ge=0)
    elementwise_memory_fraction: float = Field(default=0.8, gt=0, le=1)
    per_layer_s: float = Field(default=0.0, ge=0)
    per_collective_s: float = Field(default=0.0, ge=0)
    per_step_s: float = Field(default=0.0, ge=0)
    #: host time per dispatched operation of a forward run outside CUDA graphs (Python
    #: and framework dispatch of each kernel: `cost.eager_ops_per_layer` counts them),
    #: which the step waits for
    eager_op_host_s: float = Field(default=0.0, ge=0)
    sources: dict[str, str] = Field(default_factory=dict)


class EngineProfile(_Frozen):
    """One serving engine at one version: its scheduler and per-chip op costs."""

    name: str
    display_name: str
    version: str
    scheduler: Scheduler
    ops: dict[str, OpCosts] = Field(default_factory=dict)
    #: another bundled profile whose `ops` this one uses (an engine without op tables of
    #: its own, priced with the generic fitted costs)
    ops_from: str | None = None

    def ops_for(self, chip: str) -> OpCosts:
        """The op costs on `chip`: its own block laid over `default` (field by field,
        dict fields merged key by key)."""
        base = self.ops["default"]
        own = self.ops.get(chip)
        if own is None:
            return base
        merged: dict[str, Any] = base.model_dump()
        for key in own.model_fields_set:
            value = getattr(own, key)
            merged[key] = {**merged[key], **value} if isinstance(value, dict) else value
        return OpCosts.model_validate(merged)

    def with_overrides(self, overrides: Mapping[str, Any]) -> EngineProfile:
        """A copy with scheduler fields replaced, and `OVERRIDABLE_OPS` fields set on every
        chip's op costs (validated like the profile itself)."""
        if not overrides:
            return self
        op_fields = {k: v for k, v in overrides.items() if k in OVERRIDABLE_OPS}
        overrides = {k: v for k, v in overrides.items() if k not in OVERRIDABLE_OPS}
        profile = self
        if op_fields:
            try:
                ops = {chip: OpCosts.model_validate({**block.model_dump(
                    exclude_unset=chip != "default"), **op_fields})
                    for chip, block in self.ops.items()}
            except ValidationError as exc:
                raise first_error(exc, "engine") from None
            profile = self.model_copy(update={"ops": ops})
        if not overrides:
            return profile
        fields = {**self.scheduler.model_dump(), **overrides}
        if "max_num_batched_tokens" in overrides:      # the stated budget, on every chip
            fields["max_num_batched_tokens_by_memory_gib"] = {}
        per_sequence = self.scheduler.cuda_graph_tokens_per_sequence
        seqs = overrides.get("max_num_seqs")
        if per_sequence and isinstance(seqs, int) and not isinstance(seqs, bool) \
                and "cuda_graph_max_batch" not in overrides:
            # the engine's own capture size follows the stated cap on running sequences
            fields["cuda_graph_max_batch"] = min(self.scheduler.cuda_graph_max_batch,
                                                 per_sequence * seqs)
        try:
            scheduler = Scheduler.model_validate(fields)
        except ValidationError as exc:
            raise first_error(exc, "engine") from None
        return profile.model_copy(update={"scheduler": scheduler})


def _read_profile(name: str) -> EngineProfile:
    path = resources.files("inferplan") / "data" / "engines" / f"{name}.yaml"
    data = parse_bundled_yaml(path.read_text("utf-8"))
    try:
        profile = EngineProfile.model_validate(data)
    except ValidationError as exc:
        raise first_error(exc, f"data/engines/{name}.yaml") from None
    if profile.ops_from is not None:
        profile = profile.model_copy(update={"ops": engine_profile(profile.ops_from).ops})
    tables = resources.files("inferplan") / "data" / "engines" / "tables" / f"{name}.yaml"
    if tables.is_file():
        profile = profile.model_copy(update={"ops": {**profile.ops, **measured_ops(
            parse_bundled_yaml(tables.read_text("utf-8")), f"data/engines/tables/{name}.yaml")}})
    if "default" not in profile.ops:
        raise InferplanError(f"data/engines/{name}.yaml", "ops", "needs a 'default' block")
    return profile


def measured_ops(tables: Mapping[str, Any], origin: str) -> dict[str, OpCosts]:
    """Per-chip op costs derived from per-op microbenchmark tables by
    `tools/derive_op_constants.py` (aiconfigurator-core's per-op parquet tables): its
    `chips` blocks, each validated as `OpCosts` with the table version in its sources."""
    out: dict[str, OpCosts] = {}
    for chip, block in dict(tables.get("chips", {})).items():
        fields = dict(block)
        fields["sources"] = {**fields.get("sources", {}), "tables": str(tables.get("tables", ""))}
        try:
            out[str(chip)] = OpCosts.model_validate(fields)
        except ValidationError as exc:
            raise first_error(exc, f"{origin}.chips.{chip}") from None
    return out


@cache
def engine_profile(name: str) -> EngineProfile:
    """The bundled profile `name` (an unknown name lists the known ones)."""
    if name not in ENGINE_NAMES:
        raise unknown_name_error("engine", name, list(ENGINE_NAMES))
    return _read_profile(name)


def resolve_engine(spec: str | Mapping[str, Any] | None) -> EngineProfile:
    """A scenario's `engine:` value → a profile: a name, or a block with `name`, an
    optional `version` (must match the profile's) and scheduler overrides; None → generic.
    """
    if spec is None:
        return engine_profile("generic")
    if isinstance(spec, str):
        return engine_profile(spec)
    if not isinstance(spec, Mapping):
        raise InferplanError("engine", spec, "a name or a mapping with 'name'")
    block = dict(spec)
    name = block.pop("name", None)
    if not isinstance(name, str):
        raise InferplanError("engine.name", name, f"allowed: {', '.join(ENGINE_NAMES)}")
    profile = engine_profile(name)
    version = block.pop("version", None)
    if version is not None and str(version) != profile.version:
        raise InferplanError("engine.version", version,
                             f"the bundled {name} profile is version {profile.version}")
    unknown = [k for k in block if k not in OVERRIDABLE + OVERRIDABLE_OPS]
    if unknown:
        raise InferplanError(f"engine.{unknown[0]}", block[unknown[0]],
                             f"overridable fields: {', '.join(OVERRIDABLE + OVERRIDABLE_OPS)}")
    return profile.with_overrides(block)

"""`Deployment` and `Workload`: the plain, immutable data every model downstream reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

from inferplan.engines import EngineProfile, engine_profile
from inferplan.hardware import ChipSpec, Topology
from inferplan.lengths import Distribution, length_caps, mean_length
from inferplan.models import ModelSpec
from inferplan.parallel import Layout, check_degrees, check_layout
from inferplan.units import InferplanError, dtype_bytes, parse_bundled_yaml

Efficiency = Literal["ideal", "realistic"]


@dataclass(frozen=True)
class Dtypes:
    """Storage dtype of weights, routed-expert weights (None: as the weights) and KV
    cache; arithmetic dtype of the matmuls; storage dtype of the attention projections
    (None: as the weights) and of the attention's output projection (None: as the other
    attention projections). A quantised checkpoint that leaves its attention unquantised
    (NVIDIA's NVFP4 MoE checkpoints: `exclude_modules` self_attn) is weights fp4,
    attention bf16."""

    weights: str = "bf16"
    kv: str = "bf16"
    compute: str = "bf16"
    experts: str | None = None
    attention: str | None = None
    attention_output: str | None = None

    @property
    def expert_weights(self) -> str:
        """The routed experts' storage dtype: `experts`, else `weights`."""
        return self.experts if self.experts is not None else self.weights

    @property
    def attention_weights(self) -> str:
        """The attention projections' storage dtype: `attention`, else `weights`."""
        return self.attention if self.attention is not None else self.weights

    @property
    def attention_output_weights(self) -> str:
        """The attention output projection's storage dtype: `attention_output`, else
        `attention_weights`."""
        return (self.attention_output if self.attention_output is not None
                else self.attention_weights)

    @property
    def weights_label(self) -> str:
        """The weights' dtype as a report states it, with the parts stored otherwise:
        'fp4'; DeepSeek-R1 NVFP4 v2: 'fp4 (attention bf16, O proj fp4)'; Mixtral with int4
        experts: 'bf16 (experts int4)'."""
        parts = [f"{name} {value}" for name, value, base in (
            ("experts", self.expert_weights, self.weights),
            ("attention", self.attention_weights, self.weights),
            ("O proj", self.attention_output_weights, self.attention_weights))
            if value != base]
        return self.weights + (f" ({', '.join(parts)})" if parts else "")

    @property
    def own_attention(self) -> bool:
        """Whether the attention projections are stored apart from the weights."""
        return self.attention is not None or self.attention_output is not None

    @property
    def attention_gemms(self) -> tuple[tuple[str, str, str], ...]:
        """(field, storage dtype, GEMM dtype) of the attention projections and their output
        projection where stored apart from the weights (`projection_compute`); empty
        otherwise. fp4 weights and compute, attention bf16: (('attention', 'bf16', 'bf16'),
        ('attention_output', 'bf16', 'bf16'))."""
        if not self.own_attention:
            return ()
        return (("attention", self.attention_weights,
                 projection_compute(self.attention_weights, self.compute)),
                ("attention_output", self.attention_output_weights,
                 projection_compute(self.attention_output_weights, self.compute)))


def check_attention_gemms(dtypes: Dtypes, chip: ChipSpec) -> None:
    """Raise `InferplanError` (field `dtypes.attention` or `dtypes.attention_output`) when
    the attention's own GEMM dtype (`Dtypes.attention_gemms`) is one the chip has no rate
    for: attention fp32 on a B200 (bf16, fp16, fp8, int8, fp4)."""
    for name, storage, gemm in dtypes.attention_gemms:
        if gemm not in chip.peak_flops_per_s:
            raise InferplanError(f"dtypes.{name}", storage,
                                 f"its GEMMs would run in {gemm}, which {chip.name} has no "
                                 f"rate for; it has {', '.join(chip.peak_flops_per_s)}")


def projection_compute(storage: str, compute: str) -> str:
    """The arithmetic dtype of GEMMs whose weights are stored at `storage` in a deployment
    computing at `compute`: the wider of the two (a bf16-stored projection in an fp4
    deployment runs a bf16 GEMM, as the engines load an excluded module unquantised; a
    narrower one is dequantised to `compute`). (bf16, fp4): bf16; (int4, bf16): bf16."""
    wider = dtype_bytes(storage, "dtypes.attention") > dtype_bytes(compute, "dtypes.compute")
    return storage if wider else compute


@dataclass(frozen=True)
class Workload:
    """Request shape: prompt and output lengths, and either a static batch or a
    closed-loop concurrency per replica (None where not given)."""

    input_len: int
    output_len: int
    batch: int | Literal["max"] | None = None
    concurrency: int | None = None
    prefill_chunk_tokens: int | None = None
    #: lengths uniform in [length_ratio·L, L] (vLLM's --random-range-ratio); 1: fixed
    length_ratio: float = 1.0
    #: how lengths are drawn (`inferplan.lengths`): `uniform` (with `length_ratio`), or
    #: `normal`, `lognormal`, `exponential` of mean input_len / output_len, clipped to
    #: [1, the model's limits]
    length_distribution: Distribution = "uniform"
    #: the coefficient of variation σ/mean of a normal or lognormal distribution
    length_cv: float | None = None
    #: the model's context in tokens (input + output), which bounds drawn lengths; set
    #: from the model by `scenario.build_deployment` (None: the scenario's limits only)
    max_context_tokens: int | None = None
    #: mean prompt and output tokens of a lengths file a closed loop replays (`trace`
    #: with `concurrency`), set where the file is read; None: from the distribution
    file_mean_lengths: tuple[float, float] | None = None
    #: share of each prompt's tokens already in the engine's prefix cache (vLLM's
    #: automatic prefix caching, SGLang's radix cache): held in the KV cache and attended
    #: to, never computed
    prefix_hit_rate: float = 0.0
    #: requests a closed-loop benchmark sends in all (None: 10 per client, InferenceX)
    requests: int | None = None
    #: open-loop arrivals (simulated): requests/s per replica, Poisson or gamma with the
    #: given burstiness (the gamma shape; 1 is Poisson, as vLLM's --burstiness); or
    #: `offline`: every request at t = 0 (MLPerf Offline)
    rate: float | None = None
    arrival: Literal["poisson", "gamma", "offline"] = "poisson"
    burstiness: float = 1.0
    #: a trace file of requests (send time, input and output tokens), simulated; the
    #: lengths above size the memory
    trace: str | None = None
    #: how an open loop's arrivals reach the dp replicas (`sim.fleet`): in turn, or to the
    #: replica with the fewest requests in flight
    router: Literal["round_robin", "least_loaded"] = "round_robin"
    #: warm-up requests a closed-loop benchmark client runs, and waits for, before its
    #: measured requests (vLLM's --num-warmups; `sim.run.warmup_run`)
    warmup: int = 0

    @property
    def mean_input_len(self) -> float:
        """Mean prompt tokens: uniform L_in·(1 + ratio)/2 (1024 at ratio 0.8: 921.6); a
        named distribution's mean as drawn, clipped to [1, the prompt cap]
        (`lengths.clipped_mean`: normal 100 at cv 1: 108.49); a lengths file's mean."""
        if self.file_mean_lengths is not None:
            return self.file_mean_lengths[0]
        return mean_length(self.length_distribution, self.input_len, self.length_ratio,
                           self.length_cv, length_caps(self.max_context_tokens)[0])

    @property
    def mean_output_len(self) -> float:
        """Mean output tokens: uniform L_out·(1 + ratio)/2; a named distribution's
        clipped mean (its cap, the context less one token; the draw's further hold to
        what each prompt leaves of the context is not in it: it binds only where a
        prompt and its output together pass the context, for lognormal 1,024/1,024 at
        cv 1 in a 40,960-token context about one request in 750,000); a lengths file's mean."""
        if self.file_mean_lengths is not None:
            return self.file_mean_lengths[1]
        return mean_length(self.length_distribution, self.output_len, self.length_ratio,
                           self.length_cv, length_caps(self.max_context_tokens)[1])

    @property
    def fixed_lengths(self) -> bool:
        """Every request has the same lengths: uniform at ratio 1, no lengths file."""
        return (self.length_distribution == "uniform" and self.length_ratio >= 1.0
                and self.file_mean_lengths is None)

    @property
    def mean_computed_input_len(self) -> float:
        """Mean prompt tokens an engine computes: those not in its prefix cache,
        S̄·(1 − h). 1024 at hit rate 0.75: 256."""
        return self.mean_input_len * (1.0 - self.prefix_hit_rate)

    @property
    def mean_cached_input_len(self) -> float:
        """Mean prompt tokens found in the prefix cache, S̄·h. 1024 at 0.75: 768."""
        return self.mean_input_len * self.prefix_hit_rate

    @property
    def context_len(self) -> int:
        """Tokens a sequence holds in the KV cache at its end: input + output."""
        return self.input_len + self.output_len


#: How far the draft's vocabulary size may differ from the target's: embedding tables are
#: padded (Qwen2.5-72B 152,064 beside Qwen2.5-0.5B 151,936, 0.08%); another tokenizer
#: (Llama 2's 32,000 beside Llama 3's 128,256) cannot verify the target's tokens.
VOCAB_TOLERANCE = 0.005


def scale_out_problem(topology: Topology, layout: Layout) -> str | None:
    """Why the layout's communication cannot be placed on `topology`, or None: a slice over
    several scale-up domains whose chip has no scale-out network can run replicas (dp)
    apart, but not a pipeline (its stage boundaries cross the domains, as `cost` places
    them) nor a tensor- or expert-parallel group larger than one domain.

    8 L40S over PCIe (one domain of 8): 16 chips at tp 8, dp 2 run; pp 2 does not.
    """
    chip = topology.chip
    if topology.domains <= 1 or chip.scale_out is not None:
        return None
    domain = chip.scale_up.max_chips
    cores = chip.cores_per_chip
    widest = max(layout.tp, layout.ep) // cores
    if layout.pp > 1 or widest > domain:
        what = "a pipeline" if layout.pp > 1 else f"a group of {widest} chips"
        return (f"{topology.chips} {chip.name} span {topology.domains} scale-up domains of "
                f"{domain} and the chip has no scale-out network: {what} cannot cross them")
    return None


def check_draft(target: ModelSpec, draft: ModelSpec, chip: ChipSpec, layout: Layout,
                chips: int, field_name: str = "draft") -> None:
    """A draft must share the target's tokenizer (vocabularies within VOCAB_TOLERANCE) and
    run with the target's layout on its chips; else `InferplanError` naming `field_name`."""
    v_draft, v_target = draft.vocab_size, target.vocab_size
    if abs(v_draft - v_target) > VOCAB_TOLERANCE * v_target:
        raise InferplanError(field_name, draft.name,
                             f"its vocabulary ({v_draft:,} tokens) is not the target's "
                             f"({target.name}: {v_target:,}); a draft must share the "
                             "target's tokenizer")
    try:
        check_layout(draft, chip, layout, chips)
    except InferplanError as exc:
        raise InferplanError(field_name, draft.name,
                             f"must run with the target's layout: {exc.field}: "
                             f"{exc.allowed}") from None


def overlap_scheduling(deployment: Deployment, draft: ModelSpec | None = None) -> bool:
    """Whether the engine composes step j + 1 while step j runs: its profile's
    `scheduler.overlap_scheduling`, and under speculative decoding its
    `overlap_speculative`: `any` draft, only the target's own MTP module (`mtp`:
    `<model>-mtp`, `models.mtp_draft`), or `none`. The draft is `draft`, else the
    deployment's `speculative.draft`. vLLM with a Llama-3.2-1B draft: False; with
    DeepSeek-R1's MTP module: True; SGLang with either: False."""
    sched = deployment.engine.scheduler
    if not sched.overlap_scheduling:
        return False
    if draft is None and deployment.speculative is not None:
        draft = deployment.speculative.draft
    if draft is None or sched.overlap_speculative == "any":
        return True
    return (sched.overlap_speculative == "mtp"
            and draft.name == f"{deployment.model.name}-mtp")


@dataclass(frozen=True)
class SpeculativeDecoding:
    """Decoding with a draft: each cycle the draft proposes γ tokens one pass at a time and
    the target verifies them in one pass; each proposed token is accepted with
    probability α (an assumption the user states, or a published acceptance rate).
    The draft runs on the target's chips with its layout (`speculative.draft_deployment`).
    """

    draft: ModelSpec
    gamma: int
    alpha: float


@dataclass(frozen=True)
class Deployment:
    """One model on one set of chips with one layout, dtypes and efficiency mode."""

    model: ModelSpec
    chip: ChipSpec
    topology: Topology
    layout: Layout
    dtypes: Dtypes
    efficiency: Efficiency = "realistic"
    memory_utilization: float | None = None
    price_usd_per_chip_hour: float | None = None
    #: the serving engine: its scheduler and per-op costs (`inferplan.engines`)
    engine: EngineProfile = field(default_factory=lambda: engine_profile("generic"))
    #: the `inferplan.steptime.StepTimeModel` that prices its steps (None: the analytic
    #: roofline under `engine`; a calibration plugs in here)
    step_time: object | None = None
    #: speculative decoding (None: plain); the closed loop decodes in draft-and-verify
    #: cycles (`serving.closed_loop`)
    speculative: SpeculativeDecoding | None = None

    def __post_init__(self) -> None:
        """However it is built (a scenario, a search point, a bucket plan, a draft beside
        its target), a deployment's degrees fill its devices and its chip computes in its
        compute dtype; the model's own rules for the layout are `parallel.check_layout`'s
        and `partitioning`'s."""
        check_degrees(self.chip, self.layout, self.topology.chips)
        if self.speculative is not None:
            check_draft(self.model, self.speculative.draft, self.chip, self.layout,
                        self.topology.chips, "speculative.draft")
        if self.dtypes.compute not in self.chip.peak_flops_per_s:
            raise InferplanError(
                "dtypes.compute", self.dtypes.compute,
                f"{self.chip.name} computes in {', '.join(self.chip.peak_flops_per_s)}")

    @property
    def chips(self) -> int:
        return self.topology.chips

    @property
    def usable_fraction(self) -> float:
        """Fraction of memory the engine may plan for: 1 when ideal, else the scenario's
        `memory_utilization` or the engine default."""
        if self.memory_utilization is not None:
            return self.memory_utilization
        if self.efficiency == "ideal":
            return 1.0
        return float(engine_defaults()["memory_utilization"])

    @property
    def token_budget(self) -> int:
        """The engine's per-step token budget on this chip: its
        `max_num_batched_tokens_by_memory_gib` entry for the chip's memory where one
        applies, else `max_num_batched_tokens`. SGLang (chunked_prefill_size by GPU
        memory): 8,192 on an H100 (74.5 GiB) or H200 (131 GiB), 16,384 on a B200 (168 GiB).
        """
        sched = self.engine.scheduler
        gib = self.chip.memory_bytes / 2**30
        for below, tokens in sorted(sched.max_num_batched_tokens_by_memory_gib.items()):
            if gib < below:
                return tokens
        return sched.max_num_batched_tokens

    def rank_token_budget(self, chunk_tokens: int | None = None) -> float:
        """Tokens one attention-DP rank's step may take: `chunk_tokens` (a workload's
        prefill_chunk_tokens) or the engine's budget on this chip (`token_budget`), per
        rank where the engine's limit is per rank, else split over the ranks (`scheduler.
        attention_dp_limits: replica`, SGLang), at least 1. SGLang's 8192 on H100s over 8
        ranks: 1024 (16,384 on B200s: 2048); TensorRT-LLM's 8192 with 8 ranks: 8192 (the
        replica takes 8·8192)."""
        sched = self.engine.scheduler
        budget = float(chunk_tokens or self.token_budget)
        if sched.attention_dp_limits == "replica":
            budget = max(budget / self.layout.attention_dp_ranks(self.model), 1.0)
        return budget

    @property
    def max_running_sequences(self) -> int:
        """The engine's cap on sequences running in one replica: `max_num_seqs` per
        scheduler, and attention data parallelism runs one scheduler per rank. Where the
        engine's limit is per rank (`scheduler.attention_dp_limits`: TensorRT-LLM's
        max_batch_size is per attention-DP rank, ai-dynamo/dynamo PR #11982 tracing its
        PyTorch executor; vLLM's DP engine cores) the replica runs ranks × max_num_seqs;
        SGLang splits one --max-running-requests over its DP workers (PR #20063).
        Auto-chosen batch sharding (tp above the KV heads) is one scheduler.

        TensorRT-LLM (2048 a rank), DeepSeek-R1 at tp 8 with 8 DP-attention ranks:
        16,384; SGLang (1024): 1024.
        """
        sched = self.engine.scheduler
        ranks = self.layout.attention_dp_ranks(self.model)
        return sched.max_num_seqs * (ranks if sched.attention_dp_limits == "per_rank" else 1)

    @property
    def price(self) -> float | None:
        """USD per chip-hour: the scenario's override, else the catalog's."""
        return self.price_usd_per_chip_hour or self.chip.price_usd_per_chip_hour


@cache
def engine_defaults() -> dict[str, Any]:
    """Sourced engine defaults from `data/engine_defaults.yaml`."""
    text = (resources.files("inferplan") / "data" / "engine_defaults.yaml").read_text("utf-8")
    data: dict[str, Any] = parse_bundled_yaml(text)
    return data

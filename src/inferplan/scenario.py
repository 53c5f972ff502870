"""The scenario file: validation of a user's deployment description.

The CLI reads the file; this module validates the mapping and builds a `Deployment`
and a `Workload`. Model and hardware references are resolved by callables the CLI
passes in (a catalog name or a path it reads), so no file is opened here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from inferplan.deployment import (
    Deployment,
    Dtypes,
    SpeculativeDecoding,
    Workload,
    check_attention_gemms,
)
from inferplan.engines import resolve_engine
from inferplan.hardware import ChipSpec, parse_shape, topology_for
from inferplan.lengths import MAX_INPUT_TOKENS, MAX_OUTPUT_TOKENS, WITH_CV
from inferplan.models import ModelSpec, mtp_draft
from inferplan.parallel import LAYOUTS, Layout, check_layout
from inferplan.units import DTYPES, InferplanError
from inferplan.validation import validated


class _Strict(BaseModel):
    """Integers are integers (`chips: true` is not 1, `tp: 2.0` not 2); numbers are finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ParallelismIn(_Strict):
    tp: StrictInt = Field(default=1, ge=1)
    pp: StrictInt = Field(default=1, ge=1)
    dp: StrictInt | Literal["auto"] = "auto"
    ep: StrictInt = Field(default=1, ge=1)
    layout: str = "auto"
    attention: Literal["auto", "heads", "batch"] = "auto"
    #: data-parallel attention ranks inside the tp group (engines' DP attention)
    attention_dp: StrictInt = Field(default=1, ge=1)

    @field_validator("layout")
    @classmethod
    def _layout(cls, v: str) -> str:
        if v not in LAYOUTS:
            raise ValueError(f"allowed: {', '.join(LAYOUTS)}")
        return v

    @field_validator("dp")
    @classmethod
    def _dp(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("must be a positive integer or 'auto'")
        return v


class DtypesIn(_Strict):
    weights: str = "bf16"
    kv: str = "bf16"
    compute: str = "bf16"
    experts: str | None = None     # routed-expert weights; default: as `weights`
    attention: str | None = None   # attention projections; default: as `weights`
    attention_output: str | None = None   # attention output projection; default: `attention`

    @field_validator("weights", "kv", "compute", "experts", "attention", "attention_output")
    @classmethod
    def _known(cls, v: str | None) -> str | None:
        if v is not None and v not in DTYPES:
            raise ValueError(f"allowed: {', '.join(DTYPES)}")
        return v


class SpeculativeIn(_Strict):
    """`speculative:` — decode with a draft: `draft` a catalog model sharing the target's
    tokenizer, or `mtp` (the checkpoint's multi-token-prediction module,
    `models.mtp_draft`); γ draft tokens a cycle; α the per-token acceptance rate."""

    draft: str
    gamma: StrictInt = Field(ge=1, le=64)
    alpha: float = Field(ge=0, le=1)


class WorkloadIn(_Strict):
    input_len: StrictInt = Field(ge=1, le=MAX_INPUT_TOKENS)
    output_len: StrictInt = Field(ge=1, le=MAX_OUTPUT_TOKENS)
    batch: StrictInt | Literal["max"] | None = None
    concurrency: StrictInt | None = Field(default=None, ge=1)
    prefill_chunk_tokens: StrictInt | None = Field(default=None, ge=1)
    length_distribution: Literal["uniform", "normal", "lognormal", "exponential"] = "uniform"
    length_ratio: float = Field(default=1.0, gt=0, le=1)
    length_cv: float | None = Field(default=None, gt=0, validate_default=True)
    prefix_hit_rate: float = Field(default=0.0, ge=0, lt=1)
    requests: StrictInt | None = Field(default=None, ge=1)
    rate: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    arrival: Literal["poisson", "gamma", "offline"] = "poisson"
    burstiness: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    trace: str | None = None
    router: Literal["round_robin", "least_loaded"] = "round_robin"
    warmup: int = Field(default=0, ge=0)

    @field_validator("batch")
    @classmethod
    def _batch(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, int) and v < 1:
            raise ValueError("must be a positive integer or 'max'")
        return v

    @field_validator("length_ratio")
    @classmethod
    def _ratio(cls, v: float, info: ValidationInfo) -> float:
        dist = info.data.get("length_distribution", "uniform")
        if v < 1.0 and dist != "uniform":
            raise ValueError(f"1 with length_distribution {dist}: the ratio spreads "
                             "uniform lengths; give length_cv for normal or lognormal")
        return v

    @field_validator("length_cv")
    @classmethod
    def _cv(cls, v: float | None, info: ValidationInfo) -> float | None:
        dist = info.data.get("length_distribution")
        if dist is None:                   # the distribution itself was refused
            return v
        if dist in WITH_CV and v is None:
            raise ValueError(f"a number > 0 with length_distribution {dist} (the "
                             "coefficient of variation, standard deviation / mean)")
        if dist not in WITH_CV and v is not None:
            raise ValueError(f"absent with length_distribution {dist} ("
                             + ("its cv is 1" if dist == "exponential"
                                else "length_ratio spreads uniform lengths")
                             + "); it applies to " + " and ".join(WITH_CV))
        return v

    @model_validator(mode="after")
    def _one_of(self) -> WorkloadIn:
        given = [k for k in ("batch", "concurrency", "rate", "trace")
                 if getattr(self, k) is not None]
        if self.arrival == "offline":
            given.append("arrival: offline")
        if given == ["concurrency", "trace"]:
            # a closed loop whose requests take their lengths from the file
            if self.length_distribution != "uniform" or self.length_ratio < 1.0:
                raise ValueError("a closed loop over a trace takes its lengths from the "
                                 "file: give no length_distribution or length_ratio")
            return self
        if len(given) != 1:
            raise ValueError("give exactly one of batch, concurrency (per model replica), "
                             "rate (requests/s, simulated), trace (a file, simulated) or "
                             "arrival: offline (every request at once, simulated); "
                             "concurrency with trace: a closed loop of the file's lengths")
        return self


class PoolIn(_Strict):
    """One pool of a disaggregated deployment: the scenario's fields it changes. `chips`
    are the whole pool's (tp·pp·dp), so `dp` (or `auto`) is its replica count. `engine`
    is the scenario's `engine:` schema (a profile name, or a block with `name`, `version`
    and scheduler overrides) and replaces the scenario's engine for this pool: a prefill
    pool's 32,768-token budget, a decode pool's CUDA graphs up to 512 sequences."""

    hardware: str | None = None
    chips: int | None = Field(default=None, ge=1)
    topology: str | int | None = None
    parallelism: ParallelismIn | None = None
    engine: str | dict[str, Any] | None = None


class DisaggregatedIn(_Strict):
    """Prefill and decode pools (`inferplan simulate`): each pool is the scenario with its
    own hardware, chips, topology and parallelism; the KV hand-off crosses the scale-out
    NIC (`scale_out`) or stays in a scale-up domain (`scale_up`); requests go to each
    pool's replicas round robin or to the least loaded."""

    prefill: PoolIn
    decode: PoolIn
    kv_link: Literal["scale_out", "scale_up"] = "scale_out"
    router: Literal["round_robin", "least_loaded"] = "round_robin"


class ScenarioIn(_Strict):
    model: str
    hardware: str
    chips: StrictInt = Field(ge=1)
    topology: str | StrictInt | None = None
    parallelism: ParallelismIn = ParallelismIn()
    dtypes: DtypesIn = DtypesIn()
    efficiency: Literal["ideal", "realistic"] = "realistic"
    engine: str | dict[str, Any] | None = None
    calibration: str | None = None
    workload: WorkloadIn
    memory_utilization: float | None = Field(default=None, gt=0, le=1)
    price_per_chip_hour: float | None = Field(default=None, gt=0)
    disaggregated: DisaggregatedIn | None = None
    speculative: SpeculativeIn | None = None
    name: str | None = None
    description: str | None = None


def parse_scenario(raw: Mapping[str, Any], origin: str = "scenario") -> ScenarioIn:
    """Validate a scenario mapping; the first problem becomes one `InferplanError`."""
    return validated(ScenarioIn, raw, origin)


def build_deployment(
    scenario: ScenarioIn,
    resolve_model: Callable[[str], ModelSpec],
    resolve_chip: Callable[[str], ChipSpec],
    resolve_calibration: Callable[[str], object] | None = None,
) -> tuple[Deployment, Workload]:
    """Resolve references, check the layout against model and chip, and build the data.
    A `calibration:` file becomes the deployment's step-time model through
    `resolve_calibration` (the CLI reads it: `inferplan.steptime.calibration_from_mapping`)."""
    step_time: object | None = None
    if scenario.calibration is not None:
        if resolve_calibration is None:
            raise InferplanError("calibration", scenario.calibration,
                                 "a calibration file is read by the command line only")
        step_time = resolve_calibration(scenario.calibration)
    model = resolve_model(scenario.model)
    chip = resolve_chip(scenario.hardware)
    shape = parse_shape(scenario.topology) if scenario.topology is not None else None
    topology = topology_for(chip, scenario.chips, shape)
    p = scenario.parallelism
    devices = scenario.chips * chip.cores_per_chip
    if p.dp == "auto":
        if devices % (p.tp * p.pp):
            raise InferplanError("parallelism", f"tp={p.tp} pp={p.pp}",
                                 f"tp*pp must divide the {devices} devices to fill them with dp")
        dp = devices // (p.tp * p.pp)
    else:
        dp = p.dp
    layout = Layout(tp=p.tp, pp=p.pp, dp=dp, ep=p.ep, layout=p.layout, attention=p.attention,
                    attention_dp=p.attention_dp)
    check_layout(model, chip, layout, scenario.chips)
    d = scenario.dtypes
    dtypes = Dtypes(weights=d.weights, kv=d.kv, compute=d.compute, experts=d.experts,
                    attention=d.attention, attention_output=d.attention_output)
    check_attention_gemms(dtypes, chip)
    deployment = Deployment(
        model=model, chip=chip, topology=topology, layout=layout, dtypes=dtypes,
        efficiency=scenario.efficiency, memory_utilization=scenario.memory_utilization,
        price_usd_per_chip_hour=scenario.price_per_chip_hour,
        engine=resolve_engine(scenario.engine), step_time=step_time,
        speculative=speculative_decoding(scenario.speculative, model, resolve_model))
    w = scenario.workload
    workload = Workload(input_len=w.input_len, output_len=w.output_len, batch=w.batch,
                        concurrency=w.concurrency, prefill_chunk_tokens=w.prefill_chunk_tokens,
                        length_ratio=w.length_ratio, requests=w.requests, rate=w.rate,
                        arrival=w.arrival, burstiness=w.burstiness, trace=w.trace,
                        router=w.router, warmup=w.warmup,
                        length_distribution=w.length_distribution, length_cv=w.length_cv,
                        max_context_tokens=model.max_position_embeddings or None,
                        prefix_hit_rate=w.prefix_hit_rate)
    return deployment, workload


def speculative_decoding(spec: SpeculativeIn | None, model: ModelSpec,
                         resolve_model: Callable[[str], ModelSpec]
                         ) -> SpeculativeDecoding | None:
    """A scenario's `speculative:` block with its draft resolved (`mtp`: the target's own
    multi-token-prediction module); the deployment checks the draft against the target."""
    if spec is None:
        return None
    try:
        draft = mtp_draft(model) if spec.draft == "mtp" else resolve_model(spec.draft)
    except InferplanError as exc:
        raise InferplanError("speculative.draft", spec.draft, exc.allowed) from None
    return SpeculativeDecoding(draft=draft, gamma=spec.gamma, alpha=spec.alpha)


def build_pools(
    scenario: ScenarioIn,
    resolve_model: Callable[[str], ModelSpec],
    resolve_chip: Callable[[str], ChipSpec],
    resolve_calibration: Callable[[str], object] | None = None,
) -> tuple[Deployment, Deployment, Workload]:
    """A disaggregated scenario's prefill and decode pools (each the scenario with the
    pool's fields put in, built by `build_deployment`: a pool's `engine` replaces the
    scenario's) and the workload. An error in a pool names its field under
    `disaggregated.<pool>` (`disaggregated.prefill.engine.max_num_batched_tokens`); an
    error in the scenario's own engine, where the pool keeps it, names `engine`. A
    `speculative:` block goes to both pools: the decode pool runs draft-and-verify cycles
    and the prefill pool prefills each prompt through the draft too (SGLang's and
    TensorRT-LLM's prefill servers run the MTP module, whose KV the first cycle reads)."""
    if scenario.disaggregated is None:
        raise InferplanError("disaggregated", None, "the scenario has no disaggregated block")
    pools = []
    workload = None
    for name in ("prefill", "decode"):
        pool: PoolIn = getattr(scenario.disaggregated, name)
        given = {k: getattr(pool, k) for k in pool.model_fields_set
                 if getattr(pool, k) is not None}       # null: the scenario's own
        one = scenario.model_copy(update={**given, "disaggregated": None})
        try:
            deployment, workload = build_deployment(one, resolve_model, resolve_chip,
                                                    resolve_calibration)
        except InferplanError as exc:
            root = exc.field.split(".")[0]
            owned = root in {*PoolIn.model_fields, "dtypes"} and (
                root != "engine" or "engine" in given)
            raise InferplanError(f"disaggregated.{name}.{exc.field}" if owned else exc.field,
                                 exc.value, exc.allowed) from None
        pools.append(deployment)
    assert workload is not None
    return pools[0], pools[1], workload

"""The search space: a scenario whose fields may hold several values.

Any field of a scenario may be a list (a set of values); integer fields may also be a
range `{min: 1, max: 512}` (every integer between, both ends included; `step`
optional). `parallelism.dp: auto` fills the chips left by tp×pp; `dtypes.compute: auto`
computes in the weights' dtype where the chip has that rate, else in bf16. `engine` is
one engine (a name or a block, as in a scenario) or a list of them: a dimension like
`hardware`, each resolved to its profile once (`space_engines`). A space adds
`slo` (limits on the modelled p50 TTFT, TPOT and end-to-end latency) and `objective`.

    chips: [8, 16, 32]
    parallelism: {tp: [1, 2, 4, 8], pp: [1, 2], dp: auto}
    dtypes: {weights: [bf16, fp8, int4], kv: [bf16, fp8]}
    workload: {input_len: [2048, 8192], output_len: 512, batch: {min: 1, max: 512}}
    slo: {ttft_s: 2.0, tpot_s: 0.05}
    objective: throughput_per_chip
    engine: [vllm, sglang, {name: trtllm, max_num_seqs: 256}]

Validated with pydantic; the first problem becomes one `InferplanError` line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from inferplan.engines import EngineProfile, resolve_engine
from inferplan.parallel import LAYOUTS
from inferplan.speculative import MAX_GAMMA
from inferplan.units import DTYPES, InferplanError
from inferplan.validation import validated

#: What the search maximises or minimises; see `objectives.OBJECTIVES`.
Objective = Literal["throughput_per_chip", "throughput_per_usd", "min_tpot", "min_ttft",
                    "min_chips"]
OBJECTIVE_NAMES: tuple[str, ...] = ("throughput_per_chip", "throughput_per_usd", "min_tpot",
                                    "min_ttft", "min_chips")
#: Most points one search may hold (a guard against a mistyped range).
MAX_POINTS = 20_000_000
_RANGE_HELP = "give a positive integer, a list of them, or a range {min: 1, max: 512}"


def _dedupe(values: list[Any]) -> list[Any]:
    """The values in first-seen order, each once (linear time: a 50,000-item list too)."""
    return list(dict.fromkeys(values))


def int_values(value: object, allow: tuple[str, ...] = ()) -> list[Any]:
    """A positive integer, a list of them, or {min, max, step} → the list of values.

    `allow` names extra words accepted as values ('max', 'auto'). {min: 1, max: 4} →
    [1, 2, 3, 4]; {min: 8, max: 32, step: 8} → [8, 16, 24, 32].
    """
    words = f"; or {', '.join(allow)}" if allow else ""
    if isinstance(value, Mapping):
        extra = set(value) - {"min", "max", "step"}
        lo, hi, step = value.get("min"), value.get("max"), value.get("step", 1)
        if extra or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1
                            for x in (lo, hi, step)):
            raise ValueError("a range is {min: 1, max: 512} (positive integers, optional step)")
        assert isinstance(lo, int) and isinstance(hi, int) and isinstance(step, int)
        if lo > hi:
            raise ValueError(f"range min {lo} is above max {hi}")
        values = range(lo, hi + 1, step)
        if len(values) > MAX_POINTS:     # refused before a list of 10⁹ integers is built
            raise ValueError(f"the range holds {len(values):,} values, too many points; at "
                             f"most {MAX_POINTS:,} in a space (narrow it or add a step)")
        return list(values)
    is_list = isinstance(value, (list, tuple))
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError(f"an empty list; {_RANGE_HELP}{words}")
    for v in items:
        ok_int = isinstance(v, int) and not isinstance(v, bool) and v >= 1
        if not ok_int and v not in allow:
            where = f"{v!r} in the list; " if is_list else ""
            raise ValueError(f"{where}{_RANGE_HELP}{words}")
    return _dedupe(items)


def str_values(value: object, allowed: tuple[str, ...] | None = None) -> list[str]:
    """A name or a list of names → the list (each checked against `allowed` if given)."""
    is_list = isinstance(value, (list, tuple))
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError("an empty list; give at least one value")
    for v in items:
        where = f"{v!r} in the list; " if is_list else ""
        if not isinstance(v, str):
            raise ValueError(f"{where}give a name or a list of names")
        if allowed is not None and v not in allowed:
            raise ValueError(f"{where}allowed: {', '.join(allowed)}")
    return _dedupe(items)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ParallelismSpace(_Strict):
    tp: list[int] = [1]
    pp: list[int] = [1]
    dp: list[int | str] = ["auto"]
    ep: list[int] = [1]
    layout: list[str] = ["auto"]
    attention: list[str] = ["auto"]
    attention_dp: list[int] = [1]

    @field_validator("tp", "pp", "ep", "attention_dp", mode="before")
    @classmethod
    def _ints(cls, v: object) -> list[Any]:
        return int_values(v)

    @field_validator("dp", mode="before")
    @classmethod
    def _dp(cls, v: object) -> list[Any]:
        return int_values(v, ("auto",))

    @field_validator("layout", mode="before")
    @classmethod
    def _layout(cls, v: object) -> list[str]:
        return str_values(v, LAYOUTS)

    @field_validator("attention", mode="before")
    @classmethod
    def _attention(cls, v: object) -> list[str]:
        return str_values(v, ("auto", "heads", "batch"))


class DtypesSpace(_Strict):
    """The dtype axes (lists), and the checkpoint's own storage of its routed experts and
    attention (one value each, for every point: `Dtypes.experts`, `attention`,
    `attention_output`; None: as the weights)."""

    weights: list[str] = ["bf16"]
    kv: list[str] = ["bf16"]
    compute: list[str] = ["bf16"]
    experts: str | None = None
    attention: str | None = None
    attention_output: str | None = None

    @field_validator("experts", "attention", "attention_output")
    @classmethod
    def _one_known(cls, v: str | None) -> str | None:
        if v is not None and v not in DTYPES:
            raise ValueError(f"allowed: {', '.join(DTYPES)}")
        return v

    def stored_apart(self) -> tuple[tuple[str, str], ...]:
        """(field, dtype) of the parts stored apart from the weights, in scenario order:
        attention bf16 alone: (('attention', 'bf16'),)."""
        return tuple((name, value) for name in ("experts", "attention", "attention_output")
                     if (value := getattr(self, name)) is not None)

    @field_validator("weights", "kv", mode="before")
    @classmethod
    def _known(cls, v: object) -> list[str]:
        return str_values(v, DTYPES)

    @field_validator("compute", mode="before")
    @classmethod
    def _compute(cls, v: object) -> list[str]:
        return str_values(v, (*DTYPES, "auto"))


class WorkloadSpace(_Strict):
    """The space's request shapes (lists or ranges) and, for every point alike, how a
    closed-loop benchmark draws them: `length_ratio` (lengths uniform in [ratio·L, L],
    vLLM's --random-range-ratio; 1: fixed), `prefix_hit_rate` and `requests` (as in a
    scenario's `workload`)."""

    input_len: list[int]
    output_len: list[int]
    batch: list[int | str] | None = None
    concurrency: list[int] | None = None
    prefill_chunk_tokens: int | None = Field(default=None, ge=1)
    length_ratio: float = Field(default=1.0, gt=0, le=1)
    prefix_hit_rate: float = Field(default=0.0, ge=0, lt=1)
    requests: int | None = Field(default=None, ge=1)

    def drawn(self) -> dict[str, Any]:
        """How the benchmark draws the requests, where the space sets it (the fields of
        `length_ratio`, `prefix_hit_rate` and `requests` that differ from their defaults):
        what a point's scenario carries. `length_ratio: 0.8` alone: {"length_ratio": 0.8}."""
        fields = type(self).model_fields
        return {name: getattr(self, name) for name in ("length_ratio", "prefix_hit_rate",
                                                      "requests")
                if getattr(self, name) != fields[name].default}

    @field_validator("input_len", "output_len", "concurrency", mode="before")
    @classmethod
    def _ints(cls, v: object) -> list[Any] | None:
        return None if v is None else int_values(v)

    @field_validator("batch", mode="before")
    @classmethod
    def _batch(cls, v: object) -> list[Any] | None:
        return None if v is None else int_values(v, ("max",))

    @model_validator(mode="after")
    def _one_of(self) -> WorkloadSpace:
        if (self.batch is None) == (self.concurrency is None):
            raise ValueError("give exactly one of batch or concurrency (per model replica)")
        return self


class SLO(_Strict):
    """Limits on the modelled (p50) latencies; None: no limit."""

    ttft_s: float | None = Field(default=None, gt=0)
    tpot_s: float | None = Field(default=None, gt=0)
    e2e_latency_s: float | None = Field(default=None, gt=0)


class DisaggSpace(_Strict):
    """How `inferplan disagg` runs the pools (`inferplan search` does not read it).

    prefill_batch: prompts per prefill step (a list or range); prefill_mfu: state the
    prefill step as FLOPs over this fraction of peak (seed 001's 40%) instead of the
    roofline; kv_link: the KV hand-off crosses hosts (`scale_out`, the default) or
    stays inside one scale-up domain (`scale_up`).
    """

    prefill_batch: list[int] = [1]
    prefill_mfu: float | None = Field(default=None, gt=0, le=1)
    kv_link: Literal["scale_out", "scale_up"] = "scale_out"

    @field_validator("prefill_batch", mode="before")
    @classmethod
    def _ints(cls, v: object) -> list[Any]:
        return int_values(v)


class SpeculativeSpace(_Strict):
    """Speculative decoding as a dimension of the space (Leviathan et al. 2023).

    Each draft × α (× γ, when γ is listed) is a point beside plain decoding (`plain:
    false` drops plain points). γ `auto` picks, per point, the γ of 1..gamma_max with
    the least TPOT. α, the per-token acceptance rate, is an assumption the user states.
    """

    draft: list[str]
    alpha: list[float]
    gamma: list[int | str] = ["auto"]
    gamma_max: int = Field(default=8, ge=1, le=MAX_GAMMA)
    plain: bool = True

    @field_validator("draft", mode="before")
    @classmethod
    def _drafts(cls, v: object) -> list[str]:
        return str_values(v)

    @field_validator("alpha", mode="before")
    @classmethod
    def _alphas(cls, v: object) -> list[float]:
        items = list(v) if isinstance(v, (list, tuple)) else [v]
        values = [float(a) for a in items
                  if isinstance(a, (int, float)) and not isinstance(a, bool)]
        if not items or len(values) < len(items) or not all(0.0 <= a <= 1.0 for a in values):
            raise ValueError("the per-token acceptance rate: a number in [0, 1] or a list")
        return _dedupe(values)

    @field_validator("gamma", mode="before")
    @classmethod
    def _gammas(cls, v: object) -> list[Any]:
        values = int_values(v, ("auto",))
        if any(isinstance(g, int) and g > MAX_GAMMA for g in values):
            raise ValueError(f"draft tokens per step: 1 to {MAX_GAMMA}, or auto")
        return values


class SpaceIn(_Strict):
    model: list[str]
    hardware: list[str]
    chips: list[int]
    topology: list[str | int] | None = None
    parallelism: ParallelismSpace = ParallelismSpace()
    dtypes: DtypesSpace = DtypesSpace()
    efficiency: list[str] = ["realistic"]
    #: the engines (names or blocks) as the space gives them; None: no `engine:` (generic)
    engine: list[str | dict[str, Any]] | None = None
    workload: WorkloadSpace
    memory_utilization: float | None = Field(default=None, gt=0, le=1)
    price_per_chip_hour: float | None = Field(default=None, gt=0)
    slo: SLO = SLO()
    objective: Objective = "throughput_per_chip"
    disaggregated: DisaggSpace = DisaggSpace()
    speculative: SpeculativeSpace | None = None
    name: str | None = None
    description: str | None = None

    @field_validator("model", "hardware", mode="before")
    @classmethod
    def _names(cls, v: object) -> list[str]:
        return str_values(v)

    @field_validator("chips", mode="before")
    @classmethod
    def _chips(cls, v: object) -> list[Any]:
        return int_values(v)

    @field_validator("topology", mode="before")
    @classmethod
    def _topology(cls, v: object) -> list[Any] | None:
        if v is None:
            return None
        items = list(v) if isinstance(v, (list, tuple)) else [v]
        if not items or not all(isinstance(t, (str, int)) and not isinstance(t, bool)
                                for t in items):
            raise ValueError("give a slice shape like 4x2, or a list of them")
        return _dedupe(items)

    @field_validator("efficiency", mode="before")
    @classmethod
    def _efficiency(cls, v: object) -> list[str]:
        return str_values(v, ("ideal", "realistic"))

    @field_validator("engine", mode="before")
    @classmethod
    def _engines(cls, v: object) -> list[Any] | None:
        if v is None:
            return None
        is_list = isinstance(v, (list, tuple))
        items = list(v) if isinstance(v, (list, tuple)) else [v]
        if not items:
            raise ValueError("an empty list; give at least one engine")
        out: list[Any] = []
        for e in items:
            if not isinstance(e, (str, Mapping)):
                where = f"{e!r} in the list; " if is_list else ""
                raise ValueError(f"{where}give an engine name, a block {{name: vllm, ...}} "
                                 "or a list of them")
            out.append(e if isinstance(e, str) else dict(e))
        return out                     # repeats fall away in `space_engines`, by profile


def speculative_choices(space: SpaceIn) -> list[tuple[str, float, int | None] | None]:
    """The decoding choices of a point: None (plain) and (draft, α, γ or None for auto)."""
    spec = space.speculative
    if spec is None:
        return [None]
    plain: list[tuple[str, float, int | None] | None] = [None] if spec.plain else []
    gammas = [None if g == "auto" else int(g) for g in spec.gamma]
    return plain + [(d, a, g) for d in spec.draft for a in spec.alpha for g in gammas]


def space_engines(space: SpaceIn, origin: str = "space"
                  ) -> list[tuple[str | dict[str, Any] | None, EngineProfile]]:
    """Each engine of the space as given, with its profile (`engines.resolve_engine`),
    resolved once; [(None, generic)] for a space without `engine:`. A spec that resolves
    to the profile of an earlier one (`vllm` twice, `vllm` and `{name: vllm}`) is dropped.
    A bad name or override is the scenario's error with the entry's place:
    `space.engine[1]: 'vlm' is not valid; ...`."""
    if space.engine is None:
        return [(None, resolve_engine(None))]
    single = len(space.engine) == 1
    out: list[tuple[str | dict[str, Any] | None, EngineProfile]] = []
    for k, spec in enumerate(space.engine):
        try:
            profile = resolve_engine(spec)
        except InferplanError as exc:
            where = f"{origin}.engine" if single else f"{origin}.engine[{k}]"
            raise InferplanError(where + exc.field.removeprefix("engine"), exc.value,
                                 exc.allowed) from None
        if all(profile != p for _, p in out):
            out.append((spec, profile))
    return out


def count_points(space: SpaceIn) -> int:
    """Points the space holds at most: the product of every axis's number of values."""
    p, d, w = space.parallelism, space.dtypes, space.workload
    n = len(space.model) * len(space.hardware) * len(space.chips) * len(space.efficiency)
    n *= len(space.engine) if space.engine is not None else 1
    n *= len(space.topology or [None])          # an upper bound: shapes pair with chips
    for axis in (p.tp, p.pp, p.dp, p.ep, p.layout, p.attention, p.attention_dp, d.weights,
                 d.kv, d.compute,
                 w.input_len, w.output_len, w.batch or w.concurrency or [1]):
        n *= len(axis)
    return n * len(speculative_choices(space))


def parse_space(raw: Mapping[str, Any], origin: str = "space") -> SpaceIn:
    """Validate a search-space mapping; the first problem becomes one `InferplanError`.

    A plain scenario is a space of one point.
    """
    space = validated(SpaceIn, raw, origin)
    space_engines(space, origin)                # an unknown engine or override: one line
    points = count_points(space)
    if points > MAX_POINTS:
        raise InferplanError(origin, points, f"the space holds too many points; at most "
                             f"{MAX_POINTS:,} (narrow a range or a list)")
    return space
